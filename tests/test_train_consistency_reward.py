"""The measurement-consistency reward: completions stating right and wrong values about a real
record file, scored against its measurements (measured once per ECG and cached)."""

from __future__ import annotations

import pytest

import ecgr1
from ecgr1.io.writers import write_wfdb
from ecgr1.train.rewards import (
    NO_CHECKABLE_CLAIMS_SCORE,
    REWARD_FUNCTIONS,
    ConsistencyReward,
    consistency_score,
)


@pytest.fixture(scope="module")
def ecg_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ecgs")
    write_wfdb(ecgr1.simulate("normal", seed=0).record, root / "sub", "normal0")
    write_wfdb(ecgr1.simulate("lbbb", seed=0).record, root / "sub", "lbbb0")
    return root


@pytest.fixture(scope="module")
def measured(ecg_root):
    m = ecgr1.measure(str(ecg_root / "sub" / "normal0.hea")).global_
    return round(m.heart_rate_bpm), round(m.pr_interval_ms), round(m.qrs_duration_ms)


def test_right_values_score_one_and_wrong_values_lower(ecg_root, measured):
    hr, pr, qrs = measured
    reward = ConsistencyReward(str(ecg_root))
    right = f"Sinus rhythm at {hr} bpm. PR interval {pr} ms, QRS duration {qrs} ms."
    half = f"Sinus rhythm at {hr} bpm. PR interval {pr} ms, QRS duration {qrs + 80} ms."
    wrong = f"Atrial fibrillation at {hr + 60} bpm. PR interval {pr + 150} ms."
    scores = reward([right, half, wrong], ecgr1_ecg=[["sub/normal0"]] * 3)
    assert scores[0] == 1.0
    assert 0.5 < scores[1] < 1.0  # one of four checkable claims contradicted
    assert scores[2] == 0.0


def test_the_same_text_scores_by_its_own_rows_ecg(ecg_root):
    reward = ConsistencyReward(str(ecg_root))
    text = "Complete left bundle branch block; QRS duration 150 ms."
    lbbb, normal = reward([text, text], ecgr1_ecg=[["sub/lbbb0"], ["sub/normal0"]])
    assert lbbb == 1.0 and normal == 0.0


def test_no_checkable_claim_and_no_ecg_score_neutrally(ecg_root):
    reward = ConsistencyReward(str(ecg_root))
    assert NO_CHECKABLE_CLAIMS_SCORE == 0.5
    got = reward(
        ["The patient is comfortable.", "QRS duration 300 ms.", "QRS duration 300 ms."],
        ecgr1_ecg=[["sub/normal0"], [], ["sub/missing"]],
    )
    assert got == [0.5, 0.5, 0.5]


def test_each_ecg_is_measured_once(ecg_root, monkeypatch):
    import ecgr1.verify.api as api

    calls = []
    real = api.interpretation_for

    def counting(data, **kw):
        if isinstance(data, str):  # a path: the record is read and measured
            calls.append(data)
        return real(data, **kw)

    monkeypatch.setattr(api, "interpretation_for", counting)
    reward = ConsistencyReward(str(ecg_root))
    for _ in range(3):
        reward(["QRS 90 ms"] * 4, ecgr1_ecg=[["sub/normal0"]] * 4)
    assert len(calls) == 1


def test_selectable_by_name_with_a_weight():
    from ecgr1.train.grpo import parse_reward_weights

    assert "consistency" in REWARD_FUNCTIONS
    assert parse_reward_weights("format=1,consistency=0.5") == {"format": 1.0, "consistency": 0.5}
    assert REWARD_FUNCTIONS["consistency"].__name__ == "consistency"


def test_score_against_an_interpretation_directly(measured):
    interp = ecgr1.interpret_record(ecgr1.simulate("normal", seed=0).record).interpretation
    assert consistency_score(f"QRS {measured[2]} ms", interp) == 1.0
    assert consistency_score("QRS 200 ms", interp) == 0.0
    assert consistency_score("QRS 200 ms", None) == NO_CHECKABLE_CLAIMS_SCORE


def test_repeating_a_true_claim_does_not_dilute_a_false_one(measured):
    interp = ecgr1.interpret_record(ecgr1.simulate("normal", seed=0).record).interpretation
    once = consistency_score(f"QRS 200 ms. QRS {measured[2]} ms.", interp)
    padded = consistency_score("QRS 200 ms. " + f"QRS {measured[2]} ms. " * 10, interp)
    assert once == padded == 0.5


@pytest.mark.parametrize(("size", "expected"), [(1, 3), (2, 2)])
def test_the_cache_keeps_the_most_recently_used_ecgs(ecg_root, monkeypatch, size, expected):
    import ecgr1.verify.api as api

    calls = []
    real = api.interpretation_for

    def counting(data, **kw):
        if isinstance(data, str):
            calls.append(data)
        return real(data, **kw)

    monkeypatch.setattr(api, "interpretation_for", counting)
    reward = ConsistencyReward(str(ecg_root), cache_size=size)
    for ecg in ("sub/normal0", "sub/lbbb0", "sub/normal0"):
        reward(["QRS 90 ms"], ecgr1_ecg=[[ecg]])
    assert len(calls) == expected
