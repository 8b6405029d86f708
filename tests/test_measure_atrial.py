"""Atrial activity analysis (ecgr1.measure.atrial): non-conducted P waves, flutter, AV relation.

Simulated records are analysed with their *true* QRS/T boundaries, so these tests exercise the
atrial analysis alone; real records use the measurement engine's beats.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.measure.atrial import AtrialActivity, analyse_atrial_activity
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.simulate import simulate


def _analyse_sim(
    pattern: str, seed: int = 0, noise: str = "", config: MeasureConfig = DEFAULT_CONFIG, **kw
) -> tuple:
    sim = simulate(pattern, seed=seed, noise=noise, **kw)
    fs = sim.record.fs
    on = np.array([b["qrs_on_s"] for b in sim.beats]) * fs
    off = np.array([b["qrs_off_s"] for b in sim.beats]) * fs
    t_off = [None if b["t_off_s"] is None else b["t_off_s"] * fs for b in sim.beats]
    r = np.rint((on + off) / 2).astype(int)
    res = analyse_atrial_activity(
        np.asarray(sim.record.signal, float),
        fs,
        list(sim.record.leads),
        r,
        on,
        off,
        t_off,
        config=config,
    )
    return sim, res


def _blocked(res: AtrialActivity) -> bool:
    return res.p_waves_per_qrs is not None and res.p_waves_per_qrs >= 1.2


@pytest.mark.parametrize(("pattern", "seed", "noise"), [
    ("normal", 0, ""), ("normal", 1, "all"), ("sinus_arrhythmia", 2, "baseline,muscle"),
    ("av_block_1", 0, "all"), ("pac", 1, ""),
])  # fmt: skip
def test_conducted_rhythms_have_one_p_per_qrs(pattern: str, seed: int, noise: str) -> None:
    sim, res = _analyse_sim(pattern, seed, noise)
    assert res.atrial_activity == "p_waves"
    assert not _blocked(res)
    assert res.pr_progression in ("constant", None)
    assert res.non_conducted_samples.size == 0


@pytest.mark.parametrize("fs", [250.0, 1000.0])
def test_detected_p_waves_are_at_the_true_p_waves_at_any_rate(fs: float) -> None:
    sim, res = _analyse_sim("normal", seed=3, noise="all", fs=fs)
    truth = np.array([0.5 * (w.onset_s + w.offset_s) for w in sim.waves if w.kind == "p"])
    found = res.atrial_wave_samples / fs
    assert found.size >= 0.8 * truth.size
    assert all(np.min(np.abs(truth - f)) < 0.06 for f in found)


def test_fast_sinus_rhythm_is_not_called_absent_atrial_activity() -> None:
    """At 130/min the P waves sit in the T waves: too little TQ signal to say "none"."""
    _, res = _analyse_sim("normal", seed=0, noise="all", hr=130)
    assert res.atrial_activity != "none"
    assert not _blocked(res)


def test_mobitz_2_finds_the_blocked_p_waves_at_their_true_times() -> None:
    sim, res = _analyse_sim("av_block_2_mobitz2", seed=1, noise="all")
    assert _blocked(res)
    assert res.p_waves_per_qrs == pytest.approx(1.5, abs=0.15)  # 3:2
    assert res.pr_progression == "constant"
    fs = sim.record.fs
    truth = [0.5 * (w.onset_s + w.offset_s) for w in sim.waves if w.kind == "p" and w.beat is None]
    found = res.non_conducted_samples / fs
    inner = [t for t in truth if sim.beats[0]["qrs_on_s"] < t < sim.beats[-1]["qrs_on_s"]]
    assert len(inner) >= 2
    for t in inner:
        assert np.min(np.abs(found - t)) < 0.06
    # Every claimed blocked P is a real one.
    for f in found:
        assert np.min(np.abs(np.asarray(truth) - f)) < 0.06


def test_the_block_decision_reads_its_thresholds_from_the_configuration() -> None:
    """A 3:2 block (1.5 P waves per QRS) is not claimed once the configured atrial/ventricular
    rate ratio for non-conducted P waves is above 1.5."""
    strict = DEFAULT_CONFIG.replace({"atrial_waves.min_p_waves_per_qrs": 1.6})
    _, res = _analyse_sim("av_block_2_mobitz2", seed=1, noise="all", config=strict)
    assert not _blocked(res)


def test_wenckebach_pr_prolongs_before_the_dropped_beat() -> None:
    _, res = _analyse_sim("av_block_2_mobitz1", seed=2, noise="baseline,muscle")
    assert _blocked(res)
    assert res.pr_progression == "prolonging"
    prs = [p for p in res.pr_intervals_ms if p is not None]
    assert max(prs) - min(prs) > 60  # 160 -> 300 ms in the simulated 4:3 cycle


def test_complete_block_is_dissociated() -> None:
    _, res = _analyse_sim("av_block_3", seed=0, noise="all", hr=90)
    assert _blocked(res)
    assert res.pr_progression == "dissociated"
    assert res.atrial_rate_bpm == pytest.approx(90, abs=5)


def test_flutter_waves_are_not_p_waves() -> None:
    _, res = _analyse_sim("atrial_flutter", seed=1, noise="all")
    assert res.atrial_activity == "flutter"
    assert 240 <= res.atrial_rate_bpm <= 340  # simulated at 300/min
    assert res.p_waves_per_qrs is None and res.pr_progression is None


@pytest.mark.parametrize("seed", [9, 10, 14, 16, 18])
def test_fixed_conduction_flutter_is_flutter_whatever_the_phase_of_the_free_segments(
    seed: int,
) -> None:
    """Simulated 4:1 flutter whose QRS-T-free segments hold about 1.8 cycles. The line through
    each segment's ends (the detrend of the candidate search) made these seeds' best cycle
    210-230 /min, and the F wave before each QRS passed as a sinus P wave at 75/min."""
    _, res = _analyse_sim("atrial_flutter", seed=seed)
    assert res.atrial_activity == "flutter"
    assert res.atrial_rate_bpm == pytest.approx(300, abs=15)  # 250 Hz: lag 48 is 312.5/min


def test_the_flutter_test_finds_a_wave_cut_at_every_phase_by_the_masks() -> None:
    """A 5 Hz sawtooth seen through free segments of 370 ms that start at every phase, plus a
    different tilt in every segment (T-wave tails) and 5 uV of noise: one cycle (50 samples at
    250 Hz), nothing at half of it; the same segments holding one P-like bump each are not
    flutter."""
    from ecgr1.measure.atrial.rhythm import flutter_test

    fs, n = 250.0, 2500
    t = np.arange(n) / fs
    free = np.zeros(n, bool)
    rng = np.random.default_rng(0)
    tilt = np.zeros(n)
    for start in range(40, n - 200, 205):  # 820 ms beats: every phase of the 200 ms cycle
        free[start : start + 92] = True
        tilt[start : start + 92] = rng.normal(0, 0.1) * np.linspace(-1, 1, 92)
    tilt += rng.normal(0, 0.005, n)
    saw = 0.1 * (2 * ((t * 5.0) % 1.0) - 1.0)
    params = DEFAULT_CONFIG.atrial_waves
    test = flutter_test(((saw + tilt) * free)[None, :], free, fs, params)
    assert test.flutter_like and test.lag == 50, test
    bump = np.zeros(n)
    for start in np.flatnonzero(np.diff(free.astype(int)) == 1) + 1:
        bump[start + 40 : start + 65] = 0.1 * np.hanning(25)
    test = flutter_test(((bump + tilt) * free)[None, :], free, fs, params)
    assert not test.flutter_like, test


def test_fibrillation_gives_no_organised_atrial_rhythm() -> None:
    _, res = _analyse_sim("atrial_fibrillation", seed=0, noise="all")
    assert res.atrial_activity not in ("flutter", "p_waves")
    assert not _blocked(res)


def test_mid_cycle_bump_of_another_shape_is_not_a_blocked_p() -> None:
    """Sinus beats with a broad bump (U-wave-like) half-way through each cycle: it is neither
    shaped nor sized like the P waves, so no non-conducted P may be claimed."""
    fs = 500.0
    t = np.arange(int(10 * fs)) / fs
    x = np.zeros((2, t.size))
    r = np.arange(0.7, 9.6, 0.9)
    for ri in r:
        for lead, sign in ((0, 1.0), (1, -0.6)):
            x[lead] += sign * np.exp(-(((t - ri) / 0.012) ** 2))
            x[lead] += 0.25 * np.exp(-(((t - ri - 0.3) / 0.05) ** 2))
            x[lead] += 0.12 * sign * np.exp(-(((t - ri + 0.15) / 0.022) ** 2))  # P
            x[lead] += -0.1 * np.exp(-(((t - ri - 0.52) / 0.06) ** 2))  # bump, other shape
    rp = np.rint(r * fs).astype(int)
    res = analyse_atrial_activity(x, fs, ["II", "V1"], rp, rp - 20, rp + 25, rp + 200)
    assert not _blocked(res)
    assert res.pr_progression != "dissociated"


def test_too_few_beats_is_undecided_with_a_reason() -> None:
    x = np.zeros((1, 2000))
    res = analyse_atrial_activity(x, 500.0, ["II"], [300, 900], [280, 880], [320, 920], [-1, None])
    assert res.atrial_activity is None and res.p_waves_per_qrs is None
    assert "beats" in res.reason


def _engine_atrial(record) -> AtrialActivity:
    from ecgr1.measure.engine import measure

    m = measure(record)
    fs = record.fs

    def samples(v: float | None) -> int:
        return -1 if v is None else int(round(v * fs))

    usable = np.array([m.quality.leads[name].usable for name in record.leads])
    return analyse_atrial_activity(
        np.asarray(record.signal, float),
        fs,
        list(record.leads),
        [samples(b.r_peak_s) for b in m.beats],
        [samples(b.qrs_onset_s) for b in m.beats],
        [samples(b.qrs_offset_s) for b in m.beats],
        [samples(b.t_offset_s) for b in m.beats],
        usable,
    )


def test_ludb_sinus_records_give_no_false_block_or_flutter(ludb_dir) -> None:
    from ecgr1.io.readers import read_record

    checked = 0
    for rid in range(1, 61, 2):
        head = (ludb_dir / "data" / f"{rid}.hea").read_text()
        rhythm = next((ln for ln in head.splitlines() if ln.startswith("#Rhythm")), "")
        low = head.lower()
        if "Sinus" not in rhythm or "av block" in low or "av-block" in low or "pacing" in low:
            continue
        res = _engine_atrial(read_record(ludb_dir / "data" / f"{rid}.hea"))
        assert res.atrial_activity != "flutter", rid
        assert not _blocked(res), rid
        assert res.pr_progression != "dissociated", rid
        checked += 1
    assert checked >= 20


def test_ludb_typical_flutter_is_found(ludb_dir) -> None:
    from ecgr1.io.readers import read_record

    res = _engine_atrial(read_record(ludb_dir / "data" / "103.hea"))
    assert res.atrial_activity == "flutter"
    assert 240 <= res.atrial_rate_bpm <= 340


# ---------------------------------------------------------------- half-cycle march-out
def _march(visible_s: list[float], cycle_s: float, hidden_ok: bool) -> tuple[float, float]:
    """Visible P waves (s) at 250 Hz; ``seen`` is False (a wave could not be seen) only around
    the positions half a cycle after each visible wave when ``hidden_ok``."""
    from ecgr1.measure.atrial.rhythm import half_cycle_hidden_in_qrst

    fs = 250.0
    seen = np.ones(int(12 * fs), bool)
    if hidden_ok:
        for t in visible_s:
            c = int(round((t + cycle_s / 2) * fs))
            seen[c - 20 : c + 20] = False
    times = np.array(visible_s) * fs
    params = DEFAULT_CONFIG.atrial_waves
    cycle, fit = half_cycle_hidden_in_qrst(times, cycle_s * fs, 5 / 6, seen, fs, params)
    return cycle / fs, fit


def test_half_cycle_is_taken_when_every_other_wave_would_be_hidden() -> None:
    # Atria at 0.7 s; visible waves mostly two cycles apart, once one cycle apart.
    vis = [0.5, 1.9, 3.3, 4.7, 5.4, 6.8, 8.2]
    cycle, fit = _march(vis, 1.4, hidden_ok=True)
    assert cycle == pytest.approx(0.7, abs=0.01) and fit == 1.0


def test_half_cycle_is_refuted_by_a_wave_that_should_have_been_seen() -> None:
    vis = [0.5, 1.9, 3.3, 4.7, 5.4, 6.8, 8.2]
    cycle, _ = _march(vis, 1.4, hidden_ok=False)
    assert cycle == pytest.approx(1.4)


def test_half_cycle_needs_two_visible_waves_one_short_cycle_apart() -> None:
    # Exactly 2:1 (every visible interval two half cycles): no direct evidence, no change.
    vis = [0.5, 1.9, 3.3, 4.7, 6.1, 7.5]
    cycle, _ = _march(vis, 1.4, hidden_ok=True)
    assert cycle == pytest.approx(1.4)


def test_pr_march_is_a_steady_one_way_drift() -> None:
    """AV dissociation moves each visible P a fixed step relative to the next QRS; conducted
    rhythms hold their PR, and Wenckebach rises then falls back after the dropped beat."""
    from ecgr1.measure.atrial.conduction import pr_marches

    params = DEFAULT_CONFIG.atrial_waves
    assert pr_marches([None, None, 516.0, 436.0, 324.0, 204.0, None], params)
    assert pr_marches([None, 176.0, 268.0, 316.0], params)
    assert not pr_marches([160.0, 162.0, 158.0, 161.0, 160.0], params)  # conducted, constant PR
    assert not pr_marches([160.0, 240.0, 280.0, 160.0, 240.0, 280.0], params)  # Wenckebach
    assert not pr_marches([176.0, 268.0, None, 316.0, 400.0], params)  # two beats at a time


def test_flutter_with_variable_block_overrides_an_irregular_ventricular_response() -> None:
    """Simulated flutter at 300/min conducted 2:1 to 4:1 (RR 400, 600, 800 ms): irregularly
    irregular by the RR alone, but every RR is a whole number of 200 ms F-F cycles, so the
    whole-record flutter finding stands (seed 6 read "no atrial activity" before); RR
    intervals that are not whole cycles keep it out."""
    import ecgr1
    from ecgr1.measure.atrial_override import _variable_block

    m = ecgr1.measure(simulate("atrial_flutter_variable", seconds=10, seed=6).record)
    g = m.global_
    assert g.rr_irregularity == "irregularly_irregular"
    assert g.atrial_activity == "flutter" and not g.p_wave_present
    assert g.atrial_rate_bpm == pytest.approx(300, abs=15)
    flutter = AtrialActivity(atrial_activity="flutter", atrial_rate_bpm=300.0, confidence=0.99)
    assert _variable_block(m, flutter, DEFAULT_CONFIG)
    for beat, rr in zip(m.beats[1:], [500, 710, 900, 510, 690, 880, 530, 650, 750, 520] * 2):
        beat.rr_prev_ms = float(rr)  # fibrillation-like intervals, unrelated to 200 ms
    assert not _variable_block(m, flutter, DEFAULT_CONFIG)


@pytest.mark.parametrize("seed", [1, 7])
def test_two_to_one_flutter_whose_f_wave_passed_as_a_p_wave_is_flutter(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated flutter at 300/min conducted 2:1 (150/min): the F wave before each QRS read
    as a P wave at a short PR ("sinus tachycardia", "short PR"). The other F wave of each
    cycle sits in the ST segment, half an RR earlier, with the same shape and size."""
    import ecgr1
    from ecgr1.simulate import patterns

    monkeypatch.setitem(patterns.RHYTHM, "flutter_conduction", 2)
    m = ecgr1.measure(simulate("atrial_flutter", seconds=10, seed=seed).record)
    g = m.global_
    assert g.heart_rate_bpm == pytest.approx(150, abs=3)
    assert g.atrial_activity == "flutter" and not g.p_wave_present
    assert g.atrial_rate_bpm == pytest.approx(300, abs=15)
    assert g.pr_interval_ms is None and "2:1 flutter" in g.reasons["p_wave_present"]
    # (A short QT may come with it: the simulator draws QT by Fridericia at 150/min.)
    assert {s.id for s in ecgr1.interpret(m).statements} - {"short_qt"} == {"atrial_flutter"}


