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


def test_two_passes_give_the_reference_effective_rates():
    """``passes=2`` (the reference template runs IMD twice per sample): 75 % of two-modality rows
    lose one modality, 18 % of those that keep both end with the order swapped. With n = 20,000
    the standard errors are 0.3 % and 0.5 %; the bounds are about 4 standard errors."""
    rng = random.Random(2026)
    n, drops, swaps, kept = 20_000, 0, 0, 0
    dropped_kind = {"ecg": 0, "image": 0}
    for _ in range(n):
        out, decision = apply_imd(BOTH, rng=rng, modality_dropout=0.5, interleave=0.1, passes=2)
        present = present_modalities(out)
        assert present, "a row lost both modalities"
        assert _user(out).count("<ecg>") == len(out["objects"]["ecg"])
        assert _user(out).count("<image>") == len(out["images"])
        if decision.dropped:
            drops += 1
            dropped_kind[decision.dropped] += 1
            assert present == ["image" if decision.dropped == "ecg" else "ecg"]
        else:
            kept += 1
            swaps += decision.swapped
            expected = "<image><ecg>" if decision.swapped else "<ecg><image>"
            assert _user(out).startswith(expected)
    assert abs(drops / n - 0.75) < 0.013
    assert abs(swaps / kept - 0.18) < 0.02
    assert abs(dropped_kind["ecg"] / drops - 0.5) < 0.02
    # one pass keeps the nominal rate on the same stream length
    rng = random.Random(2026)
    one = sum(bool(apply_imd(BOTH, rng=rng)[1].dropped) for _ in range(n))
    assert abs(one / n - 0.5) < 0.013


def test_a_second_pass_swaps_back_and_never_drops_the_last_modality():
    always_swap = {"modality_dropout": 0.0, "interleave": 1.0}
    assert apply_imd(BOTH, rng=1, passes=1, **always_swap)[1].swapped
    out, decision = apply_imd(BOTH, rng=1, passes=2, **always_swap)
    assert not decision.swapped and _user(out).startswith("<ecg><image>")
    out, decision = apply_imd(BOTH, rng=1, passes=3, **always_swap)
    assert decision.swapped and _user(out).startswith("<image><ecg>")
    out, decision = apply_imd(BOTH, rng=1, passes=2, modality_dropout=1.0, interleave=0.0)
    assert decision.dropped and len(present_modalities(out)) == 1
