"""What the verifier works with: a claim found in a text, and its verdict against the signal.

A :class:`Claim` is one checkable statement of fact in an ECG interpretation, with its
character span in the text it came from. Two kinds:

* ``numeric``: a value of a measured quantity (``concept`` is the quantity's name in
  :class:`~ecgr1.measure.result.GlobalMeasurements` / ``LeadMeasurements`` or one of the few
  verifier quantities listed in ``tolerances.yaml``), in canonical units (ms, bpm, deg, mV),
  with a comparator (``=`` a value, ``<``/``<=``/``>``/``>=`` a bound, ``between`` a range)
  and, for lead quantities, the leads it is about;
* ``categorical``: a finding (``concept`` is an id of ``checks.yaml``: ``atrial_fibrillation``,
  ``st_elevation``, ...), affirmed or negated, hedged or not, with the leads it is about.

A :class:`ClaimVerdict` is the checker's answer: ``supported``, ``contradicted`` or
``not_checkable`` with the reason, the measured value it compared with and the tolerance used.

>>> c = Claim("PR 148 ms", 0, 9, "numeric", "interval", "pr_interval_ms", value=148.0, unit="ms")
>>> c.to_dict()["concept"], c.comparator
('pr_interval_ms', '=')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KINDS = ("numeric", "categorical")
VERDICTS = ("supported", "contradicted", "not_checkable")
COMPARATORS = ("=", "<", "<=", ">", ">=", "between")

# Reasons of a "not_checkable" verdict (the first word is the machine-readable cause).
REASON_NO_ECG = "no ECG: nothing to check the claim against"
REASON_NOT_MEASURED = "not measured"
REASON_LEAD_MISSING = "lead missing"
REASON_POOR_QUALITY = "poor quality"
REASON_VAGUE = "vague"
REASON_BORDERLINE = "within tolerance"
REASON_AMPLITUDE = "amplitudes not calibrated"
REASON_NOT_DEFINED = "not decidable from the ECG"


@dataclass(frozen=True)
class Claim:
    """One checkable claim of a text.

    ``text`` is exactly ``source[start:end]`` of the text the claim was extracted from.
    ``category`` groups claims for the summary (``rate``, ``rhythm``, ``interval``, ``axis``,
    ``conduction``, ``hypertrophy``, ``voltage``, ``amplitude``, ``ischemia``,
    ``repolarisation``, ``qt``, ``pacing``, ``ectopy``, ``technical``, ``summary``).
    """

    text: str
    start: int
    end: int
    kind: str
    category: str
    concept: str
    value: float | None = None
    upper: float | None = None  # upper bound of a "between" range (``value`` is the lower)
    comparator: str = "="
    unit: str | None = None
    leads: tuple[str, ...] = ()
    negated: bool = False
    hedged: bool = False
    approximate: bool = False  # "about 75 bpm", "~420 ms"
    qualifier: str | None = None  # e.g. the QTc formula when named ("bazett")

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim kind {self.kind!r} is not one of {KINDS}")
        if self.comparator not in COMPARATORS:
            raise ValueError(f"comparator {self.comparator!r} is not one of {COMPARATORS}")
        if self.end < self.start:
            raise ValueError("claim end before start")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the claim part of a verdict in ``ecgr1 verify`` output)."""
        return {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
            "category": self.category,
            "concept": self.concept,
            "value": self.value,
            "upper": self.upper,
            "comparator": self.comparator,
            "unit": self.unit,
            "leads": list(self.leads),
            "negated": self.negated,
            "hedged": self.hedged,
            "approximate": self.approximate,
            "qualifier": self.qualifier,
        }


@dataclass
class ClaimVerdict:
    """A claim and what the signal says about it."""

    claim: Claim
    verdict: str
    reason: str = ""
    measured: Any = None  # a number, {lead: number}, or "criteria met"/"criteria not met"/...
    tolerance: float | None = None
    unit: str | None = None  # unit of ``measured`` and ``tolerance``
    evidence: list[dict[str, Any]] = field(default_factory=list)  # criteria consulted

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict {self.verdict!r} is not one of {VERDICTS}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the claim's fields plus ``verdict``, ``measured``, ``tolerance``,
        ``reason`` (spec of ``ecgr1 verify --format json``)."""
        out = self.claim.to_dict()
        out.update(
            {
                "verdict": self.verdict,
                "measured": self.measured,
                "tolerance": self.tolerance,
                "measured_unit": self.unit,
                "reason": self.reason,
                "evidence": list(self.evidence),
            }
        )
        return out
