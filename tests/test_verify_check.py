"""The checker: verdicts of hand-made claims against simulated records with known truth.

Claims are built directly (no extraction), so these tests pin the checking rules alone: the
tolerance band of numeric claims, the nominal/robust evaluation of categorical claims through
``checks.yaml``, negation, hedges, named leads, inapplicable statements and uncalibrated
amplitudes.
"""

from __future__ import annotations

import copy
from functools import cache

import pytest

import ecgr1
from ecgr1.errors import ECGR1Error
from ecgr1.protocol import load_table
from ecgr1.verify.check import check_claims, load_checks, parse_checks
from ecgr1.verify.claims import Claim
from ecgr1.verify.tolerances import load_tolerances, parse_tolerances


@cache
def interp(pattern: str):
    return ecgr1.interpret_record(ecgr1.simulate(pattern, seed=0).record).interpretation


def num(concept: str, value: float, comparator: str = "=", **kw) -> Claim:
    return Claim(
        "x", 0, 1, "numeric", "interval", concept, value=value, comparator=comparator, **kw
    )


def cat(concept: str, **kw) -> Claim:
    return Claim("x", 0, 1, "categorical", "rhythm", concept, **kw)


def verdict(claim: Claim, pattern: str = "normal") -> str:
    return check_claims([claim], interp(pattern))[0].verdict


# ------------------------------------------------------------------ numeric claims


def test_numeric_claim_is_contradicted_just_beyond_its_tolerance():
    qrs = interp("normal").measurements.global_.qrs_duration_ms
    tol = load_tolerances().tolerance("qrs_duration_ms", qrs)
    assert verdict(num("qrs_duration_ms", qrs + 0.9 * tol)) == "supported"
    assert verdict(num("qrs_duration_ms", qrs - 0.9 * tol)) == "supported"
    assert verdict(num("qrs_duration_ms", qrs + 1.1 * tol)) == "contradicted"
    v = check_claims([num("qrs_duration_ms", qrs + 1.1 * tol)], interp("normal"))[0]
    assert v.tolerance == pytest.approx(tol) and v.measured == pytest.approx(qrs, abs=0.01)


def test_approximate_and_hedged_values_get_the_wider_tolerance():
    qrs = interp("normal").measurements.global_.qrs_duration_ms
    tol = load_tolerances().tolerance("qrs_duration_ms", qrs)
    assert verdict(num("qrs_duration_ms", qrs + 1.5 * tol)) == "contradicted"
    assert verdict(num("qrs_duration_ms", qrs + 1.5 * tol, approximate=True)) == "supported"
    assert verdict(num("qrs_duration_ms", qrs + 1.5 * tol, hedged=True)) == "supported"


def test_bounds_are_contradicted_only_beyond_the_bound_plus_tolerance():
    # simulated LBBB: QRS about 150 ms; tolerance about 38 ms
    qrs = interp("lbbb").measurements.global_.qrs_duration_ms
    tol = load_tolerances().tolerance("qrs_duration_ms", qrs)
    assert verdict(num("qrs_duration_ms", qrs - 1.1 * tol, "<"), "lbbb") == "contradicted"
    assert verdict(num("qrs_duration_ms", qrs - 0.9 * tol, "<"), "lbbb") == "not_checkable"
    assert verdict(num("qrs_duration_ms", 120, ">="), "lbbb") == "supported"
    assert verdict(num("qrs_duration_ms", 120, "<"), "normal") == "supported"
    assert verdict(num("qrs_duration_ms", 140, ">"), "normal") == "contradicted"
    assert verdict(num("qrs_duration_ms", 80, "between", upper=100), "normal") == "supported"
    assert verdict(num("qrs_duration_ms", 130, "between", upper=160), "normal") == "contradicted"


def test_qtc_without_a_formula_stands_when_any_formula_agrees():
    g = interp("normal").measurements.global_
    values = [g.qtc_bazett_ms, g.qtc_fridericia_ms, g.qtc_framingham_ms, g.qtc_hodges_ms]
    assert verdict(num("qtc_ms", max(values))) == "supported"
    tol = load_tolerances().tolerance("qtc_ms", max(values))
    assert verdict(num("qtc_ms", max(values) + 1.1 * tol)) == "contradicted"
    value = g.qtc_bazett_ms + 1.1 * load_tolerances().tolerance("qtc_ms", g.qtc_bazett_ms)
    named = num("qtc_ms", value, qualifier="bazett")
    assert verdict(named) == "contradicted"


