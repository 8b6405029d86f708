"""The verifier on input that cannot assess every statement (two leads, as a Holter gives).

The report lists what such input cannot show ("... not assessable from this input (leads II
and V5 only), so neither stated nor excluded: first degree AV block; ..."). Those lists assert
nothing, and a claim about a statement the input cannot assess is not checkable: the criteria
read on two leads would otherwise refute findings the protocol declined to judge (QTDB: 1133
of 2233 checkable claims of the protocol's own reports were contradicted this way).
"""

from __future__ import annotations

import re
from functools import cache

import ecgr1
from ecgr1.io import ECGRecord

LIMIT_SENTENCE = re.compile(
    r"[^.]*(?:not assessable from this input|limits of the input:|what this input cannot show:)"
    r"[^.]*\.",
    re.IGNORECASE,
)


def _two_leads(record: ECGRecord, leads=("II", "V5")) -> ECGRecord:
    rows = [record.leads.index(lead) for lead in leads]
    return ECGRecord(record.signal[rows], record.fs, list(leads), record_id=record.record_id)


@cache
def _case(pattern: str, two_leads: bool):
    record = ecgr1.simulate(pattern, seconds=10, seed=0).record
    return ecgr1.interpret_record(_two_leads(record) if two_leads else record)


def test_the_protocols_own_two_lead_report_has_no_contradicted_claim() -> None:
    ri = _case("av_block_1", two_leads=True)
    assert not ri.interpretation.assessable("first_degree_av_block")
    spans = [m.span() for m in LIMIT_SENTENCE.finditer(ri.report)]
    assert spans, "the report lists what two leads cannot show"
    result = ecgr1.verify(ri.interpretation, ri.report)
    assert result.verdicts and not [v for v in result.verdicts if v.verdict == "contradicted"]
    # Nothing is read from the lists of what the input cannot assess.
    inside = [
        v.claim.text for v in result.verdicts
        if any(a <= v.claim.start < b for a, b in spans)
    ]  # fmt: skip
    assert inside == []


def test_a_claim_the_input_cannot_assess_is_not_checkable_with_the_reason() -> None:
    ri = _case("normal", two_leads=True)
    result = ecgr1.verify(ri.interpretation, "Complete left bundle branch block.")
    (v,) = [v for v in result.verdicts if v.claim.concept == "complete_lbbb"]
    assert v.verdict == "not_checkable"
    assert "not assessable from this input" in v.reason and "not in the record" in v.reason


def test_the_same_claim_is_contradicted_where_the_leads_assess_it() -> None:
    ri = _case("normal", two_leads=False)
    result = ecgr1.verify(ri.interpretation, "Complete left bundle branch block.")
    (v,) = [v for v in result.verdicts if v.claim.concept == "complete_lbbb"]
    assert v.verdict == "contradicted"
