"""Rate and intervals: heart rate and RR statistics, the beats with their intervals, and the
record PR, P duration, QRS, QT and QTc with the PR progression.

Record intervals are medians over the dominant (and paced) beats; the QT median takes every beat
whose QRS is not markedly wider than the dominant one (``beat.qt_max_extra_qrs_ms``).
"""

from __future__ import annotations

import math

import numpy as np

from ecgr1.measure._numeric import median_or_none, round_or_none
from ecgr1.measure.atrial.conduction import pr_progression
from ecgr1.measure.beat_classes import BeatGroups
from ecgr1.measure.beats import rr_statistics
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.detection import Detection
from ecgr1.measure.result import Beat, GlobalMeasurements


def rate_fields(g: GlobalMeasurements, det: Detection, config: MeasureConfig) -> None:
    """Number of beats, RR statistics and regularity, and the heart rate."""
    g.n_beats = int(det.anchors.size)
    for key, value in rr_statistics(det.anchors, det.fs_detect, config=config).items():
        setattr(g, key, value)
    rr = np.diff(det.anchors).astype(float)
    g.heart_rate_bpm = round_or_none(60.0 * det.fs_detect / float(np.mean(rr)))


def build_beats(
    det: Detection,
    groups: BeatGroups,
    classes: list[str],
    glob_s: dict[str, list[float | None]],
    qrs_ms: np.ndarray,
    beat_has_p: np.ndarray,
    config: MeasureConfig,
) -> list[Beat]:
    """One :class:`Beat` per detected beat: R peak, RR intervals, class, global fiducials in
    seconds (``glob_s``) and the beat's own PR, QRS (``qrs_ms``) and QT intervals."""
    ms = det.ms_detect
    prev_r, next_r = groups.prev_r, groups.next_r
    wide = qrs_ms >= config.beat["wide_qrs_ms"]
    beats = []
    for b, cls in enumerate(classes):
        beat = Beat(
            index=b,
            r_peak_s=round(float(det.full_index(det.anchors[b])) / det.fs, 4),
            rr_prev_ms=round_or_none(prev_r[b] / ms) if np.isfinite(prev_r[b]) else None,
            rr_next_ms=round_or_none(next_r[b] / ms) if np.isfinite(next_r[b]) else None,
            beat_class=cls,
            wide_qrs=bool(wide[b]),
            p_onset_s=glob_s["p_on"][b],
            p_peak_s=glob_s["p_peak"][b],
            p_offset_s=glob_s["p_off"][b],
            qrs_onset_s=glob_s["qrs_on"][b],
            qrs_offset_s=glob_s["qrs_off"][b],
            t_onset_s=glob_s["t_on"][b],
            t_peak_s=glob_s["t_peak"][b],
            t_offset_s=glob_s["t_off"][b],
            p_present=bool(beat_has_p[b]),
        )
        if beat.p_onset_s is not None and beat.qrs_onset_s is not None:
            beat.pr_interval_ms = round_or_none((beat.qrs_onset_s - beat.p_onset_s) * 1000)
        beat.qrs_duration_ms = round_or_none(float(qrs_ms[b]))
        if beat.t_offset_s is not None and beat.qrs_onset_s is not None:
            beat.qt_interval_ms = round_or_none((beat.t_offset_s - beat.qrs_onset_s) * 1000)
        beats.append(beat)
    return beats