@pytest.mark.parametrize("hr", [110, 120, 135, 150, 165])
def test_sinus_tachycardia_is_not_two_to_one_flutter(hr: int) -> None:
    """Half an RR before a sinus P wave lies the ST segment or the T wave's upstroke: never a
    second wave of the P wave's shape and size."""
    import ecgr1

    for seed in range(3):
        g = ecgr1.measure(
            simulate("sinus_tachycardia", seconds=10, seed=seed, hr=hr).record
        ).global_
        assert g.atrial_activity == "p_waves" and g.p_wave_present, (seed, g.atrial_activity)


@pytest.mark.parametrize(("pattern", "hr"), [("sinus_tachycardia", 150), ("av_block_1", 110)])
def test_a_residual_peak_at_a_fixed_multiple_of_the_ventricular_rate_is_not_flutter(
    pattern: str, hr: int
) -> None:
    """Noisy sinus records whose P waves went unseen: the QRST-cancelled residual peaked at
    exactly twice the ventricular rate (300/min at 150/min, 220/min at 110/min) and read as
    flutter. Waves at a fixed multiple of the ventricular rate are locked to the QRS and leave
    with the median beat; what remains there is the QRST's own variation."""
    import ecgr1

    for seed in range(4):
        sim = simulate(pattern, seconds=10, seed=seed, hr=hr, noise="all")
        assert ecgr1.measure(sim.record).global_.atrial_activity != "flutter", seed


