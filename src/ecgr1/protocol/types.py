"""Result types of the protocol engine: evidence, statements, exclusions, the interpretation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecgr1.measure.result import MeasurementResult, _clean

CERTAINTY_ORDER: tuple[str, ...] = ("definite", "probable", "possible", "borderline")


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

    @property
    def answer_label(self) -> str:
        """The ``<answer>`` label: the label, prefixed "borderline" for borderline statements."""
        return f"borderline {self.label}" if self.certainty == "borderline" else self.label

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

    @property
    def labels(self) -> list[str]:
        """Statement labels in report order (the ``<answer>`` labels; borderline statements are
        prefixed "borderline")."""
        return [s.answer_label for s in self.statements]

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
        """Every evidence entry: observations, criteria, statements and exclusions."""
        out = list(self.observations.values())
        for res in self.criteria.values():
            out.extend(res.evidence)
        return out

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
        }
