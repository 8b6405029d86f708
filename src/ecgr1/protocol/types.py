"""Result types of the protocol engine: evidence, statements, exclusions, the interpretation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecgr1.measure.result import MeasurementResult, _clean

CERTAINTY_ORDER: tuple[str, ...] = ("definite", "probable", "possible", "borderline")
# Certainties of the findings the answer list states by default. A "borderline" statement rests
# on a value within the measurement's margin of its threshold (criteria.yaml,
# borderline_margins): the report states it as borderline, the answer list only when asked for
# every statement. ("possible" is the table's own certainty of a weaker criterion, e.g. Mobitz
# II from few dropped beats; the report prefixes it and the answer list keeps it.)
CONFIDENT_CERTAINTIES: tuple[str, ...] = ("definite", "probable", "possible")


@dataclass
class Evidence:
    """One measured value and the rule it was compared with.

    ``value`` is already rounded to display precision (the comparison used the same value).
    ``criterion``/``operator``/``threshold`` are None for plain observations.
    """

    quantity: str
    leads: list[str]
    value: Any
    unit: str
    criterion: str | None = None
    operator: str | None = None
    threshold: Any = None
    met: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _clean(
            {
                "quantity": self.quantity,
                "leads": list(self.leads),
                "value": self.value,
                "unit": self.unit,
                "criterion": self.criterion,
                "operator": self.operator,
                "threshold": self.threshold,
                "met": self.met,
            }
        )


@dataclass
class CriterionResult:
    """Outcome of one criterion: met True/False, or None when it could not be evaluated."""

    id: str
    met: bool | None
    evidence: list[Evidence] = field(default_factory=list)
    certainty: str = "probable"
    reason: str | None = None  # why it could not be evaluated
    # True when it could not be evaluated because leads it needs are missing, derived or
    # uncalibrated, or the record is too short (not merely "not measured").
    unavailable: bool = False

    @property
    def met_evidence(self) -> list[Evidence]:
        """Evidence entries that satisfied the test (all entries when the criterion is global)."""
        hits = [e for e in self.evidence if e.met]
        return hits or list(self.evidence)


@dataclass
class Statement:
    """A diagnostic statement with its justification."""

    id: str
    label: str
    code: str | None
    category: str
    certainty: str
    step: int
    evidence: list[Evidence] = field(default_factory=list)
    criteria: list[str] = field(default_factory=list)  # ids of the criteria that justify it
    count: int | None = None
    equivalent_codes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    # The borderline statement this one was made from (its table row's ``if_borderline``):
    # "sinus rhythm" beside a borderline sinus bradycardia. None for a statement made by its
    # own criteria.
    reduced_from: str | None = None

    @property
    def answer_label(self) -> str:
        """The ``<answer>`` label: the label, prefixed "borderline" for borderline statements."""
        return f"borderline {self.label}" if self.certainty == "borderline" else self.label

    @property
    def confident(self) -> bool:
        """Whether the answer list states it by default (any certainty but "borderline")."""
        return self.certainty in CONFIDENT_CERTAINTIES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``statements`` entries of ``ecgr1 interpret --format json``)."""
        return {
            "id": self.id,
            "code": self.code,
            "label": self.label,
            "answer_label": self.answer_label,
            "category": self.category,
            "certainty": self.certainty,
            "step": self.step,
            "count": self.count,
            "equivalent_codes": list(self.equivalent_codes),
            "criteria": list(self.criteria),
            "evidence": [e.to_dict() for e in self.evidence],
            "reduced_from": self.reduced_from,
        }


