"""The assistant turn of a corpus row: our measured reasoning, the dataset's labels as the answer.

The six steps come from the protocol report (every number a measurement of this record). The
``<answer>`` states the dataset's labels, mapped to the label vocabulary
(:mod:`ecgr1.corpus.labels`). Where the two disagree the text says so, and never writes a
source label as if it were measured:

- *supported*: a positive protocol statement supports the label;
- *unsupported*: the protocol assesses the label and did not state it: the text attributes the
  label to the source annotation and cites the measurements that speak against it (and for it);
- *unassessed*: the protocol has no statement for the label (e.g. an old infarction, LUDB's
  "vertical" axis class): attributed to the source annotation, with no evidence claimed;
- *extra*: the protocol states a finding the source vocabulary can express but the source did
  not list: the reasoning keeps it, the final step says the annotation does not list it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ecgr1.corpus.labels import LabelMapping, concepts_of_statements, get_concept, with_broader
from ecgr1.protocol.table import CriteriaTable, load_table
from ecgr1.protocol.types import Evidence, Interpretation
from ecgr1.report.format import evidence_text, join_words
from ecgr1.report.writer import Report, build_report

#: Evidence groups cited for and against an unsupported label (keeps the sentence readable).
MAX_CITED = 3


@dataclass
class Agreement:
    """How the dataset's labels relate to the protocol's statements (answer names)."""

    supported: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    unassessed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        """The row's ``agreement`` object."""
        return {
            "supported": list(self.supported),
            "unsupported": list(self.unsupported),
            "unassessed": list(self.unassessed),
            "extra": list(self.extra),
        }


def positive_statements(interp: Interpretation) -> list[Any]:
    """Statements that count as stated: all but the borderline ones."""
    return [s for s in interp.statements if s.certainty != "borderline"]


def agreement_of(interp: Interpretation, mapping: LabelMapping, vocabulary: str) -> Agreement:
    """Compare a record's mapped source labels with the protocol's positive statements.

    A label is supported when the positive statements support its concept in the source's
    vocabulary (a narrower finding counts: complete RBBB supports CPSC's "RBBB"; CPSC "Normal"
    follows the table's rule). Extra findings are the narrowest concepts of the vocabulary the
    statements support that the source neither lists nor lists something narrower than.
    """
    positive = [s.id for s in positive_statements(interp)]
    stated = concepts_of_statements(positive, vocabulary=vocabulary)
    out = Agreement()
    seen: set[str] = set()
    for label in mapping.mapped:
        if label.name in seen:
            continue
        seen.add(label.name)
        if not label.statements:
            out.unassessed.append(label.name)
        elif label.concept in stated:
            out.supported.append(label.name)
        else:
            out.unsupported.append(label.name)
    # A statement made from a borderline one that the source lists ("sinus rhythm" beside a
    # borderline sinus bradycardia, for a record labelled sinus bradycardia) restates that
    # finding's rhythm; it is not an extra finding.
    listed = {sid for m in mapping.mapped for sid in m.statements}
    own = [
        s.id
        for s in positive_statements(interp)
        if s.reduced_from is None or s.reduced_from not in listed
    ]
    extra = concepts_of_statements(own, vocabulary=vocabulary)
    extra -= with_broader(m.concept for m in mapping.mapped)
    narrowest = [c for c in extra if not any(c in with_broader([o]) - {o} for o in extra)]
    names = {get_concept(c).name for c in narrowest} - seen
    # In report order: the order of the statements that support them.
    for sid in positive:
        for c in sorted(concepts_of_statements([sid], vocabulary=vocabulary) & set(narrowest)):
            name = get_concept(c).name
            if name in names and name not in out.extra:
                out.extra.append(name)
    out.extra += sorted(names - set(out.extra))
    return out


# ----------------------------------------------------------------------------- evidence
def _value(expr: Any, interp: Interpretation) -> bool | None:
    """Three-valued truth of a requires-expression over the record's criterion results."""
    if isinstance(expr, str):
        res = interp.criteria.get(expr)
        return None if res is None else res.met
    if "not" in expr:
        v = _value(expr["not"], interp)
        return None if v is None else not v
    values = [_value(e, interp) for e in expr.get("all", expr.get("any", []))]
    if "all" in expr:
        return False if False in values else (None if None in values else True)
    return True if True in values else (None if None in values else False)


def _leaves(expr: Any, interp: Interpretation, want: bool) -> list[str]:
    """Criterion ids that make ``expr`` take the truth value ``want``."""
    if isinstance(expr, str):
        return [expr] if _value(expr, interp) is want else []
    if "not" in expr:
        return _leaves(expr["not"], interp, not want)
    children = expr.get("all", expr.get("any", []))
    # Every child with the wanted value is cited (for all-false and any-true one would do,
    # but the reader learns more from each).
    return [cid for c in children if _value(c, interp) is want for cid in _leaves(c, interp, want)]


def _cited(interp: Interpretation, cids: list[str]) -> list[Evidence]:
    out: list[Evidence] = []
    for cid in dict.fromkeys(cids):
        res = interp.criteria.get(cid)
        if res is not None and res.evidence:
            out.extend(res.met_evidence if res.met else res.evidence)
    return out


