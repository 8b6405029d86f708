"""Per-lead signal quality: flat, saturated/clipped, lead-off, noise, baseline wander and
damage confined to part of a lead (spikes, one-sample glitches, drop-outs, noise bursts).

Every flag comes with a human-readable reason. A lead is ``usable`` = False when its fine
detail cannot be trusted (flat, lead-off, saturated over a large part, or very noisy); the
measurement engine then ignores it for delineation and reports its amplitudes as null.
Thresholds live in :data:`QUALITY_THRESHOLDS`.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from ecgr1.signal.filters import estimate_baseline, smooth
from ecgr1.signal.stats import fast_clip, median_along, median_partition, percentile_along
from ecgr1.signal.types import LeadQuality, QualityReport

QUALITY_THRESHOLDS: dict[str, float] = {
    "flat_ptp_mv": 0.02,  # peak-to-peak below this over the whole record: flat line
    "flat_fraction": 0.5,  # more than this fraction of 1-s windows flat: lead-off / flat
    "saturation_fraction": 0.01,  # fraction of samples pinned at the extreme value
    "saturation_unusable_fraction": 0.05,
    "min_run_ms": 10.0,  # a pinned run must last this long to count as clipping
    "leadoff_abs_mv": 10.0,  # median absolute level beyond this: electrode off / railed
    "noise_rms_mv": 0.05,  # high-frequency noise (above ~40 Hz) flagged from here
    "noise_unusable_rms_mv": 0.2,
    "noise_snr_unusable": 1.5,  # QRS peak-to-peak / (noise rms) below this: unusable
    "wander_ptp_mv": 1.0,  # removed baseline wander flagged from here (peak-to-peak)
    # Wander the filter could not remove: peak-to-peak of the slow (< 0.5 Hz) component still
    # in the filtered signal. Real records reach 1.7 mV (CPSC 2018 A0061, 9 mV of wander).
    "wander_residual_mv": 2.0,
    # Local damage inside an otherwise live lead (:func:`local_damage`).
    "spike_width_ms": 20.0,  # running-median window: narrower deflections stand out
    "spike_rel": 1.2,  # spike: excursion above the running median > this x typical QRS span
    "spike_min_mv": 1.0,  # ... and above this absolute floor
    "wide_spike_ms": 60.0,  # a wider running median for short bursts (a few samples to ~40 ms)
    "wide_spike_rel": 10.0,  # ... excursion above it > this x typical QRS span (real: <= 8.6)
    "wide_spike_min_mv": 3.0,  # ... and above this absolute floor
    "glitch_rel": 10.0,  # one-sample jump > this x the curvature and half-slope around it
    "glitch_min_mv": 0.05,  # ... and above this absolute floor
    "glitch_context": 6.0,  # neighbourhood (samples each side, from the 2nd) for that level
    "identical_run": 3.0,  # every live lead (>= 3) frozen at once this many samples ...
    "frozen_rel": 5.0,  # ... one of them jumping in and back by > this x the steps outside
    "dropout_ms": 1000.0,  # one lead's raw samples exactly constant this long: drop-out
    "dropout_all_ms": 250.0,  # ... or every live lead constant together this long
    "burst_window_ms": 500.0,  # windows for the local high-frequency level
    "burst_rel": 5.0,  # burst: a window's HF level > this x the lead's median window level
    "burst_min_mv": 0.05,  # ... and above this absolute floor (robust rms, mV)
}


def _hf_noise(clean: np.ndarray, fs: float) -> np.ndarray:
    """Robust rms (1.4826 x MAD) of the residual above ~40 Hz, per lead (rows).

    Below 120 Hz the smoothing window would be a single sample (a zero residual), so the
    level comes from the second difference instead, scaled back to the rms of white noise
    (its second difference has 6x its variance); it sees noise up to the Nyquist frequency,
    mains aliased below it included.
    """
    width = int(round(fs / 80.0))
    # Every third sample is plenty for a robust scale and halves the cost of the medians.
    if width >= 2:
        # The residual at the kept samples only (the smoothing itself needs every sample).
        step = 3 if clean.shape[-1] >= 300 else 1
        hf = clean[..., ::step] - smooth(clean, width, axis=-1)[..., ::step]
    else:
        hf = np.diff(clean, n=2, axis=-1) / np.sqrt(6.0)
        hf = hf[..., ::3] if hf.shape[-1] >= 300 else hf
    med = median_partition(hf, axis=-1, keepdims=True)
    return 1.4826 * median_partition(np.abs(hf - med), axis=-1)


def _nonzero_2d(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D mask, from the flat indices (NumPy's 2-D nonzero costs about
    90 us even on an empty 12 x 5000 mask, the flat one a few)."""
    return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _long_run_fraction(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Per row: fraction of samples in runs of True at least ``min_len`` long."""
    mask = np.atleast_2d(mask)
    rows, n = mask.shape
    r_s, c_s, c_e = _row_runs(mask)
    lengths = c_e - c_s
    keep = lengths >= min_len
    total = np.bincount(r_s[keep], weights=lengths[keep], minlength=rows)
    return total / max(n, 1)


def _lead_features(
    raw: np.ndarray, clean: np.ndarray, baseline: np.ndarray, fs: float
) -> dict[str, np.ndarray]:
    """Vectorised per-lead quality features (rows = leads)."""
    th = QUALITY_THRESHOLDS
    n = raw.shape[1]
    hi = raw.max(axis=1, keepdims=True)
    lo = raw.min(axis=1, keepdims=True)
    ptp = (hi - lo)[:, 0]
    win = max(1, int(fs))
    nw = n // win
    if nw >= 2:
        blocks = clean[:, : nw * win].reshape(clean.shape[0], nw, win)[:, :, ::2]
        flat_frac = np.mean(np.ptp(blocks, axis=2) < th["flat_ptp_mv"], axis=1)
    else:
        flat_frac = np.zeros(raw.shape[0])
    tol = np.maximum(1e-6, 1e-3 * ptp)[:, None]
    min_run = max(2, int(th["min_run_ms"] * fs / 1000))
    sat = np.zeros(raw.shape[0])
    med = median_partition(raw[:, ::4] if n >= 400 else raw, axis=1)
    # (raw <= hi everywhere, so |raw - hi| <= tol is raw >= hi - tol; likewise at the minimum.)
    for ext, mask in ((hi[:, 0], raw >= hi - tol), (lo[:, 0], raw <= lo + tol)):
        # Runs are only worth finding in leads with enough pinned samples to matter, and a rail
        # is far from the signal's usual level (a flat baseline at the minimum is not clipping).
        far = np.abs(ext - med) > 0.25 * ptp
        rows = np.flatnonzero((mask.sum(axis=1) > th["saturation_fraction"] * n) & far)
        if rows.size:
            sat[rows] = np.maximum(sat[rows], _long_run_fraction(mask[rows], min_run))
    noise = _hf_noise(clean, fs)
    # Slow drift still in the filtered signal: the baseline filter's residual when the wander
    # is large or close to its cut-off (plus the slow content of the ECG itself, ~0.3 mV).
    residual = np.ptp(estimate_baseline(clean, fs, every=8), axis=1)
    # Order statistics on every other sample: same answer to a few uV, half the sorting.
    sub = clean[:, ::2] if n >= 200 else clean
    pct = percentile_along(sub, [0.5, 99.5], axis=1)
    return {
        "ptp": ptp,
        "flat_frac": flat_frac,
        "median": med,
        "sat": sat,
        "noise": noise,
        "qrs_ptp": pct[1] - pct[0],
        "wander": np.ptp(baseline[:, ::8], axis=1),  # the baseline is smooth
        "wander_residual": residual,
    }


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices of the runs of True in a 1-D mask."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _row_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, start and stop indices of the runs of True in each row of a 2-D mask (row-major
    order: each row's runs in time order), as :func:`_runs` gives row by row."""
    rows, n = mask.shape
    padded = np.zeros((rows, n + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    # One pass for both edges: in row-major order each start is followed by its stop.
    flat = np.flatnonzero(d)
    rising = d.flat[flat] == 1
    r, c = np.divmod(flat, n + 1)
    return r[rising], c[rising], c[~rising]


def _count_in_runs(runs: tuple[np.ndarray, np.ndarray], min_len: int, size: int) -> np.ndarray:
    """``concatenate(([0], cumsum(inside)))``, ``inside`` (``size`` values, int64) being 1 in
    each run ``[a, b)`` of ``runs`` (from :func:`_runs`) with ``b - a + 1 >= min_len``, else 0.

    Each such run is marked +1 at a and -1 at b, and summed: runs are disjoint and a stop is
    never another run's start (one loop step per run costs more, hundreds of runs in a
    quantised record)."""
    a, b = runs
    held = b - a + 1 >= min_len
    edges = np.zeros(size + 1, np.int64)
    edges[a[held]] = 1
    edges[b[held]] = -1
    return np.concatenate(([0], np.cumsum(np.cumsum(edges[:size]))))


def _robust_level(blocks: np.ndarray) -> np.ndarray:
    """1.4826 x MAD along the last axis of ``blocks`` (per row and window: the samples of the
    window that are read, every other one; half the samples is ample)."""
    med = median_partition(blocks, axis=2, keepdims=True)
    return 1.4826 * median_partition(np.abs(blocks - med), axis=2)


def _second_difference_windows(clean: np.ndarray, win: int) -> np.ndarray:
    """``d2[:, : nw * win].reshape(rows, nw, win)[:, :, ::2]`` (``nw = n // win``) of the
    second difference ``d2[j] = (x[j + 1] - 2 x[j]) + x[j - 1]`` (zero at both ends) that
    :func:`local_damage` levels, the same arithmetic per value.

    An even ``win`` reads samples 0, 2, 4, ...: d2 is computed there only, from strided views
    (no whole-record array). An odd one alternates parity between windows: gathering those
    samples costs more than the whole-record d2, which is computed then."""
    rows, n = clean.shape
    nw = n // win
    if win % 2 == 0:
        stop = nw * win
        out = np.zeros((rows, stop // 2), clean.dtype)
        mid, lo, hi = clean[:, 2:stop:2], clean[:, 1 : stop - 1 : 2], clean[:, 3 : stop + 1 : 2]
        inner = out[:, 1:]  # d2[0] is zero
    else:
        out = np.zeros_like(clean)
        mid, lo, hi = clean[:, 1:-1], clean[:, :-2], clean[:, 2:]
        inner = out[:, 1:-1]
    np.multiply(mid, 2, out=inner)  # in place: no temporaries
    np.subtract(hi, inner, out=inner)
    inner += lo
    if win % 2:
        return out[:, : nw * win].reshape(rows, nw, win)[:, :, ::2]
    return out.reshape(rows, nw, -1)


def _typical_qrs_span(clean: np.ndarray, fs: float) -> np.ndarray:
    """Per lead: the typical QRS span, median over 1-s windows of the range of a 3-point
    running median (which single corrupt samples do not reach)."""
    rows, n = clean.shape
    if rows > 4:
        # Row by row the result is the same: four leads at a time keep the two whole-record
        # buffers below a third of their size.
        return np.concatenate([_typical_qrs_span(clean[i : i + 4], fs) for i in range(0, rows, 4)])
    a, b, c = clean[:, :-2], clean[:, 1:-1], clean[:, 2:]
    # max(min(a, b), min(max(a, b), c)) in two buffers (min and max are exact).
    med3 = np.minimum(a, b)
    upper = np.maximum(a, b)
    np.minimum(upper, c, out=upper)
    np.maximum(med3, upper, out=med3)
    win = max(1, int(fs))
    nw = med3.shape[1] // win
    if nw >= 1:
        return median_partition(np.ptp(med3[:, : nw * win].reshape(rows, nw, win), axis=2), axis=1)
    return np.ptp(med3, axis=1)


def _spike_limit(clean: np.ndarray, fs: float) -> np.ndarray:
    """Per lead: the excursion above which a narrow deflection is a spike, from the typical
    QRS span (:func:`_typical_qrs_span`)."""
    th = QUALITY_THRESHOLDS
    return np.maximum(th["spike_rel"] * _typical_qrs_span(clean, fs), th["spike_min_mv"])


def _spike_screen(clean: np.ndarray, h: int, limit: np.ndarray) -> np.ndarray:
    """Rows x samples, bool: |x[j] - (x[j - h] + x[j + h]) / 2| > ``limit`` (per row), the end
    samples repeated beyond the ends (needs more than ``2 h`` samples).

    The interior is computed in one buffer, in place: the whole-record temporaries of the
    padded form cost more than the arithmetic."""
    n = clean.shape[1]
    out = np.empty(clean.shape, bool)
    mid = np.add(clean[:, : n - 2 * h], clean[:, 2 * h :])
    mid *= 0.5
    np.subtract(clean[:, h : n - h], mid, out=mid)
    np.abs(mid, out=mid)
    np.greater(mid, limit, out=out[:, h : n - h])
    left = np.abs(clean[:, :h] - 0.5 * (clean[:, :1] + clean[:, h : 2 * h]))
    out[:, :h] = left > limit
    right = np.abs(clean[:, n - h :] - 0.5 * (clean[:, n - 2 * h : n - h] + clean[:, n - 1 :]))
    out[:, n - h :] = right > limit
    return out


def _spike_residual(
    clean: np.ndarray, fs: float, width_ms: float | None = None, limit: np.ndarray | None = None
) -> np.ndarray:
    """|x - running median| (``width_ms``, default ``spike_width_ms``, odd, >= 3 samples),
    evaluated exactly only where a cheap screen (x against the mean of the samples half a
    window away) exceeds half of ``limit`` (per lead; default ``spike_min_mv``); zero
    elsewhere."""
    th = QUALITY_THRESHOLDS
    width_ms = th["spike_width_ms"] if width_ms is None else width_ms
    width = max(3, int(round(width_ms * fs / 1000)) | 1)
    h = width // 2
    rows, n = clean.shape
    if n <= 2 * h:
        return np.zeros_like(clean)
    floor = np.full(rows, th["spike_min_mv"]) if limit is None else np.asarray(limit)
    r, c = _nonzero_2d(_spike_screen(clean, h, 0.5 * floor[:, None]))
    if r.size > 0.05 * clean.size:
        return np.abs(clean - median_filter(clean, size=(1, width), mode="nearest"))
    # (Allocated after the screen, whose whole-record temporaries are freed by then.)
    resid = np.zeros_like(clean)
    if r.size:
        # The window around each candidate, the signal's end samples repeated beyond its ends.
        idx = fast_clip(c[:, None] + np.arange(-h, h + 1)[None, :], 0, n - 1)
        med = median_along(clean[r[:, None], idx], axis=1)
        resid[r, c] = np.abs(clean[r, c] - med)
    return resid


def _spike_hits(resid: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where a residual of :func:`_spike_residual` exceeds ``limit`` (per row), and each row's
    largest residual (in a row with a hit, the largest hit): all :func:`local_damage` keeps of
    it, so that the whole-record residual is freed before the next one is made."""
    return resid > limit[:, None], resid.max(axis=1)


def _beyond_together(left: np.ndarray, right: np.ndarray, t: float, out: np.ndarray) -> None:
    """``out[...] = (min(left, right) > t) | (max(left, right) < -t)`` (``t`` >= 0): both above
    ``t`` or both below ``-t``, NaN neither, from boolean buffers only (no whole-record float
    temporary for the minimum and maximum)."""
    side = np.empty(out.shape, bool)
    np.greater(left, t, out=out)
    out &= np.greater(right, t, out=side)
    below = np.less(left, -t)
    below &= np.less(right, -t, out=side)
    out |= below


def _glitches(clean: np.ndarray) -> np.ndarray:
    """One-sample jumps found in one lead alone (rows x samples, bool).

    A sample is a glitch when linear extrapolation from the two samples on either side
    misses it by the same sign and by more than ``glitch_min_mv`` and ``glitch_rel`` times
    the curvature (|second difference|) and half the slope of the samples around it (2 to
    ``glitch_context`` samples away, which the sample itself does not touch). A smooth peak,
    however sharp, is predicted by one side's extrapolation and has curvature or slope
    around it; a corrupt sample (a bit error) is predicted by neither. A jump at the same
    instant (+-1 sample) in another lead is a recorded event (a pacemaker stimulus, a
    common-mode artefact) and is not counted.
    """
    th = QUALITY_THRESHOLDS
    rows, n = clean.shape
    out = np.zeros(clean.shape, bool)
    c = int(th["glitch_context"])
    if n < 2 * c + 3:
        return out
    # d2[j] = x[j-1] - 2 x[j] + x[j+1] for j = 1..n-2 (stored at j - 1), in a buffer with
    # ``c - 1`` zeros either side (zero beyond the ends: what the context below reads there).
    pad = c - 1
    d2p = np.empty((rows, n - 2 + 2 * pad), np.result_type(clean, 2))
    d2p[:, :pad] = 0.0
    d2p[:, pad + n - 2 :] = 0.0
    d2 = d2p[:, pad : pad + n - 2]
    np.multiply(clean[:, 1:-1], 2, out=d2)  # in place from here: no whole-record temporaries
    np.subtract(clean[:, :-2], d2, out=d2)
    d2 += clean[:, 2:]
    # For sample i: left = d2[i-1] = x[i] - (2 x[i-1] - x[i-2]) and right = d2[i+1]
    # = x[i] - (2 x[i+1] - x[i+2]); g = min(|left|, |right|) when they share a sign, else 0
    # (so samples 0, 1, n-2 and n-1, which have a zero side, are never candidates).
    # g > t > 0 is both above t or both below -t.
    left, right = d2[:, :-2], d2[:, 2:]
    t = 0.5 * th["glitch_min_mv"]
    weak = np.zeros(clean.shape, bool)
    _beyond_together(left, right, t, out=weak[:, 2:-2])
    if not weak.any():
        return out
    # Everything else is judged at the few candidates alone (the same values, gathered).
    r, i = _nonzero_2d(weak)
    # Gathered as (offset, candidate) blocks: maxima over the short offset axis are then
    # elementwise across rows (a reduction along a short last axis is several times slower).
    offsets = np.arange(-c, c + 1)[:, None]
    # |d2| at j - 1 for j = i-c..i+c (the zero padding beyond the ends included): rows c - 1
    # and c + 1 are left and right (g), rows 0..c-2 and c+2..2c the context (2 to c away).
    at = np.abs(d2p.ravel()[offsets + (r * d2p.shape[1] + (i - 1 + pad))])
    g = np.minimum(at[c - 1], at[c + 1])
    at[c - 1 : c + 2] = 0.0  # not context (|d2| >= 0: a zero leaves the maximum alone)
    # ... and half the steps x[j] - x[j-1] for j = i-c+1..i-1 and i+2..i+c (zero beyond 1..n-1),
    # from x at i-c..i+c clipped to the record (step row m is j = i-c+1+m). A step beyond an
    # end is then x[end] - x[end]: zero, or NaN where that end sample is not finite; but then
    # the step next to it (j = 1 or n - 1), in the context of every candidate that reads
    # beyond that end, is not finite either, and such a candidate is no glitch either way.
    xs = clean.ravel()[fast_clip(offsets + i, 0, n - 1) + r * n]
    steps = np.subtract(xs[1:], xs[:-1])
    steps = 0.5 * np.abs(steps)
    steps[c - 1 : c + 1] = 0.0  # j = i and i + 1: not context
    ctx = np.maximum(at.max(axis=0), steps.max(axis=0))
    keep = g > 0.5 * th["glitch_rel"] * ctx
    big = keep & (g > th["glitch_min_mv"]) & (g > th["glitch_rel"] * ctx)
    if not big.any():
        return out
    weak[r[~keep], i[~keep]] = False
    rb, ib = r[big], i[big]
    if rows >= 2:
        # A candidate within +-1 sample in another lead makes it a recorded event.
        w = np.zeros((rows, n + 2), bool)
        w[:, 1:-1] = weak
        near = w[:, ib] | w[:, ib + 1] | w[:, ib + 2]  # (rows, glitches)
        alone = near.sum(axis=0) == 1  # only its own lead
        rb, ib = rb[alone], ib[alone]
    out[rb, ib] = True
    return out


def _stretch_width(still: np.ndarray, pos: np.ndarray, step: int, cap: int) -> np.ndarray:
    """Per row and position: how many consecutive True of ``still`` start at ``pos`` and go
    in direction ``step`` (+1 or -1), at most ``cap`` (indices beyond the ends count False)."""
    # One row more than the cap, never True: the count is the first False's offset (argmin).
    idx = pos[None, :] + step * np.arange(cap + 1)[:, None]  # (cap + 1, positions)
    inside = (idx >= 0) & (idx < still.shape[1])
    inside[-1] = False
    run = still[:, fast_clip(idx, 0, still.shape[1] - 1)]  # (rows, cap + 1, positions)
    run &= inside
    return np.argmin(run, axis=1)


def _frozen_with_jump(
    raw: np.ndarray,
    still: np.ndarray,
    step: np.ndarray | None = None,
    runs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[int, int]:
    """Samples in runs where every row of ``raw`` is constant at once for at least
    ``identical_run`` samples while some row jumps into its own constant stretch (which may
    start or end a sample or two apart: interleaved storage) and back out of it: jumps of
    opposite sign, each above ``glitch_min_mv`` and ``frozen_rel`` times the largest step
    over the 3 samples outside the stretch on either side. Returns (samples, first sample)
    or (0, -1). A held (staircase) stretch of a coarsely stored record steps to a new level
    and stays there; a byte pattern written over the data leaves the waveform and returns.

    All runs and rows are judged at once (a quantised record has hundreds of such runs).
    ``step`` is ``np.diff(raw, axis=1)`` and ``runs`` is ``_runs(still.all(axis=0))`` where
    the caller has them already."""
    th = QUALITY_THRESHOLDS
    n = raw.shape[1]
    # still[j]: x[j + 1] == x[j]
    starts, stops = _runs(still.all(axis=0)) if runs is None else runs
    keep = stops - starts + 1 >= th["identical_run"]
    a, b = starts[keep], stops[keep]
    if not a.size:
        return 0, -1
    # Each row's own constant stretch x[k, lo..hi], widened by up to 8 samples either side.
    lo = a[None, :] - _stretch_width(still, a - 1, -1, 8)
    hi = b[None, :] + _stretch_width(still, b, 1, 8)
    ok = (lo >= 4) & (hi + 5 <= n)
    lo, hi = np.where(ok, lo, 4), np.where(ok, hi, n - 5)  # in range; judged False below
    d = np.diff(raw, axis=1) if step is None else step  # d[j] = x[j + 1] - x[j]
    # One flat gather of the steps read (entry, leave, then 3 outside on either side).
    cols = np.stack((lo - 1, hi, lo - 4, lo - 3, lo - 2, hi + 1, hi + 2, hi + 3))
    cols += (np.arange(raw.shape[0]) * d.shape[1])[:, None]
    steps = d.ravel()[cols]  # (8, rows, runs)
    entry, leave = steps[0], steps[1]
    outside = np.abs(steps[2:]).max(axis=0)
    step = np.minimum(np.abs(entry), np.abs(leave))
    jump = (
        ok
        & (entry * leave < 0)
        & (step > th["glitch_min_mv"])
        & (step > th["frozen_rel"] * outside)
    )
    hit = jump.any(axis=0)
    if not hit.any():
        return 0, -1
    return int(np.sum(b[hit] - a[hit] + 1)), int(a[hit][0])


def local_damage(raw: np.ndarray, clean: np.ndarray, fs: float) -> list[dict[str, str]]:
    """Damage confined to part of a lead that the whole-record features miss.

    Per lead (rows), a dict flag -> reason for: ``spikes`` (isolated samples far above a
    running median narrower than a QRS, relative to the lead's typical QRS span, or short
    bursts far beyond it: corrupt samples that a detector would count as beats),
    ``glitches`` (one-sample jumps in this lead alone, :func:`_glitches`: bit errors),
    ``dropout`` (a run of exactly constant raw samples of at least ``dropout_ms`` inside an
    otherwise live lead, or every live lead holding one identical value: filler bytes) and
    ``noise_burst`` (a window whose robust high-frequency level is many times the lead's usual
    level). Leads that are flat over the whole record are left to :func:`_judge`. Thresholds
    live in :data:`QUALITY_THRESHOLDS`.
    """
    th = QUALITY_THRESHOLDS
    rows, n = clean.shape
    out: list[dict[str, str]] = [{} for _ in range(rows)]
    if n < max(10, int(fs)):
        return out
    # (a) spikes: excursions narrower than a QRS (running median of ~20 ms, >= 3 samples),
    # and short bursts (a few samples to ~40 ms) far beyond the QRS span (~60 ms median).
    # (The glitches first: their whole-record temporaries are freed before the spike residuals
    # are made, so the two never occupy memory together.)
    glitch = _glitches(clean)
    typical = _typical_qrs_span(clean, fs)
    hits, spike_peak = _spike_hits(
        _spike_residual(clean, fs), np.maximum(th["spike_rel"] * typical, th["spike_min_mv"])
    )
    wide_limit = np.maximum(th["wide_spike_rel"] * typical, th["wide_spike_min_mv"])
    wide_hits, wide_peak = _spike_hits(
        _spike_residual(clean, fs, th["wide_spike_ms"], wide_limit), wide_limit
    )
    # (c) noise bursts: robust level of the second difference per window (works at 100 Hz too).
    # d2 only at the samples the level reads (no whole-record array).
    bwin = max(8, int(th["burst_window_ms"] * fs / 1000))
    if n >= 2 * bwin:
        level = _robust_level(_second_difference_windows(clean, bwin))
    else:
        level = np.zeros((rows, 0))
    step = np.diff(raw, axis=1)  # x[j + 1] - x[j]: the frozen-stretch check reads it too
    # |step| < 1e-6, as two comparisons (the same truth for every value, NaN and infinities
    # included) without a whole-record float temporary for |step|.
    still = step < 1e-6
    still &= step > -1e-6
    live = np.ptp(raw, axis=1) >= th["flat_ptp_mv"]
    lead_run = max(2, int(th["dropout_ms"] * fs / 1000))
    joint_run = max(2, int(th["dropout_all_ms"] * fs / 1000)) if live.sum() >= 2 else 0
    # Samples inside runs where every live lead is constant at once for >= joint_run.
    # Runs where every live lead is constant at once (the frozen-stretch check reads them too).
    live_runs = _runs(still[live].all(axis=0)) if live.sum() >= 2 else None
    joint_cum = _count_in_runs(live_runs, joint_run, n - 1) if joint_run else np.zeros(n, np.int64)
    # Every live lead (>= 3) frozen at once for a few samples, either all at one identical
    # value or entered and left by a jump in some lead: a byte pattern written over the data
    # (filler or corrupt bytes decode alike in every signal), not an isoelectric stretch
    # (real leads never agree to the microvolt, and a held stretch is entered smoothly).
    frozen_total, frozen_first = 0, -1
    if live.sum() >= 3:
        # The live rows (no copies when every lead is live: the same values either way).
        every = bool(live.all())
        raw_live = raw if every else raw[live]
        frozen_total, frozen_first = _frozen_with_jump(
            raw_live, still if every else still[live], step if every else step[live], live_runs
        )
        starts, stops = _runs(np.ptp(raw_live, axis=0) < 1e-6)
        keep = stops - starts >= th["identical_run"]
        if keep.any() and not frozen_total:
            frozen_total = int(np.sum(stops[keep] - starts[keep]))
            frozen_first = int(starts[keep][0])
    # Per-lead summaries, all leads at once; the loop below only words the findings.
    any_hits, any_wide, any_glitch = hits.any(axis=1), wide_hits.any(axis=1), glitch.any(axis=1)
    # (b) drop-out: raw exactly constant (to 1 nV) for a long run in this lead, or for a
    # shorter run in every live lead at once (coarsely quantised isoelectric stretches of
    # one lead reach ~0.5 s in real records; all leads together never ~0.15 s).
    # Runs are only looked for in leads that can have a long one (one at least ``lead_run``
    # long covers a whole aligned block of half that length) unless every lead froze together.
    cand = np.ones(rows, bool)
    half = max(1, lead_run // 2)
    if not joint_cum[-1] and still.shape[1] >= half:
        nb = still.shape[1] // half
        cand = still[:, : nb * half].reshape(rows, nb, half).all(axis=2).any(axis=1)
    run_rows, starts, stops = _row_runs(still[cand])
    run_rows = np.flatnonzero(cand)[run_rows]
    lengths = stops - starts + 1
    long = (lengths >= lead_run) | ((joint_cum[stops] - joint_cum[starts]) > 0)
    dropout_total = np.bincount(run_rows[long], weights=lengths[long], minlength=rows)
    if level.shape[1] >= 3:
        refs = median_partition(level, axis=1)
        worsts = np.argmax(level, axis=1)
    for k in range(rows):
        if not live[k]:
            continue
        if any_hits[k]:
            where = np.flatnonzero(hits[k])
            count = int(np.count_nonzero(np.diff(where) > 1)) + 1
            out[k]["spikes"] = (
                f"{count} isolated spike(s) up to {spike_peak[k]:.1f} mV (first at "
                f"{where[0] / fs:.2f} s): narrower than a QRS (artefact, corrupt samples or "
                "unrecognised pacemaker stimuli)"
            )
        elif any_wide[k]:
            where = np.flatnonzero(wide_hits[k])
            count = int(np.count_nonzero(np.diff(where) > 1)) + 1
            out[k]["spikes"] = (
                f"{count} short burst(s) up to {wide_peak[k]:.1f} mV (first at "
                f"{where[0] / fs:.2f} s), {wide_limit[k] / th['wide_spike_rel']:.2f} mV "
                "typical QRS span: corrupt samples, not a recorded complex"
            )
        if any_glitch[k]:
            where = np.flatnonzero(glitch[k])
            out[k]["glitches"] = (
                f"{where.size} one-sample jump(s) in this lead alone (first at "
                f"{where[0] / fs:.2f} s): corrupt samples (bit errors), not a recorded waveform"
            )
        if dropout_total[k] > 0:
            total = int(dropout_total[k])
            if total < 0.9 * n:
                first = starts[long & (run_rows == k)][0]
                out[k]["dropout"] = (
                    f"signal constant (drop-out) over {total / fs:.2f} s, first at "
                    f"{first / fs:.2f} s"
                )
        if frozen_total and "dropout" not in out[k]:
            out[k]["dropout"] = (
                f"every lead frozen at once, entered or left by a jump, over "
                f"{frozen_total / fs:.3f} s (first at {frozen_first / fs:.2f} s): filler or "
                "corrupt data, not a recording"
            )
        if level.shape[1] >= 3:
            lv = level[k]
            ref = float(refs[k])
            # d2 of white noise has 6x its variance: back to the signal's own rms.
            worst = int(worsts[k])
            top = float(lv[worst]) / np.sqrt(6.0)
            if lv[worst] > th["burst_rel"] * ref and top > th["burst_min_mv"]:
                n_bad = int(
                    np.sum((lv > th["burst_rel"] * ref) & (lv / np.sqrt(6.0) > th["burst_min_mv"]))
                )
                out[k]["noise_burst"] = (
                    f"noise burst: {n_bad} window(s) of {bwin / fs:.1f} s with high-frequency "
                    f"noise about {top * 1000:.0f} uV rms, {lv[worst] / max(ref, 1e-12):.0f}x "
                    f"the lead's usual level (worst at {worst * bwin / fs:.1f} s)"
                )
    return out


def _judge(f: dict[str, float]) -> LeadQuality:
    """Flags, reasons and usability of one lead from its features."""
    th = QUALITY_THRESHOLDS
    q = LeadQuality()
    if f["ptp"] < th["flat_ptp_mv"]:
        q.usable = False
        q.flags.append("flat")
        q.reasons.append(f"peak-to-peak amplitude {f['ptp'] * 1000:.1f} uV: flat line")
        return q
    if f["flat_frac"] > th["flat_fraction"]:
        q.usable = False
        q.flags.append("lead_off")
        q.reasons.append(f"{f['flat_frac']:.0%} of 1-s windows are flat: electrode off")
    if abs(f["median"]) > th["leadoff_abs_mv"]:
        q.usable = False
        if "lead_off" not in q.flags:
            q.flags.append("lead_off")
        q.reasons.append(f"median level {f['median']:.1f} mV: lead railed or off")
    if f["sat"] > th["saturation_fraction"]:
        q.flags.append("saturated")
        q.reasons.append(f"{f['sat']:.1%} of samples pinned at the amplifier limit (clipped)")
        if f["sat"] > th["saturation_unusable_fraction"]:
            q.usable = False
    noise = f["noise"]
    q.noise_rms_mv = round(noise, 4)
    if noise > th["noise_rms_mv"]:
        q.flags.append("noise")
        q.reasons.append(f"high-frequency noise {noise * 1000:.0f} uV rms")
        if (
            noise > th["noise_unusable_rms_mv"]
            or f["qrs_ptp"] < th["noise_snr_unusable"] * 4 * noise
        ):
            q.usable = False
    q.baseline_wander_mv = round(f["wander"], 3)
    if f["wander"] > th["wander_ptp_mv"]:
        q.flags.append("baseline_wander")
        q.reasons.append(f"baseline wander {f['wander']:.2f} mV peak-to-peak (removed by filter)")
    if f["wander_residual"] > th["wander_residual_mv"]:
        q.flags.append("baseline_wander_severe")
        q.reasons.append(
            f"severe baseline wander: {f['wander_residual']:.1f} mV peak-to-peak of slow drift "
            "remains after the filter (ST, P and T amplitudes unreliable)"
        )
    return q


def assess_quality(
    raw: np.ndarray, clean: np.ndarray, baseline: np.ndarray, fs: float, leads: list[str]
) -> QualityReport:
    """Quality of every lead plus an overall grade.

    Example
    -------
    >>> import numpy as np
    >>> z = np.zeros((2, 1000))
    >>> assess_quality(z, z, z, 500.0, ["I", "II"]).overall
    'unusable'
    """
    report = QualityReport()
    raw = np.atleast_2d(np.asarray(raw, dtype=np.float64))
    if raw.shape[1] == 0:
        for name in leads:
            report.leads[name] = LeadQuality(usable=False, flags=["flat"], reasons=["no samples"])
    else:
        f = _lead_features(raw, np.atleast_2d(clean), np.atleast_2d(baseline), fs)
        for k, name in enumerate(leads):
            report.leads[name] = _judge({key: float(v[k]) for key, v in f.items()})
        damage = local_damage(raw, np.atleast_2d(np.asarray(clean, np.float64)), fs)
        for name, found in zip(leads, damage):
            q = report.leads[name]
            for flag, reason in found.items():
                if q.usable and flag not in q.flags:
                    q.flags.append(flag)
                    q.reasons.append(reason)
    n_bad = len(report.poor_leads)
    n = len(leads)
    flagged = sum(1 for q in report.leads.values() if q.flags)
    if n_bad == n:
        report.overall = "unusable"
        report.reasons.append("no usable lead")
    elif n_bad > n // 2:
        report.overall = "poor"
        report.reasons.append(f"{n_bad} of {n} leads unusable: {', '.join(report.poor_leads)}")
    elif n_bad or flagged:
        report.overall = "acceptable"
        if n_bad:
            report.reasons.append(f"unusable leads: {', '.join(report.poor_leads)}")
        others = [k for k, q in report.leads.items() if q.flags and q.usable]
        if others:
            report.reasons.append(f"flagged leads: {', '.join(others)}")
    return report
