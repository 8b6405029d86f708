"""The full-rate median beat and the per-lead measurements on it.

Delineation runs at the detection rate; amplitudes, durations, ST and axes are measured on the
median of the dominant beats at the record's own rate. The template's fiducials (detection-rate
window samples) are mapped to full-rate samples of that median beat; its global fiducials
(``global_percentile`` across leads) and each lead's own are handed to
:func:`~ecgr1.measure.features.lead_measurements`. The frontal axes come from the net areas of
the QRS, T and P waves in the limb leads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgr1.measure._numeric import mean_of, median_or_none
from ecgr1.measure.atrial import AtrialActivity
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.delineate import FIDUCIALS, Delineation, beat_windows
from ecgr1.measure.detection import Detection
from ecgr1.measure.features import frontal_axis, lead_measurements, wave_area
from ecgr1.measure.fiducials import BeatDelineation
from ecgr1.measure.p_aligned import align_p_waves, splice_p_aligned
from ecgr1.measure.result import GlobalMeasurements, MeasurementResult
from ecgr1.signal.stats import median_along, percentile_along

# Global fiducials of the median beat handed to the per-lead measurements.
TEMPLATE_GLOBAL_KEYS = ("qrs_on", "qrs_off", "p_on", "p_off", "t_on", "t_off")


@dataclass
class MedianBeat:
    """The full-rate median dominant beat (leads, samples) with its global fiducials (full-rate
    samples, None where absent), the P-wave limits of the dominant beats (or None) and the
    template delineation its fiducials come from (the P wave re-delineated when aligned)."""

    signal: np.ndarray
    glob: dict[str, float | None]
    p_limits: tuple[float, float] | None
    template: Delineation


def median_beat(
    det: Detection,
    dl: BeatDelineation,
    glob: dict[str, np.ndarray],
    dominant: np.ndarray,
    dom_idx: np.ndarray,
    p_present: bool,
    config: MeasureConfig,
    atr: AtrialActivity | None = None,
    pr_progression: str | None = None,
) -> MedianBeat:
    """The full-rate median beat and its fiducials; ``glob`` are the global fiducials of every
    beat, ``dom_idx`` the beats whose P waves limit the P waves of every lead. With a PR that
    changes from beat to beat (``pr_progression``, the PR of each beat from ``atr``) the P
    wave is read from windows aligned on the P waves (:mod:`~ecgr1.measure.p_aligned`)."""
    dl, alignment = align_p_waves(det, dl, atr, pr_progression, p_present, dominant, config)
    k, half_block = det.k, det.half_block

    def tmpl_full(v: float) -> float:
        return float(v * k + half_block)

    tg: dict[str, float | None] = {}
    for key in TEMPLATE_GLOBAL_KEYS:
        v = percentile_along(
            dl.template.lead[key][det.usable],
            config.global_percentile[key],
            axis=0,
            nan_policy="omit",
        )[0]
        if not np.isfinite(v) and key in dl.template.glob:
            v = dl.template.glob[key][0]
        tg[key] = tmpl_full(v) if np.isfinite(v) and (p_present or key[0] != "p") else None
    # Global P limits of the dominant beats (median over beats), in template samples.
    p_lim: tuple[float, float] | None = None
    if p_present:
        # With aligned P waves, each beat's P limits move with it (it is read that much earlier).
        beats, shift = dom_idx, 0.0
        if alignment is not None:
            beats, shift = alignment.beats, alignment.shift_ms * det.ms_detect
        lim_on = median_or_none(glob["p_on"][beats] + shift)
        lim_off = median_or_none(glob["p_off"][beats] + shift)
        if lim_on is not None and lim_off is not None and lim_off > lim_on:
            p_lim = (tmpl_full(lim_on), tmpl_full(lim_off))
    signal = full_rate_median_beat(det, dl, tg, dominant, config)
    if alignment is not None and det.k > 1:
        # (At k = 1 the full-rate median beat is the template, already P-aligned.)
        anchors = np.rint(det.full_index(det.anchors[alignment.beats])).astype(int)
        shift = alignment.shift_ms * det.ms_full
        cut = int(tmpl_full(alignment.splice_at))
        signal = splice_p_aligned(det.clean_full, anchors, det.pre * det.k, signal, shift, cut)
    return MedianBeat(signal=signal, glob=tg, p_limits=p_lim, template=dl.template)


def full_rate_median_beat(
    det: Detection,
    dl: BeatDelineation,
    tg: dict[str, float | None],
    dominant: np.ndarray,
    config: MeasureConfig,
) -> np.ndarray:
    """Median dominant beat at the full sampling rate, (leads, (pre + post) * k).

    The per-lead measurements read the median beat only between the earliest and the latest
    fiducial of the template (P onset ... T offset, plus the PR-segment baseline and J + 80 ms),
    so the median over beats, the costliest step here, is taken on that span only (with an
    ``engine.span_margin_ms`` margin); outside it the window holds the edge values of the span.
    """
    k, half_block = det.k, det.half_block
    if k == 1:
        return dl.median_beat[:, 0, :]
    pre_full, post_full = det.pre * k, det.post * k
    width = pre_full + post_full
    marks = [v for v in tg.values() if v is not None]
    for key in FIDUCIALS:
        v = dl.template.lead[key][det.usable, 0]
        v = v[np.isfinite(v)]
        if v.size:
            marks += [float(v.min() * k + half_block), float(v.max() * k + half_block)]
    margin = int(round(config.engine["span_margin_ms"] * det.ms_full))
    lo = max(0, int(min(marks)) - margin) if marks else 0
    hi = min(width, int(max(marks)) + margin + 1) if marks else width
    if hi - lo < 2:
        lo, hi = 0, width
    anchors_full = np.rint(det.full_index(det.anchors)).astype(int)
    wf = beat_windows(det.clean_full, anchors_full[dominant], pre_full - lo, hi - pre_full)
    span = median_along(wf, axis=1)
    return np.pad(span, ((0, 0), (lo, width - hi)), mode="edge")


def measure_leads(
    res: MeasurementResult,
    det: Detection,
    mb: MedianBeat,
    p_present: bool,
    config: MeasureConfig,
) -> dict[str, dict[str, float | None]]:
    """Per-lead measurements on the median beat (``res.leads``); returns the net
    areas of the QRS, P and T waves of every usable lead (``{"qrs": {lead: area}, ...}``)."""
    ms_full, tg = det.ms_full, mb.glob
    nets: dict[str, dict[str, float | None]] = {"qrs": {}, "p": {}, "t": {}}
    template_full = _template_fiducials_full(det, mb.template)
    tg = {**tg, "st_j": st_j_point(tg.get("qrs_off"), template_full["qrs_off"], det.usable, config)}
    for li, name in enumerate(res.lead_names):
        if not det.usable[li]:
            lm = lead_measurements(np.zeros(1), det.fs, {}, {}, False, config=config)
            lm.reasons = {"lead": "lead unusable: " + "; ".join(res.quality.leads[name].reasons)}
            res.leads[name] = lm
            continue
        y = mb.signal[li]
        fid = _lead_template_fiducials(template_full, li, mb, p_present)
        res.leads[name] = lead_measurements(y, det.fs, fid, tg, p_present, config=config)
        b_end = max(1, int(tg["qrs_on"] - 4 * ms_full))
        base = mean_of(y[max(0, b_end - int(20 * ms_full)) : b_end])
        nets["qrs"][name] = wave_area(y, tg["qrs_on"], tg["qrs_off"], base)
        nets["t"][name] = wave_area(y, tg["qrs_off"], tg["t_off"], base)
        nets["p"][name] = wave_area(y, tg.get("p_on"), tg.get("p_off"), base)
    return nets


def st_j_point(
    qrs_off: float | None,
    lead_qrs_off: list[float | None],
    usable: np.ndarray,
    config: MeasureConfig,
) -> float | None:
    """The J point ST deviation is read at: the global QRS offset ``qrs_off``, or the QRS end
    of the ``st.j_lead_rank``-th latest usable lead (``lead_qrs_off``, None where a lead has
    none) when that is later.

    The global offset is a robust latest offset over the leads (the 80th percentile of their
    offsets per beat), right for the QRS duration; for ST it can fall inside a lead whose QRS
    ends later, and that lead's terminal QRS (the R' of a right bundle branch delay in V1-V2,
    a slurred S) is then read as ST deviation: a false septal ST elevation. ST is read once
    the QRS has ended in every lead but the latest (one outlying lead is discounted).

    >>> from ecgr1.measure.config import DEFAULT_CONFIG
    >>> usable = np.ones(4, bool)
    >>> st_j_point(100.0, [96.0, 98.0, 110.0, 112.0], usable, DEFAULT_CONFIG)
    110.0
    >>> st_j_point(100.0, [96.0, 98.0, 99.0, 130.0], usable, DEFAULT_CONFIG)  # one outlier
    100.0
    """
    if qrs_off is None:
        return None
    ends = sorted(
        v for v, ok in zip(lead_qrs_off, usable.tolist(), strict=False) if ok and v is not None
    )
    rank = int(config.st["j_lead_rank"])
    if len(ends) < rank:
        return qrs_off
    return max(float(qrs_off), float(ends[-rank]))


def _template_fiducials_full(det: Detection, template: Delineation) -> dict[str, list]:
    """Every lead's template fiducials in full-rate samples (``v * k + half_block``, the
    same arithmetic per element as on each value alone), None where absent: per fiducial, a
    list over the leads."""
    out: dict[str, list] = {}
    for key in FIDUCIALS:
        v = template.lead[key][:, 0]
        full = (v * det.k + det.half_block).tolist()
        out[key] = [f if ok else None for f, ok in zip(full, np.isfinite(v).tolist())]
    return out


def _lead_template_fiducials(
    template_full: dict[str, list], li: int, mb: MedianBeat, p_present: bool
) -> dict[str, float | None]:
    """Lead ``li``'s fiducials in the full-rate median beat (from
    :func:`_template_fiducials_full`; None where absent); its P wave kept inside the P limits
    of the dominant beats."""
    tg, p_lim = mb.glob, mb.p_limits
    fid: dict[str, float | None] = {key: template_full[key][li] for key in FIDUCIALS}
    if not p_present:
        fid["p_on"] = fid["p_off"] = fid["p_peak"] = None
    elif p_lim is not None:
        # No lead's P wave starts before the global (earliest) P onset or ends after the
        # global (latest) P offset of the beats: a single-lead boundary beyond them is a
        # T-wave tail or PR-segment drift (e.g. a 300 ms "P wave"), not atrial activity.
        on_l = fid["p_on"] if fid["p_on"] is not None else tg["p_on"]
        off_l = fid["p_off"] if fid["p_off"] is not None else tg["p_off"]
        on_l, off_l = max(on_l, p_lim[0]), min(off_l, p_lim[1])
        if off_l - on_l < 0.5 * (p_lim[1] - p_lim[0]):
            on_l, off_l = p_lim
        fid["p_on"], fid["p_off"] = on_l, off_l
    return fid


def frontal_axes(
    g: GlobalMeasurements, nets: dict[str, dict[str, float | None]], p_present: bool
) -> None:
    """QRS, T and (with P waves) P axes in the frontal plane from the limb-lead net areas."""
    for wave, attr in (("qrs", "qrs_axis_deg"), ("t", "t_axis_deg"), ("p", "p_axis_deg")):
        if wave == "p" and not p_present:
            continue
        axis = frontal_axis(nets[wave])
        setattr(g, attr, axis)
        if axis is None:
            g.reasons[attr] = "fewer than two usable limb leads with a measurable wave"


def dissociated_p_fields(res: MeasurementResult) -> None:
    """The reasons of the P fields left empty when the P waves are dissociated from the QRS
    complexes: each lead's P (which would otherwise read "absent") and the P axis."""
    why = "P waves dissociated from the QRS complexes: not measured on the QRS-locked median beat"
    res.global_.reasons["p_axis_deg"] = why
    if res.global_.p_duration_ms is None:  # (its beat-locked reason says "no P waves")
        res.global_.reasons["p_duration_ms"] = why
    for lm in res.leads.values():
        lm.p_morphology = None
        lm.reasons["p_amplitude_mv"] = why
