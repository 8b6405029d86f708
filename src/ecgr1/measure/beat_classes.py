"""Beat classes: prematurity, the dominant beats, and the names of ectopic beats.

A beat is premature when its preceding RR interval is shorter than ``beat.premature_ratio`` of
the local RR (the median of the eight intervals around it). The dominant beats are those of the
dominant QRS shape (:func:`~ecgr1.measure.beats.qrs_morphology_groups`) that are not premature;
they make the median beat. After delineation every beat gets a class: "paced", "dominant",
"premature_ventricular" (another, wide shape), "premature_supraventricular" (premature runs
followed by the pause of an ectopic beat) or "other". Thresholds are ``config.beat``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgr1.measure._numeric import median_or_none
from ecgr1.measure.beats import classify_rr_irregularity, qrs_morphology_groups
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.detection import Detection
from ecgr1.measure.pacing import paced_beats
from ecgr1.measure.result import GlobalMeasurements
from ecgr1.signal.stats import median_1d, percentile_along


@dataclass
class BeatGroups:
    """RR intervals and shape groups of the detected beats (all in detection-rate samples).

    ``prev_r``/``next_r`` are the intervals before/after each beat (``inf`` at the ends),
    ``local_rr`` the median of the (up to) eight intervals around each beat.
    """

    rr: np.ndarray
    prev_r: np.ndarray
    next_r: np.ndarray
    med_rr: float
    local_rr: np.ndarray
    same_shape: np.ndarray  # bool: the dominant QRS shape
    premature: np.ndarray  # bool
    irregular: bool  # the RR between same-shape beats is irregularly irregular
    dominant: np.ndarray  # bool: beats that make the median beat
    # The class of the RR between same-shape beats (``classify_rr_irregularity``).
    regularity: str | None = None


def rr_variability(rr: np.ndarray) -> tuple[float, float]:
    """(coefficient of variation, median |successive difference| / mean) of RR intervals."""
    if rr.size < 3:
        return 0.0, 0.0
    mean = float(rr.mean())
    if mean <= 0:
        return 0.0, 0.0
    return float(rr.std(ddof=1)) / mean, float(median_1d(np.abs(np.diff(rr)))) / mean


def group_beats(det: Detection, config: MeasureConfig) -> BeatGroups:
    """RR intervals, prematurity and the dominant beats of the detected beats."""
    beat = config.beat
    anchors = det.anchors
    rr = np.diff(anchors).astype(float)
    prev_r = np.concatenate(([np.inf], rr))
    next_r = np.concatenate((rr, [np.inf]))
    med_rr = float(median_1d(rr))
    _, same_shape = qrs_morphology_groups(det.xq[det.usable], det.fs_detect, anchors, config=config)
    # Local RR: median of the (up to) 8 intervals around each beat.
    padded = np.concatenate((np.full(4, np.nan), rr, np.full(4, np.nan)))
    around = np.lib.stride_tricks.sliding_window_view(padded, 8)[: anchors.size].T
    local_rr = percentile_along(around, 50.0, axis=0, nan_policy="omit")
    local_rr = np.where(np.isfinite(local_rr), local_rr, med_rr)
    premature = np.isfinite(prev_r) & (prev_r < beat["premature_ratio"] * local_rr)
    # The underlying rhythm is judged on intervals between beats of the dominant shape, so that
    # a few ectopic beats (and their pauses) do not make a sinus rhythm "irregular".
    pair_same = same_shape[1:] & same_shape[:-1]
    regularity = classify_rr_irregularity(rr[pair_same], config=config)
    irregular = regularity == "irregularly_irregular"
    dominant = same_shape & ~premature if not irregular else same_shape.copy()
    if dominant.sum() < 1:
        dominant = same_shape if same_shape.any() else np.ones(anchors.size, bool)
    return BeatGroups(
        rr=rr,
        prev_r=prev_r,
        next_r=next_r,
        med_rr=med_rr,
        local_rr=local_rr,
        same_shape=same_shape,
        premature=premature,
        irregular=irregular,
        regularity=regularity,
        dominant=dominant,
    )


def find_paced_beats(
    det: Detection, qrs_on: np.ndarray, config: MeasureConfig
) -> tuple[np.ndarray, bool]:
    """(paced mask, whether the record is paced) from the pacemaker spikes and each beat's
    global QRS onset ``qrs_on`` (window samples): :func:`~ecgr1.measure.pacing.paced_beats`."""
    qrs_on_detect = det.full_index(qrs_on + det.starts) / det.k
    return paced_beats(det.spikes / det.k, qrs_on_detect, det.ms_detect, config=config)


def classify_beats(
    groups: BeatGroups,
    qrs_ms: np.ndarray,
    paced: np.ndarray,
    beat_has_p: np.ndarray,
    config: MeasureConfig,
) -> list[str]:
    """The class of every beat from its shape group, prematurity, QRS width (``qrs_ms``),
    pacing and P wave."""
    beat = config.beat
    prev_r, next_r, premature = groups.prev_r, groups.next_r, groups.premature
    wide = qrs_ms >= beat["wide_qrs_ms"]
    # The reference is the dominant beats' own conduction. A paced QRS is as wide as its pacing
    # site makes it: when the dominant shape is the paced one (most of its beats follow a
    # spike), a wide beat of another shape is judged on its width alone (Ningbo JS23463: PVCs
    # of 130-150 ms among 180 ms paced beats).
    paced_shape = dominant_shape_is_paced(groups.dominant, paced)
    dom_qrs = None if paced_shape else median_or_none(qrs_ms[groups.dominant & ~paced])
    # Ventricular origin: a QRS of another shape that is wide, or clearly wider than the
    # dominant one (a narrow beat of another shape is supraventricular, e.g. aberrant or
    # fusion, not ventricular).
    wider = wide & (qrs_ms >= (dom_qrs or 0.0)) | (
        qrs_ms >= (dom_qrs or np.inf) + beat["ventricular_extra_qrs_ms"]
    )
    # The pause after an ectopic beat must be seen: the last beat of the record has none.
    ectopic = (
        premature
        & np.isfinite(next_r)
        & (next_r - prev_r >= beat["ectopic_pause_ratio"] * groups.local_rr)
    )
    # The first beat has no interval before it, so its prematurity is unknown; a pause after it
    # (longer than the local cycle by the ectopic pause) is then the evidence of an ectopic
    # beat that reset or skipped the sinus cycle (CPSC A0031, A0052: a PVC opens the record).
    opens_with_pause = ~np.isfinite(prev_r) & (
        next_r >= (1.0 + beat["ectopic_pause_ratio"]) * groups.local_rr
    )
    classes = []
    for b in range(qrs_ms.size):
        if paced[b]:
            cls = "paced"
        elif groups.dominant[b]:
            cls = "dominant"
        elif (
            not groups.same_shape[b]
            and wider[b]
            # A wide beat of another shape is ventricular when premature; when it is not, only
            # if no P wave leads it (a P at a conducting PR makes it a conducted beat with
            # intermittent aberration/bundle branch block, not a ventricular ectopic).
            and (
                premature[b]
                or opens_with_pause[b]
                or (np.isfinite(next_r[b]) and next_r[b] > prev_r[b] and not beat_has_p[b])
            )
        ):
            cls = "premature_ventricular"
        else:
            cls = "other"  # premature supraventricular runs are named below
        classes.append(cls)
    name_supraventricular_runs(classes, premature, ectopic, groups.irregular)
    return classes


def name_supraventricular_runs(
    classes: list[str], premature: np.ndarray, ectopic: np.ndarray, irregular: bool
) -> None:
    """Class premature supraventricular beats, single or in runs (couplets, salvos), in place.

    Prematurity is relative to the sinus (dominant) cycle, so a run must start right after a
    dominant beat (after a ventricular beat the short interval is that beat's, e.g. an
    interpolated PVC; after an unclassified beat the expected cycle is unknown). A run is the
    consecutive premature beats not otherwise classed, and it must end with the pause of an
    ectopic beat (the sinus node reset), which an isolated PAC shows after itself. Nothing is
    named in an irregularly irregular rhythm.

    >>> classes = ["dominant", "other", "other", "dominant"]
    >>> premature = np.array([False, True, True, False])
    >>> name_supraventricular_runs(classes, premature, np.array([0, 0, 1, 0], bool), False)
    >>> classes
    ['dominant', 'premature_supraventricular', 'premature_supraventricular', 'dominant']
    """
    if irregular:
        return
    b, nb = 1, len(classes)
    while b < nb:
        start = b
        while b < nb and classes[b] == "other" and premature[b]:
            b += 1
        if b > start and classes[start - 1] == "dominant" and ectopic[b - 1]:
            for i in range(start, b):
                classes[i] = "premature_supraventricular"
        b = max(b, start + 1)


def count_beat_classes(g: GlobalMeasurements, classes: list[str]) -> None:
    """Numbers of premature supraventricular, premature ventricular and paced beats."""
    g.n_premature_supraventricular = classes.count("premature_supraventricular")
    g.n_premature_ventricular = classes.count("premature_ventricular")
    g.n_paced = classes.count("paced")


def dominant_shape_is_paced(dominant: np.ndarray, paced: np.ndarray) -> bool:
    """Whether most beats of the dominant shape follow a pacing spike (the dominant QRS is the
    paced one)."""
    return 2 * int((paced & dominant).sum()) > int(dominant.sum())


def interval_beats(dominant: np.ndarray, paced: np.ndarray) -> np.ndarray:
    """Indices of the beats the record intervals and the median beat are taken over: the
    dominant shape's beats, conducted or paced as most of them are. A paced dominant shape
    takes every paced beat (fusion varies a paced QRS); a conducted one leaves the paced beats
    out, whose QRS is the pacing site's, not the conduction's (a mix of the two describes
    neither). Without such beats, the dominant and paced beats together.

    >>> dominant = np.array([1, 1, 1, 0, 0, 0], bool)
    >>> interval_beats(dominant, np.array([0, 0, 0, 1, 1, 1], bool)).tolist()
    [0, 1, 2]
    >>> interval_beats(dominant, np.array([1, 1, 0, 1, 0, 0], bool)).tolist()  # paced shape
    [0, 1, 2, 3]
    """
    chosen = dominant | paced if dominant_shape_is_paced(dominant, paced) else dominant & ~paced
    return np.flatnonzero(chosen if chosen.any() else dominant | paced)
