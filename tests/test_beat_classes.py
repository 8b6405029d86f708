"""Beat classes from shape groups, prematurity, QRS width and pacing (constructed groups)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.measure.beat_classes import BeatGroups, classify_beats
from ecgr1.measure.config import DEFAULT_CONFIG


def _groups(n: int, odd: int) -> BeatGroups:
    """Ten beats at 1 s (250 samples at the detection rate), beat ``odd`` of another shape,
    0.6 s after its predecessor and followed by a pause."""
    rr = np.full(n - 1, 250.0)
    rr[odd - 1], rr[odd] = 150.0, 350.0
    prev_r = np.concatenate(([np.inf], rr))
    next_r = np.concatenate((rr, [np.inf]))
    same = np.ones(n, bool)
    same[odd] = False
    premature = ~same
    return BeatGroups(
        rr=rr, prev_r=prev_r, next_r=next_r, med_rr=250.0, local_rr=np.full(n, 250.0),
        same_shape=same, premature=premature, irregular=False, dominant=same & ~premature,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("dominant_paced", "expected"),
    [
        # Paced beats of 180 ms: their width is the pacing site's, not a conduction reference,
        # so a premature 140 ms beat of another shape without a P wave is ventricular (Ningbo
        # JS23463: PVCs of 130-150 ms among paced beats of 170-200 ms).
        (True, "premature_ventricular"),
        # Conducted beats of 180 ms (bundle branch block): a premature beat narrower than
        # them, followed by the pause of an ectopic beat, is supraventricular.
        (False, "premature_supraventricular"),
    ],
)
def test_premature_wide_beat_among_paced_beats(dominant_paced, expected):
    n, odd = 10, 5
    groups = _groups(n, odd)
    qrs_ms = np.full(n, 180.0)
    qrs_ms[odd] = 140.0
    paced = groups.dominant.copy() if dominant_paced else np.zeros(n, bool)
    classes = classify_beats(groups, qrs_ms, paced, np.zeros(n, bool), DEFAULT_CONFIG)
    assert classes[odd] == expected
    others = {c for i, c in enumerate(classes) if i != odd and groups.dominant[i]}
    assert others == {"paced" if dominant_paced else "dominant"}


def _opening_beat_groups(n: int, first_rr: float) -> BeatGroups:
    """Ten beats at 1 s (250 samples), the first of another shape and ``first_rr`` before the
    second: the record opens on it, so nothing tells whether it came early."""
    rr = np.full(n - 1, 250.0)
    rr[0] = first_rr
    prev_r = np.concatenate(([np.inf], rr))
    next_r = np.concatenate((rr, [np.inf]))
    same = np.ones(n, bool)
    same[0] = False
    premature = np.zeros(n, bool)
    return BeatGroups(
        rr=rr, prev_r=prev_r, next_r=next_r, med_rr=250.0, local_rr=np.full(n, 250.0),
        same_shape=same, premature=premature, irregular=False, dominant=same.copy(),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("first_rr", "expected"),
    [
        # A wide beat of another shape that opens the record and is followed by a pause (the
        # sinus cycle reset or skipped): a ventricular ectopic beat (CPSC A0031, A0052).
        (330.0, "premature_ventricular"),
        # Followed by an ordinary cycle: no evidence of ectopy (an aberrant or edge-distorted
        # first beat), so it stays unclassified.
        (250.0, "other"),
    ],
)
def test_wide_beat_opening_the_record_is_ventricular_only_with_a_pause(first_rr, expected):
    n = 10
    groups = _opening_beat_groups(n, first_rr)
    qrs_ms = np.full(n, 80.0)
    qrs_ms[0] = 140.0
    classes = classify_beats(groups, qrs_ms, np.zeros(n, bool), np.zeros(n, bool), DEFAULT_CONFIG)
    assert classes[0] == expected
    assert set(classes[1:]) == {"dominant"}


def test_equally_large_shape_groups_are_decided_by_coherence_not_time_order():
    """Five beats of one QRS shape that varies (paced beats with fusion) come first, then five
    of another that repeats exactly (conducted beats; LUDB 95): the dominant shape is the
    coherent group, not the one that happens to come first."""
    from ecgr1.measure.beats import qrs_morphology_groups

    fs, n_beats = 250.0, 10
    t = np.arange(-15, 23) / fs  # the -60..+90 ms the grouping reads
    peaks = (np.arange(n_beats) + 0.5) * fs
    x = np.zeros((2, int(n_beats * fs) + 50))
    rng = np.random.default_rng(0)
    for k, p in enumerate(peaks.astype(int)):
        if k < 5:  # wide, each a little different
            width = rng.uniform(0.024, 0.036)
            shape = np.exp(-0.5 * (t / width) ** 2) - 0.6 * np.exp(-0.5 * ((t - 0.05) / width) ** 2)
        else:  # narrow, identical
            shape = np.exp(-0.5 * (t / 0.01) ** 2)
        x[0, p - 15 : p + 23] += shape
        x[1, p - 15 : p + 23] -= 0.5 * shape
    corr, dominant = qrs_morphology_groups(x, fs, peaks.astype(int))
    # Premise: both groups are as large (each beat similar to the four others of its shape).
    assert dominant.tolist() == [False] * 5 + [True] * 5
    assert corr[5:].min() > 0.99
