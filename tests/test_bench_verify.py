"""The verifier benchmark's text generators, perturbations and scoring (benchmarks/verify_bench.py,
benchmarks/_verify_texts.py), on hand-made texts and 2-3 real records."""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _scoring as sc  # noqa: E402
import _verify_texts as vt  # noqa: E402
import verify_bench as vb  # noqa: E402

from ecgr1.verify.claims import Claim, ClaimVerdict  # noqa: E402
from ecgr1.verify.result import VerificationResult  # noqa: E402

REPORT = (
    "The ventricular rate is 72 bpm over 12 beats (mean RR 833 ms). "
    "Intervals: PR 160 ms and QRS 88 ms, against a normal PR of 120 ms to 200 ms and complete "
    "bundle branch block from 120 ms. PR interval 160 ms is not above 200 ms, which excludes "
    "first degree AV block. Voltage criteria: Sokolow-Lyon voltage 1.61 mV (≥ 3.50 mV). "
    "In the inferior leads ST deviation at the J point is +0.01 mV in II, 0.00 mV in III and "
    "-0.02 mV in aVF, with T waves +0.12 mV in II, -0.10 mV in III and +0.05 mV in aVF. "
    "Against the criteria there is no ST elevation, no ST depression and no T-wave inversion.\n"
    "</think>\nThis ECG shows sinus rhythm at a ventricular rate of 72 bpm.\n"
    "<answer>sinus rhythm</answer>"
)


def _meas(**g):
    base = dict(
        qrs_duration_ms=88.0,
        pr_interval_ms=160.0,
        heart_rate_bpm=72.0,
        p_wave_fraction=1.0,
        rr_cv=0.02,
        qrs_axis_deg=60.0,
        qtc_bazett_ms=400.0,
        qtc_framingham_ms=400.0,
    )
    base.update(g)
    leads = {
        name: SimpleNamespace(st_j_mv=0.0, t_amplitude_mv=0.3, q_amplitude_mv=None)
        for name in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
    }
    return SimpleNamespace(global_=SimpleNamespace(**base), leads=leads)


# --------------------------------------------------------------------------- numeric


def test_numeric_mentions_skip_thresholds():
    found = {(c, v) for c, _, _, v in vt.find_numeric_mentions(REPORT)}
    assert ("pr_interval_ms", 160.0) in found
    assert ("qrs_duration_ms", 88.0) in found
    assert ("sokolow_lyon_mv", 1.61) in found
    assert ("st_deviation_mv", -0.02) in found
    values = [v for _, _, _, v in vt.find_numeric_mentions(REPORT)]
    assert 200.0 not in values and 120.0 not in values and 3.5 not in values
    # T-wave amplitudes are not ST deviations
    assert -0.10 not in values


@pytest.mark.parametrize("seed", range(6))
def test_perturb_value_changes_the_span_by_the_factor(seed):
    start = REPORT.index("PR 160") + 3
    p = vt.perturb_value(REPORT, start, start + 3, "pr_interval_ms", random.Random(seed))
    assert p.text[p.start : p.end] == p.new
    assert p.text[: p.start] == REPORT[:start]
    assert p.text[p.end :] == REPORT[start + 3 :]
    assert p.original == "160"
    assert p.new_value == round(160 * p.factor)
    assert 0.3 <= abs(p.factor - 1) <= 1.0 + 1e-9


def test_perturb_value_moves_zero_millivolts():
    start = REPORT.index("0.00 mV in III")
    p = vt.perturb_value(REPORT, start, start + 4, "st_deviation_mv", random.Random(3))
    assert abs(p.new_value) >= 0.06  # 30 % of the 0.2 mV floor
    assert p.text[p.start : p.end] == p.new and p.new != "0.00"


def test_numeric_perturbations_one_change_each():
    perts = vt.numeric_perturbations(REPORT, random.Random(0), max_n=20)
    assert len(perts) >= 5
    for p in perts:
        assert p.kind == "numeric"
        assert p.text[p.start : p.end] == p.new
        assert p.text[: p.start] + p.original + p.text[p.end :] == REPORT
        assert p.new_value != p.old_value


# --------------------------------------------------------------------------- categorical


def test_negations():
    perts = {p.note: p for p in vt.negation_perturbations(REPORT, None, random.Random(0))}
    a = perts["'no X' -> 'X'"]
    assert a.text[a.start : a.end] == a.new and a.new in (
        "ST elevation",
        "ST depression",
        "T-wave inversion",
    )
    assert a.text.count("no ") == REPORT.count("no ") - 1
    b = perts["'excludes X' -> 'indicates X'"]
    assert "which indicates first degree AV block" in b.text
    assert b.text[b.start : b.end] == "first degree AV block"
    c = perts["'X' -> 'no X'"]
    assert "This ECG shows no sinus rhythm at" in c.text
    assert c.text[c.start : c.end] == "no sinus rhythm"


