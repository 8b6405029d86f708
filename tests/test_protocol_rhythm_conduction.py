"""Rhythm regularity between non-ectopic beats, premature beats, RBBB with a dominant R in V1,
ST elevation across territories, and the precedence of LVH over right-precordial ST elevation."""

from __future__ import annotations

import pytest
from protocol_builders import normal_result
from synthetic_ecg import synthetic_ecg

from ecgr1.io.record import ECGRecord
from ecgr1.measure.engine import measure
from ecgr1.measure.result import Beat
from ecgr1.measure.rhythm import (
    classify_rr_irregularity,
    underlying_rr_intervals,
    underlying_rr_irregularity,
)
from ecgr1.protocol import interpret
from ecgr1.simulate import simulate


def _beats(rr_ms: list[float], classes: list[str]) -> list[Beat]:
    assert len(classes) == len(rr_ms) + 1
    t, out = 0.0, [Beat(index=0, r_peak_s=0.0, beat_class=classes[0])]
    for i, rr in enumerate(rr_ms, start=1):
        t += rr / 1000.0
        out.append(Beat(index=i, r_peak_s=t, rr_prev_ms=rr, beat_class=classes[i]))
    return out


def _ids(m) -> set[str]:
    return {s.id for s in interpret(m).statements}


# ---------------------------------------------------------------- underlying rhythm regularity
def test_bigeminy_has_no_interval_between_sinus_beats() -> None:
    rr = [640.0, 1108.0] * 6
    beats = _beats(rr, ["dominant", "premature_ventricular"] * 6 + ["dominant"])
    assert classify_rr_irregularity(rr) == "irregularly_irregular"  # all beats: looks like AF
    assert underlying_rr_intervals(beats) == []
    assert underlying_rr_irregularity(beats) is None


def test_isolated_pvc_is_left_out_of_a_regular_rhythm() -> None:
    rr = [800.0, 810.0, 480.0, 1120.0, 805.0, 795.0, 800.0, 810.0]
    classes = ["dominant"] * 3 + ["premature_ventricular"] + ["dominant"] * 5
    beats = _beats(rr, classes)
    assert underlying_rr_intervals(beats) == [800.0, 810.0, 805.0, 795.0, 800.0, 810.0]
    assert underlying_rr_irregularity(beats) == "regular"


def test_fibrillation_stays_irregular_around_a_pvc() -> None:
    rr = [620.0, 940.0, 700.0, 450.0, 1200.0, 1010.0, 560.0, 880.0, 760.0, 530.0]
    classes = ["dominant"] * 4 + ["premature_ventricular"] + ["dominant"] * 6
    assert underlying_rr_irregularity(_beats(rr, classes)) == "irregularly_irregular"


def test_without_ectopy_the_class_of_all_intervals_is_kept() -> None:
    rr = [600.0, 600.0, 1000.0, 600.0, 600.0, 1000.0, 600.0]
    beats = _beats(rr, ["dominant"] * 8)
    assert underlying_rr_irregularity(beats) == classify_rr_irregularity(rr)
    assert classify_rr_irregularity([800.0]) is None


def _bigeminy_result():
    """Sinus P waves not found (as happens when every other beat is a PVC), all-beat RR
    class irregularly irregular, but every irregularity comes from the PVCs."""
    m = normal_result()
    rr = [640.0, 1108.0] * 6
    m.beats = _beats(rr, ["dominant", "premature_ventricular"] * 6 + ["dominant"])
    for b in m.beats:
        b.wide_qrs = b.beat_class == "premature_ventricular"
    g = m.global_
    g.n_beats = len(m.beats)
    g.n_premature_ventricular = 6
    g.rr_irregularity, g.rr_cv = "irregularly_irregular", 0.28
    g.p_wave_fraction, g.p_wave_present, g.atrial_activity = 0.0, False, None
    return m


def test_ventricular_bigeminy_is_not_called_atrial_fibrillation() -> None:
    ids = _ids(_bigeminy_result())
    assert "premature_ventricular_contractions" in ids
    assert "atrial_fibrillation" not in ids


def test_fibrillation_with_a_pvc_is_still_atrial_fibrillation() -> None:
    m = _bigeminy_result()
    rr = [620.0, 940.0, 700.0, 450.0, 1200.0, 1010.0, 560.0, 880.0, 760.0, 530.0]
    m.beats = _beats(rr, ["dominant"] * 4 + ["premature_ventricular"] + ["dominant"] * 6)
    m.beats[4].wide_qrs = True
    m.global_.n_beats, m.global_.n_premature_ventricular = len(m.beats), 1
    m.global_.atrial_activity = "fibrillatory"
    ids = _ids(m)
    assert "atrial_fibrillation" in ids and "premature_ventricular_contractions" in ids