def test_flutter_with_variable_conduction_keeps_its_residual_peak(ludb_dir) -> None:
    """LUDB 35 (typical flutter, 2:1 and 3:1): its residual peak is twice its median RR's
    rate, but its RR intervals hold two different numbers of F-F cycles."""
    import ecgr1

    g = ecgr1.measure(ludb_dir / "data" / "35.hea").global_
    assert g.atrial_activity == "flutter" and 240 <= g.atrial_rate_bpm <= 340


@pytest.mark.parametrize("seed", range(4))
def test_flutter_is_found_under_muscle_noise(seed: int) -> None:
    """Simulated 4:1 flutter with 15-30 uV of EMG: the slope of the free signal raises the
    noise above ~20 Hz, and unsmoothed it held the autocorrelation at 0.77-0.81, below the
    confidence the engine takes flutter at (7 of 10 simulated records lost it). Smoothed over
    ``flutter_slope_smooth_ms`` it stays at one 300/min cycle; simulated AF stays AF."""
    _, res = _analyse_sim("atrial_flutter", seed=seed, noise="muscle")
    assert res.atrial_activity == "flutter" and res.confidence >= 0.8, res.reason
    assert res.atrial_rate_bpm == pytest.approx(300, abs=15)
    _, res = _analyse_sim("atrial_fibrillation", seed=seed, noise="muscle")
    assert res.atrial_activity != "flutter", res.reason


