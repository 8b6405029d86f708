"""Issue 18 (first-degree AV block) and issue 19 (P-wave detection): a long PR interval is
measured whole at 80-100/min.

The P search starts at 62% of the previous RR (clear of the previous T wave). At 80/min and
faster the T wave ends well before that, and a first-degree block's P wave stands in between:
the search held only its tail. Simulated PR 300 ms at 80/min read 236 ms, PR 220 ms at 100/min
read 176 ms ("sinus rhythm", the block missed), PR 340 ms at 80/min "no P waves" and a
junctional rhythm. When the median beat's search range begins inside a wave larger than the P
wave it finds there, the P waves are now sought from just after the previous T wave.
"""

from __future__ import annotations

import pytest

import ecgr1.measure.delineate as delineate
from ecgr1.measure.engine import measure
from ecgr1.protocol import interpret
from ecgr1.simulate import simulate


def _read(pattern: str, pr_ms: float, hr: float, seed: int):
    res = measure(simulate(pattern, seconds=10, seed=seed, pr_ms=pr_ms, hr=hr).record)
    return res, {s.id for s in interpret(res).statements}


@pytest.mark.parametrize(("pr_ms", "hr"), [(300, 80), (260, 80), (220, 100), (260, 100)])
def test_first_degree_block_is_measured_whole(pr_ms, hr):
    for seed in (0, 1):
        res, ids = _read("av_block_1", pr_ms, hr, seed)
        g = res.global_
        assert g.p_wave_present is True
        assert abs(g.pr_interval_ms - pr_ms) <= 30, (seed, g.pr_interval_ms)
        assert "first_degree_av_block" in ids
        assert not ids & {"junctional_rhythm", "supraventricular_tachycardia"}


@pytest.mark.parametrize(("hr", "seed"), [(60, 0), (80, 1), (100, 2)])
def test_a_normal_pr_keeps_the_usual_search(hr, seed, monkeypatch):
    # P waves inside the usual range: the long-PR search is not asked for, and the PR stays.
    asked: list[bool] = []
    original = delineate._long_pr_search_start
    monkeypatch.setattr(
        delineate,
        "_long_pr_search_start",
        lambda *a, **k: asked.append(original(*a, **k) is not None) or None,
    )
    res, ids = _read("normal", 160, hr, seed)
    assert asked and not any(asked)
    assert abs(res.global_.pr_interval_ms - 160) <= 10
    assert "first_degree_av_block" not in ids


@pytest.mark.parametrize("seed", [0, 1])
def test_sinus_tachycardia_p_onset_is_not_cut(seed):
    # At 115/min the usual range starts inside the P wave of a 160 ms PR (it read 148-149 ms).
    res, ids = _read("normal", 160, 115, seed)
    assert abs(res.global_.pr_interval_ms - 160) <= 6
    assert "sinus_tachycardia" in ids


def test_rhythms_without_p_waves_stay_without():
    # Where the long-PR search does run (the first samples of the range on an f or F wave),
    # fibrillation and flutter still have no P waves.
    for pattern in ("atrial_fibrillation", "atrial_flutter"):
        for seed in range(3):
            g = measure(simulate(pattern, seconds=10, seed=seed, hr=90).record).global_
            assert g.p_wave_present is False, (pattern, seed)
