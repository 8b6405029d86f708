"""ST-depression failure classes found by scoring every labelled source (issue 18): J-point
depression that does not persist (Minnesota Code 4) and depression reciprocal to ST elevation
(4th UDMI, AHA Part VI). Constructed measurements (tests/protocol_builders.py) and simulated
signals (ecgr1.simulate)."""

from __future__ import annotations

import pytest
from protocol_builders import make_inferior_stemi, normal_result, simulated_statement_ids

import ecgr1
from ecgr1.protocol import interpret
from ecgr1.protocol.table import load_table


def _ids(m) -> set[str]:
    return {s.id for s in interpret(m).statements}


def _suppressed(m) -> set[str]:
    return {s.statement for s in interpret(m).suppressed}


def _depress(m, leads, j: float, j60: float, shape: str = "horizontal") -> None:
    for lead in leads:
        m.leads[lead].st_j_mv = j
        m.leads[lead].st_j60_mv = j60
        m.leads[lead].st_shape = shape


# ---------------------------------------------------------------- persistence after J
def test_j_point_depression_that_recovers_by_j60_is_not_st_depression() -> None:
    m = normal_result()
    _depress(m, ("V5", "V6"), j=-0.1, j60=-0.02)
    assert "std_lateral" not in _ids(m)
    _depress(m, ("V5", "V6"), j=-0.1, j60=-0.08)  # the segment stays depressed
    assert "std_lateral" in _ids(m)


def test_depression_must_persist_in_two_contiguous_leads() -> None:
    m = normal_result()
    _depress(m, ("V5", "V6"), j=-0.1, j60=-0.08)
    m.leads["V6"].st_j60_mv = -0.01  # one lead recovers: one lead is not a territory
    assert "std_lateral" not in _ids(m)


# ---------------------------------------------------------------- reciprocal depression
def test_depression_in_i_and_avl_is_reciprocal_to_inferior_elevation() -> None:
    m = make_inferior_stemi()
    _depress(m, ("I", "aVL"), j=-0.15, j60=-0.15)
    assert "ste_inferior" in _ids(m)
    assert "std_high_lateral" not in _ids(m) and "std_high_lateral" in _suppressed(m)
    # The same depression without the inferior elevation is a finding of its own.
    for lead in ("II", "III", "aVF"):
        m.leads[lead].st_j_mv = 0.0
    assert "std_high_lateral" in _ids(m)


@pytest.mark.parametrize("territory", [("V2", "V3", "V4"), ("V5", "V6"), ("I", "aVL")])
def test_inferior_depression_is_reciprocal_to_anterior_or_lateral_elevation(territory) -> None:
    m = normal_result()
    _depress(m, ("II", "III", "aVF"), j=-0.12, j60=-0.12)
    assert "std_inferior" in _ids(m)
    for lead in territory:
        m.leads[lead].st_j_mv = 0.35
    got = _ids(m)
    assert any(s.startswith("ste_") for s in got), got
    assert "std_inferior" not in got and "std_inferior" in _suppressed(m)


def test_elevation_does_not_hide_depression_outside_its_reciprocal_leads() -> None:
    m = make_inferior_stemi()
    _depress(m, ("V5", "V6"), j=-0.12, j60=-0.12)
    assert {"ste_inferior", "std_lateral"} <= _ids(m)


# ---------------------------------------------------------------- simulated signals
@pytest.mark.parametrize(
    ("pattern", "expected", "allowed"),
    [
        ("inferior_stemi", "ste_inferior", {"sinus_rhythm"}),
        # Reciprocal T inversion in II, III, aVF is not withheld (see the report).
        ("anterior_stemi", "ste_anterior", {"sinus_rhythm", "ste_septal", "tinv_inferior"}),
    ],
)
def test_simulated_stemi_has_no_reciprocal_st_depression_statement(pattern, expected, allowed):
    for seed in range(3):
        got = simulated_statement_ids(pattern, seed)
        assert expected in got, (seed, got)
        assert got <= allowed | {expected}, (seed, got - allowed - {expected})


def test_simulated_st_depression_is_still_stated() -> None:
    for seed in range(2):
        got = simulated_statement_ids("st_depression", seed)
        assert {"std_inferior", "std_lateral"} <= got, (seed, got)


# ---------------------------------------------------------------- T inversion in V1
def test_t_inversion_in_v1_and_v2_is_not_septal_t_inversion() -> None:
    # Part IV: a negative T in V1 is a normal adult finding, so V1-V2 is not two abnormal leads.
    m = normal_result()
    for lead in ("V1", "V2"):
        m.leads[lead].t_amplitude_mv = -0.3
        # QRS not mainly negative, so the inverted T is not merely concordant with it
        m.leads[lead].qrs_net_amplitude_mv = 0.3
        m.leads[lead].qrs_peak_to_peak_mv = 1.0
    assert not {s for s in _ids(m) if s.startswith("tinv_")}
    m.leads["V3"].t_amplitude_mv = -0.3  # V2-V3: two abnormal contiguous leads
    assert "tinv_anterior" in _ids(m)


def test_an_excepted_lead_may_leave_a_territory_short_of_its_minimum() -> None:
    table = load_table()
    assert table.criteria["tinv_discordant.septal"].leads == ["V2"]
    assert table.criteria["tinv_discordant.septal"].min_leads == 2
    assert table.criteria["tinv_discordant.anterior"].leads == ["V2", "V3", "V4"]


@pytest.mark.parametrize("pattern", ["inferior_stemi", "anterior_stemi"])
def test_report_neither_denies_nor_doubts_reciprocal_depression(pattern):
    # The reciprocal depression is withheld as a statement, not absent: the report must not say
    # "no ST depression" (the verifier would contradict it) nor "without reciprocal depression".
    record = ecgr1.simulate(pattern, seed=0).record
    out = ecgr1.interpret_record(record)
    assert any(s.statement.startswith("std_") for s in out.interpretation.suppressed)
    assert "no ST depression" not in out.report
    assert "Without reciprocal depression" not in out.report
    assert "reciprocal changes" in out.report
    verdicts = ecgr1.verify(record, out.report).verdicts
    assert not [v.claim.text for v in verdicts if v.verdict == "contradicted"]