def record_intervals(
    g: GlobalMeasurements,
    beats: list[Beat],
    qrs_ms: np.ndarray,
    dominant: np.ndarray,
    dom_idx: np.ndarray,
    p_ms: np.ndarray,
    p_present: bool,
    config: MeasureConfig,
    spatial: tuple[float, float] = (math.nan, math.nan),
) -> None:
    """Record QRS and QT, and with P waves PR (median and SD), P duration and PR progression.

    ``dom_idx`` are the beats the record intervals are taken over (dominant or paced),
    ``qrs_ms`` and ``p_ms`` the QRS and P durations of every beat, ``spatial`` the
    spatial-velocity QRS duration of the median dominant beat and its QRS onset less the
    dominant beats' (ms; see :func:`record_qrs_ms`, :func:`record_pr_ms`).
    """
    spatial_qrs_ms, onset_shift_ms = spatial
    pr = np.array([beats[b].pr_interval_ms or np.nan for b in dom_idx], float)
    g.qrs_duration_ms = round_or_none(
        record_qrs_ms(median_or_none(qrs_ms[dom_idx]), spatial_qrs_ms, config)
    )
    # QT: median over every beat whose QRS is not markedly wider than the dominant one (beats of
    # ventricular origin have their own, longer QT). Premature and "other" beats are kept: their
    # T waves are delineated individually, which makes the median robust to a median beat whose
    # T wave is blurred by an irregular rhythm.
    dom_qrs = median_or_none(qrs_ms[dominant]) or float(np.median(qrs_ms))
    qt_idx = np.flatnonzero(qrs_ms <= dom_qrs + config.beat["qt_max_extra_qrs_ms"])
    qt = np.array([beats[b].qt_interval_ms or np.nan for b in qt_idx], float)
    g.qt_interval_ms = round_or_none(median_or_none(qt))
    if not p_present:
        return
    g.pr_interval_ms = round_or_none(record_pr_ms(median_or_none(pr), onset_shift_ms, config))
    prv = pr[np.isfinite(pr)]
    g.pr_interval_sd_ms = round_or_none(float(np.std(prv))) if prv.size >= 2 else None
    g.p_duration_ms = round_or_none(median_or_none(p_ms[dom_idx]))
    if prv.size >= 3:
        # The one PR-progression rule (the whole-record atrial analysis uses it too); without
        # non-conducted P waves there is no Wenckebach group, so "constant" or "variable".
        g.pr_progression = pr_progression(list(prv), [], np.zeros(0), config.atrial_waves)


def record_qrs_ms(
    beats_qrs_ms: float | None, spatial_qrs_ms: float, config: MeasureConfig
) -> float | None:
    """Record QRS duration: the median over beats of the across-lead boundaries
    (``beats_qrs_ms``) averaged with the median beat's spatial-velocity QRS moved to the same
    definition (``engine.record_qrs_spatial_fraction`` and ``..._offset_ms``).

    Both estimate the median over leads of the per-lead QRS duration (the reference of the
    CSE measurement study, IEC 60601-2-51); their errors come from different places (a few
    leads' boundaries against one multi-lead slope), so their mean scatters less than either.
    Either alone where the other is missing.

    >>> from ecgr1.measure.config import DEFAULT_CONFIG
    >>> record_qrs_ms(100.0, 80.0, DEFAULT_CONFIG)
    92.0
    >>> record_qrs_ms(None, 80.0, DEFAULT_CONFIG)
    84.0
    """
    engine = config.engine
    spatial = spatial_qrs_ms + engine["record_qrs_spatial_offset_ms"]
    if beats_qrs_ms is None:
        return spatial if math.isfinite(spatial) else None
    if not math.isfinite(spatial):
        return beats_qrs_ms
    w = engine["record_qrs_spatial_fraction"]
    return (1.0 - w) * beats_qrs_ms + w * spatial


def record_pr_ms(
    beats_pr_ms: float | None, onset_shift_ms: float, config: MeasureConfig
) -> float | None:
    """Record PR interval: the median over beats, its QRS onset moved towards the median beat's
    spatial-velocity onset (``onset_shift_ms`` after the beats' median global onset) by the
    fraction of :func:`record_qrs_ms`, the spatial onset first brought to the same definition
    (``engine.record_qrs_spatial_onset_ms`` earlier).

    >>> from ecgr1.measure.config import DEFAULT_CONFIG
    >>> record_pr_ms(160.0, 13.0, DEFAULT_CONFIG)
    165.0
    """
    if beats_pr_ms is None or not math.isfinite(onset_shift_ms):
        return beats_pr_ms
    engine = config.engine
    shift = onset_shift_ms - engine["record_qrs_spatial_onset_ms"]
    return beats_pr_ms + engine["record_qrs_spatial_fraction"] * shift


def qt_correction(g: GlobalMeasurements) -> None:
    """QTc by Bazett, Fridericia, Framingham and Hodges from the QT and the mean RR."""
    if g.qt_interval_ms is not None and g.rr_mean_ms:
        rr_s = g.rr_mean_ms / 1000.0
        hr = 60.0 / rr_s
        qt_ms = g.qt_interval_ms
        g.qtc_bazett_ms = round_or_none(qt_ms / math.sqrt(rr_s))
        g.qtc_fridericia_ms = round_or_none(qt_ms / rr_s ** (1.0 / 3.0))
        g.qtc_framingham_ms = round_or_none(qt_ms + 154.0 * (1.0 - rr_s))
        g.qtc_hodges_ms = round_or_none(qt_ms + 1.75 * (hr - 60.0))
    else:
        for key in ("qt_interval_ms", "qtc_bazett_ms", "qtc_fridericia_ms"):
            g.reasons[key] = "T-wave end not found"
