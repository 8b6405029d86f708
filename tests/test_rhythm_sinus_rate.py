"""The rate qualifier of a sinus rhythm is the sinus (P-P) rate (simulated signals).

Sinus bradycardia is a sinus rate below 60 /min; with non-conducted P waves (second-degree
AV block) the ventricular rate falls below the sinus rate, and a slow ventricular rate over a
sinus rate of 60 or more is the block's, not sinus bradycardia (CPSC-extra Q0077: 2:1 block,
sinus 82 /min, ventricles 41 /min, was called sinus bradycardia).
"""

from __future__ import annotations

import pytest
from protocol_builders import normal_result

from ecgr1.pipeline import interpret_record
from ecgr1.protocol import interpret
from ecgr1.simulate import simulate


def _run(pattern: str, seed: int):
    res = interpret_record(simulate(pattern, seconds=10, seed=seed).record)
    return {s.id for s in res.interpretation.statements}, res.measurements.global_


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mobitz_2_with_a_normal_sinus_rate_is_not_sinus_bradycardia(seed: int) -> None:
    ids, g = _run("av_block_2_mobitz2", seed)
    assert g.heart_rate_bpm < 60 <= g.atrial_rate_bpm  # the ventricular rate alone is slow
    assert "av_block_mobitz_2" in ids
    assert "sinus_bradycardia" not in ids
    assert ids <= {"av_block_mobitz_2", "sinus_rhythm"}


@pytest.mark.parametrize("seed", [0, 1])
def test_sinus_bradycardia_with_one_to_one_conduction_stays(seed: int) -> None:
    ids, g = _run("sinus_bradycardia", seed)
    assert g.atrial_rate_bpm < 60
    assert ids == {"sinus_bradycardia"}


@pytest.mark.parametrize(("atrial_bpm", "p_per_qrs", "sinus_brady"), [
    (96.0, 2.0, False),  # 2:1 block: the sinus rate is normal
    (96.0, 1.0, True),   # one P per QRS: an atrial rate that disagrees is not trusted over it
    (48.0, 1.0, True),
])  # fmt: skip
def test_sinus_bradycardia_is_withheld_only_with_non_conducted_p_waves(
    atrial_bpm: float, p_per_qrs: float, sinus_brady: bool
) -> None:
    m = normal_result()
    m.global_.heart_rate_bpm = 48.0
    m.global_.atrial_rate_bpm = atrial_bpm
    m.global_.p_waves_per_qrs = p_per_qrs
    ids = {s.id for s in interpret(m).statements}
    assert ("sinus_bradycardia" in ids) is sinus_brady


def _beats_from_rr(rr_ms):
    from ecgr1.measure.result import Beat

    beats, t = [Beat(index=0, r_peak_s=0.0, p_onset_s=-0.15)], 0.0
    for i, x in enumerate(rr_ms, start=1):
        t += x / 1000
        beats.append(Beat(index=i, r_peak_s=t, rr_prev_ms=x, p_onset_s=t - 0.15))
    return beats


def test_a_pause_is_not_sinus_arrhythmia():
    """One cycle of about twice the others (a sinus pause, a beat not found) is left out of
    the sinus-cycle range; a gradual variation of the same span is not."""
    from ecgr1.measure.config import MeasureConfig
    from ecgr1.measure.rhythm import sinus_cycle_range_ms

    steady = [800, 810, 1620, 805, 800, 815, 800]
    assert sinus_cycle_range_ms(_beats_from_rr(steady)) == pytest.approx(15)
    # The old rule (no interval a pause) read 820 ms, far over the 160 ms of sinus arrhythmia.
    never = MeasureConfig(beat={"pause_rr_ratio": 100.0})
    assert sinus_cycle_range_ms(_beats_from_rr(steady), config=never) == pytest.approx(820)
    phasic = [700, 800, 900, 1000, 1100, 1000, 900, 800]
    assert sinus_cycle_range_ms(_beats_from_rr(phasic)) == pytest.approx(400)
