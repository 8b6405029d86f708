"""Issue 19, item 1: the P wave's reference level lies before the QRS in every lead.

The P search referred the wave to the signal at the global QRS onset. Where a lead's QRS starts
earlier (a slurred initial deflection), that sample is already on the QRS upstroke: the whole PR
segment then looks like a deflection of the opposite sign, larger than a small P wave, and the
P was placed in the PR segment (LUDB 107, first-degree AV block: P onset 45 ms late in most
leads, record PR 171 ms against the cardiologists' 215 ms). The reference is now taken at the
lead's own QRS onset where that is earlier.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from synthetic_ecg import bump, synthetic_ecg
from test_precision_record_intervals import _reference_ms

from ecgr1.io import read_record
from ecgr1.io.record import ECGRecord
from ecgr1.measure.engine import measure

SLUR_MS = 30.0  # the QRS starts this long before the synthetic QRS onset, slowly
TRUE_PR_MS = 220.0 - SLUR_MS  # first-degree AV block


def _slurred_qrs_start(ta_mv: float, seed: int) -> ECGRecord:
    """First-degree AV block with small P waves; the QRS begins with a slow 0.06 mV deflection
    over its first 30 ms and the PR segment is depressed by ``ta_mv`` (atrial repolarisation),
    both opposite to the P wave in the leads where it is negative."""
    rec, onsets = synthetic_ecg(pr_ms=220.0, p_amp_mv=0.06, noise_mv=0.005, seed=seed)
    t = np.arange(rec.signal.shape[1]) / rec.fs
    polarity = np.array(
        [1.0 if name in ("I", "II", "III", "aVF", "V4", "V5", "V6") else -1.0 for name in rec.leads]
    )[:, None]
    extra = np.zeros_like(t)
    slur = SLUR_MS / 1000.0
    for on in onsets:
        extra += -ta_mv * np.clip((t - (on - 0.12)) / 0.03, 0, 1) * (t < on + 0.05)
        extra += 0.12 * bump(t, on - slur, 2 * slur) * (t < on)
    x = rec.signal.astype(float) + polarity * extra
    return ECGRecord(x.astype(np.float32), rec.fs, rec.leads)


@pytest.mark.parametrize("ta_mv", [0.0, 0.04])
@pytest.mark.parametrize("seed", range(3))
def test_pr_is_measured_from_the_p_wave_when_the_qrs_starts_slowly(ta_mv, seed):
    g = measure(_slurred_qrs_start(ta_mv, seed)).global_
    assert g.p_wave_present
    assert abs(g.pr_interval_ms - TRUE_PR_MS) <= 20.0


def test_ludb_107_first_degree_block_pr(ludb_dir: Path):
    # Cardiologists: PR about 215 ms (median over leads); the P was placed in the PR segment.
    base = str(ludb_dir / "data" / "107")
    rec = read_record(base + ".hea")
    ref = _reference_ms(base, rec.fs)["pr"]
    assert math.isfinite(ref)
    assert abs(measure(rec).global_.pr_interval_ms - ref) <= 15.0
