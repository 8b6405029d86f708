"""Pre-processing filters: baseline wander and mains removal keep the ST level."""

from __future__ import annotations

import numpy as np
from synthetic_ecg import synthetic_ecg

from ecgr1.signal.filters import detect_powerline, preprocess, remove_baseline, smooth


def test_baseline_removal_keeps_st_plateau_level():
    rec, onsets = synthetic_ecg(st_mv=0.12, wander_mv=0.0)
    wandering, _ = synthetic_ecg(st_mv=0.12, wander_mv=0.4, seed=3)
    fs = rec.fs
    for signal in (rec.signal, wandering.signal):
        clean, _ = remove_baseline(signal, fs)
        v5 = clean[rec.leads.index("V5")]
        for on in onsets[2:-2]:
            j = on + 0.090
            pr_level = v5[int((on - 0.02) * fs) : int((on - 0.005) * fs)].mean()
            st = v5[int(round((j + 0.06) * fs))] - pr_level
            assert abs(st - 0.12) < 0.01


def test_slow_wander_is_removed():
    fs = 500.0
    t = np.arange(int(10 * fs)) / fs
    wander = 0.5 * np.sin(2 * np.pi * 0.1 * t)
    clean, base = remove_baseline(wander[None, :], fs)
    inner = slice(int(fs), -int(fs))
    assert np.abs(clean[0, inner]).max() < 0.05


def test_powerline_detected_and_removed():
    rec, _ = synthetic_ecg()
    fs = rec.fs
    t = np.arange(rec.n_samples) / fs
    hum = 0.2 * np.sin(2 * np.pi * 50.0 * t)
    noisy = rec.signal + hum[None, :]
    assert detect_powerline(rec.signal, fs) is None
    assert detect_powerline(noisy, fs) == 50.0
    out = preprocess(noisy, fs)
    assert out.powerline_hz == 50.0
    ref = preprocess(rec.signal, fs).clean
    residual = out.clean - ref
    inner = slice(int(fs), -int(fs))
    # The 0.2 mV hum is reduced more than tenfold and the ECG is otherwise left as it was.
    assert np.sqrt(np.mean(residual[:, inner] ** 2)) < 0.02


def test_smooth_is_zero_phase():
    x = np.zeros(101)
    x[50] = 1.0
    y = smooth(x, 5)
    assert int(np.argmax(y)) == 50
    assert np.allclose(y[:50], y[:50:-1])  # symmetric about the impulse
