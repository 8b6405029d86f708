"""Issue 19, item 2: P waves of a sinus rhythm with interpolated ventricular premature beats.

The P window of every beat starts after the previous T wave, placed one short RR interval
back. That interval is taken from the dominant beats, whose windows are compared: the short
coupling interval of an interpolated premature beat used to cut every window to its last
80 ms, where the P wave of a normal PR interval is already over (LUDB 105).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_ecg import bump, synthetic_ecg

from ecgr1.io import read_record
from ecgr1.io.record import ECGRecord
from ecgr1.measure.engine import measure

TRUE_PR_MS = 160.0


def _with_interpolated_pvcs(with_p: bool, seed: int) -> ECGRecord:
    """Sinus rhythm at 60/min, small P waves in noise, and three wide ectopic complexes
    half-way between sinus beats (no pause after them: interpolated)."""
    rec, _ = synthetic_ecg(
        rr_s=1.0, pr_ms=TRUE_PR_MS, p_amp_mv=0.07, noise_mv=0.02, with_p=with_p, seed=seed
    )
    t = np.arange(rec.signal.shape[1]) / rec.fs
    x = rec.signal.astype(float)
    gains = np.linspace(-1.2, 1.5, x.shape[0])[:, None]
    for onset in (2.2, 5.2, 8.2):
        x = x + gains * (2.5 * bump(t, onset, 0.12) - 0.6 * bump(t, onset + 0.14, 0.16))
    return ECGRecord(x.astype(np.float32), rec.fs, rec.leads)


@pytest.mark.parametrize("seed", range(4))
def test_p_waves_are_found_around_interpolated_pvcs(seed):
    g = measure(_with_interpolated_pvcs(True, seed)).global_
    assert g.p_wave_present
    assert abs(g.pr_interval_ms - TRUE_PR_MS) <= 20.0


@pytest.mark.parametrize("seed", range(4))
def test_no_p_waves_are_made_up_around_interpolated_pvcs(seed):
    assert not measure(_with_interpolated_pvcs(False, seed)).global_.p_wave_present


def test_ludb_105_keeps_its_p_waves(ludb_dir: Path):
    # Sinus rhythm with interpolated ventricular premature beats; P marked on every sinus beat.
    assert measure(read_record(str(ludb_dir / "data" / "105.hea"))).global_.p_wave_present
