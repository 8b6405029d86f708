"""f waves vs missed P waves: activity at a fixed distance before each QRS is a P wave.

At 4-9 Hz a ~100 ms P wave looks like f waves to the spectrum of the QRST-cancelled residual
(frequent PACs and sinus arrhythmia with missed P waves were called AF). In the time domain
they differ: a P wave stands at a fixed PR before each QRS, f waves run on at a phase unrelated
to it (ESC 2020: "no distinct P waves"). Constructed signals with irregular RR test the measure.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from test_atrial_evidence import _f_waves

from ecgr1.measure import measure
from ecgr1.measure.atrial.fwaves import beat_locked_atrial_share
from ecgr1.measure.config import DEFAULT_CONFIG
from ecgr1.protocol import interpret
from ecgr1.simulate import patterns, simulate

FS = 250.0
N = int(10 * FS)
LEADS = ["II", "III", "aVF", "V1", "V2"]
LOCKED = DEFAULT_CONFIG.atrial["fwave_locked_max_share"]


def _pac_anchors(rng: np.random.Generator) -> np.ndarray:
    """R peaks of sinus rhythm (RR 0.8-1.0 s) with every third beat a PAC (coupling 60 %)."""
    r, t = [], 0.5
    while t < 9.6:
        r.append(t)
        rr = rng.uniform(0.8, 1.0)
        t += 0.6 * rr if len(r) % 3 == 0 else rr
    return (np.asarray(r) * FS).astype(int)


def _af_anchors(rng: np.random.Generator) -> np.ndarray:
    """Irregularly irregular R peaks (RR 0.4-0.9 s)."""
    r = 0.5 + np.cumsum(rng.uniform(0.4, 0.9, 30))
    return (r[r < 9.6] * FS).astype(int)


def _p_waves(anchors: np.ndarray, rng: np.random.Generator, mv: float) -> np.ndarray:
    """A 100 ms P wave ending 80-100 ms before each R (PR ~180 ms; a PAC's P' as large)."""
    out = np.zeros(N)
    w = int(0.1 * FS)
    for a in anchors:
        end = a - int(rng.uniform(0.08, 0.1) * FS)
        out[end - w : end] += mv * np.hanning(w)
    return out


def _t_waves(anchors: np.ndarray) -> np.ndarray:
    """The T wave 300 ms after each R: with a short RR it falls before the next QRS."""
    t = np.arange(N)
    out = np.zeros(N)
    for a in anchors:
        out += 0.3 * np.exp(-0.5 * ((t - (a + 0.3 * FS)) / (0.04 * FS)) ** 2)
    return out


def _leads(base: np.ndarray, rng: np.random.Generator, noise_mv: float = 0.01) -> np.ndarray:
    return np.vstack([base + noise_mv * rng.standard_normal(N) for _ in LEADS])


@pytest.mark.parametrize("seed", range(3))
def test_p_waves_before_each_qrs_are_locked(seed):
    """Frequent PACs (irregular RR) with a P wave before every QRS: beat-locked."""
    rng = np.random.default_rng(seed)
    r = _pac_anchors(rng)
    share = beat_locked_atrial_share(_leads(_p_waves(r, rng, 0.1), rng), FS, r, LEADS)
    assert share is not None and share >= LOCKED


@pytest.mark.parametrize("seed", range(3))
def test_f_waves_are_not_locked(seed):
    """f waves run on through the TQ interval at a random phase: not beat-locked, also with
    the previous T wave in the window at fast irregular rates, and on a baseline offset
    (slow wander, the same in every segment, is no atrial wave)."""
    rng = np.random.default_rng(seed)
    r = _af_anchors(rng)
    sig = _f_waves(rng, 0.07) + _t_waves(r) + 0.3
    share = beat_locked_atrial_share(_leads(sig, rng), FS, r, LEADS)
    assert share is not None and share < LOCKED


def test_too_few_beats_decide_nothing():
    """With few beats chance alone reaches the share: no answer."""
    rng = np.random.default_rng(0)
    r = _af_anchors(rng)[:5]
    assert beat_locked_atrial_share(_leads(_f_waves(rng, 0.07), rng), FS, r, LEADS) is None


def _with_p_waves(sim, rng: np.random.Generator):
    """The simulated record with a 100 ms P wave (0.08-0.15 mV) ending 60-100 ms before each
    QRS in II, III, aVF, V1 and V2: an irregular rhythm whose P waves vary a little in PR and
    size (the median beat does not cancel them), as with frequent PACs."""
    rec = sim.record
    x = np.array(rec.signal, float)
    w = int(0.1 * rec.fs)
    rows = [k for k, name in enumerate(rec.leads) if name in LEADS]
    for beat in sim.beats:
        end = int((beat["qrs_on_s"] - rng.uniform(0.06, 0.1)) * rec.fs)
        if w <= end <= x.shape[1]:
            x[rows, end - w : end] += rng.uniform(0.08, 0.15) * np.hanning(w)
    return dataclasses.replace(rec, signal=x)


@pytest.mark.parametrize("seed", range(4))
def test_simulated_irregular_rhythm_with_p_waves_is_not_af(seed, monkeypatch):
    """Irregular RR with a P wave before every QRS and no f waves: whether or not the P waves
    are detected, AF is not stated (their 4-9 Hz power on the residual is no f wave)."""
    monkeypatch.setitem(patterns.RHYTHM, "f_wave_mv", 0.0)
    sim = simulate("atrial_fibrillation", seed=seed)
    res = measure(_with_p_waves(sim, np.random.default_rng(seed)))
    assert res.global_.atrial_activity != "fibrillatory"
    assert "atrial_fibrillation" not in {s.id for s in interpret(res).statements}


def _residual_view(sig: np.ndarray, anchors: np.ndarray, leads: list[str]):
    """``sig`` as both the clean signal and the QRST-cancelled residual of ``leads`` (every
    beat of the dominant shape; a Detection with the fields the atrial checks read)."""
    from ecgr1.measure.flutter import AtrialResidual

    det = SimpleNamespace(
        clean=sig, usable=np.ones(sig.shape[0], bool), anchors=anchors, fs_detect=FS
    )
    return AtrialResidual(sig, det, list(leads), np.zeros(anchors.size, bool))


@pytest.mark.parametrize(
    ("atrial", "leads", "alone"),
    [
        ("f", LEADS, True),
        ("f", ["II", "V5", "I", "aVL", "V6"], False),  # one f-wave lead (II)
        ("p", LEADS, False),  # 4-9 Hz power from P waves at a fixed PR: missed P waves
    ],
)
def test_f_waves_alone_need_two_leads_and_no_beat_locked_waves(atrial, leads, alone):
    """Where the RR varies without being irregularly irregular, the f waves must carry AF on
    their own: in two f-wave leads, and not standing at a fixed distance before each QRS."""
    from ecgr1.measure.flutter import _f_waves_alone

    rng = np.random.default_rng(0)
    r = _pac_anchors(rng)
    wave = _f_waves(rng, 0.05) if atrial == "f" else _p_waves(r, rng, 0.15)
    sig = _leads(wave, rng, 0.005)
    assert _f_waves_alone(_residual_view(sig, r, leads), DEFAULT_CONFIG) is alone


@pytest.mark.parametrize(
    ("atrial", "n_beats", "shown"),
    [
        ("f", None, True),  # activity at a random phase before the QRS: fine f waves
        ("p", None, False),  # a P wave at a fixed PR: the median beat cancelled it
        ("f", 5, False),  # too few beats to tell the two apart
    ],
)
def test_flat_residual_needs_the_pre_qrs_activity_shown_not_beat_locked(atrial, n_beats, shown):
    """P waves at a fixed PR are part of the median beat, so QRST cancellation leaves a flat
    residual behind them as behind fine f waves; only the clean signal before each QRS tells
    the two apart, and only with enough beats."""
    from ecgr1.measure.flutter import _no_beat_locked_waves

    rng = np.random.default_rng(1)
    r = _af_anchors(rng)[:n_beats]
    wave = _f_waves(rng, 0.03) if atrial == "f" else _p_waves(r, rng, 0.05)
    sig = _leads(wave, rng, 0.005)
    assert _no_beat_locked_waves(_residual_view(sig, r, LEADS), DEFAULT_CONFIG) is shown


@pytest.mark.parametrize("t0", [0.0, 40.0, 100.0])
def test_holter_sinus_rhythm_with_pacs_and_small_p_waves_is_not_af(qtdb_dir, t0):
    """European ST-T e0114 (QTDB sele0114; leads III and V4, about 45/min): PACs every three or
    four beats make the 10-s RR irregularly irregular, the P waves (about 0.05 mV) escape the
    P-wave detection, and the template cancels them, leaving a flat residual. That flat
    residual was read as fine f waves (AF); the pre-QRS activity is beat-locked or the beats
    too few to tell, so the atrial activity stays undecided and AF is not stated."""
    from ecgr1.io import ECGRecord, read_record
    from ecgr1.pipeline import interpret_record

    rec = read_record(qtdb_dir / "sele0114.hea")
    i0 = int(t0 * rec.fs)
    window = ECGRecord(rec.signal[:, i0 : i0 + int(10 * rec.fs)], rec.fs, rec.leads)
    out = interpret_record(window)
    g = out.measurements.global_
    assert g.rr_irregularity == "irregularly_irregular"  # premise
    assert g.p_wave_fraction < 0.5  # premise: the P waves are missed
    assert g.atrial_activity is None
    assert "flat residual" in g.reasons["atrial_activity"]
    assert "atrial_fibrillation" not in {s.id for s in out.interpretation.statements}