def test_inventions_are_false_by_measurement():
    narrow = {c for _, c, _ in vt.invention_rules(_meas(qrs_duration_ms=80.0))}
    wide = {c for _, c, _ in vt.invention_rules(_meas(qrs_duration_ms=140.0))}
    assert "complete_lbbb" in narrow and "complete_lbbb" not in wide
    af_rec = {c for _, c, _ in vt.invention_rules(_meas(p_wave_fraction=0.1, rr_cv=0.2))}
    assert "atrial_fibrillation" not in af_rec
    perts = vt.invention_perturbations(REPORT, _meas(), random.Random(0), max_n=2)
    assert len(perts) == 2
    for p in perts:
        assert p.text[p.start : p.end] == p.new and p.new.endswith(".")
        assert p.text.index(p.new) < p.text.index("<answer>")
        assert p.text.replace(p.new + " ", "", 1).replace("\n", "") == REPORT.replace("\n", "")


def test_a_negation_is_a_clear_error_only_beyond_the_criterion_tolerance():
    # PR criterion 200 ms, 12-lead tolerance about 25 ms
    assert vt.clearly_false("first_degree_av_block", _meas(pr_interval_ms=150.0))
    assert not vt.clearly_false("first_degree_av_block", _meas(pr_interval_ms=190.0))
    sinus = dict(p_wave_fraction=1.0, p_axis_deg=50.0)
    assert vt.clearly_true("sinus_bradycardia", _meas(heart_rate_bpm=45.0, **sinus))
    assert not vt.clearly_true("sinus_bradycardia", _meas(heart_rate_bpm=57.0, **sinus))
    assert not vt.clearly_false("no_such_concept", _meas())
    text = "PR 150 ms, which excludes first degree AV block. This ECG shows sinus bradycardia."
    perts = vt.negation_perturbations(text, _meas(pr_interval_ms=150.0), random.Random(0))
    clear = {p.note: p.clear for p in perts}
    assert clear["'excludes X' -> 'indicates X'"] is True
    assert clear["'X' -> 'no X'"] is False  # HR 72: "no sinus bradycardia" is true


def test_wrong_rhythm():
    [p] = vt.rhythm_perturbations(REPORT, _meas(heart_rate_bpm=90.0), random.Random(0))
    assert p.original == "sinus rhythm" and p.new in ("atrial fibrillation", "sinus bradycardia")
    assert p.text[p.start : p.end] == p.new
    # no clearly-false option: irregular, few P waves, fast
    none = vt.rhythm_perturbations(
        REPORT.replace("sinus rhythm at", "atrial fibrillation at"),
        _meas(p_wave_fraction=0.5, rr_cv=0.2, heart_rate_bpm=78),
        random.Random(0),
    )
    assert none == []


def test_lead_swap_moves_finding_to_clean_territory():
    text = "There is ST elevation in II, III and aVF. " + REPORT
    meas = _meas()
    [p] = vt.lead_swap_perturbations(text, meas, random.Random(1))
    assert p.text.startswith("There is ST elevation in ")
    swapped = p.text[p.start : p.end]
    assert "II, III and aVF" not in swapped and swapped.startswith("ST elevation in")
    # an amplitude swap when no finding sentence exists
    [q] = vt.lead_swap_perturbations(REPORT, meas, random.Random(1))
    assert q.concept == "t_amplitude_mv" and q.text[q.start : q.end] == q.new


def test_is_german():
    assert vt.is_german("sinusrhythmus linkstyp t abnormal")
    assert vt.is_german("unvollstÄndiger rechtsschenkelblock")
    assert not vt.is_german("premature atrial contraction(s). sinus rhythm. normal ecg.")


# --------------------------------------------------------------------------- scoring


def _verdict(text, start, concept, verdict, cat="interval", measured=None, tol=None, value=None):
    c = Claim(text, start, start + len(text), "numeric", cat, concept, value=value, unit="ms")
    return ClaimVerdict(c, verdict, measured=measured, tolerance=tol)