def test_axis_difference_wraps_around_the_circle():
    g = interp("normal").measurements.global_
    assert verdict(num("qrs_axis_deg", g.qrs_axis_deg + 360)) == "supported"
    assert verdict(num("qrs_axis_deg", g.qrs_axis_deg + 90)) == "contradicted"


def test_lead_amplitudes_compare_lead_by_lead():
    m = interp("normal").measurements
    r_v5 = m.leads["V5"].r_amplitude_mv
    ok = num("r_amplitude_mv", r_v5, leads=("V5",))
    wrong = num("r_amplitude_mv", r_v5 * 3 + 0.5, leads=("V5",))
    assert verdict(ok) == "supported" and verdict(wrong) == "contradicted"
    s_v1 = abs(m.leads["V1"].s_amplitude_mv)  # a depth is stated as a positive number
    assert verdict(num("s_amplitude_mv", s_v1, leads=("V1",))) == "supported"


def test_missing_lead_and_no_ecg_are_not_checkable_with_reasons():
    m = copy.deepcopy(interp("normal"))
    del m.measurements.leads["V5"]
    v = check_claims([num("r_amplitude_mv", 1.0, leads=("V5",))], m)[0]
    assert v.verdict == "not_checkable" and v.reason.startswith("lead missing")
    v = check_claims([num("qrs_duration_ms", 100)], None)[0]
    assert v.verdict == "not_checkable" and v.reason.startswith("no ECG")


# ------------------------------------------------------------------ categorical claims


@pytest.mark.parametrize(
    ("concept", "pattern", "expected"),
    [
        ("sinus_rhythm", "normal", "supported"),
        ("atrial_fibrillation", "normal", "contradicted"),
        ("atrial_fibrillation", "atrial_fibrillation", "supported"),
        ("sinus_rhythm", "atrial_fibrillation", "contradicted"),
        ("complete_lbbb", "lbbb", "supported"),
        ("complete_lbbb", "normal", "contradicted"),
        ("complete_rbbb", "rbbb", "supported"),
        ("first_degree_av_block", "av_block_1", "supported"),
        ("first_degree_av_block", "normal", "contradicted"),
        ("sinus_tachycardia", "sinus_tachycardia", "supported"),
        ("sinus_bradycardia", "sinus_tachycardia", "contradicted"),
        ("long_qt", "long_qt", "supported"),
        ("long_qt", "normal", "contradicted"),
        ("normal_ecg", "normal", "supported"),
    ],
)
def test_affirmed_findings(concept, pattern, expected):
    assert verdict(cat(concept), pattern) == expected


def test_negated_findings_flip_the_verdict():
    assert verdict(cat("complete_lbbb", negated=True), "lbbb") == "contradicted"
    assert verdict(cat("complete_lbbb", negated=True), "normal") == "supported"
    assert (
        verdict(cat("atrial_fibrillation", negated=True), "atrial_fibrillation") == "contradicted"
    )


def test_a_finding_near_its_threshold_is_not_checkable_rather_than_contradicted():
    # QRS moved to just below the wide limit: "complete RBBB" is then within tolerance.
    m = copy.deepcopy(interp("rbbb"))
    m.measurements.global_.qrs_duration_ms = 112.0
    for lead in ("V1", "V2"):  # the right precordial QRS also meets the complete-block limit
        m.measurements.leads[lead].qrs_duration_ms = 112.0
    got = ecgr1.interpret(m.measurements)
    v = check_claims([cat("complete_rbbb")], got)[0]
    assert v.verdict == "not_checkable" and "tolerance" in v.reason


def test_statements_made_inapplicable_by_precedence_are_not_checkable():
    v = check_claims([cat("lvh")], interp("lbbb"))[0]
    assert v.verdict == "not_checkable" and "LBBB" in v.reason