# Simulated 4:1 flutter whose whole-record confidence muscle noise brings under 0.8.
LOW_CONFIDENCE_FLUTTER = (9, 10, 14, 16, 18)


def test_fixed_block_flutter_is_taken_at_a_lower_confidence_when_the_rr_fits() -> None:
    """With a regular RR of a whole number (2 or more) of F-F cycles, flutter is taken from
    ``atrial.flutter_confidence_fixed_block`` (0.5). Under muscle noise the one-cycle
    autocorrelation of simulated 4:1 flutter falls to 0.55-0.70 on these seeds, and the F wave
    before each QRS was read as a P wave ("sinus rhythm, first-degree AV block", "ectopic
    atrial rhythm"); at 0.8 for every case (the old rule) it is again."""
    import ecgr1

    old = MeasureConfig(atrial={"flutter_confidence_fixed_block": 0.8})
    lost = 0
    for seed in LOW_CONFIDENCE_FLUTTER:
        record = simulate("atrial_flutter", seconds=10, seed=seed, noise="muscle").record
        g = ecgr1.measure(record).global_
        assert g.atrial_activity == "flutter" and not g.p_wave_present, seed
        assert g.atrial_rate_bpm == pytest.approx(300, abs=15), seed
        lost += ecgr1.measure(record, config=old).global_.atrial_activity != "flutter"
    assert lost >= 4, lost


