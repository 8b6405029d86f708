"""The verification of one text against one record: the verdicts and their summaries.

>>> from ecgr1.verify.claims import Claim, ClaimVerdict
>>> c = Claim("QRS 150 ms", 0, 10, "numeric", "interval", "qrs_duration_ms", value=150.0, unit="ms")
>>> r = VerificationResult("rec", "QRS 150 ms", [ClaimVerdict(c, "contradicted", measured=88)])
>>> r.summary()["hallucination_rate"]
1.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecgr1.measure.result import _clean
from ecgr1.verify.claims import ClaimVerdict


def summarise(verdicts: list[ClaimVerdict]) -> dict[str, Any]:
    """Counts of a list of verdicts: ``claims``, ``checkable``, ``supported``,
    ``contradicted``, ``not_checkable`` and ``hallucination_rate`` = contradicted / checkable
    (None when nothing was checkable)."""
    n = len(verdicts)
    sup = sum(v.verdict == "supported" for v in verdicts)
    con = sum(v.verdict == "contradicted" for v in verdicts)
    checkable = sup + con
    return {
        "claims": n,
        "checkable": checkable,
        "supported": sup,
        "contradicted": con,
        "not_checkable": n - checkable,
        "hallucination_rate": (con / checkable) if checkable else None,
    }


@dataclass
class VerificationResult:
    """Every claim found in ``text`` with its verdict against record ``id``.

    ``notes`` say why a whole text could not be checked (no ECG, unmeasurable record, no ECG
    claims found) so that an empty result is never silent.
    """

    id: str | None
    text: str
    verdicts: list[ClaimVerdict]
    notes: list[str] = field(default_factory=list)
    quality: str | None = None  # the record's overall quality, when there was a record

    @property
    def claims(self) -> list[Any]:
        """The claims, in text order."""
        return [v.claim for v in self.verdicts]

    def summary(self) -> dict[str, Any]:
        """Record-level counts (see :func:`summarise`)."""
        return summarise(self.verdicts)

    def by_category(self) -> dict[str, dict[str, Any]]:
        """:func:`summarise` per claim category, categories sorted by name."""
        groups: dict[str, list[ClaimVerdict]] = {}
        for v in self.verdicts:
            groups.setdefault(v.claim.category, []).append(v)
        return {k: summarise(groups[k]) for k in sorted(groups)}

    def contradicted(self) -> list[ClaimVerdict]:
        """The verdicts that are contradictions."""
        return [v for v in self.verdicts if v.verdict == "contradicted"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``ecgr1 verify --format json``): ``id``, ``quality``, ``notes``,
        ``summary``, ``by_category`` and ``claims`` (each with ``text``, ``start``/``end``,
        ``kind``, ``verdict``, ``measured``, ``tolerance``, ``reason``)."""
        return {
            "id": self.id,
            "quality": self.quality,
            "notes": list(self.notes),
            "summary": self.summary(),
            "by_category": self.by_category(),
            "claims": [v.to_dict() for v in self.verdicts],
        }

    def to_json(self, **dumps: Any) -> str:
        """:meth:`to_dict` as JSON text (a non-finite number becomes null: always valid JSON)."""
        dumps.setdefault("ensure_ascii", False)
        return json.dumps(_clean(self.to_dict()), allow_nan=False, **dumps)
