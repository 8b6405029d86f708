"""Rhythm and ectopy statements at their textbook criteria (issue 18, item 2).

* Sinus arrhythmia is a variation of the P-P interval of sinus beats above 160 ms: a PR that
  changes from beat to beat moves the R waves, not the sinus node; cycles touching a premature
  beat, and the pause after it, are not sinus cycles.
* Simulated PVCs, PACs and sinus arrhythmia keep their statements (and only theirs).
"""

from __future__ import annotations

import pytest
from protocol_builders import normal_result, simulated_statement_ids

from ecgr1.measure.result import Beat, MeasurementResult
from ecgr1.measure.rhythm import sinus_cycle_range_ms
from ecgr1.protocol import interpret

RHYTHM_AND_ECTOPY = {
    "sinus_rhythm",
    "sinus_arrhythmia",
    "sinus_bradycardia",
    "sinus_tachycardia",
    "atrial_fibrillation",
    "ectopic_atrial_rhythm",
    "premature_atrial_contractions",
    "premature_ventricular_contractions",
}


def _sinus_beats(pp_ms: list[float], pr_ms: list[float]) -> list[Beat]:
    """Sinus beats: P waves ``pp_ms`` apart, each conducted at its PR (``pr_ms``, one per beat)."""
    p_on, beats = 0.2, []
    for i, pr in enumerate(pr_ms):
        if i:
            p_on += pp_ms[i - 1] / 1000.0
        r = p_on + pr / 1000.0
        rr = None if i == 0 else 1000.0 * (r - beats[-1].r_peak_s)
        beats.append(
            Beat(
                index=i,
                r_peak_s=r,
                rr_prev_ms=rr,
                p_onset_s=p_on,
                p_present=True,
                pr_interval_ms=pr,
                qrs_duration_ms=90.0,
            )
        )
    return beats


def _rhythm_statements(beats: list[Beat]) -> set[str]:
    m: MeasurementResult = normal_result()
    m.beats = beats
    m.global_.n_beats = len(beats)
    m.global_.n_premature_supraventricular = sum(
        b.beat_class == "premature_supraventricular" for b in beats
    )
    m.global_.n_premature_ventricular = sum(b.beat_class == "premature_ventricular" for b in beats)
    return {s.id for s in interpret(m).statements} & RHYTHM_AND_ECTOPY


def test_changing_pr_with_a_steady_sinus_cycle_is_not_sinus_arrhythmia() -> None:
    """P-P 830 +- 40 ms, PR alternating 120/220 ms: R-R varies by 180 ms, the sinus node does
    not (P-P range 80 ms)."""
    pp = [830.0, 870.0, 790.0, 830.0, 870.0, 790.0, 830.0, 850.0, 810.0, 830.0, 830.0]
    pr = [120.0, 220.0] * 6
    beats = _sinus_beats(pp, pr)
    rr = [b.rr_prev_ms for b in beats[1:]]
    assert max(rr) - min(rr) > 160  # the R-R series alone would meet the criterion
    assert sinus_cycle_range_ms(beats) == pytest.approx(80.0)
    assert _rhythm_statements(beats) == {"sinus_rhythm"}


def test_phasic_p_p_variation_is_sinus_arrhythmia() -> None:
    """P-P from 700 to 950 ms and back at a constant PR: sinus arrhythmia, nothing else."""
    pp = [700.0, 760.0, 830.0, 900.0, 950.0, 900.0, 830.0, 760.0, 700.0, 760.0, 830.0]
    beats = _sinus_beats(pp, [160.0] * 12)
    assert sinus_cycle_range_ms(beats) == pytest.approx(250.0)
    assert _rhythm_statements(beats) == {"sinus_arrhythmia"}


def test_cycles_around_a_premature_atrial_beat_are_not_sinus_cycles() -> None:
    """A steady sinus cycle (830 +- 30 ms) with one PAC (coupling 500 ms, pause 1100 ms): the
    PAC is stated, the coupling interval and the pause are not sinus arrhythmia."""
    pp = [830.0, 860.0, 800.0, 830.0, 500.0, 1100.0, 830.0, 860.0, 800.0, 830.0, 830.0]
    beats = _sinus_beats(pp, [160.0] * 12)
    beats[5].beat_class = "premature_supraventricular"
    assert sinus_cycle_range_ms(beats) == pytest.approx(60.0)
    assert _rhythm_statements(beats) == {"sinus_rhythm", "premature_atrial_contractions"}


@pytest.mark.parametrize(
    ("pattern", "expected", "absent"),
    [
        ("pvc", "premature_ventricular_contractions", "premature_atrial_contractions"),
        ("pac", "premature_atrial_contractions", "premature_ventricular_contractions"),
        ("sinus_arrhythmia", "sinus_arrhythmia", "premature_atrial_contractions"),
    ],
)
def test_simulated_ectopy_and_sinus_arrhythmia(pattern: str, expected: str, absent: str) -> None:
    ids = simulated_statement_ids(pattern, seed=1)
    assert expected in ids and absent not in ids
    assert "premature_ventricular_contractions" not in ids or pattern == "pvc"
