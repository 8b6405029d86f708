"""Pacing on the signal: spikes, paced beats, and dual-chamber pacing whose atrial stimulus a
low-pass filtered recorder has blurred into a narrow wave (not found as a spike)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_ecg import LEADS, bump

from ecgr1.io.record import ECGRecord
from ecgr1.measure.engine import atrial_events_before_paced_qrs, measure
from ecgr1.protocol import interpret

FS = 500.0


def _paced_ecg(av_delay_ms: float = 180.0, rate_bpm: float = 60.0, atrial: bool = True):
    """12-lead ECG of ventricular pacing (sharp spike, wide QRS, discordant T), optionally with
    a blurred atrial stimulus and paced P wave one AV delay before each ventricular spike."""
    n = int(10 * FS)
    t = np.arange(n) / FS
    x = np.zeros((len(LEADS), n))
    cycle = 60.0 / rate_bpm
    gains = np.linspace(-1.0, 1.0, len(LEADS))
    gains[np.abs(gains) < 0.3] = 0.6  # every lead sees the complexes
    v_spikes = np.arange(0.5 + av_delay_ms / 1000, 9.6, cycle)
    for vs in v_spikes:
        i = int(round(vs * FS))
        x[:, i] += 2.0  # one-sample ventricular stimulus: found as a spike
        qrs = 1.2 * bump(t, vs + 0.004, 0.08) - 0.8 * bump(t, vs + 0.084, 0.08)
        tw = -0.35 * bump(t, vs + 0.24, 0.2)
        x += gains[:, None] * (qrs + tw)[None, :]
        if atrial:
            a = vs - av_delay_ms / 1000
            # The atrial stimulus after a 40 Hz low-pass: a 12-ms biphasic wave, then the
            # paced P wave.
            stim = 0.6 * bump(t, a, 0.006) - 0.6 * bump(t, a + 0.006, 0.006)
            pw = 0.1 * bump(t, a + 0.03, 0.09)
            x += np.abs(gains)[:, None] * (stim + pw)[None, :]
    return ECGRecord(x.astype(np.float32), FS, list(LEADS), record_id="paced")


def test_av_delay_rule_marks_only_detections_followed_by_a_captured_stimulus() -> None:
    anchors = np.array([100, 145, 350, 395, 600])  # 250 Hz: atrial, paced QRS, ..., native
    spikes = np.array([140, 390])
    assert atrial_events_before_paced_qrs(anchors, spikes, 250.0).tolist() == [
        True,
        False,
        True,
        False,
        False,
    ]
    # A stimulus too soon after a detection (< 100 ms) or too late (> 300 ms) does not count.
    assert not atrial_events_before_paced_qrs(np.array([100, 125]), np.array([120]), 250.0).any()
    assert not atrial_events_before_paced_qrs(np.array([100, 210]), np.array([180]), 250.0).any()


@pytest.mark.parametrize("av_delay_ms", [150.0, 200.0, 250.0])
def test_dual_chamber_pacing_counts_one_beat_per_cycle(av_delay_ms: float) -> None:
    """Whether the QRS detector kept the atrial event (AV delay 200 ms: the two are closer
    than the refractory period and the sharper atrial wave wins), both (250 ms) or the QRS
    only (150 ms), the beats are the paced QRS complexes."""
    m = measure(_paced_ecg(av_delay_ms=av_delay_ms))
    g = m.global_
    assert g.pacing_spikes_detected
    assert g.heart_rate_bpm == pytest.approx(60.0, abs=3.0)  # not doubled by atrial events
    assert g.n_paced >= 0.8 * g.n_beats
    ids = {s.id for s in interpret(m).statements}
    assert "paced_rhythm" in ids
    # The "PR" of a paced cycle is the programmed AV delay: no AV block statement.
    assert not {"first_degree_av_block", "av_block_second_degree"} & ids


def test_single_chamber_ventricular_pacing_is_unchanged() -> None:
    m = measure(_paced_ecg(atrial=False))
    assert m.global_.pacing_spikes_detected
    assert m.global_.heart_rate_bpm == pytest.approx(60.0, abs=3.0)
    assert m.global_.n_paced >= 0.8 * m.global_.n_beats


def test_pacing_thresholds_come_from_the_config() -> None:
    from ecgr1.measure.config import DEFAULT_CONFIG

    rec = _paced_ecg(atrial=False)
    # Spikes larger than any in the record: none is found, nothing is bridged.
    deaf = DEFAULT_CONFIG.replace({"pacing.spike_abs_mv": 100.0})
    assert not measure(rec, config=deaf).global_.pacing_spikes_detected
