"""Scoring rules of the measurement benchmark (benchmarks/_scoring.py) on hand-made annotations."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _scoring as sc  # noqa: E402

FS = 500.0  # 2 ms per sample


def _ludb_like_lead(n_beats: int = 8, rr: int = 400, with_p: bool = True):
    """An annotation sequence in the ecgpuwave convention: ( p ) ( N ) ( t ) per beat."""
    samples, symbols = [], []
    for b in range(n_beats):
        r = 300 + b * rr
        if with_p:
            samples += [r - 90, r - 75, r - 60]
            symbols += ["(", "p", ")"]
        samples += [r - 40, r, r + 45]
        symbols += ["(", "N", ")"]
        samples += [r + 100, r + 150, r + 200]
        symbols += ["(", "t", ")"]
    return np.array(samples), symbols


def _expert(with_p: bool = True):
    samples, symbols = _ludb_like_lead(with_p=with_p)
    return sc.marks_from_waves(sc.parse_waves(samples, symbols))


# --------------------------------------------------------------------------- parsing


def test_parse_pairs_onsets_and_offsets_with_their_wave_type():
    samples = [10, 20, 30, 40, 50, 60, 80, 90, 100, 110, 120]
    symbols = ["(", "p", ")", "(", "N", ")", "t", ")", "(", "u", ")"]
    waves = sc.parse_waves(samples, symbols)
    assert [(w.wave, w.onset, w.peak, w.offset) for w in waves] == [
        ("p", 10, 20, 30),
        ("qrs", 40, 50, 60),
        ("t", None, 80, 90),
        ("u", 100, 110, 120),
    ]
    marks = sc.marks_from_waves(waves)
    assert marks["p_on"].tolist() == [10]
    assert marks["qrs_on"].tolist() == [40]
    assert marks["qrs_off"].tolist() == [60]
    assert marks["t_on"].tolist() == []  # a T wave without "(" has no onset mark
    assert marks["t_off"].tolist() == [90]
    # u waves are parsed but never scored
    assert sum(len(v) for v in marks.values()) == 8


def test_parse_ignores_orphan_parentheses_and_sorts_input():
    # An empty "()" and a trailing "(" (wave cut by the record end) carry no wave.
    samples = [500, 5, 10, 30, 40, 60, 70, 600]
    symbols = ["(", "N", ")", "(", ")", "(", "A", ")"]
    waves = sc.parse_waves(samples, symbols)
    # sorted: 5 N, 10 ), 30 (, 40 ), 60 (, 70 A, 500 (, 600 )
    assert [(w.wave, w.onset, w.peak, w.offset) for w in waves] == [
        ("qrs", None, 5, 10),
        ("qrs", 60, 70, None),
    ]


def test_beat_table_assigns_p_before_and_t_after_each_qrs():
    samples, symbols = _ludb_like_lead(n_beats=3)
    table = sc.beat_table_from_waves(sc.parse_waves(samples, symbols))
    assert table["qrs_peak"].tolist() == [300, 700, 1100]
    assert table["p_on"].tolist() == [210, 610, 1010]
    assert table["t_off"].tolist() == [500, 900, 1300]
    iv = sc.lead_intervals_ms(table, FS)
    assert iv["pr_interval_ms"] == pytest.approx((90 - 40) * 2.0)
    assert iv["p_duration_ms"] == pytest.approx(30 * 2.0)
    assert iv["qrs_duration_ms"] == pytest.approx(85 * 2.0)
    assert iv["qt_interval_ms"] == pytest.approx(240 * 2.0)


def test_beat_table_without_p_gives_no_p_based_intervals():
    samples, symbols = _ludb_like_lead(n_beats=3, with_p=False)
    table = sc.beat_table_from_waves(sc.parse_waves(samples, symbols))
    assert np.isnan(table["p_on"]).all()
    iv = sc.lead_intervals_ms(table, FS)
    assert math.isnan(iv["pr_interval_ms"]) and math.isnan(iv["p_duration_ms"])
    assert iv["qrs_duration_ms"] == pytest.approx(170.0)


def test_beat_table_from_lists_handles_none_nan_and_ragged_lists():
    t = sc.beat_table_from_lists({"qrs_on": [5, None, 9.0], "t_off": [float("nan")]})
    assert t["qrs_on"][[0, 2]].tolist() == [5.0, 9.0] and np.isnan(t["qrs_on"][1])
    assert np.isnan(t["t_off"]).all() and t["t_off"].size == 3
    assert np.isnan(t["p_on"]).all()
    assert sc.marks_from_table(t)["qrs_on"].tolist() == [5, 9]


# --------------------------------------------------------------------------- matching


def test_perfect_detector_scores_zero_error_and_full_sensitivity():
    expert = _expert()
    scores = sc.score_lead(expert, expert, FS)
    for kind in ("p_on", "p_off", "qrs_on", "qrs_peak", "qrs_off", "t_on", "t_off"):
        s = scores[kind].summary()
        assert s["mean_ms"] == 0.0 and s["sd_ms"] == 0.0
        assert s["sensitivity"] == 1.0 and s["ppv"] == 1.0
        assert s["n_expert"] == 8


def test_shifted_detector_shows_the_bias_in_ms_with_zero_spread():
    expert = _expert()
    late = {k: v + 5 for k, v in expert.items()}  # 5 samples at 500 Hz = +10 ms
    s = sc.score_lead(expert, late, FS)["qrs_on"].summary()
    assert s["mean_ms"] == pytest.approx(10.0)
    assert s["sd_ms"] == pytest.approx(0.0)
    early = {k: v - 5 for k, v in expert.items()}
    assert sc.score_lead(expert, early, FS)["t_off"].summary()["mean_ms"] == pytest.approx(-10.0)


def test_missing_detection_lowers_sensitivity_not_ppv():
    expert = _expert()
    det = dict(expert)
    det["p_on"] = expert["p_on"][1:]
    s = sc.score_lead(expert, det, FS)["p_on"]
    assert s.sensitivity == pytest.approx(7 / 8)
    assert s.ppv == 1.0


def test_extra_detection_outside_expert_span_does_not_lower_ppv():
    expert = _expert()
    first, last = sc.expert_span(expert)
    det = dict(expert)
    det["qrs_on"] = np.concatenate([[first - 200], expert["qrs_on"], [last + 300]])
    s = sc.score_lead(expert, det, FS)["qrs_on"]
    assert s.ppv == 1.0 and s.sensitivity == 1.0


def test_extra_detection_inside_expert_span_lowers_ppv():
    expert = _expert()
    det = dict(expert)
    # halfway between two T offsets, far (> 150 ms) from any expert T offset
    det["t_off"] = np.sort(np.concatenate([expert["t_off"], [expert["t_off"][2] + 200]]))
    s = sc.score_lead(expert, det, FS)["t_off"]
    assert s.sensitivity == 1.0
    assert s.ppv == pytest.approx(8 / 9)


def test_tolerance_is_150_ms_inclusive():
    # 75 samples at 500 Hz = 150 ms: paired; 76 samples = 152 ms: not paired.
    s_in = sc.score_kind([1000], [1075], FS, span=(900, 1100))
    assert s_in.n_matched == 1 and s_in.errors_ms.tolist() == [150.0]
    s_out = sc.score_kind([1000], [1076], FS, span=(900, 1100))
    assert s_out.n_matched == 0 and s_out.sensitivity == 0.0
    assert s_out.ppv == 0.0  # the unpaired detection lies inside the span


def test_pairing_is_one_to_one_and_nearest_first():
    # Two detections near one expert mark: the nearer one is paired, the other is a false
    # positive; the expert mark is counted once.
    s = sc.score_kind([1000], [990, 1004], FS, span=(900, 1100))
    assert s.errors_ms.tolist() == [8.0]
    assert s.n_matched == 1 and s.ppv == pytest.approx(0.5)
    # One detection between two expert marks goes to the nearer one only.
    e_idx, d_idx = sc.match_nearest([1000, 1060], [1040], tolerance=75)
    assert e_idx.tolist() == [1] and d_idx.tolist() == [0]


def test_kinds_are_scored_separately():
    expert = _expert()
    # A detector that puts its "QRS onsets" on the expert P onsets (50 samples = 100 ms
    # early) is scored as biased, and one putting them 90 samples away is not paired at all.
    det = {"qrs_on": expert["p_on"]}
    s = sc.score_lead(expert, det, FS)
    assert s["qrs_on"].summary()["mean_ms"] == pytest.approx(-100.0)
    assert s["p_on"].sensitivity == 0.0
    det = {"qrs_on": expert["qrs_on"] - 90}
    assert sc.score_lead(expert, det, FS)["qrs_on"].sensitivity == 0.0


def test_tally_pools_errors_over_leads():
    expert = _expert()
    tally = sc.Tally()
    tally.add(sc.score_lead(expert, {k: v + 2 for k, v in expert.items()}, FS))
    tally.add(sc.score_lead(expert, {k: v - 2 for k, v in expert.items()}, FS))
    tally.add(sc.score_lead(expert, {}, FS))  # a lead with no detections at all
    s = tally.summary()["qrs_off"]
    assert s["mean_ms"] == pytest.approx(0.0)
    assert s["sd_ms"] == pytest.approx(np.std([4.0] * 8 + [-4.0] * 8, ddof=1))
    assert s["sensitivity"] == pytest.approx(2 / 3)
    assert tally.group_sensitivity(["qrs_on", "qrs_off"]) == pytest.approx(2 / 3)


def test_best_lead_keeps_the_closest_lead_per_mark():
    expert = [1000, 2000, 3000]
    lead_a = [1010, 1990]  # errors +20 ms, -20 ms
    lead_b = [1002, 2030, 3400]  # +4 ms, +60 ms, 3400 is too far from 3000
    s = sc.score_kind_best_lead(expert, [lead_a, lead_b], FS)
    assert s.errors_ms.tolist() == [4.0, -20.0]
    assert s.sensitivity == pytest.approx(2 / 3)
    assert s.ppv is None


# --------------------------------------------------------------------------- intervals


def test_median_of_leads_and_interval_agreement():
    leads = [
        {"qt_interval_ms": 400.0, "pr_interval_ms": math.nan},
        {"qt_interval_ms": 420.0, "pr_interval_ms": 160.0},
        {"qt_interval_ms": 410.0, "pr_interval_ms": math.nan},
    ]
    ref = sc.median_of_leads(leads)
    assert ref["qt_interval_ms"] == 410.0
    assert ref["pr_interval_ms"] == 160.0
    assert math.isnan(ref["qrs_duration_ms"])
    agree = sc.interval_agreement([100.0, 110.0, None, 90.0], [110.0, 130.0, 50.0, None])
    assert agree["n"] == 2 and agree["n_missing"] == 1
    assert agree["mean_ms"] == pytest.approx(15.0)
    assert agree["sd_ms"] == pytest.approx(np.std([10.0, 20.0], ddof=1))


# --------------------------------------------------------------------------- QTDB windows


def test_windows_cover_every_mark_once_with_context():
    rng = np.random.default_rng(0)
    fs = 250
    # clusters of beats at 1 s spacing, spread over 15 min, as in QTDB
    marks = np.concatenate([c + np.arange(0, 30 * fs, fs) for c in (10 * fs, 300 * fs, 305 * fs)])
    marks = np.sort(marks + rng.integers(-20, 20, marks.size))
    n = 900 * fs
    windows = sc.cover_with_windows(marks, n, window=10 * fs, lead_in=int(1.5 * fs), margin=fs)
    keeps = [(lo, hi) for _, _, lo, hi in windows]
    for (_, hi1), (lo2, _) in zip(keeps, keeps[1:]):
        assert hi1 <= lo2  # keep regions never overlap
    for m in marks:
        owners = [w for w in windows if w[2] <= m < w[3]]
        assert len(owners) == 1
        start, stop, lo, hi = owners[0]
        assert stop - start == 10 * fs
        # 1.5 s of signal on both sides of every mark; detections kept >= 1 s from the edges
        assert m - start >= 1.5 * fs and stop - m > 1.5 * fs
        assert lo >= start + fs and hi <= stop - fs


# --------------------------------------------------------------------------- end to end


@pytest.fixture()
def bench(monkeypatch):
    """The benchmark module, imported without leaking its one-thread settings into os.environ."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(var, os.environ.get(var, ""))
    import measure_bench

    return measure_bench


