"""Protocol engine: statements, precedence, exclusions, codes and the table as data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from protocol_builders import (
    make_af,
    make_empty,
    make_inferior_stemi,
    make_lbbb,
    make_poor_quality,
    make_rbbb,
    make_unusable,
    normal_result,
)

from ecgr1.errors import InvalidInputError
from ecgr1.protocol import interpret, load_table
from ecgr1.protocol.table import DEFAULT_TABLE, parse_table

TABLE = load_table()


def ids(interp) -> set[str]:
    return {s.id for s in interp.statements}


def test_normal_ecg_with_exclusions() -> None:
    interp = interpret(normal_result())
    assert interp.labels == ["sinus rhythm", "normal ECG"]
    sinus = interp.statement("sinus_rhythm")
    assert sinus.code == "426783006" and sinus.certainty == "definite"
    assert {e.criterion for e in sinus.evidence} >= {"rhythm.p_present", "rate.normal"}
    qrs = [e for e in interp.excluded if e.criterion == "qrs.wide"]
    assert qrs and "complete left bundle branch block" in qrs[0].labels
    assert qrs[0].evidence[0].value == 90 and qrs[0].evidence[0].threshold == 120


def test_af_suppresses_sinus_and_pr_statements() -> None:
    interp = interpret(make_af())
    assert ids(interp) == {"atrial_fibrillation"}
    af = interp.statement("atrial_fibrillation")
    assert af.code == "164889003"
    ruled_out = {sid for ex in interp.excluded for sid in ex.rules_out}
    # PR-based differentials are inapplicable in AF: neither stated nor "excluded".
    assert "first_degree_av_block" not in ruled_out and "sinus_tachycardia" not in ruled_out


def test_lbbb_suppresses_lvh_and_secondary_st_t() -> None:
    interp = interpret(make_lbbb())
    assert "complete_lbbb" in ids(interp)
    assert not ids(interp) & {"lvh", "ste_septal", "tinv_lateral", "nonspecific_ivcd"}
    by = {s.statement: s.by for s in interp.suppressed}
    assert by["lvh"] == "complete left bundle branch block"
    assert by["ste_septal"] == "complete left bundle branch block"
    assert interp.statement("complete_lbbb").certainty == "definite"


def test_rbbb_definite_with_wide_lateral_s_and_secondary_t() -> None:
    interp = interpret(make_rbbb())
    rbbb = interp.statement("complete_rbbb")
    assert rbbb is not None and rbbb.certainty == "definite"
    assert rbbb.code == "713427006" and "59118001" in rbbb.equivalent_codes
    # Secondary T inversion in V1-V2: not stated (V1's negative T is normal, Part IV).
    assert not {s for s in ids(interp) if s.startswith("tinv_")}
    wide_s = [e for e in rbbb.evidence if e.criterion == "rbbb.wide_s_lateral"]
    assert {tuple(e.leads) for e in wide_s} == {("I",), ("V6",)}


def test_inferior_ste_with_reciprocal_depression() -> None:
    interp = interpret(make_inferior_stemi())
    # The depression in I and aVL is reciprocal: part of the inferior ST elevation finding.
    assert "ste_inferior" in ids(interp) and "std_high_lateral" not in ids(interp)
    ste = interp.statement("ste_inferior")
    assert {e.leads[0] for e in ste.evidence if e.quantity == "st_deviation_mv"} == {
        "II",
        "III",
        "aVF",
    }
    assert "normal_ecg" not in ids(interp)


def test_poor_quality_suppresses_fine_grained_and_says_so() -> None:
    interp = interpret(make_poor_quality())
    assert "poor_quality" in ids(interp)
    assert "ste_inferior" not in ids(interp)
    sup = {s.statement: s for s in interp.suppressed}
    assert sup["ste_inferior"].by == "quality.poor" and "quality" in sup["ste_inferior"].reason


def test_unusable_record_states_only_quality() -> None:
    interp = interpret(make_unusable())
    assert interp.labels == ["poor quality / artifact"] and interp.excluded == []


def test_nothing_measured_states_nothing() -> None:
    interp = interpret(make_empty())
    assert interp.statements == [] and interp.excluded == []


def test_paced_rhythm_suppresses_conduction() -> None:
    m = make_lbbb()
    m.global_.pacing_spikes_detected = True
    interp = interpret(m)
    assert "paced_rhythm" in ids(interp) and "complete_lbbb" not in ids(interp)
    assert interp.statement("paced_rhythm").code == "10370003"


@pytest.mark.parametrize(("pr", "certainty"), [(205.0, "borderline"), (240.0, "definite")])
def test_first_degree_av_block_certainty(pr: float, certainty: str) -> None:
    m = normal_result()
    m.global_.pr_interval_ms = pr
    interp = interpret(m)
    block = interpret(m).statement("first_degree_av_block")
    assert block is not None and block.certainty == certainty
    # A borderline statement is labelled as such, and the answer list states it only when asked
    # for every statement (it lists confident findings by default).
    if certainty == "definite":
        assert "first degree AV block" in interp.labels
    else:
        assert "borderline first degree AV block" in interp.answer_labels(hedged=True)
        assert not any("AV block" in label for label in interp.labels)


def test_premature_complexes_carry_count() -> None:
    m = normal_result()
    m.global_.n_premature_ventricular = 3
    interp = interpret(m)
    pvc = interp.statement("premature_ventricular_contractions")
    assert pvc.count == 3 and pvc.evidence[0].value == 3
    assert "normal_ecg" not in ids(interp)


def test_ectopic_atrial_rhythm_when_p_is_not_sinus() -> None:
    m = normal_result()
    m.leads["II"].p_amplitude_mv = -0.1
    m.global_.p_axis_deg = -70.0
    interp = interpret(m)
    assert "ectopic_atrial_rhythm" in ids(interp) and "sinus_rhythm" not in ids(interp)


def test_implausible_values_are_not_used() -> None:
    m = normal_result()
    m.leads["II"].p_duration_ms = 300.0  # a delineation error, not a P wave
    interp = interpret(m)
    assert "left_atrial_abnormality" not in ids(interp)
    assert interp.obs("p_duration_ms", "II") is None
    assert interp.criteria["laa.p_duration_ii"].met is None


def test_lafb_and_left_axis() -> None:
    m = normal_result()
    m.global_.qrs_axis_deg = -60.0
    for lead in ("II", "III", "aVF"):
        m.leads[lead].qrs_net_amplitude_mv = -0.5
    assert {"left_axis_deviation", "lafb"} <= ids(interpret(m))


def test_sex_changes_cornell_lvh() -> None:
    m = normal_result()
    m.global_.cornell_voltage_mv = 2.4
    # Voltage alone is "voltage criteria for LVH" (Romhilt-Estes: LVH needs more than voltage).
    assert "lvh_voltage" in ids(interpret(m, sex="F"))
    assert "lvh_voltage" not in ids(interpret(m, sex="M"))
    assert "lvh_voltage" not in ids(interpret(m))  # unknown sex: the men's (stricter) threshold


def test_age_and_sex_from_measurements_are_used() -> None:
    m = normal_result(age=30, sex="F")
    for lead in ("V2", "V3"):
        m.leads[lead].st_j_mv = 0.17
    assert "ste_anterior" in ids(interpret(m))  # women: 0.15 mV in V2-V3
    assert "ste_anterior" not in ids(interpret(m, sex="M"))


def test_every_statement_is_reachable_and_categorised() -> None:
    categories = {s.category for s in TABLE.statements.values()}
    assert {
        "rhythm",
        "conduction",
        "axis",
        "hypertrophy",
        "ischemia/infarction",
        "repolarisation/QT",
        "technical",
    } <= categories


REQUIRED_STATEMENTS = [
    "sinus_rhythm", "sinus_tachycardia", "sinus_bradycardia", "sinus_arrhythmia",
    "atrial_fibrillation", "atrial_flutter", "supraventricular_tachycardia", "junctional_rhythm",
    "premature_atrial_contractions", "premature_ventricular_contractions", "paced_rhythm",
    "first_degree_av_block", "av_block_mobitz_1", "av_block_mobitz_2", "av_block_third_degree",
    "short_pr", "wpw_pattern", "complete_rbbb", "incomplete_rbbb", "complete_lbbb",
    "incomplete_lbbb", "nonspecific_ivcd", "lafb", "lpfb", "left_axis_deviation",
    "right_axis_deviation", "indeterminate_axis", "lvh", "rvh", "left_atrial_abnormality",
    "right_atrial_abnormality", "low_qrs_voltage", "poor_r_progression", "ste_inferior",
    "ste_lateral", "ste_anterior", "ste_septal", "ste_high_lateral", "ste_avr", "std_inferior",
    "q_inferior", "tinv_anterior", "nonspecific_t_abnormality", "long_qt", "short_qt",
    "limb_lead_reversal", "poor_quality", "normal_ecg",
]  # fmt: skip


def test_issue_statement_coverage() -> None:
    assert set(REQUIRED_STATEMENTS) <= set(TABLE.statements)


def _mapping_codes(shared: Path) -> tuple[set[str], set[str]]:
    folder = shared / "formats" / "physionet_challenge2021_evaluation"
    scored, unscored = set(), set()
    for name, bucket in (("dx_mapping_scored.csv", scored), ("dx_mapping_unscored.csv", unscored)):
        with open(folder / name, newline="") as fh:
            bucket.update(row["SNOMEDCTCode"] for row in csv.DictReader(fh))
    return scored, unscored


def test_codes_come_from_challenge_mapping(shared_data: Path) -> None:
    if not (shared_data / "formats" / "physionet_challenge2021_evaluation").is_dir():
        pytest.skip("Challenge 2021 mapping not available")
    scored, unscored = _mapping_codes(shared_data)
    for spec in TABLE.statements.values():
        if spec.code is None:
            continue
        assert spec.code in scored | unscored, spec.id
        for code in spec.equivalent_codes:
            assert code in scored | unscored, spec.id
        # Where the mapping has a scored code for the statement, it is the one used.
        if spec.equivalent_codes and any(c in scored for c in spec.equivalent_codes):
            assert spec.code in scored, spec.id


def test_table_rejects_bad_rows() -> None:
    data = yaml.safe_load(DEFAULT_TABLE.read_text())
    bad = yaml.safe_load(DEFAULT_TABLE.read_text())
    bad["criteria"][0]["operator"] = "=>"
    with pytest.raises(InvalidInputError):
        parse_table(bad)
    bad = yaml.safe_load(DEFAULT_TABLE.read_text())
    bad["statements"][0]["requires"] = "no.such.criterion"
    with pytest.raises(InvalidInputError):
        parse_table(bad)
    bad = yaml.safe_load(DEFAULT_TABLE.read_text())
    bad["criteria"][0]["source"] = "nowhere"
    with pytest.raises(InvalidInputError):
        parse_table(bad)
    assert parse_table(data).criteria  # the shipped table itself is valid


def test_threshold_change_in_table_changes_behaviour(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_TABLE.read_text())
    for row in data["criteria"]:
        if row["id"] == "qrs.wide":
            row["threshold"] = 80
    path = tmp_path / "criteria.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    m = make_lbbb()
    m.global_.qrs_duration_ms = 100.0
    assert "complete_lbbb" not in ids(interpret(m))
    assert "complete_lbbb" in ids(interpret(m, table=load_table(path)))


def test_interpretation_json_shape() -> None:
    d = interpret(make_rbbb()).to_dict()
    st = d["statements"][0]
    assert {"code", "label", "category", "certainty", "evidence"} <= set(st)
    ev = st["evidence"][0]
    assert {"quantity", "leads", "value", "unit", "criterion", "threshold"} <= set(ev)
    assert all({"criterion", "labels", "evidence"} <= set(x) for x in d["excluded"])


def test_amplitude_normalised_source_withholds_voltage_statements():
    """A file whose leads were all rescaled to one range must not yield voltage diagnoses."""
    from protocol_builders import normal_result

    from ecgr1.protocol import interpret

    m = normal_result()
    m.global_.sokolow_lyon_mv = 4.5  # would meet LVH voltage
    m.leads["V1"].s_amplitude_mv = -2.0
    m.leads["V5"].r_amplitude_mv = 2.5
    voltage = {"lvh", "lvh_voltage"}
    before = {s.id for s in interpret(m).statements}
    m.quality.amplitude_normalised = True
    after = interpret(m)
    assert before & voltage
    assert not {s.id for s in after.statements} & voltage
    assert any(s["by"] == "quality.amplitude_normalised" for s in after.to_dict()["suppressed"])


def _p_wave(p_duration_ii_ms: float, v1_terminal_mv: float, normalised: bool):
    """A sinus record with the given P duration in II and terminal negative P in V1 (after an
    initial positive part)."""
    from protocol_builders import normal_result

    m = normal_result()
    m.leads["II"].p_duration_ms = p_duration_ii_ms
    v1 = m.leads["V1"]
    v1.p_positive_amplitude_mv, v1.p_negative_amplitude_mv = 0.05, -v1_terminal_mv
    v1.p_terminal_negative_ms = 50.0 if v1_terminal_mv > 0 else 0.0
    v1.p_amplitude_mv, v1.p_morphology = -v1_terminal_mv, "biphasic"
    m.quality.amplitude_normalised = normalised
    return interpret(m)


def test_normalised_amplitudes_keep_the_p_duration_criterion_of_left_atrial_abnormality():
    """Rescaling every lead leaves a P wave's duration intact (AHA 2009 Part V: >= 120 ms in
    II), not the millivolts of V1's terminal force."""

    def ruled_out(interp):
        return {t for x in interp.to_dict()["excluded"] for t in x["rules_out"]}

    def withheld(interp):
        return {s["statement"]: s["reason"] for s in interp.to_dict()["suppressed"]}

    wide = _p_wave(130.0, 0.0, normalised=True)
    laa = wide.statement("left_atrial_abnormality")
    assert laa is not None and [e.criterion for e in laa.evidence] == ["laa.p_duration_ii"]
    assert laa.evidence[0].value == 130.0
    # A terminal force read on rescaled millivolts states nothing ...
    force = _p_wave(100.0, 0.15, normalised=True)
    assert "left_atrial_abnormality" not in ids(force)
    assert "terminal-force" in withheld(force)["left_atrial_abnormality"]
    # ... and a narrow P rules nothing out: the voltage criterion could not be read.
    narrow = _p_wave(100.0, 0.0, normalised=True)
    assert "left_atrial_abnormality" not in ids(narrow) | ruled_out(narrow)
    # Recorded in millivolts, both criteria apply as before.
    assert "left_atrial_abnormality" in ids(_p_wave(100.0, 0.15, normalised=False))
    assert "left_atrial_abnormality" in ruled_out(_p_wave(100.0, 0.0, normalised=False))


