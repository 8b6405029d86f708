"""The P wave of the median beat when the PR changes from beat to beat (ecgr1.measure.p_aligned).

With a Wenckebach PR (160 -> 300 ms) the R-locked median beat smears the P waves; the engine reads
the P wave from windows aligned on the P waves instead. Ground truth is the simulator's clean
signal and its P-wave boundaries.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from ecgr1.measure import p_aligned
from ecgr1.measure.engine import measure
from ecgr1.pipeline import interpret_record
from ecgr1.simulate import simulate


def _true_p_ii(sim) -> tuple[float, float]:
    """(duration ms, lead II peak mV) of the simulated P waves, from the noiseless signal."""
    fs = sim.record.fs
    ii = list(sim.record.leads).index("II")
    waves = [w for w in sim.waves if w.kind == "p" and w.complete]
    dur = float(np.median([(w.offset_s - w.onset_s) * 1000.0 for w in waves]))
    amp = float(
        np.median(
            [sim.clean[ii, int(w.onset_s * fs) : int(w.offset_s * fs) + 1].max() for w in waves]
        )
    )
    return dur, amp


def test_doctests() -> None:
    assert doctest.testmod(p_aligned).failed == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wenckebach_p_wave_is_measured_whole(seed: int) -> None:
    sim = simulate("av_block_2_mobitz1", seconds=10, seed=seed)
    res = measure(sim.record)
    assert res.global_.pr_progression == "prolonging"  # the case this module is for
    dur, amp = _true_p_ii(sim)
    lead = res.leads["II"]
    # R-locked, the P waves spread over the PR range: 44-52 ms and a lower peak.
    assert lead.p_duration_ms == pytest.approx(dur, abs=12)
    assert lead.p_positive_amplitude_mv == pytest.approx(amp, abs=0.012)
    assert res.global_.p_axis_deg == pytest.approx(sim.params["axis_deg"], abs=10)
    # The PR of the shortest-PR beat stays the record PR (the P wave sits where that beat's does).
    assert res.global_.pr_interval_ms == pytest.approx(sim.params["pr_ms"], abs=12)


@pytest.mark.parametrize("increments", [(0.0, 40.0, 60.0), (0.0, 60.0, 90.0)])
def test_milder_wenckebach_p_wave_is_measured_whole(monkeypatch, increments) -> None:
    # PR 160 -> 200 -> 220 ms: the beats keep their own P waves, whose limits (R-locked) must
    # move with the alignment; PR 160 -> 220 -> 250 ms read a 128-132 ms P in II R-locked.
    from ecgr1.simulate import core

    monkeypatch.setitem(core.RHYTHM, "mobitz1_pr_increments_ms", increments)
    for seed in range(3):
        sim = simulate("av_block_2_mobitz1", seconds=10, seed=seed)
        res = measure(sim.record)
        assert res.global_.pr_progression == "prolonging"
        dur, amp = _true_p_ii(sim)
        assert res.leads["II"].p_duration_ms == pytest.approx(dur, abs=10), seed
        assert res.leads["II"].p_positive_amplitude_mv == pytest.approx(amp, abs=0.008), seed


def test_wenckebach_under_muscle_noise_gets_no_atrial_abnormality() -> None:
    # Smeared and noisy, lead II's P measured 40-220 ms and "left atrial abnormality" was stated
    # on 2 of these 10 seeds.
    for seed in range(10):
        sim = simulate("av_block_2_mobitz1", seconds=10, seed=seed, noise="muscle")
        out = interpret_record(sim.record)
        ids = {s.id for s in out.interpretation.statements}
        assert "av_block_mobitz_1" in ids, seed
        assert "left_atrial_abnormality" not in ids, seed
        assert out.measurements.leads["II"].p_duration_ms < 120, seed


def test_constant_pr_is_not_realigned() -> None:
    sim = simulate("av_block_2_mobitz2", seconds=10, seed=0)
    res = measure(sim.record)
    assert res.global_.pr_progression == "constant"
    # Mobitz II conducts at a fixed PR: the R-locked median beat is kept as it is.
    from ecgr1.measure.atrial import AtrialActivity

    atr = AtrialActivity(pr_intervals_ms=[160.0] * 5)
    assert p_aligned.p_alignment(atr, "constant", np.ones(5, bool)) is None
    assert p_aligned.p_alignment(atr, "dissociated", np.ones(5, bool)) is None
    assert p_aligned.p_alignment(atr, "prolonging", np.array([1, 1, 0, 0, 0], bool)) is None


def test_splice_aligns_the_pre_qrs_part_only() -> None:
    # Three beats at anchors 100, 300, 500 of one lead: a unit "P" 40, 60 and 80 samples before
    # the anchor and a "QRS" of 5 at the anchor.
    x = np.zeros((1, 700))
    anchors = np.array([100, 300, 500])
    for a, pr in zip(anchors, (40, 60, 80), strict=True):
        x[0, a - pr : a - pr + 10] = 1.0
        x[0, a : a + 5] = 5.0
    pre, width = 90, 150
    r_locked = np.median([x[0, a - pre : a - pre + width] for a in anchors], axis=0)[None, :]
    assert r_locked.max(initial=0, where=np.arange(width) < pre) == 0.0  # smeared away
    shift = np.array([0.0, 20.0, 40.0])  # PR less the shortest
    out = p_aligned.splice_p_aligned(x, anchors, pre, r_locked, shift, splice_at=pre)
    assert np.all(out[0, pre - 40 : pre - 30] == 1.0)  # whole, where the shortest-PR P is
    assert out[0, : pre - 40].max() == 0.0 and out[0, pre - 30 : pre].max() == 0.0
    np.testing.assert_array_equal(out[:, pre:], r_locked[:, pre:])  # QRS onward untouched