def _ludb_oracle(ludb_dir, shift: int = 0):
    """A 'method' that returns the cardiologist's own marks (shifted by ``shift`` samples)."""
    import measure_bench as mb

    def run(record):
        _, waves = mb.load_ludb(ludb_dir, record.record_id)
        out = mb.MethodOutput()
        for lead, w in waves.items():
            out.lead_tables[lead] = {k: v + shift for k, v in sc.beat_table_from_waves(w).items()}
        out.intervals_ms = sc.median_of_leads(
            sc.lead_intervals_ms(t, record.fs) for t in out.lead_tables.values()
        )
        return out

    return run


def test_ludb_pipeline_scores_the_expert_marks_as_perfect(bench, ludb_dir):
    runners = {"oracle": _ludb_oracle(ludb_dir), "late": _ludb_oracle(ludb_dir, shift=3)}
    res = bench.run_ludb(ludb_dir, runners, None, 150.0, False, only_ids={"1"})
    oracle = res["methods"]["oracle"]
    for kind in ("p_on", "p_off", "qrs_on", "qrs_off", "t_off"):
        s = oracle["fiducials"][kind]
        assert s["n_expert"] > 50
        assert s["sensitivity"] == 1.0 and s["ppv"] == 1.0
        assert s["mean_ms"] == 0.0 and s["sd_ms"] == 0.0
    assert oracle["intervals"]["qt_interval_ms"]["mean_ms"] == 0.0
    late = res["methods"]["late"]["fiducials"]["qrs_on"]
    assert late["mean_ms"] == pytest.approx(6.0) and late["sd_ms"] == pytest.approx(0.0)