def _limited(evidence: list[Evidence]) -> str:
    groups = list(dict.fromkeys((e.criterion, e.quantity) for e in evidence))[:MAX_CITED]
    return evidence_text([e for e in evidence if (e.criterion, e.quantity) in groups])


def evidence_against(
    interp: Interpretation, statement_ids: frozenset[str] | set[str], table: CriteriaTable
) -> tuple[str, str]:
    """(measurements against, measurements for) the statements, as report text ("" if none).

    Against: the criteria that make a statement's requirement false (a criterion under "not"
    that is met counts against); for: those that would make it true and are met.
    """
    against: list[str] = []
    support: list[str] = []
    for sid in sorted(statement_ids):
        spec = table.statements.get(sid)
        if spec is None or _value(spec.requires, interp) is True:
            continue
        against += _leaves(spec.requires, interp, False)
        support += _leaves(spec.requires, interp, True)
    # Signal quality is a precondition of every statement, not evidence for one.
    support = [c for c in support if c not in against and not c.startswith("quality.")]
    return _limited(_cited(interp, against)), _limited(_cited(interp, support))


def _why_not_stated(
    interp: Interpretation, statement_ids: frozenset[str], table: CriteriaTable
) -> str:
    """Why statements whose criteria may be met were not made: precedence, or the findings
    they cannot be stated beside (a "normal ECG" beside an abnormality)."""
    for sup in interp.suppressed:
        if sup.statement in statement_ids:
            return f"withheld: {sup.reason}"
    allowed = {
        other
        for sid in statement_ids
        if (spec := table.statements.get(sid)) is not None
        for other in spec.only_with or []
    }
    others = [
        s.label
        for s in positive_statements(interp)
        if s.id not in statement_ids and s.id not in allowed and s.category != "summary"
    ]
    return f"the measurements show {join_words(others)}" if others else ""


# ----------------------------------------------------------------------------- sentences
def _unsupported_sentence(
    name: str, statements: frozenset[str], interp: Interpretation, table: CriteriaTable
) -> str:
    borderline = [
        s for s in interp.statements if s.id in statements and s.certainty == "borderline"
    ]
    if borderline:
        return (
            f"The source annotation lists {name}; the measurements reach only a borderline "
            f"value: {evidence_text(borderline[0].evidence)}."
        )
    against, support = evidence_against(interp, statements, table)
    against = against or _why_not_stated(interp, statements, table)
    text = f"The source annotation lists {name}; the measurements do not meet the protocol criteria for it"
    text += f" ({against})" if against else " (the deciding measurements are unavailable)"
    if support:
        text += f", although {support} is in keeping with it"
    return text + "."


def reconciliation(
    interp: Interpretation, mapping: LabelMapping, agreement: Agreement, table: CriteriaTable
) -> list[str]:
    """Sentences appended to step 6: how the dataset's labels relate to the measurements."""
    s: list[str] = []
    if agreement.supported:
        s.append(f"The measurements support the annotated {join_words(agreement.supported)}.")
    by_name = {m.name: m for m in mapping.mapped}
    for name in agreement.unsupported:
        s.append(_unsupported_sentence(name, by_name[name].statements, interp, table))
    if agreement.unassessed:
        s.append(
            f"The source annotation lists {join_words(agreement.unassessed)}, for which the "
            "protocol has no criterion; it is given as the dataset's label."
        )
    if agreement.extra:
        s.append(
            f"The measurements also show {join_words(agreement.extra)}, which the source "
            "annotation does not list."
        )
    return s


def annotated_narrative(interp: Interpretation, agreement: Agreement, names: list[str]) -> str:
    """The narrative paragraph of a corpus row."""
    rate = interp.obs("heart_rate_bpm")
    text = f"The source annotation lists {join_words(names)} as the diagnosis."
    if agreement.supported:
        text += f" The measurements support the annotated {join_words(agreement.supported)}"
        text += f" at a ventricular rate of {rate.value:g} bpm." if rate else "."
    elif rate:
        text += f" The measured ventricular rate is {rate.value:g} bpm."
    not_measured = agreement.unsupported
    if not_measured:
        text += (
            f" The source annotation lists {join_words(not_measured)} without support from "
            "these measurements."
        )
    return text


def annotated_report(
    interp: Interpretation,
    mapping: LabelMapping,
    vocabulary: str,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    table: CriteriaTable | None = None,
) -> tuple[Report, Agreement]:
    """The protocol report with the dataset's labels as the answer, and the agreement."""
    table = table if table is not None else load_table()
    report = build_report(interp, style=style, seed=seed, table=table)
    agreement = agreement_of(interp, mapping, vocabulary)
    last = report.steps[-1]
    extra = " ".join(reconciliation(interp, mapping, agreement, table))
    steps = report.steps[:-1] + [replace(last, paragraph=f"{last.paragraph} {extra}".strip())]
    # A hedged source statement ("Possible right atrial abnormality") stays hedged in the answer.
    names = list(
        dict.fromkeys(f"possible {m.name}" if m.hedged else m.name for m in mapping.mapped)
    )
    return Report(
        steps=steps, narrative=annotated_narrative(interp, agreement, names), labels=names
    ), agreement
