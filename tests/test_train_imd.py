"""Interleaved Modality Dropout: rates over 10,000 seeded draws, invariants, eval mode."""

from __future__ import annotations

import random

from ecgr1.train.imd import apply_imd, drop_modality, present_modalities, swap_first_tags

BOTH = {
    "id": "r1",
    "messages": [
        {"role": "system", "content": "You are a cardiologist."},
        {"role": "user", "content": "<ecg><image>\nInterpret the provided ECG."},
        {"role": "assistant", "content": "<think>x</think><answer>AF</answer>"},
    ],
    "images": ["img/r1.png"],
    "objects": {"ecg": ["sig/r1"]},
}


def _user(row):
    return row["messages"][1]["content"]


def test_rates_over_10000_seeded_draws_and_invariants():
    rng = random.Random(1234)
    n, drops, swaps, kept = 10_000, 0, 0, 0
    dropped_kind = {"ecg": 0, "image": 0}
    for _ in range(n):
        out, decision = apply_imd(BOTH, rng=rng, modality_dropout=0.5, interleave=0.1)
        present = present_modalities(out)
        assert present, "a row lost both modalities"
        # tags and data stay consistent
        assert _user(out).count("<ecg>") == len(out["objects"]["ecg"])
        assert _user(out).count("<image>") == len(out["images"])
        if decision.dropped:
            drops += 1
            dropped_kind[decision.dropped] += 1
            assert decision.dropped not in present
        else:
            kept += 1
            swaps += decision.swapped
            expected = "<image><ecg>" if decision.swapped else "<ecg><image>"
            assert _user(out).startswith(expected)
    assert abs(drops / n - 0.5) < 0.02
    assert abs(swaps / kept - 0.1) < 0.02
    assert abs(dropped_kind["ecg"] / drops - 0.5) < 0.03
    assert BOTH["images"] == ["img/r1.png"]  # input never mutated


def test_single_modality_rows_are_never_dropped():
    signal_only = drop_modality(BOTH, "image")
    image_only = drop_modality(BOTH, "ecg")
    rng = random.Random(7)
    for row, kind in ((signal_only, "ecg"), (image_only, "image")):
        for _ in range(2000):
            out, decision = apply_imd(row, rng=rng, modality_dropout=1.0, interleave=1.0)
            assert decision.dropped is None and not decision.swapped
            assert present_modalities(out) == [kind]


def test_eval_mode_never_drops_or_swaps():
    rng = random.Random(0)
    for _ in range(2000):
        out, decision = apply_imd(
            BOTH, rng=rng, modality_dropout=1.0, interleave=1.0, training=False
        )
        assert out == BOTH and decision.dropped is None and not decision.swapped


def test_same_seed_same_decision():
    a = [apply_imd(BOTH, rng=s)[1] for s in range(50)]
    b = [apply_imd(BOTH, rng=s)[1] for s in range(50)]
    assert a == b and len(set(a)) > 1


def test_swap_keeps_text_between_tags():
    row = {**BOTH, "messages": [{"role": "user", "content": "A <ecg> mid <image> end"}]}
    assert swap_first_tags(row)["messages"][0]["content"] == "A <image> mid <ecg> end"