def test_qtdb_windowed_pipeline_scores_the_expert_marks_as_perfect(bench, qtdb_dir):
    import wfdb

    def oracle(shift):
        def run(record):
            name, start = record.record_id.rsplit("_", 1)
            start = int(start)
            ann = wfdb.rdann(str(qtdb_dir / name), "q1c")
            marks = sc.marks_from_waves(sc.parse_waves(ann.sample, ann.symbol))
            inside = {
                k: v[(v >= start) & (v < start + record.n_samples)] - start + shift
                for k, v in marks.items()
            }
            # every window sees the same marks in both leads
            table = {k: v.astype(float) for k, v in inside.items()}
            return bench.MethodOutput(lead_tables={lead: table for lead in record.leads})

        return run

    runners = {"oracle": oracle(0), "early": oracle(-2)}
    res = bench.run_qtdb(qtdb_dir, runners, None, 150.0, False, only_ids={"sel114"})
    assert res["n_windows"] > 1  # sel114's marks are spread over minutes
    for kind in bench.QTDB_KINDS:
        s = res["methods"]["oracle"]["fiducials"][kind]
        assert s["n_expert"] > 0 and s["sensitivity"] == 1.0 and s["mean_ms"] == 0.0
        e = res["methods"]["early"]["fiducials"][kind]
        assert e["sensitivity"] == 1.0 and e["mean_ms"] == pytest.approx(-8.0)