@pytest.mark.parametrize(
    ("axis", "p_ii", "verdict_"),
    [(50.0, 0.12, "supported"), (-63.0, -0.06, "not_checkable"), (-40.0, 0.05, "supported")],
)
def test_atrial_abnormality_on_a_non_sinus_p_wave_is_not_checkable(axis, p_ii, verdict_):
    # A 130 ms P wave in II is left atrial abnormality on a sinus P wave only (the protocol's
    # precedence rule); a P upright in II counts as sinus (the rule's ``unless``), whatever the
    # axis says (-40 degrees with a positive P in II: the logic, not a likely record).
    m = copy.deepcopy(interp("normal").measurements)
    m.leads["II"].p_duration_ms = 130.0
    m.global_.p_axis_deg = axis
    m.leads["II"].p_amplitude_mv = m.leads["II"].p_positive_amplitude_mv = p_ii
    v = check_claims([cat("left_atrial_abnormality")], ecgr1.interpret(m))[0]
    assert v.verdict == verdict_
    if verdict_ == "not_checkable":
        assert "sinus" in v.reason


def test_uncalibrated_amplitudes_make_voltage_claims_not_checkable():
    m = copy.deepcopy(interp("normal").measurements)
    m.quality.amplitude_normalised = True
    got = ecgr1.interpret(m)
    claims = [cat("lvh"), num("r_amplitude_mv", 5.0, leads=("V5",)), cat("left_axis_deviation")]
    reasons = [v.reason for v in check_claims(claims, got)]
    assert all(r.startswith("amplitudes not calibrated") for r in reasons)
    # intervals do not depend on amplitude: still checked
    assert check_claims([num("qrs_duration_ms", 300)], got)[0].verdict == "contradicted"


def test_lvh_is_refuted_by_clearly_low_voltage_even_without_the_sex():
    low = interp("normal")
    assert low.sex is None
    assert verdict(cat("lvh")) == "contradicted"
    # The simulated pattern is LVH by voltage alone: the protocol states "voltage criteria for
    # LVH" unless Romhilt-Estes support is measured (criteria.yaml, lvh), so an "LVH" claim there
    # is never refuted, and supported only where the supporting findings are measured.
    assert verdict(cat("lvh"), "lvh") in ("supported", "not_checkable")


def test_findings_in_named_leads_are_decided_in_those_leads():
    leads_inf, leads_ant = ("II", "III", "aVF"), ("V1", "V2", "V3")
    ste = "inferior_stemi"
    assert verdict(cat("st_elevation", leads=leads_inf), ste) == "supported"
    assert verdict(cat("st_elevation", leads=leads_ant), ste) == "contradicted"
    assert verdict(cat("st_elevation", leads=leads_inf, negated=True), ste) == "contradicted"
    assert verdict(cat("st_elevation", leads=leads_ant, negated=True), ste) == "supported"
    assert verdict(cat("st_elevation"), ste) == "supported"
    assert verdict(cat("st_elevation"), "normal") == "contradicted"


def test_an_unusable_record_checks_nothing():
    m = copy.deepcopy(interp("normal"))
    m.measurements.quality.overall = "unusable"
    v = check_claims([num("qrs_duration_ms", 300), cat("atrial_fibrillation")], m)
    assert {x.verdict for x in v} == {"not_checkable"}
    assert all(x.reason.startswith("poor quality") for x in v)


def test_undecidable_findings_are_never_contradicted():
    # nor is their denial supported: criteria that cannot rule a finding out cannot confirm
    # "no ischaemia"
    assert verdict(cat("ischemia", negated=True), "normal") == "not_checkable"
    assert verdict(cat("myocardial_infarction", negated=True), "normal") == "not_checkable"
    assert verdict(cat("myocardial_infarction"), "normal") == "not_checkable"
    assert verdict(cat("myocardial_infarction", leads=("II", "III", "aVF")), "normal") == (
        "not_checkable"
    )


# ------------------------------------------------------------------ the tables


def test_checks_table_refers_only_to_known_criteria_and_statements():
    table = load_table()
    assert "atrial_fibrillation" in load_checks(table).concepts
    with pytest.raises(ECGR1Error, match="unknown"):
        parse_checks({"concepts": {"x": {"holds": "no_such_thing"}}}, table)
    with pytest.raises(ECGR1Error, match="no criterion"):
        parse_checks({"concepts": {"x": {"holds": "lvh", "leads": ["zz.*"]}}}, table)