# ---------------------------------------------------------------- RBBB with a dominant R in V1
def _dominant_r_v1(qrs_ms: float, r_peak_time_v1_ms: float):
    m = normal_result()
    m.global_.qrs_duration_ms = qrs_ms
    v1 = m.leads["V1"]
    v1.r_amplitude_mv, v1.s_amplitude_mv, v1.r_prime_amplitude_mv = 0.9, None, None
    v1.qrs_net_amplitude_mv, v1.qrs_morphology = 0.9, "R"
    v1.r_peak_time_ms = r_peak_time_v1_ms
    for lead in ("I", "V6"):
        m.leads[lead].s_amplitude_mv = -0.3
        m.leads[lead].s_duration_ms = 60.0
    return m


@pytest.mark.parametrize(
    ("qrs_ms", "statement"), [(140.0, "complete_rbbb"), (114.0, "incomplete_rbbb")]
)
def test_dominant_r_in_v1_is_rbbb_only_with_a_late_r_peak(qrs_ms: float, statement: str) -> None:
    assert statement in _ids(_dominant_r_v1(qrs_ms, 70.0))
    assert statement not in _ids(_dominant_r_v1(qrs_ms, 40.0))


def test_incomplete_rbbb_withholds_the_v1_voltage_criteria_of_rvh() -> None:
    # Dominant R 0.9 mV in V1 and a right axis meet two RVH criteria; the R in V1 is the
    # delayed right-ventricular activation of the incomplete RBBB, so RVH is not stated.
    m = _dominant_r_v1(114.0, 70.0)
    m.global_.qrs_axis_deg = 120.0
    d = interpret(m).to_dict()
    got = {s["id"] for s in d["statements"]}
    suppressed = {s["statement"]: s["by"] for s in d["suppressed"]}
    assert "incomplete_rbbb" in got and "rvh" not in got
    assert suppressed.get("rvh") == "incomplete right bundle branch block"


# ---------------------------------------------------------------- LVH and ST elevation
def _lvh_with_right_precordial_ste(lvh: bool):
    m = normal_result()
    m.global_.sokolow_lyon_mv = 4.8 if lvh else 2.0
    for lead in ("V1", "V2"):
        m.leads[lead].st_j_mv = 0.3
        m.leads[lead].s_amplitude_mv = -3.2 if lvh else -1.0
    return m


def test_lvh_suppresses_discordant_right_precordial_st_elevation() -> None:
    # Voltage alone (the builder's LVH) is "voltage criteria for LVH"; its deep right precordial S
    # waves carry the same discordant ST elevation.
    with_lvh = _ids(_lvh_with_right_precordial_ste(True))
    assert "lvh_voltage" in with_lvh and "ste_septal" not in with_lvh
    assert "ste_septal" in _ids(_lvh_with_right_precordial_ste(False))


# ---------------------------------------------------------------- contiguous leads across territories
def _ste(leads: dict[str, float]):
    m = normal_result()
    for lead, value in leads.items():
        m.leads[lead].st_j_mv = value
    return m


def test_st_elevation_in_v4_and_v5_is_stated_as_anterolateral() -> None:
    # V4 and V5 are contiguous but lie in different territories (anterior V2-V4, lateral V5-V6).
    got = _ids(_ste({"V4": 0.15, "V5": 0.12}))
    assert "ste_anterolateral" in got
    assert not {"ste_anterior", "ste_lateral"} & got
    assert "ste_anterolateral" not in _ids(_ste({"V4": 0.15, "V5": 0.05}))


def test_anterolateral_is_withheld_when_the_anterior_statement_covers_it() -> None:
    got = _ids(_ste({"V2": 0.3, "V3": 0.3, "V4": 0.15, "V5": 0.12}))
    assert "ste_anterior" in got and "ste_anterolateral" not in got


# ---------------------------------------------------------------- premature beats at the record's end
def test_a_premature_beat_ending_the_record_is_not_called_ectopic() -> None:
    """A PAC is premature *and* followed by a pause; when the record ends before the next beat
    the pause is unseen, so the beat is not classified (it was, with an infinite next RR)."""
    sim = simulate("pac", seconds=10, seed=0)
    truth = [b for b in sim.beats if b["beat_class"] == "premature_supraventricular"]
    rec = sim.record
    full = measure(rec)
    found = [b.r_peak_s for b in full.beats if b.beat_class == "premature_supraventricular"]
    assert len(found) == len(truth) == 2
    cut = int((truth[-1]["qrs_on_s"] + 0.45) * rec.fs)  # end the record inside the last PAC's T
    short = measure(ECGRecord(rec.signal[:, :cut], rec.fs, list(rec.leads), record_id="cut"))
    last = short.beats[-1]
    assert abs(last.r_peak_s - found[-1]) < 0.02 and last.rr_next_ms is None
    assert last.beat_class == "other"
    assert [b.beat_class for b in short.beats].count("premature_supraventricular") == 1