def test_timed_run_counts_the_methods_own_computation_when_it_reports_one(bench):
    import time

    def slow_conversion(compute_s):
        def run(record):
            time.sleep(0.05)  # e.g. turning a result into scoring tables: not the method's time
            return bench.MethodOutput(compute_s=compute_s)

        return run

    _, reported, err = bench.timed_run(slow_conversion(0.001), None)
    assert err is None and reported == 0.001
    _, whole, _ = bench.timed_run(slow_conversion(None), None)
    assert whole >= 0.05

    def broken(record):
        raise ValueError("bad record")

    _, elapsed, err = bench.timed_run(broken, None)
    assert err == "ValueError: bad record" and elapsed < 0.05


def test_paced_records_are_scored_apart_at_record_level(bench, ludb_dir):
    """LUDB 95's reference comes from its conducted beats only (no QRS onset is marked on its
    paced beats): the record-level intervals are also reported without the paced records."""
    assert bench.ludb_paced(["Rhythm: Atrial fibrillation.", "UNIpolar ventricular pacing. "])
    assert bench.ludb_paced(["Biventricular pacing."])
    assert not bench.ludb_paced(["Rhythm: Sinus rhythm.", "Wandering atrial pacemaker."])
    oracle = _ludb_oracle(ludb_dir)

    def paced_wide(record):
        out = oracle(record)
        if record.record_id == "95":  # the paced beat's QRS, not the conducted beats'
            out.intervals_ms["qrs_duration_ms"] += 58.0
        return out

    res = bench.run_ludb(ludb_dir, {"m": paced_wide}, None, 150.0, False, only_ids={"1", "3", "95"})
    assert res["paced_records"] == ["95"]
    m = res["methods"]["m"]
    assert m["intervals"]["qrs_duration_ms"]["n"] == 3
    assert m["intervals"]["qrs_duration_ms"]["sd_ms"] > 30
    apart = m["intervals_without_paced"]["qrs_duration_ms"]
    assert apart["n"] == 2 and apart["mean_ms"] == 0.0 and apart["sd_ms"] == 0.0
    crit = bench.criteria(
        {"ludb": {**res, "methods": {"ecgr1": {**m, "timing_ms_per_record": {"median": 1.0}}}}}
    )
    rows = {c["check"]: c for c in crit}
    assert not rows["(issue 19) record qrs_duration_ms SD ≤ 9 ms"]["pass"]
    assert rows["(issue 19) record qrs_duration_ms SD ≤ 9 ms, paced records (95) apart"]["pass"]


