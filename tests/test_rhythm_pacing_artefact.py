"""Pacing stimuli whose artefact rings for several samples (constructed signals).

Large bipolar stimulus artefacts recorded through a recorder's anti-alias filter ring for
~10 samples at 500 Hz (Ningbo JS23463: 6-10 mV, 8-10 samples each). Ten of them fill the 1 % of
samples the spike threshold is referred to, which then hid every stimulus; the record lost its
"paced rhythm" and gained the QRS, axis and ST-T statements that pacing withholds.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_ecg import LEADS, bump

from ecgr1.io.record import ECGRecord
from ecgr1.measure.engine import measure
from ecgr1.measure.pacing import detect_pacing_spikes
from ecgr1.protocol import interpret

FS = 500.0
N = int(10 * FS)
# A ringing stimulus artefact: alternating, decaying, 10 samples (mV, scaled per lead).
RINGING = np.array([-3.8, -8.9, 1.8, 10.9, 1.6, -3.2, 1.2, 1.2, -0.8, 0.2])


def _paced_with_ringing(seed: int, rate_bpm: float = 60.0, artefact: float = 1.0) -> ECGRecord:
    """Ventricular pacing (wide QRS, discordant T) at ``rate_bpm`` whose stimuli are
    ``artefact`` times :data:`RINGING`, in every lead."""
    rng = np.random.default_rng(seed)
    t = np.arange(N) / FS
    x = np.zeros((len(LEADS), N))
    gains = np.linspace(-1.0, 1.0, len(LEADS))
    gains[np.abs(gains) < 0.3] = 0.6
    for vs in np.arange(0.6, 9.6, 60.0 / rate_bpm):
        i = int(round(vs * FS))
        x[:, i : i + RINGING.size] += artefact * np.abs(gains)[:, None] * RINGING[None, :]
        qrs = 1.2 * bump(t, vs + 0.02, 0.08) - 0.8 * bump(t, vs + 0.1, 0.08)
        tw = -0.35 * bump(t, vs + 0.26, 0.2)
        x += gains[:, None] * (qrs + tw)[None, :]
    x += 0.01 * rng.standard_normal(x.shape)
    return ECGRecord(x.astype(np.float32), FS, list(LEADS), record_id=f"ringing_{seed}")


@pytest.mark.parametrize("rate_bpm", [60.0, 80.0])
def test_ringing_stimuli_are_found(rate_bpm: float) -> None:
    rec = _paced_with_ringing(0, rate_bpm)
    spikes = detect_pacing_spikes(np.asarray(rec.signal, float), FS)
    n_stimuli = np.arange(0.6, 9.6, 60.0 / rate_bpm).size
    assert spikes.size == n_stimuli


@pytest.mark.parametrize("seed", [0, 1])
def test_paced_record_with_ringing_stimuli_states_paced_rhythm_only(seed: int) -> None:
    m = measure(_paced_with_ringing(seed))
    assert m.global_.pacing_spikes_detected
    assert m.global_.n_paced >= 0.8 * m.global_.n_beats
    ids = {s.id for s in interpret(m).statements}
    # Paced activation withholds QRS, axis and ST-T criteria; no P waves, no f waves.
    assert ids == {"paced_rhythm"}


def test_sharp_qrs_without_stimuli_is_not_paced() -> None:
    """The spike-free reference changes nothing where no curvature reaches
    pacing.spike_certain_mv: an unpaced record stays unpaced."""
    rec = _paced_with_ringing(0, artefact=0.0)
    assert detect_pacing_spikes(np.asarray(rec.signal, float), FS).size == 0
    assert not measure(rec).global_.pacing_spikes_detected
