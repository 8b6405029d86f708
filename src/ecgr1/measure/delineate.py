"""Wave delineation, vectorised over leads and beats.

Every routine works on beat windows ``X`` of shape (n_leads, n_beats, W) cut around the beat
anchors (R peak at index ``c``); outputs are sample offsets inside the window (float, NaN when
the wave is absent or cannot be placed). Per-lead steps work on the windows flattened to rows
(row ``lead * n_beats + beat``).

Method (all leads at once, no per-beat Python loops):

* QRS: the spatial velocity (sum over usable leads of the absolute slope of the ~40 Hz
  delineation copy) gives the global onset/offset: from the steepest point before (after) the
  anchor, walk outwards until the velocity falls under a fraction of its QRS maximum above the
  isoelectric level (:func:`_global_qrs`). Per lead the same rule is applied to the lead's own
  slope and the result is kept within a tolerance of the global boundary (a lead whose QRS ends
  in an isoelectric segment must not report a boundary far away from the others;
  :func:`_lead_qrs`).
* T wave: peak = largest deflection (relative to the level at J) after J + 60 ms; offset
  and onset by the trapezium-area method (Zhang et al., IEEE TBME 2006): from the steepest
  point ``tm`` on the flank, the boundary maximises the area of the trapezium spanned by
  ``tm``, the candidate and a far reference point; it does not need a threshold and is robust to
  noise and to flat endings (:func:`_t_wave`).
* P wave: searched between the previous beat's repolarisation and QRS onset, on a smoother
  copy held constant outside that window, relative to the level just before QRS onset (the
  lead's own onset where it is earlier than the global one; ``p_detrend`` can also remove part
  of the line joining the window ends); boundaries by the same trapezium rule (:func:`_p_wave`).

Parameters come from a :class:`~ecgr1.measure.config.MeasureConfig`: its ``delineation``
section (fractions, smoothing, trapezium reference distances) and its ``windows`` section
(physiologic search windows, ms).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.ndimage import maximum_filter1d

from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.signal.filters import smooth
from ecgr1.signal.stats import fast_clip, middle_value

FIDUCIALS = (
    "p_on",
    "p_peak",
    "p_off",
    "qrs_on",
    "qrs_peak",
    "qrs_off",
    "t_on",
    "t_peak",
    "t_off",
)


@dataclass
class Delineation:
    """Per-lead (L, B) and global (B,) fiducial offsets inside the beat windows."""

    lead: dict[str, np.ndarray]
    glob: dict[str, np.ndarray]
    p_amp: np.ndarray  # (L, B) signed P deflection, mV
    t_amp: np.ndarray  # (L, B) signed T deflection, mV
    p_noise: np.ndarray  # (L, B) noise estimate in the P window, mV


class _LeadQRS(NamedTuple):
    """Per-row QRS fiducials (int sample offsets in the window)."""

    on: np.ndarray
    peak: np.ndarray
    off: np.ndarray


class _Wave(NamedTuple):
    """Per-row P or T wave: fiducials (sample offsets in the window) and amplitude."""

    on: np.ndarray
    peak: np.ndarray
    off: np.ndarray
    amp: np.ndarray  # signed deflection, mV
    missing: np.ndarray  # True where the wave could not be searched for
    noise: np.ndarray | None = None  # P only: noise in the search window, mV


class _TSearch(NamedTuple):
    """The T-wave search signals of :func:`_t_search_signal`, columns from the anchor on."""

    level: np.ndarray  # smoothed signal relative to its level at J, mV
    weighted: np.ndarray  # ``level`` detrended and prior-weighted: where the peak is searched
    slope: np.ndarray  # first difference of the smoothed signal
    j: np.ndarray  # J point (global QRS offset)
    start: np.ndarray  # peak search range [start, stop)
    stop: np.ndarray


def beat_windows(x: np.ndarray, anchors: np.ndarray, pre: int, post: int) -> np.ndarray:
    """Cut windows (L, B, pre+post) around ``anchors``; samples beyond the record repeat the edge."""
    n = x.shape[1]
    idx = fast_clip(anchors[:, None] + np.arange(-pre, post)[None, :], 0, n - 1)
    return x[:, idx]


def _column_span(start: np.ndarray, stop: np.ndarray, w: int) -> tuple[int, int]:
    """Smallest column range [lo, hi) of a width-``w`` window holding every row's
    [start, stop): the searches below only look at those columns (same result, less work)."""
    if start.size == 0:
        return 0, 0
    lo = max(math.floor(start.min()), 0)
    hi = min(math.ceil(stop.max()), w)
    return lo, max(hi, lo)


def _in_columns(lo: int, hi: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``(ar >= start[:, None]) & (ar < stop[:, None])`` for ``ar = np.arange(lo, hi)``.

    On a large mask the comparison runs in small integers: for an integer ``j``, ``j >= s`` is
    ``j >= ceil(s)`` and ``j < e`` is ``j < ceil(e)``; the bounds clipped to [0, hi - lo]
    (relative to ``lo``) keep every answer inside the span, and then fit in int16 for a span
    narrower than 32767 columns (a float or int64 comparison broadcast over the rows costs
    three to four times as much; below a few thousand cells the conversions cost more)."""
    width = hi - lo
    start, stop = np.asarray(start), np.asarray(stop)
    if (
        start.size * width < _SMALL_MASK
        or width >= np.iinfo(np.int16).max
        or not _finite(start)
        or not _finite(stop)
    ):
        ar = np.arange(lo, hi)
        return (ar >= start[:, None]) & (ar < stop[:, None])
    cols = np.arange(width, dtype=np.int16)
    inside = np.greater_equal(cols, _relative_bound(start, lo, width)[:, None])
    inside &= cols < _relative_bound(stop, lo, width)[:, None]
    return inside


_SMALL_MASK = 4096  # cells: below this a plain comparison is faster than the int16 one


def _finite(v: np.ndarray) -> bool:
    """No NaN or infinity in ``v`` (integers never hold one): a NaN bound compares False
    everywhere, which the int16 form could not keep."""
    return v.dtype.kind != "f" or bool(np.isfinite(v).all())


def _relative_bound(v: np.ndarray, lo: int, width: int) -> np.ndarray:
    """``ceil(v) - lo`` clipped to [0, width], as int16 (``width`` < 32767)."""
    v = np.ceil(v) if v.dtype.kind == "f" else v
    return fast_clip(v - lo, 0, width).astype(np.int16)