def test_simulated_scoring_reads_the_simulators_truth(bench, monkeypatch):
    """``--simulated``: errors are measured against the simulated boundaries. A stand-in engine
    that reports the truth moved by +4 ms (onset) and +10 ms (offset), drops one beat and adds
    one outside every QRS is scored exactly so."""
    import types

    import ecgr1
    from ecgr1.simulate import simulate

    def fake_measure(record):
        sim = simulate("normal", seconds=10, seed=0)
        beats = [
            types.SimpleNamespace(
                r_peak_s=(b["qrs_on_s"] + b["qrs_off_s"]) / 2,
                qrs_onset_s=b["qrs_on_s"] + 0.004,
                qrs_offset_s=b["qrs_off_s"] + 0.010,
            )
            for b in sim.beats[1:]
        ]
        beats.append(types.SimpleNamespace(r_peak_s=-5.0, qrs_onset_s=None, qrs_offset_s=None))
        qrs = sim.params["qrs_ms"] + 6.0
        return types.SimpleNamespace(
            beats=beats, global_=types.SimpleNamespace(qrs_duration_ms=qrs)
        )

    monkeypatch.setattr(ecgr1, "measure", fake_measure)
    out = bench.run_simulated(["normal"], "none", 1)["patterns"]["normal"]
    assert out["qrs_on_ms"] == pytest.approx([4.0, 0.0], abs=1e-6)
    assert out["qrs_off_ms"] == pytest.approx([10.0, 0.0], abs=1e-6)
    assert out["record_qrs_error_ms"] == pytest.approx([6.0, 6.0])
    assert (out["missed_beats"], out["false_beats"]) == (1, 1)
    assert "| normal | +4.0 ± 0.0 | +10.0 ± 0.0 | +6.0, 6.0 | 1 / 1 |" in bench.simulated_markdown(
        {"noise": "none", "seeds": 1, "patterns": {"normal": out}}
    )


def test_simulated_option_refuses_unknown_patterns_and_noise(bench, capsys):
    for argv in (["--simulated", "normal,nonsense"], ["--simulated", "normal", "--sim-noise", "x"]):
        with pytest.raises(SystemExit) as exc:
            bench.main(["--datasets", "", "--methods", "ecgr1", *argv])
        assert exc.value.code == 2
        assert "unknown pattern or noise" in capsys.readouterr().err


def test_cpsc2019_scoring_pairs_each_reference_once_within_75_ms(bench):
    """References count in 0.5-9.5 s; each takes the nearest free detection within 75 ms."""
    fs = 500.0
    ref = np.array([100, 500, 1000, 1500, 4900])  # 0.2 s and 9.8 s are outside the span
    det = np.array([520, 540, 1030, 1541, 3000])  # 540: a second one near 500 -> false
    tp, fp, fn = bench.score_detections(ref, det, fs)
    assert (tp, fp, fn) == (2, 3, 1)  # 1500 is 41 samples (82 ms) from 1541: missed
    assert bench.score_detections(ref, np.zeros(0), fs) == (0, 0, 3)