def test_a_precedence_rule_names_a_known_unless():
    data = yaml.safe_load(DEFAULT_TABLE.read_text())
    rule = next(r for r in data["precedence"] if r.get("unless"))
    rule["unless"] = "laa.p_duration_avf"
    with pytest.raises(InvalidInputError, match="unknown 'unless'"):
        parse_table(data)


def _adult_limits_crossed(age):
    """A record whose voltage, axis, PR and V2-V3 T waves cross the adult limits, all of them
    normal findings in a child (Rijnbeek 2001; the juvenile T-wave pattern)."""
    from protocol_builders import normal_result

    m = normal_result(age=age)
    m.global_.sokolow_lyon_mv = 4.5
    m.leads["V1"].s_amplitude_mv = -2.0
    m.leads["V5"].r_amplitude_mv = 2.5
    m.global_.qrs_axis_deg = 110.0
    m.global_.pr_interval_ms = 100.0
    for lead in ("V2", "V3"):
        m.leads[lead].t_amplitude_mv = m.leads[lead].t_negative_amplitude_mv = -0.3
        m.leads[lead].t_polarity = "negative"
    return m


def test_children_are_not_read_with_the_adult_voltage_axis_pr_and_t_wave_limits():
    from ecgr1.protocol import interpret

    adult_only = {"lvh_voltage", "right_axis_deviation", "short_pr", "tinv_anterior"}
    for age in (40.0, 16.0, None):  # an unknown age is read as an adult's
        assert adult_only <= ids(interpret(_adult_limits_crossed(age))), age
    for child in (
        interpret(_adult_limits_crossed(9.0)),
        interpret(_adult_limits_crossed(40.0), age=15.5),
    ):
        assert not ids(child) & adult_only
        withheld = {s["statement"]: s["by"] for s in child.to_dict()["suppressed"]}
        assert {withheld[s] for s in adult_only} == {"patient.child"}
        assert "sinus_rhythm" in ids(child)  # rhythm and rate keep their (adult) limits


