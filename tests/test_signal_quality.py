"""Per-lead quality flags on constructed signals."""

from __future__ import annotations

import numpy as np
from synthetic_ecg import synthetic_ecg

from ecgr1.signal.filters import preprocess
from ecgr1.signal.quality import assess_quality


def _quality(signal: np.ndarray, fs: float, leads: list[str]):
    pp = preprocess(signal, fs)
    return assess_quality(signal, pp.clean, pp.baseline, fs, leads)


def test_clean_leads_are_good():
    rec, _ = synthetic_ecg(noise_mv=0.005)
    q = _quality(rec.signal, rec.fs, rec.leads)
    assert q.overall == "good"
    assert all(lq.usable and not lq.flags for lq in q.leads.values())


def test_flat_saturated_noisy_and_wandering_leads_are_flagged():
    rec, _ = synthetic_ecg(noise_mv=0.005)
    x = rec.signal.astype(np.float64).copy()
    idx = {name: i for i, name in enumerate(rec.leads)}
    x[idx["I"]] = 0.0  # electrode disconnected: flat line
    x[idx["II"]] = np.clip(x[idx["II"]], -0.8, 0.8)  # amplifier clipping the R-wave tops
    rng = np.random.default_rng(1)
    x[idx["V1"]] += rng.normal(0.0, 0.3, x.shape[1])  # muscle noise
    t = np.arange(x.shape[1]) / rec.fs
    x[idx["V6"]] += 1.5 * np.sin(2 * np.pi * 0.2 * t)  # breathing wander
    q = _quality(x, rec.fs, rec.leads)
    assert q.leads["I"].flags == ["flat"] and not q.leads["I"].usable
    assert "saturated" in q.leads["II"].flags
    assert "noise" in q.leads["V1"].flags and not q.leads["V1"].usable
    assert "baseline_wander" in q.leads["V6"].flags and q.leads["V6"].usable
    for name in ("I", "II", "V1", "V6"):
        assert q.leads[name].reasons, name
    assert q.overall == "acceptable"
    assert set(q.poor_leads) == {"I", "V1"}


def test_all_flat_record_is_unusable():
    x = np.zeros((3, 5000))
    q = _quality(x, 500.0, ["I", "II", "III"])
    assert q.overall == "unusable"


def test_flat_baseline_at_the_minimum_is_not_clipping():
    # Noise-free positive complexes on an exactly flat baseline: the minimum value is "pinned"
    # for most samples, but it is the baseline, not an amplifier rail.
    fs = 500.0
    t = np.arange(5000) / fs
    x = np.zeros((1, t.size))
    for r in np.arange(0.5, 10, 1.0):
        x[0] += np.exp(-(((t - r) / 0.012) ** 2))
    q = _quality(x, fs, ["II"])
    assert "saturated" not in q.leads["II"].flags and q.leads["II"].usable