@dataclass
class Exclusion:
    """A criterion checked and found normal (or abnormal) that rules out differentials."""

    criterion: str
    rules_out: list[str]  # statement ids
    labels: list[str]  # their human labels
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``excluded`` entries)."""
        return {
            "criterion": self.criterion,
            "rules_out": list(self.rules_out),
            "labels": list(self.labels),
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass
class Suppression:
    """A statement whose criteria were met but which a precedence rule withheld."""

    statement: str
    label: str
    by: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "statement": self.statement,
            "label": self.label,
            "by": self.by,
            "reason": self.reason,
        }


def join_names(items: list[str]) -> str:
    """``I, II and V1``."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class InputLimits:
    """What one recording offers the protocol.

    ``leads``: standard leads in the record with signal (all twelve when the result names no
    lead at all, e.g. a hand-built result); ``missing``: standard leads absent or without signal;
    ``no_signal``: those in the record but flat or lead-off; ``derived``: computed from other
    leads; ``uncalibrated``: recorded without a known gain; ``amplitude_normalised``: the source
    rescaled every lead to one range; ``duration_s``: seconds of signal (zero padding left out);
    ``n_beats``: beats detected (None when unknown); ``short``: below the length a need asks
    for; ``summary``: one sentence of what cannot be assessed and why (None when everything can).
    """

    leads: list[str]
    missing: list[str] = field(default_factory=list)
    no_signal: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    uncalibrated: list[str] = field(default_factory=list)
    amplitude_normalised: bool = False
    duration_s: float | None = None
    n_beats: int | None = None
    short: bool = False
    summary: str | None = None
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        """Fewer than the twelve standard leads carry recorded, calibrated signal."""
        return bool(self.missing or self.derived or self.uncalibrated)

    def describe(self, normalised_counts: bool = False) -> str:
        """``single lead (II)``, ``leads I, II and V1 only; leads III, aVR, aVL and aVF
        derived from the others``, ``lead II uncalibrated``, ``short record (2 s of signal and 3 beats)``."""
        parts = []
        recorded = [ld for ld in self.leads if ld not in self.derived]
        if self.missing:
            if len(self.leads) == 1:
                parts.append(f"single lead ({self.leads[0]})")
            elif not self.leads:
                parts.append("no standard lead with signal")
            else:
                parts.append(f"leads {join_names(recorded)} only")
        if self.derived:
            lead = "lead" if len(self.derived) == 1 else "leads"
            parts.append(f"{lead} {join_names(self.derived)} derived from the others")
        if self.uncalibrated:
            lead = "lead" if len(self.uncalibrated) == 1 else "leads"
            parts.append(f"{lead} {join_names(self.uncalibrated)} uncalibrated")
        if self.amplitude_normalised and normalised_counts:
            parts.append("amplitudes normalised per lead")
        if self.short:
            parts.append(f"short record ({self.describe_length()})")
        return "; ".join(parts)

    def describe_length(self) -> str:
        """``2 s of signal and 3 beats``."""
        bits = []
        if self.duration_s is not None:
            bits.append(f"{self.duration_s:g} s of signal")
        if self.n_beats is not None:
            bits.append(f"{self.n_beats} beat{'' if self.n_beats == 1 else 's'}")
        return " and ".join(bits) or "length unknown"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``limits`` entry of the interpretation)."""
        return {
            "leads": list(self.leads),
            "missing": list(self.missing),
            "no_signal": list(self.no_signal),
            "derived": list(self.derived),
            "uncalibrated": list(self.uncalibrated),
            "amplitude_normalised": self.amplitude_normalised,
            "duration_s": self.duration_s,
            "n_beats": self.n_beats,
            "short_record": self.short,
            "summary": self.summary,
        }


@dataclass
class NotAssessable:
    """A statement the input could not assess: neither stated nor excluded.

    ``needs``: the table's needs it lacks (empty when a criterion it rests on could not be
    evaluated for want of leads); ``reason``: why, in words.
    """

    statement: str
    label: str
    category: str
    reason: str
    needs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``not_assessable`` entries)."""
        return {
            "statement": self.statement,
            "label": self.label,
            "category": self.category,
            "needs": list(self.needs),
            "reason": self.reason,
        }


@dataclass
class Interpretation:
    """Everything the protocol concluded about one record.

    ``observations`` holds plain measured values (rounded to display precision) keyed
    ``quantity`` or ``LEAD.quantity``; the report cites numbers only from here and from the
    evidence of ``criteria``.
    """

    id: str
    statements: list[Statement]
    excluded: list[Exclusion]
    suppressed: list[Suppression]
    criteria: dict[str, CriterionResult]
    observations: dict[str, Evidence]
    measurements: MeasurementResult
    age: float | None = None
    sex: str | None = None
    engine: str = "protocol"
    table_version: int | None = None
    # Statements the input could not assess (missing, derived or uncalibrated leads, a short
    # record), and what the input offered; empty / None for a complete record.
    not_assessable: list[NotAssessable] = field(default_factory=list)
    limits: InputLimits | None = None

    @property
    def labels(self) -> list[str]:
        """The ``<answer>`` labels in report order: the confident statements only (no
        "borderline" one); :meth:`answer_labels` with ``hedged=True`` gives every statement."""
        return self.answer_labels()

    def answer_labels(self, hedged: bool = False) -> list[str]:
        """Statement labels in report order. ``hedged``: every statement, borderline ones too
        (prefixed "borderline"); else the confident ones only."""
        return [s.answer_label for s in self.statements if hedged or s.confident]

    def has(self, statement_id: str) -> bool:
        """Whether a statement with this id survived precedence."""
        return any(s.id == statement_id for s in self.statements)

    def statement(self, statement_id: str) -> Statement | None:
        """The surviving statement with this id, or None."""
        for s in self.statements:
            if s.id == statement_id:
                return s
        return None

    def obs(self, quantity: str, lead: str | None = None) -> Evidence | None:
        """A plain observation (rounded measured value), or None when not measured."""
        return self.observations.get(f"{lead}.{quantity}" if lead else quantity)

    def all_evidence(self) -> list[Evidence]:
        """Every evidence entry: observations, criteria, statements and exclusions, and the
        record's length against the length needs."""
        out = list(self.observations.values())
        for res in self.criteria.values():
            out.extend(res.evidence)
        if self.limits is not None:
            out.extend(self.limits.evidence)
        return out

    def assessable(self, statement_id: str) -> bool:
        """False when the input could not assess this statement (see ``not_assessable``)."""
        return all(x.statement != statement_id for x in self.not_assessable)

    def to_json(self, **dumps: Any) -> str:
        """:meth:`to_dict` as JSON text (``dumps`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, **dumps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the protocol part (statements, excluded, suppressed)."""
        return {
            "id": self.id,
            "engine": self.engine,
            "age": self.age,
            "sex": self.sex,
            "statements": [s.to_dict() for s in self.statements],
            "excluded": [e.to_dict() for e in self.excluded],
            "suppressed": [s.to_dict() for s in self.suppressed],
            "not_assessable": [x.to_dict() for x in self.not_assessable],
            "limits": None if self.limits is None else self.limits.to_dict(),
        }