def _masked_arg(y: np.ndarray, start: np.ndarray, stop: np.ndarray, mode: str) -> np.ndarray:
    """Row-wise argmax/argmin of ``y`` (N, W) over [start, stop); -1 where the range is empty."""
    lo, hi = _column_span(start, stop, y.shape[-1])
    if hi == lo:
        return np.full(y.shape[0], -1)
    if start.max() <= lo and stop.min() >= hi:
        # Every row's range holds the whole span (a common anchor): no mask to apply.
        z = y[:, lo:hi]
        return (z.argmax(axis=1) if mode == "max" else z.argmin(axis=1)) + lo
    inside = _in_columns(lo, hi, start, stop)
    # The span's values with the fill outside each row's range: np.where's values, from a
    # copy filled in place (no float temporary besides the copy).
    z = y[:, lo:hi].copy()
    np.copyto(z, -np.inf if mode == "max" else np.inf, where=~inside)
    out = np.argmax(z, axis=1) if mode == "max" else np.argmin(z, axis=1)
    return np.where(inside.any(axis=1), out + lo, -1)


def _masked_extremes(
    y: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(_masked_arg(y, start, stop, "max"), _masked_arg(y, start, stop, "min"))`` from one
    range mask. The minimum is found as the first maximum of ``-y`` filled with ``-inf``: the
    negation of the "min" search's ``+inf``-filled array, so the same index on ties, at a NaN
    and where a range holds only infinities."""
    lo, hi = _column_span(start, stop, y.shape[-1])
    if hi == lo:
        return np.full(y.shape[0], -1), np.full(y.shape[0], -1)
    if start.max() <= lo and stop.min() >= hi:
        z = y[:, lo:hi]
        return z.argmax(axis=1) + lo, z.argmin(axis=1) + lo
    inside = _in_columns(lo, hi, start, stop)
    empty = ~inside.any(axis=1)
    outside = np.logical_not(inside, out=inside)  # in place: the mask is not read again
    z = y[:, lo:hi].copy()
    np.copyto(z, -np.inf, where=outside)
    pos = z.argmax(axis=1)
    np.negative(y[:, lo:hi], out=z)
    np.copyto(z, -np.inf, where=outside)
    neg = z.argmax(axis=1)
    return np.where(empty, -1, pos + lo), np.where(empty, -1, neg + lo)


def _last_true(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Last index in [start, stop) where mask is True, row-wise; -1 if none."""
    lo, hi = _column_span(start, stop, mask.shape[-1])
    if hi == lo:
        return np.full(mask.shape[0], -1)
    m = _in_columns(lo, hi, start, stop)
    m &= mask[:, lo:hi]
    last = hi - 1 - np.argmax(m[:, ::-1], axis=1)
    return np.where(m.any(axis=1), last, -1)


def _first_true(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """First index in [start, stop) where mask is True, row-wise; -1 if none."""
    lo, hi = _column_span(start, stop, mask.shape[-1])
    if hi == lo:
        return np.full(mask.shape[0], -1)
    m = _in_columns(lo, hi, start, stop)
    m &= mask[:, lo:hi]
    first = np.argmax(m, axis=1) + lo
    return np.where(m.any(axis=1), first, -1)


def _hold_outside(y: np.ndarray, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    """Copy of ``y`` (N, W) held constant before ``a`` and after ``b`` (row-wise indices).

    Used before smoothing a P or T search region so that the large, steep QRS next to it cannot
    leak into the smoothed wave.
    """
    n, w = y.shape
    out = y.copy()
    rows = np.arange(n)
    if a is not None:
        a = fast_clip(a, 0, w - 1).astype(int)
        # Columns before a: [0, a) (the held value is read from y, as before any change).
        np.copyto(out, y[rows, a][:, None], where=_in_columns(0, w, np.zeros(n, int), a))
    if b is not None:
        b = fast_clip(b, 0, w - 1).astype(int)
        np.copyto(out, y[rows, b][:, None], where=_in_columns(0, w, b + 1, np.full(n, w)))
    return out


def _quiet(sv: np.ndarray, thr: np.ndarray, k: int, forward: bool) -> np.ndarray:
    """True where ``sv`` stays at or below ``thr`` for ``k`` samples (ahead or behind)."""
    if k <= 1:
        return sv <= thr[:, None]
    if forward:
        m = maximum_filter1d(sv, k, axis=-1, origin=-(k // 2), mode="nearest")
    else:
        m = maximum_filter1d(sv, k, axis=-1, origin=(k - 1) // 2, mode="nearest")
    return m <= thr[:, None]


def _quiet_in_span(
    sv: np.ndarray, thr: np.ndarray, k: int, forward: bool, start: np.ndarray, stop: np.ndarray
) -> np.ndarray:
    """:func:`_quiet`, exact inside the columns holding every row's [start, stop) and False
    elsewhere: the max filter runs on those columns plus a ``k``-sample margin only."""
    w = sv.shape[-1]
    lo, hi = _column_span(start, stop, w)
    out = np.zeros(sv.shape, bool)
    if hi > lo:
        a, b = max(0, lo - k), min(w, hi + k)
        out[:, a:b] = _quiet(sv[:, a:b], thr, k, forward)
    return out


def _last_quiet(sv, thr, k, start, stop) -> np.ndarray:
    """Last index in [start, stop) where ``sv`` stays <= thr for the ``k`` samples up to it."""
    return _last_true(_quiet_in_span(sv, thr, k, False, start, stop), start, stop)


def _first_quiet(sv, thr, k, start, stop) -> np.ndarray:
    """First index in [start, stop) where ``sv`` stays <= thr for the ``k`` samples from it."""
    return _first_true(_quiet_in_span(sv, thr, k, True, start, stop), start, stop)


def _take(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """y[row, idx[row]] with idx clipped to the window."""
    w = y.shape[-1]
    return y[np.arange(y.shape[0]), fast_clip(idx, 0, w - 1).astype(int)]


def _noise_level(y: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """The noise level of a slope array: its middle value (:func:`middle_value`) over all
    samples (``axis`` None) or along ``axis``. Most of a beat window is neither QRS nor steep
    ST-T, so the median slope is the noise's (a few uV per sample when clean)."""
    return middle_value(y, axis=axis)


def _trapezium(
    y: np.ndarray, tm: np.ndarray, tr: np.ndarray, direction: int, sign: np.ndarray
) -> np.ndarray:
    """Trapezium-area boundary between ``tm`` and ``tr`` (row-wise).

    ``direction`` +1 searches after ``tm`` (offsets), -1 before it (onsets). ``sign`` is the
    polarity of the wave (+1 positive, -1 negative). Returns the index maximising the area.
    """
    n, w = y.shape
    span = np.abs(tr - tm)
    kmax = int(max(1, span.max())) + 1
    k = np.arange(kmax)[None, :]
    ti = tm[:, None] + direction * k
    valid = (k <= span[:, None]) & (ti >= 0) & (ti < w)
    ym = _take(y, tm)
    yi = np.take_along_axis(y, fast_clip(ti, 0, w - 1).astype(int), axis=1)
    area = 0.5 * sign[:, None] * (ym[:, None] - yi) * (2 * np.abs(tr - tm)[:, None] - k)
    area = np.where(valid, area, -np.inf)
    best = np.argmax(area, axis=1)
    return tm + direction * best


def _half_width(duration_ms: float, per_ms: float) -> int:
    """Half-width (samples, at least 1) of the moving average that smooths over ``duration_ms``."""
    return max(1, int(round(duration_ms * per_ms / 2)))


def _quiet_samples(params: Mapping[str, float], per_ms: float) -> int:
    """How many samples a QRS boundary's slope must stay low (``qrs_quiet_ms``), at least 1."""
    return max(1, int(round(params["qrs_quiet_ms"] * per_ms)))


def _steepest(
    slope: np.ndarray, start: np.ndarray, stop: np.ndarray, fallback: np.ndarray
) -> np.ndarray:
    """Row-wise argmax of ``slope`` over [start, stop); ``fallback`` where that range is empty."""
    idx = _masked_arg(slope, start, stop, "max")
    return np.where(idx < 0, fallback, idx)


def _dominant_deflection(
    y: np.ndarray, start: np.ndarray, stop: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest deflection of ``y`` over [start, stop), row-wise, whichever its polarity.

    Returns its index, its sign (+1.0 / -1.0; ties go to the positive one) and a mask of the
    rows where the range is empty (no wave can be placed there).
    """
    pos, neg = _masked_extremes(y, start, stop)
    use_pos = _take(y, pos) >= -_take(y, neg)
    peak = np.where(use_pos, pos, neg)
    sign = np.where(use_pos, 1.0, -1.0)
    return peak, sign, (pos < 0) | (neg < 0)


def delineate(
    xq: np.ndarray,
    xw: np.ndarray,
    fs: float,
    c: int,
    prev_r: np.ndarray,
    next_r: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
    terminal_beats: np.ndarray | None = None,
    p_from_tp: np.ndarray | None = None,
) -> Delineation:
    """Delineate beat windows.

    Parameters
    ----------
    xq : (L, B, W) windows of the QRS delineation copy (baseline-free, ~40 Hz smooth), mV.
    xw : (L, B, W) windows of the clean signal (baseline-free), mV; P/T copies are made here.
    fs : sampling rate, Hz.
    c : index of the anchor (R) inside the window.
    prev_r, next_r : (B,) distance in samples to the previous / next anchor (inf if none).
    weights : (L,) lead weights for the spatial velocity (0 for unusable leads).
    config : its ``delineation`` and ``windows`` sections set every threshold and window.
    terminal_beats : (B,) bool, the beats whose QRS offset may move over a terminal QRS
        component (see :func:`_terminal_qrs_offset`); every beat when not given.
    p_from_tp : (B,) bool, the beats whose P wave is sought above the TP-to-PR line when its
        largest deflection from the PR level lies on the first sample of its range (see
        :func:`_p_wave`); none when not given.
    """
    n_leads, n_beats, width = xq.shape
    per_ms = fs / 1000.0
    if weights is None:
        weights = np.ones(n_leads)
    weights = np.asarray(weights, float)
    params, windows = config.delineation, config.windows

    # The QRS work needs only the window up to the latest possible QRS offset: the search limit
    # plus room for a lead's offset after the global one.
    qrs_width = min(width, c + int((windows["qrs_off_search_ms"] + 40.0) * per_ms) + 1)
    xq = xq[:, :, :qrs_width]
    abs_slope = np.abs(np.diff(xq, axis=2, append=xq[:, :, -1:]))
    if terminal_beats is None:
        terminal_beats = np.ones(n_beats, bool)
    qrs_on, qrs_off = _global_qrs(
        abs_slope, weights, fs, c, prev_r, next_r, params, windows, terminal_beats
    )

    qrs_on_rows = np.tile(qrs_on.astype(int), n_leads)
    qrs_off_rows = np.tile(qrs_off.astype(int), n_leads)
    xq_rows = xq.reshape(n_leads * n_beats, qrs_width)
    lead_qrs = _lead_qrs(xq_rows, abs_slope, qrs_on_rows, qrs_off_rows, per_ms, c, params)

    # Distances to the neighbouring beats (inf: none) capped at the longest RR that still
    # shapes the T (2 s) and the P (3 s) search.
    next_rr_rows = np.tile(np.minimum(next_r, 2 * fs), n_leads)
    prev_rr_rows = np.tile(np.minimum(prev_r, 3 * fs), n_leads)
    clean_rows = xw.reshape(n_leads * n_beats, width)
    t_wave = _t_wave(clean_rows, qrs_off_rows, next_rr_rows, fs, c, params, windows)
    # The P wave ends before the QRS starts in any view: the lead's own onset where it is earlier
    # than the global one, else the P level would be referred to the QRS upstroke (LUDB 107:
    # a PR segment 0.05-0.08 mV below the QRS-onset sample outweighed a 0.05 mV P wave).
    p_before = np.minimum(qrs_on_rows, lead_qrs.on)
    from_tp = None
    if p_from_tp is not None:
        # With where the previous beat's T wave ends, in this window: the beat's own T end one
        # RR earlier (T waves change little from beat to beat); -inf where no T wave was found.
        prev_t_end = np.where(t_wave.missing, -np.inf, t_wave.off - prev_rr_rows)
        from_tp = (np.tile(np.asarray(p_from_tp, bool), n_leads), prev_t_end)
    p_wave = _p_wave(clean_rows, p_before, prev_rr_rows, fs, c, params, windows, from_tp)
    if p_from_tp is not None:
        later = _long_pr_search_start(p_wave, t_wave, clean_rows, p_before, prev_rr_rows,
                                      p_from_tp, weights, fs, c, windows)  # fmt: skip
        if later is not None:
            p_wave = _p_wave(
                clean_rows, p_before, prev_rr_rows, fs, c, params, windows, from_tp, later
            )
    return _assemble(lead_qrs, t_wave, p_wave, qrs_on, qrs_off, n_leads, n_beats)


def _long_pr_search_start(
    p_wave: _Wave,
    t_wave: _Wave,
    clean_rows: np.ndarray,
    qrs_on_rows: np.ndarray,
    prev_rr_rows: np.ndarray,
    template: np.ndarray,
    weights: np.ndarray,
    fs: float,
    c: int,
    windows: Mapping[str, float],
) -> np.ndarray | None:
    """Per-row P search start for a long PR interval, or None when the usual range suffices.

    The usual range starts at 62% of the previous RR (:func:`_p_search_window`). At 80/min and
    faster the T wave ends well before that, and a first-degree block's P wave stands in the
    TP segment between (simulated PR 300 ms at 80/min read 236 ms, PR 340 ms "no P waves";
    PR 220 ms at 100/min read 176 ms). The median beat (``template``) decides, so that a
    record's P boundaries all come from one kind of range: when the range cuts its P wave in
    most weighted leads (see below), every row is searched from ``p_after_t_ms`` after the previous
    beat's T end (its own T end one RR earlier, the median over the leads), down to
    ``pr_max_ms`` before the QRS onset, where that is earlier than its usual start. Records
    whose P wave lies inside the usual range keep it unchanged: a range that starts earlier
    moves the onsets of normal P waves too (shared LUDB record PR bias +3.4 -> +4.4 ms when
    every record was searched so).
    """
    per_ms = fs / 1000.0
    start, _ = _p_search_window(qrs_on_rows, prev_rr_rows, per_ms, c, windows)
    n_leads = weights.size
    rows_t = np.flatnonzero(
        np.tile(np.asarray(template, bool), n_leads) & np.repeat(weights > 0, template.size)
    )
    rows_t = rows_t[~p_wave.missing[rows_t]]
    if rows_t.size == 0:
        return None
    # The range cuts the P wave: the onset found lies on the range's first sample, or the range
    # begins inside a wave larger than the P wave found in it (its first sample stands farther
    # from the PR level than that P wave's peak: all the range holds of the real P wave is its
    # tail). A P wave that begins after the range start leaves it near the baseline, however
    # close its onset.
    rows_x = clean_rows[rows_t]
    at_start = _take(rows_x, start[rows_t]) - _take(rows_x, qrs_on_rows[rows_t])
    clipped = (p_wave.on[rows_t] <= start[rows_t]) | (
        np.abs(at_start) >= np.abs(p_wave.amp[rows_t])
    )
    if 2 * int(clipped.sum()) <= rows_t.size:
        return None
    t_off = np.where(t_wave.missing, np.nan, t_wave.off).reshape(n_leads, template.size)
    with np.errstate(all="ignore"):
        beat_t_end = np.nanmedian(t_off, axis=0)
    after_t = np.tile(beat_t_end, n_leads) - prev_rr_rows + windows["p_after_t_ms"] * per_ms
    earliest = qrs_on_rows - windows["pr_max_ms"] * per_ms
    early = np.maximum(earliest, after_t)
    return np.where(np.isfinite(early), np.minimum(start, early), start).astype(int)


# ---------------------------------------------------------------------------------- QRS
def _global_qrs(
    abs_slope: np.ndarray,
    weights: np.ndarray,
    fs: float,
    c: int,
    prev_r: np.ndarray,
    next_r: np.ndarray,
    params: Mapping[str, float],
    windows: Mapping[str, float],
    terminal_beats: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Global QRS onset and offset (B,) from the spatial velocity, as float sample offsets.

    ``abs_slope`` (L, B, Wq) is the absolute first difference of the QRS delineation copy. From
    the steepest point within 80 ms before (after) the anchor (for the onset, from the earliest
    sample there as steep as half of it: :func:`_earliest_strong`), the onset (offset) is the last
    (first) sample where the velocity has stayed at most ``qrs_on_frac`` (``qrs_off_frac``) of
    its QRS maximum above the isoelectric level, and at most ``qrs_noise_floor`` times the
    noise level (:func:`_noise_level`; for the onset, on the beats of ``terminal_beats`` only),
    for ``qrs_quiet_ms``; at the search limit when there is none. The offset of the beats of
    ``terminal_beats`` then moves over a terminal QRS component (:func:`_terminal_qrs_offset`)
    when enough leads are usable.
    """
    n_beats, qrs_width = abs_slope.shape[1:]
    per_ms = fs / 1000.0
    velocity = np.tensordot(weights, abs_slope, axes=(0, 0))  # (B, Wq)
    velocity = smooth(velocity, _half_width(params["qrs_smooth_ms"], per_ms), axis=1)
    anchor = np.full(n_beats, c)
    # Search limits: the configured windows, and never beyond half-way to the neighbouring beat
    # (a missing neighbour, at inf, is capped at 10 s).
    on_lim = np.maximum(
        anchor - int(windows["qrs_on_search_ms"] * per_ms),
        anchor - (np.minimum(prev_r, 10 * fs) * 0.5),
    ).astype(int)
    off_lim = np.minimum(
        anchor + int(windows["qrs_off_search_ms"] * per_ms),
        anchor + np.minimum(next_r, 10 * fs) * 0.5,
    ).astype(int)
    on_lim = np.maximum(on_lim, 0)
    off_lim = np.minimum(off_lim, qrs_width - 1)
    steep_before = _masked_arg(velocity, anchor - int(80 * per_ms), anchor + 1, "max")
    steep_after = _masked_arg(velocity, anchor, anchor + int(80 * per_ms), "max")
    peak_velocity = np.maximum(_take(velocity, steep_before), _take(velocity, steep_after))
    # Isoelectric level: the lowest velocity between the search limit and the steepest point.
    iso_on = _take(velocity, _masked_arg(velocity, on_lim, steep_before, "min"))
    iso_off = _take(velocity, _masked_arg(velocity, steep_after, off_lim, "min"))
    # Never below the noise: under muscle noise a tenth of the QRS peak is (qrs_noise_floor).
    # The onset's floor holds for the beats of ``terminal_beats`` only (the median beat and the
    # dominant beats near it): a ventricular beat's slurred upstroke is as slow as the noise,
    # and a floor cut it off (noisy simulated PVCs: onset 50 ms late, QRS ~105 ms, "PACs").
    noise = _noise_level(velocity)
    floor = params["qrs_noise_floor"] * noise
    thr_on = iso_on + params["qrs_on_frac"] * (peak_velocity - iso_on)
    thr_on = np.where(terminal_beats, np.maximum(thr_on, floor), thr_on)
    thr_off = np.maximum(iso_off + params["qrs_off_frac"] * (peak_velocity - iso_off), floor)
    quiet_len = _quiet_samples(params, per_ms)
    on_from = _earliest_strong(velocity, steep_before, anchor - int(80 * per_ms), params)
    onset = _last_quiet(velocity, thr_on, quiet_len, on_lim, on_from + 1)
    onset = np.where(onset < 0, on_lim, onset).astype(float)
    offset = _first_quiet(velocity, thr_off, quiet_len, steep_after, off_lim + 1)
    offset = np.where(offset < 0, off_lim, offset).astype(float)
    if int((weights > 0).sum()) >= params["qrs_terminal_min_leads"]:
        # With few leads an early, steep T wave cannot be told from a terminal QRS component
        # (it is one lead's slope either way): the extension needs a multi-lead record.
        offset = _terminal_qrs_offset(
            onset,
            offset,
            (velocity, peak_velocity, iso_off, noise),
            steep_after,
            off_lim,
            abs_slope,
            weights,
            quiet_len,
            per_ms,
            params,
            terminal_beats,
        )
    return onset, offset


def _earliest_strong(
    velocity: np.ndarray, steep_before: np.ndarray, start: np.ndarray, params: Mapping[str, float]
) -> np.ndarray:
    """Where the QRS onset search starts (B,): the earliest sample in [``start``,
    ``steep_before``] where the velocity reaches ``qrs_on_hump_frac`` of its value at the
    steepest point ``steep_before``. A pause of a notched complex between there and the steepest
    point is then searched past, not taken for the onset."""
    strong = velocity >= params["qrs_on_hump_frac"] * _take(velocity, steep_before)[:, None]
    first = _first_true(strong, np.maximum(start, 0), steep_before + 1)
    return np.where(first >= 0, first, steep_before)


def _terminal_qrs_offset(
    onset: np.ndarray,
    offset: np.ndarray,
    spatial: tuple[np.ndarray, np.ndarray, np.ndarray, float],
    steep_after: np.ndarray,
    off_lim: np.ndarray,
    abs_slope: np.ndarray,
    weights: np.ndarray,
    quiet_len: int,
    per_ms: float,
    params: Mapping[str, float],
    terminal_beats: np.ndarray,
) -> np.ndarray:
    """Global QRS offset (B,) moved to the end of a terminal QRS component (R', wide S).

    ``spatial`` is the spatial velocity, its QRS maximum, its isoelectric level after the QRS and
    its noise level (:func:`_noise_level`).
    A velocity hump above ``qrs_terminal_frac`` of the QRS maximum (over the isoelectric level)
    within ``qrs_terminal_ms`` after ``offset`` belongs to the QRS if the velocity is quiet
    again (``qrs_off_frac``) within ``qrs_terminal_end_ms`` after that window; the offset moves
    to that end. The spatial velocity is dominated by the largest (usually mid-precordial)
    leads, so a slow terminal R' or S confined to a few smaller leads is also looked for in the
    lead-normalised velocity (each lead divided by its own steepest slope), with
    ``qrs_terminal_lead_frac``. In either, the hump must rise above, and the component end
    below, ``qrs_terminal_noise_floor`` times that velocity's noise level.

    Both rules apply to the beats of ``terminal_beats`` only (the caller's median beat and the
    dominant beats held near it). On a single beat a hump after the QRS is as likely not to be
    QRS: the lead-normalised velocity scales the leads with a small QRS up to QRS size, atrial
    activity and noise in them included, so an f wave (or a P wave) just after the QRS passes
    for a terminal component (CPSC A0019, A0023: narrow beats of atrial fibrillation measured
    125-150 ms and counted as ventricular; A0055: atrial premature beats); and the steep early
    ST-T of a beat of another kind passes for one in the spatial velocity (LUDB 95: the narrow
    conducted beats between the paced ones measured 112-150 ms; over the non-dominant beats of
    LUDB the per-lead QRS offset error fell from 13.3 to 10.8 ms mean absolute).
    """
    late_lim = np.minimum(offset + int(params["qrs_terminal_ms"] * per_ms), off_lim).astype(int)
    # A terminal component ends soon after it starts; a slope that goes on is the ST-T.
    end_lim = np.minimum(late_lim + int(params["qrs_terminal_end_ms"] * per_ms), off_lim)
    end_lim = end_lim.astype(int)
    lead_max = abs_slope.max(axis=2, keepdims=True)
    lead_velocity = np.einsum(
        "lb,lbw->bw",
        _clear_lead_shares(abs_slope, lead_max, weights, params),
        abs_slope / np.maximum(lead_max, 1e-9),
    )
    lead_velocity = smooth(lead_velocity, _half_width(params["qrs_smooth_ms"], per_ms), axis=1)
    lead_peak = _take(
        lead_velocity,
        _masked_arg(lead_velocity, onset.astype(int), offset.astype(int) + 1, "max"),
    )
    lead_iso = _take(lead_velocity, _masked_arg(lead_velocity, steep_after, off_lim, "min"))
    rules = [
        (*spatial, params["qrs_terminal_frac"]),
        (
            lead_velocity,
            lead_peak,
            lead_iso,
            _noise_level(lead_velocity),
            params["qrs_terminal_lead_frac"],
        ),
    ]
    extended = offset.copy()
    for velocity, top, iso, noise, frac in rules:
        # A hump of noise is no terminal component: it must rise above the noise floor, and
        # the component ends where the velocity is back below it.
        floor = params["qrs_terminal_noise_floor"] * noise
        hump = np.maximum(iso + frac * (top - iso), floor)
        late = _last_true(velocity > hump[:, None], offset.astype(int), late_lim + 1)
        thr_end = np.maximum(iso + params["qrs_off_frac"] * (top - iso), floor)
        end = _first_quiet(velocity, thr_end, quiet_len, np.maximum(late, 0), end_lim + 1)
        found = (late >= 0) & (end >= 0) & terminal_beats
        extended = np.where(found, np.maximum(extended, end), extended)
    return extended.astype(float)


def _clear_lead_shares(
    abs_slope: np.ndarray, lead_max: np.ndarray, weights: np.ndarray, params: Mapping[str, float]
) -> np.ndarray:
    """(L, B) weights of the lead-normalised velocity, summing to 1 per beat: the usable leads
    whose steepest QRS slope is at least ``qrs_terminal_lead_min_snr`` times their median
    slope over the window (all of them when none is)."""
    typical = _noise_level(abs_slope, axis=2)
    clear = lead_max[:, :, 0] >= params["qrs_terminal_lead_min_snr"] * typical
    w = weights[:, None] * clear
    w = np.where(w.sum(axis=0) > 0, w, weights[:, None])
    return w / np.maximum(w.sum(axis=0), 1e-12)


def _lead_qrs(
    xq_rows: np.ndarray,
    abs_slope: np.ndarray,
    qrs_on_rows: np.ndarray,
    qrs_off_rows: np.ndarray,
    per_ms: float,
    c: int,
    params: Mapping[str, float],
) -> _LeadQRS:
    """Per-lead QRS onset, peak and offset, each row within ``lead_qrs_tol_ms`` of the global
    boundary (``qrs_on_rows`` / ``qrs_off_rows``).

    The lead's own smoothed |slope| must stay at most ``lead_qrs_on_frac`` (onset) or
    ``lead_qrs_off_frac`` (offset) of its QRS maximum for ``qrs_quiet_ms`` (the offset's
    threshold at least ``lead_qrs_noise_floor`` times the lead's noise level); with
    ``lead_qrs_on_amp_frac`` > 0 the amplitude rule (:func:`_amplitude_onset`, its threshold at
    least ``lead_qrs_on_noise_floor`` times the lead's noise level) decides the onset where it
    finds one. The peak is the largest deflection from the onset level.
    """
    n_rows, qrs_width = xq_rows.shape
    slope = smooth(abs_slope, _half_width(params["qrs_smooth_ms"], per_ms), axis=2)
    slope = slope.reshape(n_rows, qrs_width)
    tol = int(params["lead_qrs_tol_ms"] * per_ms)
    quiet_len = _quiet_samples(params, per_ms)
    earliest_on = np.maximum(qrs_on_rows - tol, 0)
    # The lead's slope maximum inside the global QRS (over the whole window where the lead is
    # flat there).
    slope_max = slope.max(axis=1, initial=0)
    qrs_slope_max = _take(slope, _masked_arg(slope, qrs_on_rows, qrs_off_rows + 1, "max"))
    slope_max = np.where(qrs_slope_max > 0, qrs_slope_max, slope_max)

    steep_on = _masked_arg(slope, qrs_on_rows, np.minimum(qrs_on_rows + tol + 1, c + 1), "max")
    onset_stop = np.maximum(steep_on, earliest_on + 1) + 1
    thr_on = params["lead_qrs_on_frac"] * slope_max
    onset = _last_quiet(slope, thr_on, quiet_len, earliest_on, onset_stop)
    onset = np.where(onset < 0, qrs_on_rows, onset)
    # Each lead's noise level (the median of its smoothed |slope| over the windows), per row.
    n_leads = abs_slope.shape[0]
    lead_noise = np.repeat(_noise_level(slope.reshape(n_leads, -1), axis=1), n_rows // n_leads)
    if params["lead_qrs_on_amp_frac"] > 0:
        amp_onset = _amplitude_onset(
            xq_rows,
            qrs_on_rows,
            qrs_off_rows,
            earliest_on,
            quiet_len,
            per_ms,
            params,
            params["lead_qrs_on_noise_floor"] * lead_noise,
        )
        onset = np.where(amp_onset >= 0, amp_onset, onset)
    onset = fast_clip(onset, qrs_on_rows - tol, qrs_on_rows + tol)

    latest_off = np.minimum(qrs_off_rows + tol, qrs_width - 1)
    steep_off = _masked_arg(slope, np.maximum(qrs_off_rows - tol, c), qrs_off_rows + 1, "max")
    # Never below the lead's noise level (lead_qrs_noise_floor): a noisy lead's slope would
    # otherwise not "stay low" before the tolerance's end.
    floor = params["lead_qrs_noise_floor"] * lead_noise
    thr_off = np.maximum(params["lead_qrs_off_frac"] * slope_max, floor)
    offset = _first_quiet(slope, thr_off, quiet_len, np.maximum(steep_off, 0), latest_off + 1)
    offset = np.where(offset < 0, qrs_off_rows, offset)
    offset = fast_clip(offset, qrs_off_rows - tol, qrs_off_rows + tol)

    onset_level = _take(xq_rows, onset)
    peak = _masked_arg(np.abs(xq_rows - onset_level[:, None]), onset, offset + 1, "max")
    return _LeadQRS(onset, peak, offset)


def _amplitude_onset(
    xq_rows: np.ndarray,
    qrs_on_rows: np.ndarray,
    qrs_off_rows: np.ndarray,
    earliest_on: np.ndarray,
    quiet_len: int,
    per_ms: float,
    params: Mapping[str, float],
    amp_floor: np.ndarray | None = None,
) -> np.ndarray:
    """Per-lead QRS onset by amplitude; -1 where there is none.

    The lead leaves its PR-segment level (mean over 30 to 8 ms before the global onset) by more
    than ``lead_qrs_on_amp_frac`` of its largest QRS deviation (and more than
    ``lead_qrs_on_amp_abs`` and, per row, ``amp_floor``: a multiple of the lead's noise level,
    below which a noisy PR segment "leaves" its level by chance) and does not come back: the
    onset is the last sample before that largest deviation, from ``earliest_on``, where the
    deviation has stayed under that threshold for ``quiet_len`` samples.
    """
    pr_segment = _in_columns(
        0, xq_rows.shape[1], qrs_on_rows - int(30 * per_ms), qrs_on_rows - int(8 * per_ms)
    )
    pr_level = (xq_rows * pr_segment).sum(axis=1) / np.maximum(pr_segment.sum(axis=1), 1)
    deviation = np.abs(xq_rows - pr_level[:, None])
    largest = _masked_arg(deviation, qrs_on_rows, qrs_off_rows + 1, "max")
    threshold = np.maximum(
        params["lead_qrs_on_amp_abs"], params["lead_qrs_on_amp_frac"] * _take(deviation, largest)
    )
    if amp_floor is not None:
        threshold = np.maximum(threshold, amp_floor)
    return _last_quiet(
        deviation, threshold, quiet_len, earliest_on, np.maximum(largest, earliest_on + 1)
    )


# ---------------------------------------------------------------------------------- T wave
def _t_wave(
    clean_rows: np.ndarray,
    qrs_off_rows: np.ndarray,
    next_rr_rows: np.ndarray,
    fs: float,
    c: int,
    params: Mapping[str, float],
    windows: Mapping[str, float],
) -> _Wave:
    """Per-row T wave: peak, onset and offset (sample offsets in the window) and amplitude.

    The peak is the largest deflection of the search signal (:func:`_t_search_signal`).
    Offset: the steepest return within 200 ms after the peak, then the trapezium towards a
    reference ``t_ref_ms`` later. Onset: the steepest departure within 150 ms before the peak
    (not before J), then the trapezium back towards a reference ``t_on_ref_ms`` earlier (not
    before J). ``missing`` marks rows whose search range is empty.
    """
    per_ms = fs / 1000.0
    search = _t_search_signal(clean_rows, qrs_off_rows, next_rr_rows, fs, c, params, windows)
    level, slope, j = search.level, search.slope, search.j
    peak, sign, missing = _dominant_deflection(search.weighted, search.start, search.stop)
    amp = _take(level, peak)

    off_stop = np.minimum(peak + int(200 * per_ms), search.stop + 1)
    steep_off = _steepest(-sign[:, None] * slope, peak, off_stop, peak)
    ref_off = np.minimum(steep_off + int(params["t_ref_ms"] * per_ms), level.shape[1] - 1)
    offset = _trapezium(level, steep_off, ref_off, +1, sign)

    on_start = np.maximum(j, peak - int(150 * per_ms))
    steep_on = _steepest(sign[:, None] * slope, on_start, peak, peak)
    ref_on = np.maximum(steep_on - int(params["t_on_ref_ms"] * per_ms), j)
    onset = _trapezium(level, steep_on, ref_on, -1, sign)
    # The search ran on the columns from the anchor on.
    return _Wave(onset + c, peak + c, offset + c, amp, missing)


def _t_search_signal(
    clean_rows: np.ndarray,
    qrs_off_rows: np.ndarray,
    next_rr_rows: np.ndarray,
    fs: float,
    c: int,
    params: Mapping[str, float],
    windows: Mapping[str, float],
) -> _TSearch:
    """The signals the T wave is searched in: the window from the anchor on, held constant
    before J (so that the QRS cannot leak into the smoothed T wave), smoothed over
    ``t_smooth_ms`` and taken relative to its level at J (an ST shift is not T wave).

    The peak search runs from ``t_min_after_j_ms`` after J to ``t_max_after_r_ms`` after R, and
    to at most 72% of the RR to the next beat (but 220 ms at least).
    """
    per_ms = fs / 1000.0
    after_r = clean_rows[:, c:]
    n_cols = after_r.shape[1]
    columns = np.arange(n_cols)
    j = qrs_off_rows - c
    smoothed = _hold_outside(after_r, j, None)
    smoothed = smooth(smoothed, _half_width(params["t_smooth_ms"], per_ms), axis=1)
    slope = np.diff(smoothed, axis=1, append=smoothed[:, -1:])
    level = smoothed - _take(clean_rows, qrs_off_rows)[:, None]
    stop = np.minimum(
        np.minimum(
            windows["t_max_after_r_ms"] * per_ms,
            np.maximum(0.72 * next_rr_rows, 220 * per_ms),
        ),
        n_cols - 1,
    ).astype(int)
    start = (j + int(windows["t_min_after_j_ms"] * per_ms)).astype(int)
    start = np.minimum(start, stop - 1)
    # Remove half of the line joining J and the search stop (sloping ST / T-P segment).
    weighted, spare = _minus_line(level, columns, j, stop, _take(level, j), _take(level, stop), 0.5)
    if params["t_prior_weight"] > 0:
        # Soft physiologic prior: deflections late in the window (beyond the T peak expected
        # for this RR from a QTc of ~400 ms) must be larger to win, so that small T waves are
        # not replaced by U waves, fibrillation waves or the next P wave.
        rr_s = np.minimum(next_rr_rows, 2 * fs) / fs
        expected_peak = (0.4 * np.sqrt(np.clip(rr_s, 0.3, 2.0)) - 0.12) * fs
        late = np.subtract(columns[None, :], expected_peak[:, None], out=spare)
        late /= np.maximum(stop - expected_peak, 1)[:, None]
        np.clip(late, 0, 1, out=late)
        late *= params["t_prior_weight"]
        np.subtract(1.0, late, out=late)
        weighted *= late
    return _TSearch(level, weighted, slope, j, start, stop)


def _minus_line(
    y: np.ndarray,
    columns: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    level_a: np.ndarray,
    level_b: np.ndarray,
    share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``y - (level_a (1 - frac) + level_b frac) * share`` with ``frac = clip((columns - a) /
    max(b - a, 1), 0, 1)``, row-wise: ``share`` of the line from ``level_a`` at column ``a``
    to ``level_b`` at ``b`` removed (held flat beyond them).

    Computed in two row-by-column buffers (the same operations on the same operands as the
    plain expression, so the same values; without ``* share`` when it is 1). Returns the
    result and the other buffer (float64, free for the caller's next temporary)."""
    frac = np.subtract(columns[None, :], a[:, None])
    frac = np.divide(frac, np.maximum(b - a, 1)[:, None], out=_float_buffer(frac))
    np.clip(frac, 0, 1, out=frac)
    line = np.subtract(1, frac)
    line *= level_a[:, None]
    frac *= level_b[:, None]
    line += frac
    if share != 1.0:
        line *= share
    return np.subtract(y, line, out=_float_buffer(line)), frac


def _float_buffer(a: np.ndarray) -> np.ndarray | None:
    """``a`` itself where it can hold a float64 result in place, else None (a new array)."""
    return a if a.dtype == np.float64 else None


# ---------------------------------------------------------------------------------- P wave
def _p_search_window(
    qrs_on_rows: np.ndarray,
    prev_rr_rows: np.ndarray,
    per_ms: float,
    c: int,
    windows: Mapping[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row P search range [start, end).

    From ``pr_max_ms`` before the QRS onset, but not before 62% of the previous RR (the previous
    beat's repolarisation), to ``pr_min_gap_ms`` before the QRS onset; the start is moved
    earlier where needed to keep the range 40 ms long (never before the window).
    """
    end = (qrs_on_rows - int(windows["pr_min_gap_ms"] * per_ms)).astype(int)
    start = np.maximum(
        qrs_on_rows - int(windows["pr_max_ms"] * per_ms),
        (c - prev_rr_rows + 0.62 * prev_rr_rows),
    ).astype(int)
    start = fast_clip(start, 0, np.maximum(end - int(40 * per_ms), 0))
    return start, end


def _p_wave(
    clean_rows: np.ndarray,
    qrs_on_rows: np.ndarray,
    prev_rr_rows: np.ndarray,
    fs: float,
    c: int,
    params: Mapping[str, float],
    windows: Mapping[str, float],
    from_tp: tuple[np.ndarray, np.ndarray] | None = None,
    start_at: np.ndarray | None = None,
) -> _Wave:
    """Per-row P wave: peak, onset, offset, amplitude and the noise in its search window.

    The search range (:func:`_p_search_window`) is held constant outside (up to 2 ms before the
    QRS onset), smoothed over ``p_smooth_ms`` and taken relative to its level at the QRS onset.
    The peak is its largest deflection from 20 ms after the range start (clear of the previous
    T tail); onset and offset by the trapezium from the steepest departure before and return
    after the peak, towards references ``p_on_ref_ms`` / ``p_off_ref_ms`` away (within the
    range). ``missing`` marks rows whose range is empty or shorter than 60 ms.

    ``from_tp`` is (rows, end of the previous T wave per row): those rows whose largest
    deflection lies on the first sample of the range, and whose range starts after that T end,
    are searched again above the line from the TP level (the range start) to the PR level.
    ``start_at`` replaces the range starts (a long PR: :func:`_long_pr_search_start`).
    """
    per_ms = fs / 1000.0
    start, end = _p_search_window(qrs_on_rows, prev_rr_rows, per_ms, c, windows)
    if start_at is not None:
        start = fast_clip(start_at, 0, np.maximum(end - int(40 * per_ms), 0))
    # Everything P happens before the QRS onset (<= c): work on that part of the window only.
    before_r = clean_rows[:, : c + 1]
    columns = np.arange(before_r.shape[1])
    smoothed = _hold_outside(before_r, start, qrs_on_rows - int(2 * per_ms))
    smoothed = smooth(smoothed, _half_width(params["p_smooth_ms"], per_ms), axis=1)
    slope = np.diff(smoothed, axis=1, append=smoothed[:, -1:])
    start_level = _take(smoothed, start)
    qrs_on_level = _take(smoothed, qrs_on_rows)
    # Partial detrending: a full line from the window start (possibly on the T tail) to the
    # PR segment would shift the P peak; ``p_detrend`` sets how much of it is removed.
    tp_level = start_level
    start_level = qrs_on_level + params["p_detrend"] * (start_level - qrs_on_level)
    level, _ = _minus_line(smoothed, columns, start, qrs_on_rows, start_level, qrs_on_level)
    first = start + int(20 * per_ms)
    peak, sign, missing = _dominant_deflection(level, first, end)
    amp = _take(smoothed, peak) - qrs_on_level
    if from_tp is not None:
        rows_tp, prev_t_end = from_tp
        # A largest deflection on the first sample of the range is no wave: it is the TP level
        # against a PR segment that atrial repolarisation depresses (or raises) by as much as a
        # small P wave (CPSC A0034, A0036: P onsets 100-150 ms early, PR 254 and 332 ms, false
        # first degree AV block). Where the range starts after the previous T wave (on the TP
        # segment), the P wave is then sought above the line from the TP level to the PR level.
        edge = rows_tp & (peak <= first) & (start >= prev_t_end) & ~missing
        if edge.any():
            rows = np.flatnonzero(edge)
            level_tp, _ = _minus_line(
                smoothed[rows], columns, start[rows], qrs_on_rows[rows], tp_level[rows],
                qrs_on_level[rows],
            )  # fmt: skip
            peak_tp, sign_tp, missing_tp = _dominant_deflection(level_tp, first[rows], end[rows])
            level[rows], peak[rows], sign[rows] = level_tp, peak_tp, sign_tp
            missing[rows] = missing_tp
            amp[rows] = _take(level_tp, peak_tp)  # above that line

    steep_off = _steepest(-sign[:, None] * slope, peak, np.maximum(end, peak + 1), peak)
    ref_off = np.minimum(steep_off + int(params["p_off_ref_ms"] * per_ms), qrs_on_rows)
    offset = _trapezium(level, steep_off, np.maximum(ref_off, steep_off), +1, sign)
    steep_on = _steepest(sign[:, None] * slope, start, peak, peak)
    ref_on = np.maximum(steep_on - int(params["p_on_ref_ms"] * per_ms), start)
    onset = _trapezium(level, steep_on, np.minimum(ref_on, steep_on), -1, sign)

    # Noise in the P window: what the smoothing removed from the clean signal.
    in_window = _in_columns(0, before_r.shape[1], start, qrs_on_rows)
    noise = _window_rms(before_r, smoothed, in_window)
    missing = missing | (end - start < int(60 * per_ms))
    return _Wave(onset, peak, offset, amp, missing, noise)


def _window_rms(x: np.ndarray, smoothed: np.ndarray, in_window: np.ndarray) -> np.ndarray:
    """Per row: rms of ``x - smoothed`` over the columns ``in_window`` (0 where none), i.e.
    ``sqrt(((x - smoothed) ** 2 * in_window).sum(1) / max(in_window.sum(1), 1))`` with the
    product ``r * r * in_window`` formed in place (the same values, one buffer)."""
    residual = np.subtract(x, smoothed)
    residual *= residual
    residual *= in_window
    return np.sqrt(residual.sum(axis=1) / np.maximum(in_window.sum(axis=1), 1))


# ---------------------------------------------------------------------------------- result
def _assemble(
    lead_qrs: _LeadQRS,
    t_wave: _Wave,
    p_wave: _Wave,
    qrs_on: np.ndarray,
    qrs_off: np.ndarray,
    n_leads: int,
    n_beats: int,
) -> Delineation:
    """The rows reshaped to (L, B) float offsets; NaN (amplitude 0) where a wave is missing."""

    def per_lead(rows: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
        values = rows.astype(float)
        if missing is not None:
            values = np.where(missing, np.nan, values)
        return values.reshape(n_leads, n_beats)

    lead = {
        "qrs_on": per_lead(lead_qrs.on),
        "qrs_peak": per_lead(lead_qrs.peak),
        "qrs_off": per_lead(lead_qrs.off),
        "t_on": per_lead(t_wave.on, t_wave.missing),
        "t_peak": per_lead(t_wave.peak, t_wave.missing),
        "t_off": per_lead(t_wave.off, t_wave.missing),
        "p_on": per_lead(p_wave.on, p_wave.missing),
        "p_peak": per_lead(p_wave.peak, p_wave.missing),
        "p_off": per_lead(p_wave.off, p_wave.missing),
    }
    return Delineation(
        lead=lead,
        glob={"qrs_on": qrs_on, "qrs_off": qrs_off},
        p_amp=np.where(p_wave.missing, 0.0, p_wave.amp).reshape(n_leads, n_beats),
        t_amp=np.where(t_wave.missing, 0.0, t_wave.amp).reshape(n_leads, n_beats),
        p_noise=p_wave.noise.reshape(n_leads, n_beats),
    )