def test_a_child_within_the_adult_limits_still_has_those_findings_ruled_out():
    # Paediatric limits lie beyond the adult ones, so a normal adult value is normal for a
    # child too: the exclusions stand (only what the adult limits would find is withheld).
    from protocol_builders import normal_result

    from ecgr1.protocol import interpret

    def ruled_out(interp):
        return {t for x in interp.to_dict()["excluded"] for t in x["rules_out"]}

    child, adult = interpret(normal_result(age=9.0)), interpret(normal_result(age=40.0))
    wanted = {"lvh", "right_axis_deviation", "lpfb", "short_pr", "tinv_anterior"}
    assert wanted <= ruled_out(adult)
    assert wanted <= ruled_out(child)


def test_a_childs_large_voltages_still_carry_discordant_anterior_st_elevation():
    # The LVH-voltage rule runs before the child rule: the deep right precordial S waves are
    # there whatever the age, so ST elevation in V2-V4 is still not read as an infarct pattern.
    from ecgr1.protocol import interpret

    m = _adult_limits_crossed(9.0)
    for lead in ("V2", "V3", "V4"):
        m.leads[lead].st_j_mv = m.leads[lead].j_amplitude_mv = 0.35
    child = interpret(m)
    withheld = {s["statement"]: s["by"] for s in child.to_dict()["suppressed"]}
    assert (
        "ste_anterior" not in ids(child) and withheld["ste_anterior"] == "voltage criteria for LVH"
    )
    m.global_.sokolow_lyon_mv = 2.0  # no LVH voltage: the ST elevation stands
    assert "ste_anterior" in ids(interpret(m))