def test_a_couplet_of_premature_atrial_beats_is_named_as_two() -> None:
    """Both beats of a run that starts after a sinus beat and ends with the sinus-reset pause
    are supraventricular premature beats (the first has no pause of its own)."""
    onsets = [0.6, 1.6, 2.6, 3.6, 4.22, 4.84, 6.04, 7.04, 8.04, 9.04]
    rec, _ = synthetic_ecg(qrs_onsets_s=onsets, duration_s=10.0)
    classes = [b.beat_class for b in measure(rec).beats]
    assert classes[4:6] == ["premature_supraventricular"] * 2
    assert classes.count("premature_supraventricular") == 2
    assert classes.count("dominant") == len(classes) - 2


# ---------------------------------------------------------------- flutter with variable conduction
@pytest.mark.parametrize("seed", [1, 2])
def test_flutter_with_variable_conduction_is_flutter_not_fibrillation(seed: int) -> None:
    """2:1 to 4:1 block makes the RR irregularly irregular; the regular F waves decide."""
    sim = simulate("atrial_flutter_variable", seed=seed, noise="all")
    m = measure(sim.record)
    # The case this rule is about: a ventricular response that alone would read as AF.
    assert m.global_.rr_irregularity == "irregularly_irregular"
    assert m.global_.atrial_activity == "flutter"
    assert m.global_.atrial_rate_bpm == pytest.approx(300.0, abs=15.0)  # F waves at 300/min
    ids = _ids(m)
    assert "atrial_flutter" in ids
    assert "atrial_fibrillation" not in ids


def test_irregular_rr_without_p_or_flutter_waves_stays_fibrillation() -> None:
    ids = _ids(measure(simulate("atrial_fibrillation", seed=3, noise="all").record))
    assert "atrial_fibrillation" in ids
    assert "atrial_flutter" not in ids


def test_flutter_needs_the_same_frequency_in_two_leads() -> None:
    """Residual power concentrated at unrelated frequencies in two leads is not one circuit."""
    import numpy as np

    from ecgr1.measure.flutter import atrial_residual_peak

    fs, n = 500.0, 5000
    t = np.arange(n) / fs
    template = np.zeros((2, 1, 50))[:, 0, :]
    anchors = np.array([1000, 3000])
    same = np.vstack([np.sin(2 * np.pi * 4.6 * t), np.sin(2 * np.pi * 4.6 * t + 1.0)])
    apart = np.vstack([np.sin(2 * np.pi * 4.0 * t), np.sin(2 * np.pi * 5.8 * t)])
    kind, hz = atrial_residual_peak(same, fs, anchors, template, 10)
    assert kind == "flutter" and abs(hz - 4.6) < 0.1
    assert atrial_residual_peak(apart, fs, anchors, template, 10) == (None, None)


def test_ludb_flutter_with_variable_block_and_ludb_fibrillation(ludb_dir) -> None:
    """LUDB 103 (typical flutter, 2:1-4:1 conduction) is flutter; the odd-id AF records without
    a pacemaker stay AF."""
    from ecgr1.io import read_record
    from ecgr1.pipeline import interpret_record

    def ids(rid: int) -> set[str]:
        res = interpret_record(read_record(ludb_dir / "data" / f"{rid}.hea"))
        return {s.id for s in res.interpretation.statements}

    flutter = ids(103)
    assert "atrial_flutter" in flutter and "atrial_fibrillation" not in flutter
    for rid in (51, 83, 109, 129, 173):
        af = ids(rid)
        assert "atrial_fibrillation" in af and "atrial_flutter" not in af, rid


def test_rr_in_whole_flutter_cycles_needs_enough_intervals() -> None:
    import numpy as np

    from ecgr1.measure.flutter import rr_in_whole_flutter_cycles

    whole = np.array([0.40, 0.80, 0.60, 0.40, 0.80, 0.60])  # 2, 4, 3, 2, 4, 3 cycles at 5 Hz
    assert rr_in_whole_flutter_cycles(whole, 5.0)
    assert not rr_in_whole_flutter_cycles(whole[:4], 5.0)  # too few to tell from chance
    assert not rr_in_whole_flutter_cycles(whole + 0.1, 5.0)  # half a cycle off every time


@pytest.mark.parametrize("pattern", ["av_block_2_mobitz1", "av_block_2_mobitz2"])
def test_dropped_beats_are_not_sinus_arrhythmia(pattern: str) -> None:
    """The pauses of non-conducted P waves group the beats; the sinus cycle itself is steady."""
    from ecgr1.pipeline import interpret_record
    from ecgr1.simulate import simulate

    ids = {
        s.id for s in interpret_record(simulate(pattern, seed=0).record).interpretation.statements
    }
    assert "sinus_arrhythmia" not in ids and ids & {"av_block_mobitz_1", "av_block_mobitz_2"}