def test_tolerance_table_validation_and_formula():
    tol = parse_tolerances(
        {"k": 2, "quantities": {"qrs_duration_ms": {"sd": 10, "floor": 5, "relative": 0.5}}}
    )
    assert tol.tolerance("qrs_duration_ms", 10) == 20.0  # k * sd
    assert tol.tolerance("qrs_duration_ms", 100) == 50.0  # relative part
    assert tol.tolerance("qrs_duration_ms", 10, hedged=True) == 40.0
    with pytest.raises(ECGR1Error):
        parse_tolerances({"quantities": {"qrs_duration_ms": {"sd": -1}}})
    with pytest.raises(ECGR1Error):
        parse_tolerances({"quantities": {}, "aliases": {"qtc_bazett_ms": "qtc_ms"}})


def test_every_concept_the_extractor_names_has_a_check_and_vice_versa():
    from ecgr1.verify.extract import load_lexicon

    lexicon = load_lexicon().raw["categorical"]
    extracted = {concept for group in lexicon.values() for concept in group}
    assert extracted == set(load_checks().concepts)


def _reinterpreted(pattern: str, **global_values):
    m = copy.deepcopy(interp(pattern).measurements)
    for key, value in global_values.items():
        setattr(m.global_, key, value)
    return ecgr1.interpret(m)


def test_a_sinus_rhythm_is_refuted_by_another_rhythm_not_by_p_waves_the_engine_missed():
    missed_p = _reinterpreted("normal", p_wave_fraction=0.0, p_wave_present=False)
    (v,) = check_claims([cat("sinus_rhythm")], missed_p)
    assert v.verdict == "not_checkable"
    assert verdict(cat("sinus_rhythm"), "atrial_fibrillation") == "contradicted"
    assert verdict(cat("sinus_bradycardia"), "normal") == "contradicted"  # by the rate


def test_atrial_fibrillation_is_refuted_by_a_regular_rhythm_unless_paced():
    assert verdict(cat("atrial_fibrillation"), "normal") == "contradicted"
    paced = _reinterpreted("normal", pacing_spikes_detected=True, p_wave_fraction=0.0)
    assert paced.has("paced_rhythm")
    assert check_claims([cat("atrial_fibrillation")], paced)[0].verdict == "not_checkable"


def test_premature_beats_are_refuted_only_by_a_regular_rhythm_without_them():
    assert verdict(cat("premature_atrial_contractions"), "normal") == "contradicted"
    assert verdict(cat("premature_atrial_contractions"), "atrial_fibrillation") == "not_checkable"
    assert verdict(cat("premature_ventricular_contractions"), "pvc") == "supported"
    assert verdict(cat("premature_ventricular_contractions", negated=True), "pvc") == (
        "contradicted"
    )


def test_a_denial_of_st_depression_keeps_the_ischaemic_shape_condition():
    m = copy.deepcopy(interp("normal").measurements)
    for lead in ("V5", "V6"):  # J point depressed 0.1 mV, but up-sloping
        m.leads[lead].st_j_mv = m.leads[lead].j_amplitude_mv = -0.1
        m.leads[lead].st_shape = "upsloping"
    got = ecgr1.interpret(m)
    leads = ("V5", "V6")
    assert check_claims([cat("st_depression", leads=leads)], got)[0].verdict == "supported"
    denial = check_claims([cat("st_depression", leads=leads, negated=True)], got)[0]
    assert denial.verdict == "supported"


def test_an_affirmed_t_inversion_describes_a_negative_t_wave():
    # simulated normal: T in V1 is slightly negative (about -0.03 mV), upright in V2-V4
    leads_v1, leads_ant = ("V1",), ("V2", "V3", "V4")
    assert verdict(cat("t_wave_inversion", leads=leads_v1)) == "supported"
    assert verdict(cat("t_wave_inversion", leads=leads_ant)) == "contradicted"
    assert verdict(cat("t_wave_inversion", leads=leads_ant), "t_inversion") == "supported"
    # a denial keeps the table's -0.1 mV: "no T wave inversion in V1" is not contradicted
    assert verdict(cat("t_wave_inversion", leads=leads_v1, negated=True)) == "supported"
