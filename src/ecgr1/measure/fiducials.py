"""Fiducials of every beat in every lead, and the global (across-lead) fiducials.

Every beat and, as an extra last "beat", the median dominant beat (the template) are delineated
in one call (:func:`ecgr1.measure.delineate.delineate`). A dominant beat keeps its own boundary
only within ``template_tolerance_ms`` of the template's (which averages out noise while still
following real beat-to-beat changes); per-lead boundaries are then pulled towards an across-lead
percentile of the same beat (``lead_shrink``, ``shrink_reference_pct``). The global fiducials
(CSE: earliest onset, latest offset) are robust across-lead percentiles
(``global_percentile``). Positions here are detection-rate samples inside the beat windows
unless a name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgr1.measure._numeric import median_or_none
from ecgr1.measure.beat_classes import BeatGroups
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.delineate import FIDUCIALS, Delineation, beat_windows, delineate
from ecgr1.measure.detection import Detection
from ecgr1.signal.filters import smooth
from ecgr1.signal.stats import fast_clip, median_1d, median_along, percentile_along

P_KEYS = ("p_on", "p_peak", "p_off")
# Global fiducials reported per beat, in seconds.
GLOBAL_KEYS_S = ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_on", "t_peak", "t_off")


@dataclass
class BeatDelineation:
    """The delineation of every beat (``beats``) and of the median dominant beat
    (``template``, one "beat"), with the beat windows they were read from."""

    beats: Delineation
    template: Delineation
    windows: np.ndarray  # (leads, beats, window) clean signal around each anchor
    median_beat: np.ndarray  # (leads, 1, window) median of the dominant beats' windows
    dom_rr: float  # RR interval given to the template's delineation


@dataclass
class Fiducials:
    """Per-lead fiducials of every beat (``lead[kind]``: (leads, beats), NaN where absent), the
    global QRS boundaries of every beat, and from the spatial velocity of the median dominant
    beat its QRS duration (``template_qrs_ms``) and its QRS onset less the median global onset
    of the dominant beats (``template_onset_shift_ms``), NaN where it has none."""

    lead: dict[str, np.ndarray]
    qrs_on: np.ndarray
    qrs_off: np.ndarray
    template_qrs_ms: float = float("nan")
    template_onset_shift_ms: float = float("nan")

    def keep_p_waves(self, beat_has_p: np.ndarray) -> None:
        """Clear the P fiducials of beats without a P wave."""
        for key in P_KEYS:
            self.lead[key][:, ~beat_has_p] = np.nan


def split_last(d: Delineation) -> tuple[Delineation, Delineation]:
    """Split a delineation into (all beats but the last, the last one)."""

    def cut(a: np.ndarray, last: bool) -> np.ndarray:
        return a[..., -1:] if last else a[..., :-1]

    out = []
    for last in (False, True):
        out.append(
            Delineation(
                lead={k: cut(v, last) for k, v in d.lead.items()},
                glob={k: cut(v, last) for k, v in d.glob.items()},
                p_amp=cut(d.p_amp, last),
                t_amp=cut(d.t_amp, last),
                p_noise=cut(d.p_noise, last),
            )
        )
    return out[0], out[1]


def median_delineation_copy(median_beat: np.ndarray, det: Detection) -> np.ndarray:
    """The QRS delineation copy of a median beat (leads, 1, window): smoothed like ``xq``
    (linear, so this equals the median of the smoothed beats up to the median's non-linearity,
    at a fraction of the cost)."""
    return smooth(median_beat, max(1, int(round(5 * det.ms_detect))), axis=2)


def delineate_beats(det: Detection, groups: BeatGroups, config: MeasureConfig) -> BeatDelineation:
    """Delineate every beat and the median dominant beat in one call."""
    anchors, pre, post = det.anchors, det.pre, det.post
    n = det.clean.shape[1]
    weights = det.usable.astype(float)
    xq_windows = beat_windows(det.xq, anchors, pre, post)
    windows = beat_windows(det.clean, anchors, pre, post)
    # Samples beyond the record are edge-repeated; limit searches with the distances.
    prev_lim = np.minimum(groups.prev_r, anchors + 1.0)
    next_lim = np.minimum(groups.next_r, (n - 1 - anchors).astype(float))
    median_beat = median_along(windows[:, groups.dominant, :], axis=1, keepdims=True)
    median_q = median_delineation_copy(median_beat, det)
    dom_rr = float(median_1d(groups.rr)) if groups.rr.size else groups.med_rr
    # One call delineates every beat and, as an extra last "beat", the median beat. A terminal
    # QRS component is looked for on the median beat, where atrial activity not locked to the
    # QRS averages out, and on the dominant beats it is made of, whose boundaries are held near
    # its own; any other beat (premature, paced, or of another shape) ends where its velocity
    # first falls quiet (``delineate``'s ``terminal_beats``): after it a hump is as likely an
    # f wave or its own early ST-T.
    # Likewise the median beat alone decides whether a P search that peaks on the first sample
    # of its range read the TP-PR offset instead of a P wave (``p_from_tp``); the dominant
    # beats' P boundaries are held within 20 ms of its own.
    xq_all = np.concatenate([xq_windows, median_q], axis=1)
    del xq_windows  # not read again: its memory serves the delineation's temporaries
    both = delineate(
        xq_all,
        np.concatenate([windows, median_beat], axis=1),
        det.fs_detect,
        pre,
        np.concatenate([prev_lim, [dom_rr]]),
        np.concatenate([next_lim, [dom_rr]]),
        weights,
        config=config,
        terminal_beats=np.append(groups.dominant, True),
        p_from_tp=np.append(np.zeros(anchors.size, bool), True),
    )
    beats, template = split_last(both)
    return BeatDelineation(beats, template, windows, median_beat, dom_rr)


def merge_fiducials(
    dl: BeatDelineation,
    det: Detection,
    dominant: np.ndarray,
    config: MeasureConfig,
    irregular: bool = False,
) -> Fiducials:
    """Per-lead fiducials of every beat, kept near the template's and shrunk across leads, and
    the global QRS boundaries (the spatial-velocity estimate where no lead has one).

    In an irregularly irregular rhythm (``irregular``) every beat keeps its own T end: the
    median beat averages T waves that follow RR intervals of every length (and fibrillatory
    waves), so its T end is blurred, typically late, and would pull the dominant beats with it
    (LUDB 109, atrial fibrillation: QT 150 ms long on the beats after long RR intervals).
    """
    usable = det.usable
    lead_fid: dict[str, np.ndarray] = {}
    own_fid: dict[str, np.ndarray] = {}  # before shrinkage: each lead's own boundary
    for key in FIDUCIALS:
        tol_ms = config.template_tolerance_ms[key]
        if irregular and key == "t_off":
            tol_ms = np.inf  # the beat's own T end (the template's only where it has none)
        own_fid[key] = _near_template(key, dl, dominant, usable, det.ms_detect * tol_ms)
        lead_fid[key] = _shrink_across_leads(key, own_fid[key], dl.template, usable, config)
    # Global QRS boundaries: the across-lead reference of the per-lead boundaries (robust
    # percentiles, see ``global_percentile``); the spatial-velocity estimate where no lead has one.
    pct = config.global_percentile
    g_on = percentile_along(own_fid["qrs_on"][usable], pct["qrs_on"], axis=0, nan_policy="omit")
    g_off = percentile_along(own_fid["qrs_off"][usable], pct["qrs_off"], axis=0, nan_policy="omit")
    g_on = np.where(np.isfinite(g_on), g_on, dl.beats.glob["qrs_on"])
    g_off = np.where(np.isfinite(g_off), g_off, dl.beats.glob["qrs_off"])
    # The median beat's spatial-velocity QRS, for the record QRS and PR (``record_qrs_ms``):
    # with few leads it is one or two leads' slope, no independent multi-lead estimate.
    tq = dl.template.glob
    dom_on = median_or_none(g_on[dominant] if dominant.any() else g_on)
    shift = tq["qrs_on"][0] - dom_on if dom_on is not None else np.nan
    if usable.sum() < config.engine["record_qrs_spatial_min_leads"]:
        tq, shift = {"qrs_on": [np.nan], "qrs_off": [np.nan]}, np.nan
    return Fiducials(
        lead=lead_fid,
        qrs_on=g_on,
        qrs_off=g_off,
        template_qrs_ms=float(tq["qrs_off"][0] - tq["qrs_on"][0]) / det.ms_detect,
        template_onset_shift_ms=float(shift) / det.ms_detect,
    )


def _near_template(
    key: str,
    dl: BeatDelineation,
    dominant: np.ndarray,
    usable: np.ndarray,
    tol: float,
) -> np.ndarray:
    """A dominant beat's boundary clipped to within ``tol`` samples of the template's (the
    template's where the beat has none); other beats keep their own. Unusable leads: NaN."""
    per_beat = dl.beats.lead[key].copy()
    tmpl = np.repeat(dl.template.lead[key], per_beat.shape[1], axis=1)
    merged = np.where(np.isnan(per_beat), tmpl, fast_clip(per_beat, tmpl - tol, tmpl + tol))
    merged = np.where(np.isnan(tmpl), per_beat, merged)
    merged[:, ~dominant] = per_beat[:, ~dominant]
    merged[~usable, :] = np.nan
    return merged


def _shrink_across_leads(
    key: str,
    own: np.ndarray,
    template: Delineation,
    usable: np.ndarray,
    config: MeasureConfig,
) -> np.ndarray:
    """Pull each lead's boundary towards an across-lead percentile of the same beat by the
    factor ``lead_shrink[key]`` (needs three usable leads)."""
    alpha = config.lead_shrink[key]
    if not (alpha < 1.0 and usable.sum() >= 3):
        return own
    ref_leads = usable
    if key.startswith("t_"):
        # T boundaries are sharpest where the T wave is large: take the reference from
        # the leads whose median-beat T amplitude is at least a fraction of the largest.
        tamp = np.where(usable, np.abs(template.t_amp[:, 0]), 0.0)
        big = tamp >= config.engine["t_reference_fraction"] * tamp.max()
        if big.sum() >= 2:
            ref_leads = big
    q = config.shrink_reference_pct.get(key, 50.0)
    med = percentile_along(own[ref_leads], q, axis=0, nan_policy="omit")[None, :]
    return np.where(np.isfinite(med), med + alpha * (own - med), own)


def global_fiducials(fid: Fiducials, pre: int, config: MeasureConfig) -> dict[str, np.ndarray]:
    """Global fiducials of every beat (window samples, NaN where absent): the QRS boundaries of
    :func:`merge_fiducials`, the others an across-lead percentile (``global_percentile``), the
    QRS peak at the anchor."""
    glob: dict[str, np.ndarray] = {"qrs_on": fid.qrs_on, "qrs_off": fid.qrs_off}
    for key, q in config.global_percentile.items():
        if key not in glob:
            glob[key] = percentile_along(fid.lead[key], q, axis=0, nan_policy="omit")
    glob["qrs_peak"] = np.full(fid.qrs_on.size, float(pre))
    return glob


def lead_fiducials_in_samples(
    lead_fid: dict[str, np.ndarray], det: Detection, leads: list[str]
) -> dict[str, dict[str, list[int | None]]]:
    """Per-lead fiducials as full-rate record samples: ``{lead: {kind: [per beat]}}``, None
    where absent."""
    # (One array for all leads and kinds: NaN becomes None through an object array.)
    stacked = np.stack([lead_fid[key] for key in FIDUCIALS]) + det.starts
    fid_all = np.rint(det.full_index(stacked))
    fid_obj = np.where(np.isnan(fid_all), 0, fid_all).astype(np.int64).astype(object)
    fid_obj[np.isnan(fid_all)] = None
    fid_lists = fid_obj.tolist()  # [kind][lead][beat]
    return {
        name: {key: fid_lists[j][li] for j, key in enumerate(FIDUCIALS)}
        for li, name in enumerate(leads)
    }


def global_fiducials_s(
    glob: dict[str, np.ndarray], det: Detection
) -> dict[str, list[float | None]]:
    """Global fiducials of every beat in seconds from the record start (rounded to 0.1 ms),
    None where absent."""
    out: dict[str, list[float | None]] = {}
    for key in GLOBAL_KEYS_S:
        v = glob[key]
        t_s = det.full_index(v + det.starts) / det.fs
        out[key] = [
            round(float(t), 4) if ok else None for t, ok in zip(t_s, np.isfinite(v), strict=True)
        ]
    return out