def test_scoring_on_hand_made_result():
    txt = "PR 250 ms. QRS 88 ms. Sinus rhythm."
    verdicts = [
        _verdict(
            "PR 250 ms", 0, "pr_interval_ms", "contradicted", measured=160.0, tol=20.0, value=250.0
        ),
        _verdict("QRS 88 ms", 11, "qrs_duration_ms", "supported", measured=90.0, tol=20.0),
        ClaimVerdict(
            Claim("Sinus rhythm", 22, 34, "categorical", "rhythm", "sinus_rhythm"), "not_checkable"
        ),
    ]
    res = VerificationResult("r", txt, verdicts)
    p = vt.Perturbation("numeric", txt, 3, 6, "160", "250", "pr_interval_ms", 160.0, 250.0, 1.5625)
    row = vb.score_perturbation(p, res)
    assert row["detected"] is True
    assert row["size_tol"] == pytest.approx((250 - 160) / 20)
    assert row["bucket"] == ">4×"
    q = vt.Perturbation("numeric", txt, 15, 17, "60", "88", "qrs_duration_ms", 60.0, 88.0, 1.47)
    row_q = vb.score_perturbation(q, res)
    assert row_q["detected"] is False and row_q["bucket"] == "<1×"
    assert row["uncalibrated"] is False
    miss = vb.score_perturbation(vt.Perturbation("invention", txt, 35, 35, "", "", "lvh"), res)
    assert miss["detected"] is False and miss["category"] == "(no claim)"
    s = vb.summarise_verdicts(verdicts)
    assert (s["claims"], s["checkable"], s["supported"], s["contradicted"]) == (3, 2, 1, 1)
    assert s["rate"] == 0.5
    cats = vb.by_category(verdicts)
    assert cats["interval"]["contradicted"] == 1 and cats["rhythm"]["checkable"] == 0
    assert cats["rhythm"]["rate"] is None and cats["all"]["claims"] == 3
    rec = vb._recall([row, row_q, miss, dict(miss, uncalibrated=True)])
    assert (rec["n"], rec["detected"], rec["n_uncalibrated"]) == (4, 1, 1)
    assert rec["recall"] == 0.25 and rec["recall_calibrated"] == pytest.approx(1 / 3)


def test_size_buckets():
    assert [vb.size_bucket(x) for x in (0.99, 1.0, 1.99, 2.0, 4.0, 4.01, None)] == [
        "<1×",
        "1–2×",
        "1–2×",
        "2–4×",
        "2–4×",
        ">4×",
        "no tolerance",
    ]


# --------------------------------------------------------------------------- real records


@pytest.mark.parametrize("rec_id", ["1", "45"])
def test_ludb_text_states_the_expert_reference(ludb_dir, rec_id):
    import pandas as pd
    import wfdb

    # reference computed independently of _verify_texts: measure_bench's own rule
    base = str(ludb_dir / "data" / rec_id)
    tables = []
    qrs_rr = []
    for ext in vt.LUDB_LEAD_FILES:
        ann = wfdb.rdann(base, ext)
        waves = sc.parse_waves(ann.sample, ann.symbol)
        tables.append(sc.lead_intervals_ms(sc.beat_table_from_waves(waves), 500.0))
        peaks = np.array([w.peak for w in waves if w.wave == "qrs"])
        qrs_rr.append(np.mean(np.diff(peaks)) * 2.0)
    expected = sc.median_of_leads(tables)
    hr = 60000.0 / float(np.median(qrs_rr))
    ref = vt.ludb_reference(ludb_dir, rec_id)
    for k, v in expected.items():
        assert ref[k] == pytest.approx(v, nan_ok=True)
    assert ref["heart_rate_bpm"] == pytest.approx(hr)
    table = pd.read_csv(ludb_dir / "ludb.csv", dtype=str).fillna("")
    row = dict(table[table["ID"].str.strip() == rec_id].iloc[0])
    for seed in range(5):
        et = vt.ludb_text(ref, row, random.Random(seed))
        assert et.stated["heart_rate_bpm"] == round(hr)
        assert str(round(hr)) in et.text
        for k in ("pr_interval_ms", "qrs_duration_ms", "qt_interval_ms", "p_duration_ms"):
            if math.isfinite(expected[k]):
                assert abs(et.stated[k] - expected[k]) <= 5.0  # "0.15 s" rounds to 10 ms
                ms = f"{round(expected[k])} ms"
                s = f"{round(expected[k] / 1000, 2):.2f} s"
                assert ms in et.text or s in et.text
        rhythm = row["Rhythms"].split("\n")[0].strip()
        assert et.findings[0] == rhythm


def test_qtdb_window_text_matches_window(qtdb_dir):
    wins = vt.qtdb_windows(qtdb_dir, "sel100")
    w = wins[0]
    assert w["stop"] - w["start"] == int(vt.sc.QTDB_WINDOW_S * w["fs"])
    ref = w["reference"]
    assert ref["rate_source"] == "atr"
    assert 60 < ref["heart_rate_bpm"] < 90 and 60 < ref["qrs_duration_ms"] < 120
    et = vt.qtdb_text(ref, random.Random(0))
    assert et.stated["qt_interval_ms"] == pytest.approx(ref["qt_interval_ms"], abs=5)
    assert str(round(ref["heart_rate_bpm"])) in et.text