def test_fixed_block_needs_a_regular_rr_of_whole_cycles_and_twelve_leads() -> None:
    """The lower confidence asks for the ventricles to follow every k-th F wave (k >= 2) on a
    multi-lead record; a 1:1 relation, an RR between cycles, an irregular RR or a 2-lead record
    is not enough."""
    import copy

    import ecgr1
    from ecgr1.measure.atrial_override import _fixed_block

    m = ecgr1.measure(simulate("atrial_flutter", seconds=10, seed=0).record)
    flutter = AtrialActivity(atrial_activity="flutter", atrial_rate_bpm=300.0, confidence=0.6)
    assert m.global_.rr_irregularity == "regular" and _fixed_block(m, flutter, DEFAULT_CONFIG)
    one_to_one = AtrialActivity(atrial_activity="flutter", atrial_rate_bpm=75.0, confidence=0.6)
    assert not _fixed_block(m, one_to_one, DEFAULT_CONFIG)
    between = AtrialActivity(atrial_activity="flutter", atrial_rate_bpm=262.5, confidence=0.6)
    assert not _fixed_block(m, between, DEFAULT_CONFIG)  # RR 800 ms = 3.5 cycles of 229 ms
    irregular = copy.deepcopy(m)
    irregular.global_.rr_irregularity = "regularly_irregular"
    assert not _fixed_block(irregular, flutter, DEFAULT_CONFIG)
    two_leads = copy.deepcopy(m)
    two_leads.lead_names = ["II", "V1"]
    assert not _fixed_block(two_leads, flutter, DEFAULT_CONFIG)
