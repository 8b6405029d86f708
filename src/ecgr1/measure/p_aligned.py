"""The P wave of the median beat when the PR interval changes from beat to beat.

The median beat is the median of windows locked to the R waves. With a constant PR every P
wave sits at the same place in those windows; with a PR that lengthens beat by beat (Mobitz I,
Wenckebach) or varies, the P waves are spread over the PR range and their median is a smeared,
low, short "P wave" (simulated 4:3 Wenckebach: P duration 44-52 ms in II instead of 100; under
muscle noise 40-220 ms, and "left atrial abnormality" on a 190 ms P).

Here the part of the median beat before the QRS onset is taken instead from windows shifted so
that every conducted beat's P wave sits where the P wave of the shortest-PR beat does: each beat
is read ``PR - shortest PR`` earlier. Its own QRS then falls at or after the median beat's QRS
onset, so nothing of a QRS enters that part. The QRS, ST and T stay locked to the R waves. The
P wave of that template is delineated again, and the per-lead P measurements, the P axis and
the record's P-wave statements read it. The PR of each beat comes from the whole-record atrial
analysis (:class:`~ecgr1.measure.atrial.AtrialActivity`, P onset to QRS onset).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ecgr1.measure.atrial import AtrialActivity
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.delineate import beat_windows, delineate
from ecgr1.measure.detection import Detection
from ecgr1.measure.fiducials import P_KEYS, BeatDelineation, median_delineation_copy
from ecgr1.signal.stats import median_along

#: PR behaviours (``GlobalMeasurements.pr_progression``) under which the P waves are aligned.
#: "dissociated" P waves are not measured on the median beat at all; "constant" need nothing.
ALIGNED_PROGRESSIONS = ("prolonging", "variable")

#: Fewest conducted dominant beats with a known PR for an aligned P wave.
MIN_ALIGNED_BEATS = 3


@dataclass
class PAlignment:
    """The dominant beats whose P waves are aligned (indices into the beats), how much earlier
    each is read (ms: its PR less the shortest) and the window sample (detection rate) where
    the R-locked median beat takes over: the earliest QRS onset of the template's leads."""

    beats: np.ndarray
    shift_ms: np.ndarray
    splice_at: float = float("nan")


def p_alignment(
    atr: AtrialActivity | None, pr_progression: str | None, dominant: np.ndarray
) -> PAlignment | None:
    """The alignment for a PR that changes from beat to beat; None when the PR is constant (or
    unknown), the P waves are dissociated, or fewer than :data:`MIN_ALIGNED_BEATS` dominant
    beats have a PR.

    >>> from ecgr1.measure.atrial import AtrialActivity
    >>> atr = AtrialActivity(pr_intervals_ms=[160.0, 240.0, 300.0, None, 160.0])
    >>> a = p_alignment(atr, "prolonging", np.ones(5, bool))
    >>> a.beats.tolist(), a.shift_ms.tolist()
    ([0, 1, 2, 4], [0.0, 80.0, 140.0, 0.0])
    >>> p_alignment(atr, "constant", np.ones(5, bool)) is None
    True
    """
    if atr is None or pr_progression not in ALIGNED_PROGRESSIONS:
        return None
    pr = np.array([np.nan if v is None else float(v) for v in atr.pr_intervals_ms], float)
    if pr.size != dominant.size:
        return None
    beats = np.flatnonzero(dominant & np.isfinite(pr))
    if beats.size < MIN_ALIGNED_BEATS:
        return None
    return PAlignment(beats=beats, shift_ms=pr[beats] - pr[beats].min())


def splice_p_aligned(
    signal: np.ndarray, anchors: np.ndarray, pre: int, r_locked: np.ndarray,
    shift: np.ndarray, splice_at: int,
) -> np.ndarray:  # fmt: skip
    """``r_locked`` (leads, window), the median beat of R-locked windows, with its samples
    before ``splice_at`` replaced by the median of windows read ``shift`` samples earlier
    (one per anchor of ``anchors``) from ``signal`` (leads, samples); windows start ``pre``
    samples before their anchor, as the median beat's do."""
    out = np.array(r_locked, dtype=float, copy=True)
    cut = int(np.clip(splice_at, 0, out.shape[-1]))
    if cut == 0:
        return out
    # Only the columns before the splice are read: windows of ``cut`` samples from each
    # shifted window start.
    starts = np.asarray(anchors, int) - np.rint(shift).astype(int)
    out[:, :cut] = median_along(beat_windows(signal, starts, pre, cut - pre), axis=1)
    return out


def align_p_waves(
    det: Detection, dl: BeatDelineation, atr: AtrialActivity | None,
    pr_progression: str | None, p_locked: bool, dominant: np.ndarray, config: MeasureConfig,
) -> tuple[BeatDelineation, PAlignment | None]:  # fmt: skip
    """``dl`` with its template's P wave read from P-aligned windows (:func:`p_aligned_template`)
    and the alignment, or ``dl`` unchanged and None where no alignment applies (P waves not
    locked to the QRS, a constant PR, too few beats, a template without a QRS onset)."""
    alignment = p_alignment(atr, pr_progression, dominant) if p_locked else None
    if alignment is None:
        return dl, None
    # The earliest QRS onset of the usable leads: a lead whose QRS starts before the spatial
    # onset keeps all of its QRS R-locked.
    onsets = [dl.template.glob["qrs_on"][0], *dl.template.lead["qrs_on"][det.usable, 0]]
    if not np.isfinite(onsets[0]):
        return dl, None
    alignment.splice_at = float(np.nanmin(onsets))
    return p_aligned_template(det, dl, alignment, config), alignment


def p_aligned_template(
    det: Detection, dl: BeatDelineation, alignment: PAlignment, config: MeasureConfig
) -> BeatDelineation:
    """``dl`` with its median beat's part before ``alignment.splice_at`` taken from P-aligned
    windows and the template's P fiducials delineated on it (every other fiducial unchanged)."""
    shift = alignment.shift_ms * det.ms_detect
    median = splice_p_aligned(
        det.clean, det.anchors[alignment.beats], det.pre, dl.median_beat[:, 0, :],
        shift, int(alignment.splice_at),
    )[:, None, :]  # fmt: skip
    again = delineate(
        median_delineation_copy(median, det),
        median,
        det.fs_detect,
        det.pre,
        np.array([dl.dom_rr]),
        np.array([dl.dom_rr]),
        det.usable.astype(float),
        config=config,
        terminal_beats=np.ones(1, bool),
        p_from_tp=np.ones(1, bool),
    )
    # Only the P fiducials are taken (the global ones hold the QRS alone). A P wave ends before
    # its lead's QRS starts, as kept.
    lead = dict(dl.template.lead)
    for key in P_KEYS:
        lead[key] = again.lead[key]
    qrs_on = dl.template.lead["qrs_on"]
    lead["p_off"] = np.where(np.isfinite(qrs_on), np.fmin(lead["p_off"], qrs_on), lead["p_off"])
    template = replace(dl.template, lead=lead, p_amp=again.p_amp, p_noise=again.p_noise)
    return replace(dl, template=template, median_beat=median.astype(dl.median_beat.dtype))
