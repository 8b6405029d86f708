"""The failure classes found by scoring every labelled source (benchmarks/protocol_bench.py
--data): each fixed at its cause with a textbook criterion, checked on constructed measurements
(tests/protocol_builders.py) and on simulated signals (ecgr1.simulate)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from protocol_builders import make_af, normal_result, simulated_statement_ids

from ecgr1.errors import InvalidInputError
from ecgr1.protocol import interpret
from ecgr1.protocol.table import DEFAULT_TABLE, load_table, parse_table


def _ids(m, **kw) -> set[str]:
    return {s.id for s in interpret(m, **kw).statements}


def _statement(m, sid: str, **kw):
    return interpret(m, **kw).statement(sid)


# ---------------------------------------------------------------- atrial fibrillation
def _irregular_without_p(activity: str | None):
    m = make_af()
    m.global_.atrial_activity = activity
    return m


def test_af_is_stated_with_fibrillatory_waves_or_a_flat_baseline() -> None:
    assert "atrial_fibrillation" in _ids(_irregular_without_p("fibrillatory"))
    # ESC 2020: irregular RR with no distinct P waves; fine f waves leave a flat baseline.
    assert "atrial_fibrillation" in _ids(_irregular_without_p("none"))


def test_organised_p_waves_are_evidence_against_af() -> None:
    # The atrial analysis found P waves related to the QRS in fewer than half the beats (e.g. a
    # tachycardia with P waves hidden in every other T): the irregular RR is not AF.
    m = _irregular_without_p("p_waves")
    m.global_.p_wave_fraction = 0.45
    assert "atrial_fibrillation" not in _ids(m)


def test_an_irregular_paced_rhythm_is_not_af_without_fibrillatory_waves() -> None:
    m = _irregular_without_p("none")
    m.global_.pacing_spikes_detected = True
    got = _ids(m)
    assert "paced_rhythm" in got and "atrial_fibrillation" not in got
    m.global_.atrial_activity = "fibrillatory"  # paced over AF: the f waves decide
    assert "atrial_fibrillation" in _ids(m)


# ---------------------------------------------------------------- LVH
def _voltage_only():
    m = normal_result(age=60, sex="M")
    m.global_.sokolow_lyon_mv = 4.2
    m.global_.cornell_voltage_mv = 3.0
    return m


def test_voltage_alone_is_voltage_criteria_for_lvh_not_lvh() -> None:
    got = _ids(_voltage_only())
    assert "lvh_voltage" in got and "lvh" not in got


def test_voltage_with_strain_is_lvh() -> None:
    m = _voltage_only()
    for lead in ("V5", "V6"):
        m.leads[lead].t_amplitude_mv = -0.25
        m.leads[lead].st_j_mv = -0.1
    got = _ids(m)
    assert "lvh" in got and "lvh_voltage" not in got  # the stronger statement replaces it
    s = _statement(m, "lvh")
    assert "lvh.strain" in s.criteria and s.certainty == "definite"


def test_voltage_with_left_atrial_abnormality_or_axis_is_lvh() -> None:
    m = _voltage_only()
    m.leads["V1"].p_negative_amplitude_mv = -0.15  # P terminal force (Romhilt-Estes 3)
    m.leads["V1"].p_amplitude_mv = -0.15
    m.leads["V1"].p_terminal_negative_ms = 50.0
    assert "lvh" in _ids(m)
    m = _voltage_only()
    m.global_.qrs_axis_deg = -40.0  # left axis deviation (2)
    assert "lvh" in _ids(m)


def test_strain_without_voltage_is_not_lvh() -> None:
    m = normal_result(age=60, sex="M")
    for lead in ("V5", "V6"):
        m.leads[lead].t_amplitude_mv = -0.25
        m.leads[lead].st_j_mv = -0.1
    assert not {"lvh", "lvh_voltage"} & _ids(m)


def test_young_adult_voltage_is_only_possible() -> None:
    m = _voltage_only()
    m.global_.cornell_voltage_mv = 1.0
    s = _statement(m, "lvh_voltage", age=25)
    assert s is not None and s.certainty == "possible"


# ---------------------------------------------------------------- T inversion and Q waves
def test_t_inversion_where_the_qrs_is_mainly_negative_is_not_stated() -> None:
    # Inverted T in II and aVF with rS complexes (net QRS clearly negative): concordant.
    m = normal_result()
    for lead in ("II", "aVF"):
        m.leads[lead].t_amplitude_mv = -0.2
        m.leads[lead].r_amplitude_mv = 0.2
        m.leads[lead].s_amplitude_mv = -0.9
        m.leads[lead].q_amplitude_mv = None
        m.leads[lead].qrs_net_amplitude_mv = -0.7
        m.leads[lead].qrs_peak_to_peak_mv = 1.1
    assert "tinv_inferior" not in _ids(m)
    for lead in ("II", "aVF"):  # the same T waves after upright QRS complexes are abnormal
        m.leads[lead].r_amplitude_mv = 1.0
        m.leads[lead].s_amplitude_mv = -0.1
        m.leads[lead].qrs_net_amplitude_mv = 0.9
    assert "tinv_inferior" in _ids(m)


def test_q_waves_in_iii_and_avf_alone_are_not_inferior_q_waves() -> None:
    # 4th UDMI lists I, II, aVL, aVF, V4-V6 (and V2-V3): a Q wave in III is a normal finding.
    m = normal_result()
    for lead in ("III", "aVF"):
        m.leads[lead].q_amplitude_mv = -0.3
        m.leads[lead].q_duration_ms = 40.0
    assert "q_inferior" not in _ids(m)
    m.leads["II"].q_amplitude_mv = -0.3
    m.leads["II"].q_duration_ms = 40.0
    assert "q_inferior" in _ids(m)


def test_except_leads_takes_the_normal_variant_lead_out_of_the_territory() -> None:
    table = load_table()
    assert table.criteria["q.inferior"].leads == ["II", "aVF"]
    assert table.criteria["q.lateral"].leads == ["V5", "V6"]
    data = yaml.safe_load(Path(DEFAULT_TABLE).read_text(encoding="utf-8"))
    row = next(r for r in data["criteria"] if r["id"] == "q.{territory}")
    row["except_leads"] = "III"
    with pytest.raises(InvalidInputError, match="except_leads"):
        parse_table(data)


# ---------------------------------------------------------------- atrial flutter
def test_flutter_withholds_st_t_and_q_statements() -> None:
    m = normal_result()
    m.global_.atrial_activity = "flutter"
    m.global_.atrial_rate_bpm = 300.0
    m.global_.p_wave_fraction = 0.0
    m.global_.p_wave_present = False
    for lead in ("II", "III", "aVF"):
        m.leads[lead].st_j_mv = 0.15  # an F wave taken for the ST level
        m.leads[lead].q_amplitude_mv = -0.2  # a negative F wave at the QRS onset
        m.leads[lead].q_duration_ms = 40.0
    interp = interpret(m)
    got = {s.id for s in interp.statements}
    assert "atrial_flutter" in got
    assert not {"ste_inferior", "q_inferior", "tinv_inferior", "std_high_lateral"} & got
    assert any("flutter" in s.by and s.statement == "ste_inferior" for s in interp.suppressed)


# ---------------------------------------------------------------- borderline: rate and QTc
@pytest.mark.parametrize(
    ("rate", "certainty"), [(103.0, "borderline"), (105.0, "borderline"), (106.0, "definite")]
)
def test_sinus_tachycardia_at_the_100_bpm_limit_is_borderline(rate: float, certainty: str):
    m = normal_result()
    m.global_.heart_rate_bpm = rate
    interp = interpret(m)
    s = interp.statement("sinus_tachycardia")
    assert s is not None and s.certainty == certainty
    # The answer list states only confident findings unless asked for every statement.
    assert ("sinus tachycardia" in interp.labels) == (certainty != "borderline")
    assert any("sinus tachycardia" in label for label in interp.answer_labels(hedged=True))


def test_borderline_bradycardia_still_names_the_rhythm_in_the_report() -> None:
    from ecgr1.report import build_report

    m = normal_result()
    m.global_.heart_rate_bpm = 57.0
    interp = interpret(m)
    assert interp.statement("sinus_bradycardia").certainty == "borderline"
    assert "borderline sinus bradycardia" in build_report(interp).text.lower()


@pytest.mark.parametrize("rate", [55.0, 57.0, 59.0, 101.0, 103.0, 105.0])
def test_a_borderline_sinus_rate_still_answers_sinus_rhythm(rate: float) -> None:
    # The rate name is in doubt within the margin of 60 or 100 bpm, the sinus origin is not:
    # the answer names the rhythm ("sinus rhythm") and the report the borderline rate name.
    m = normal_result()
    m.global_.heart_rate_bpm = rate
    interp = interpret(m)
    named = "sinus_bradycardia" if rate < 60 else "sinus_tachycardia"
    assert interp.statement(named).certainty == "borderline"
    sinus = interp.statement("sinus_rhythm")
    assert sinus is not None and sinus.certainty == "definite"
    assert "rate.normal" not in sinus.criteria  # it rests on the P-wave criteria that hold
    assert interp.labels[0] == "sinus rhythm"
    ids = [s.id for s in interp.statements]
    assert ids.index("sinus_rhythm") == ids.index(named) - 1  # "sinus rhythm, borderline ..."
    assert "normal_ecg" not in ids  # the rate is not normal either


@pytest.mark.parametrize("rate", [52.0, 108.0])
def test_a_clear_sinus_rate_names_only_the_rate_rhythm(rate: float) -> None:
    m = normal_result()
    m.global_.heart_rate_bpm = rate
    interp = interpret(m)
    assert not interp.has("sinus_rhythm")
    assert interp.labels[0] == ("sinus bradycardia" if rate < 60 else "sinus tachycardia")


def test_the_reduced_rhythm_obeys_precedence() -> None:
    # Sinus arrhythmia names the rhythm itself (its rule suppresses "sinus rhythm"), so a
    # borderline bradycardia adds nothing next to it.
    from ecgr1.measure import Beat

    m = normal_result()
    m.global_.heart_rate_bpm = 57.0
    t, beats = 0.0, [Beat(index=0, r_peak_s=0.0, p_onset_s=-0.15)]
    for i, rr in enumerate([900, 1000, 1150, 1250, 1100, 950, 1000, 1100, 1200], start=1):
        t += rr / 1000  # sinus cycles varying by 350 ms (> 160 ms), mean 1072 ms
        beats.append(Beat(index=i, r_peak_s=t, rr_prev_ms=float(rr), p_onset_s=t - 0.15))
    m.beats = beats
    interp = interpret(m)
    assert interp.has("sinus_arrhythmia"), [s.id for s in interp.statements]
    assert not interp.has("sinus_rhythm")
    assert interp.statement("sinus_bradycardia").certainty == "borderline"


def test_if_borderline_names_a_known_statement() -> None:
    data = yaml.safe_load(Path(DEFAULT_TABLE).read_text(encoding="utf-8"))
    for target in ("no_such_statement", "sinus_bradycardia", ["sinus_rhythm"], "normal_ecg"):
        bad = copy.deepcopy(data)
        row = next(r for r in bad["statements"] if r["id"] == "sinus_bradycardia")
        row["if_borderline"] = target
        with pytest.raises(InvalidInputError, match="if_borderline"):
            parse_table(bad)


def test_a_normal_rate_near_a_limit_does_not_make_sinus_rhythm_borderline() -> None:
    m = normal_result()
    m.global_.heart_rate_bpm = 62.0
    assert interpret(m).statement("sinus_rhythm").certainty == "definite"


def test_borderline_margins_follow_the_verification_tolerances() -> None:
    from ecgr1.verify.tolerances import load_tolerances

    tol = load_tolerances()
    margins = load_table().borderline_margins
    # Rate: the rate tolerance's floor (rates are written to 5 bpm).
    assert (
        margins["rate.tachycardia"]
        == margins["rate.bradycardia"]
        == tol.rule("heart_rate_bpm").floor
    )
    # QTc: one record-level error SD of the engine on LUDB.
    assert margins["qt.long"] == tol.rule("qtc_framingham_ms").sd
    assert "qrs.wide" not in margins  # its SD is wider than the incomplete-block band


def test_borderline_margins_name_known_criteria() -> None:
    data = yaml.safe_load(Path(DEFAULT_TABLE).read_text(encoding="utf-8"))
    bad = copy.deepcopy(data)
    bad["borderline_margins"]["no.such_criterion"] = 1.0
    with pytest.raises(InvalidInputError, match="borderline_margins"):
        parse_table(bad)
    bad = copy.deepcopy(data)
    bad["borderline_margins"]["rate.tachycardia"] = -1
    with pytest.raises(InvalidInputError, match="borderline_margins"):
        parse_table(bad)


# ---------------------------------------------------------------- simulated signals
@pytest.mark.parametrize("pattern", ["atrial_flutter", "atrial_flutter_variable"])
def test_simulated_flutter_gets_no_unexpected_statement(pattern: str) -> None:

    allowed = {"atrial_flutter", "left_axis_deviation", "right_axis_deviation"}
    # Seeds 9, 10, 14, 16 and 18 of 4:1 flutter read as sinus rhythm (with "left atrial
    # abnormality", "Q waves" or "ST depression") until the flutter test read the slope of the
    # free signal (ecgr1.measure.atrial.rhythm.segment_slopes); seed 6 of variable-block
    # flutter said nothing of the atria until RR intervals of whole flutter cycles let the
    # flutter finding stand over an irregular response.
    for seed in (0, 1, 2, 3, 6, 9, 10, 14, 16, 18):
        got = simulated_statement_ids(pattern, seed)
        assert "atrial_flutter" in got, (seed, got)
        assert got <= allowed, (seed, got - allowed)


def test_simulated_lvh_by_voltage_is_stated_by_voltage() -> None:
    for seed in range(3):
        got = simulated_statement_ids("lvh", seed)
        assert got & {"lvh", "lvh_voltage"}, (seed, got)
        assert got <= {"sinus_rhythm", "lvh", "lvh_voltage"}, (seed, got)


# ---------------------------------------------------------------- left atrial abnormality
def test_a_p_wave_negative_throughout_v1_is_not_a_terminal_force() -> None:
    m = normal_result()
    v1 = m.leads["V1"]
    v1.p_amplitude_mv, v1.p_negative_amplitude_mv, v1.p_positive_amplitude_mv = -0.15, -0.15, 0.0
    v1.p_terminal_negative_ms = 60.0
    assert "left_atrial_abnormality" not in _ids(m)
    v1.p_positive_amplitude_mv = 0.05  # biphasic: positive, then the terminal negative part
    assert "left_atrial_abnormality" in _ids(m)


@pytest.mark.parametrize(("terminal_ms", "stated"), [(30.0, False), (39.0, False), (40.0, True)])
def test_the_terminal_force_must_last_40_ms(terminal_ms: float, stated: bool) -> None:
    # AHA 2009 Part V (and Morris' P terminal force, 0.04 mm*s): the terminal negative P in V1
    # is at least 0.1 mV deep AND 40 ms long; a brief dip of that depth is not atrial enlargement.
    m = normal_result()
    v1 = m.leads["V1"]
    v1.p_amplitude_mv, v1.p_negative_amplitude_mv, v1.p_positive_amplitude_mv = -0.15, -0.15, 0.05
    v1.p_morphology, v1.p_terminal_negative_ms = "biphasic", terminal_ms
    assert ("left_atrial_abnormality" in _ids(m)) == stated


def test_measurements_saved_without_the_terminal_duration_read_as_before() -> None:
    # A measurement JSON written before p_terminal_negative_ms existed reads it back as None:
    # the depth criterion alone decides, as it did then (no "normal ECG" for want of a field).
    from ecgr1.measure import MeasurementResult

    m = normal_result()
    v1 = m.leads["V1"]
    v1.p_amplitude_mv, v1.p_negative_amplitude_mv, v1.p_positive_amplitude_mv = -0.15, -0.15, 0.05
    v1.p_morphology, v1.p_terminal_negative_ms = "biphasic", 50.0
    data = m.to_dict()
    for lead in data["leads"].values():
        lead.pop("p_terminal_negative_ms", None)
    back = MeasurementResult.from_dict(data)
    assert back.leads["V1"].p_terminal_negative_ms is None
    ids = _ids(back)
    assert "left_atrial_abnormality" in ids and "normal_ecg" not in ids


def _wide_p_in_ii(axis: float, p_ii: float):
    m = normal_result()
    m.leads["II"].p_duration_ms = 130.0  # AHA 2009 Part V: P >= 120 ms in II
    m.global_.p_axis_deg = axis
    m.leads["II"].p_amplitude_mv = m.leads["II"].p_positive_amplitude_mv = p_ii
    return m


@pytest.mark.parametrize(
    ("axis", "p_ii", "stated"),
    [
        (50.0, 0.12, True),  # sinus P wave
        (-63.0, -0.06, False),  # upward: low atrial focus (CPSC A0057)
        (-117.0, -0.10, False),  # Ningbo JS45546
        (120.0, -0.05, False),  # to the right: left atrial focus
        (-40.0, 0.05, True),  # P upright in II counts as sinus (the rule's logic, not a record)
    ],
)
def test_atrial_abnormality_is_read_on_sinus_p_waves_only(
    axis: float, p_ii: float, stated: bool
) -> None:
    m = _wide_p_in_ii(axis, p_ii)
    out = interpret(m)
    assert ("left_atrial_abnormality" in {s.id for s in out.statements}) == stated
    if not stated:
        (sup,) = [s for s in out.suppressed if s.statement == "left_atrial_abnormality"]
        assert sup.by.startswith("rhythm.p_axis_") and "sinus" in sup.reason


def test_right_atrial_abnormality_is_read_on_sinus_p_waves_only() -> None:
    m = normal_result()
    m.leads["V2"].p_positive_amplitude_mv = m.leads["V2"].p_amplitude_mv = 0.3
    assert "right_atrial_abnormality" in _ids(m)
    m.global_.p_axis_deg = -117.0
    m.leads["II"].p_amplitude_mv = m.leads["II"].p_positive_amplitude_mv = -0.1
    assert "right_atrial_abnormality" not in _ids(m)


def test_terminal_negative_duration_is_measured_on_a_biphasic_p_wave() -> None:
    import numpy as np

    from ecgr1.measure.features import terminal_negative_samples

    fs = 500.0
    t = np.arange(0, 0.11, 1 / fs)  # a 110 ms P wave: 60 ms positive, then 50 ms negative
    y = np.where(
        t < 0.06, 0.08 * np.sin(np.pi * t / 0.06), -0.12 * np.sin(np.pi * (t - 0.06) / 0.05)
    )
    floor = 0.015  # half the smallest P deflection of the measurement config

    def ms(x):
        return terminal_negative_samples(x, floor) / fs * 1000

    assert ms(y) == pytest.approx(50, abs=3)
    # The P offset sample on the baseline, or a hair above it, does not cut the lobe off.
    assert ms(np.append(y, 0.0)) == pytest.approx(50, abs=3)
    assert ms(np.append(y, 0.002)) == pytest.approx(50, abs=3)
    assert ms(-np.abs(y)) == 0  # negative throughout: no terminal part
    blip = -np.abs(y)
    blip[1] = 0.005  # a few microvolts above the baseline are no positive part
    assert ms(blip) == 0
    assert ms(np.abs(y)) == 0  # ends above the baseline
    assert ms(np.where(t < 0.1, y, np.nan)) == 0  # not finite: not measured, no crash


# Every simulated pattern: the statements it must get (``required``, every seed) and those it
# may get besides (``companions``). Anything else is an unexpected statement.
#  - sinus arrhythmia: a seed whose phasic variation stays under 160 ms is sinus rhythm;
#  - anterior STEMI: reciprocal inferior T inversion; diffuse ST depression: T waves carried
#    below the baseline with the ST segment (T amplitude is read from the PR baseline);
#  - AV blocks at a ventricular rate of ~40-55/min: a borderline short QT, because the
#    Framingham correction (the table's first QTc) over-corrects at slow rates (the simulator's
#    QT follows Fridericia: QTc 380 ms there);
#  - complete AV block: the junctional escape rhythm the simulator draws.
SIMULATED_STATEMENTS: dict[str, tuple[set[str], set[str]]] = {
    "normal": ({"sinus_rhythm", "normal_ecg"}, set()),
    "sinus_bradycardia": ({"sinus_bradycardia"}, set()),
    "sinus_tachycardia": ({"sinus_tachycardia"}, set()),
    "sinus_arrhythmia": (set(), {"sinus_arrhythmia", "sinus_rhythm", "normal_ecg"}),
    "atrial_fibrillation": ({"atrial_fibrillation"}, set()),
    "atrial_flutter": ({"atrial_flutter"}, set()),
    "atrial_flutter_variable": ({"atrial_flutter"}, set()),
    "av_block_1": ({"first_degree_av_block", "sinus_rhythm"}, set()),
    "av_block_2_mobitz1": ({"av_block_mobitz_1", "sinus_rhythm"}, set()),
    "av_block_2_mobitz2": ({"av_block_mobitz_2"}, {"short_qt"}),
    "av_block_3": ({"av_block_third_degree"}, {"junctional_rhythm", "short_qt"}),
    "pac": ({"premature_atrial_contractions", "sinus_rhythm"}, set()),
    "pvc": ({"premature_ventricular_contractions", "sinus_rhythm"}, set()),
    "rbbb": ({"complete_rbbb", "sinus_rhythm"}, set()),
    "lbbb": ({"complete_lbbb", "sinus_rhythm"}, set()),
    "lafb": ({"lafb", "left_axis_deviation", "sinus_rhythm"}, set()),
    "lvh": ({"sinus_rhythm"}, {"lvh", "lvh_voltage"}),
    "low_voltage": ({"low_qrs_voltage", "sinus_rhythm"}, set()),
    "inferior_stemi": ({"ste_inferior", "sinus_rhythm"}, set()),
    "anterior_stemi": ({"ste_anterior", "sinus_rhythm"}, {"ste_septal", "tinv_inferior"}),
    "st_depression": (
        {"std_inferior", "ste_avr", "sinus_rhythm"},
        {"std_anterior", "std_high_lateral", "std_lateral", "tinv_anterior", "tinv_lateral"},
    ),
    "t_inversion": ({"tinv_inferior", "tinv_lateral", "sinus_rhythm"}, {"tinv_anterior"}),
    "long_qt": ({"long_qt", "sinus_rhythm"}, set()),
    "ventricular_tachycardia": ({"ventricular_tachycardia"}, set()),
}


def test_the_statement_table_covers_every_simulated_pattern() -> None:
    from ecgr1.simulate.patterns import PATTERNS

    assert set(SIMULATED_STATEMENTS) == set(PATTERNS)


@pytest.mark.parametrize("pattern", sorted(SIMULATED_STATEMENTS))
def test_every_simulated_pattern_gets_no_unexpected_statement(pattern: str) -> None:
    required, companions = SIMULATED_STATEMENTS[pattern]
    for seed in range(3):
        got = simulated_statement_ids(pattern, seed)
        assert required <= got, (seed, required - got)
        assert got <= required | companions, (seed, got - required - companions)


# Under the simulator's three noises at once, the statements a measurement that the simulator
# puts on a threshold may gain (noise moves it by a few ms or degrees either way):
#  - RBBB: QRS axis 88-91 degrees against the 90 of right axis deviation;
#  - LAFB: QRS 104 ms, measured 108-112 under noise, against the 110 of nonspecific IVCD;
#  - Mobitz I: P 100 ms in II, measured 96-120, against the 120 of left atrial abnormality;
#  - diffuse ST depression: T waves carried below the baseline in the inferior leads too.
NOISE_COMPANIONS: dict[str, set[str]] = {
    "rbbb": {"right_axis_deviation"},
    "lafb": {"nonspecific_ivcd"},
    "av_block_2_mobitz1": {"left_atrial_abnormality"},
    "st_depression": {"tinv_inferior"},
}


@pytest.mark.parametrize("pattern", sorted(SIMULATED_STATEMENTS))
def test_every_noisy_simulated_pattern_gets_no_unexpected_statement(pattern: str) -> None:
    """Seeds 0-4 with baseline wander, muscle noise and mains interference: the same
    statements as clean, but for the threshold companions above. Under this noise a notched
    VT was cut at its notch (sinus tachycardia with ST elevation), a missed PVC made atrial
    fibrillation, and 4:1 flutter's F wave passed as a P wave, on other seeds (their own tests:
    test_protocol_vt.py, test_measure_p_presence.py, test_measure_atrial.py)."""
    import ecgr1

    required, companions = SIMULATED_STATEMENTS[pattern]
    companions = companions | NOISE_COMPANIONS.get(pattern, set())
    for seed in range(5):
        record = ecgr1.simulate(pattern, seconds=10, seed=seed, noise="all").record
        got = {s.id for s in ecgr1.interpret_record(record).interpretation.statements}
        assert required <= got, (seed, required - got)
        assert got <= required | companions, (seed, got - required - companions)


def test_dissociated_p_waves_are_not_measured_on_the_qrs_locked_median_beat() -> None:
    # Complete AV block (atria 100/min, escape 40/min): the median beat's P window averages P
    # waves at every phase. Measured there, seed 0 gave a 148 ms P in II and "left atrial
    # abnormality"; the P waves are present, their PR and per-lead shape are not measured.
    import ecgr1

    for seed in range(3):
        m = ecgr1.measure(ecgr1.simulate("av_block_3", seed=seed).record)
        g = m.global_
        assert g.p_wave_present and g.pr_progression == "dissociated"
        assert g.pr_interval_ms is None and g.p_axis_deg is None
        assert "dissociated" in g.reasons["p_axis_deg"]
        assert g.p_duration_ms is None and "dissociated" in g.reasons["p_duration_ms"]
        for name, lead in m.leads.items():
            assert lead.p_duration_ms is None and lead.p_amplitude_mv is None, name
            assert lead.p_morphology is None and "dissociated" in lead.reasons["p_amplitude_mv"]
        ids = {s.id for s in interpret(m).statements}
        assert not ids & {"left_atrial_abnormality", "right_atrial_abnormality"}, (seed, ids)


# Under the simulator's muscle noise (15-30 uV EMG) the same table holds for every pattern but
# two, whose remaining errors are known: LAFB (its QRS of 100 ms is measured ~109-114 ms with
# noise, "nonspecific IVCD" from 110) and RBBB (seed 1: a net axis near +90 measured 91.7,
# right axis deviation). (Mobitz I: its seed 4, not tested here, gets left atrial abnormality
# from a noisy P wave.) Ventricular tachycardia: see tests/test_protocol_vt.py (its seed 0
# under muscle noise is read as sinus tachycardia).
NOISY_EXCEPTIONS = {"lafb", "rbbb", "ventricular_tachycardia"}


@pytest.mark.parametrize("pattern", sorted(set(SIMULATED_STATEMENTS) - NOISY_EXCEPTIONS))
def test_muscle_noise_adds_no_unexpected_statement(pattern: str) -> None:
    """Before the noise-referenced thresholds: PVCs on noisy LBBB and low-voltage records,
    "nonspecific IVCD" on 16 of the 23 patterns (10 seeds), complete LBBB, AF and Q waves on
    low-voltage ones, and Mobitz I read as AF (a non-conducted P wave taken for a beat)."""
    import ecgr1

    required, companions = SIMULATED_STATEMENTS[pattern]
    for seed in range(3):
        record = ecgr1.simulate(pattern, seconds=10, seed=seed, noise="muscle").record
        got = {s.id for s in ecgr1.interpret_record(record).interpretation.statements}
        assert required <= got, (seed, required - got)
        assert got <= required | companions, (seed, got - required - companions)


def test_the_borderline_rate_sentence_cites_only_the_rate() -> None:
    # "sinus rhythm" already cites the P-wave criteria; the borderline sinus bradycardia after it
    # adds the rate, not the same P-wave evidence again.
    from ecgr1.report import build_report

    m = normal_result()
    m.global_.heart_rate_bpm = 57.0
    step1 = build_report(interpret(m)).steps[0].paragraph
    rhythm, brady = step1.split("sinus rhythm:", 1)[1].split("borderline sinus bradycardia:", 1)
    assert "P waves" in rhythm and "57 bpm" in brady.split(".")[0]
    assert "P waves" not in brady.split(".")[0]
