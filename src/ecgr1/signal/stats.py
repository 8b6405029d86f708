"""Small exact statistics that are faster than their NumPy counterparts on our array shapes.

``np.median(a, axis=k)`` partitions every 1-D slice along ``k``; when that axis is short (the
beats of a 10-s record) and not the last one, the strided partition costs several times more
than sorting along the axis. :func:`median_along` gives exactly ``np.median``'s result (same
arithmetic: the middle value, or the mean of the two middle values) by sorting, and
:func:`percentile_along` exactly ``np.percentile``'s (default "linear" method) from single-kth
partial sorts, without NumPy's general-purpose quantile machinery. With ``nan_policy="omit"``,
:func:`percentile_along` ignores NaN like ``np.nanpercentile`` (which loops over the columns in
Python) in one vectorised sort.

Example
-------
>>> import numpy as np
>>> a = np.arange(24.0).reshape(2, 4, 3)
>>> bool(np.array_equal(median_along(a, 1), np.median(a, axis=1)))
True
"""

from __future__ import annotations

import math

import numpy as np


def fast_clip(i: np.ndarray, lo, hi) -> np.ndarray:
    """``np.clip(i, lo, hi)`` from ``np.maximum`` then ``np.minimum``, without ``np.clip``'s
    dispatch, which costs more than the comparison on the index arrays of a few hundred values
    it is used for (dozens of calls a record). For integers the values are the same by
    definition; for floats NumPy's clip is that same pair of operations, bit for bit with NaN,
    infinities and signed zeros in any of the three (``tests/test_signal_stats.py`` checks every
    combination), and the boundary positions it clips are floats.

    >>> fast_clip(np.array([-3, 4, 12]), 0, 9).tolist()
    [0, 4, 9]
    """
    return np.minimum(np.maximum(i, lo), hi)


def median_along(a: np.ndarray, axis: int = 0, keepdims: bool = False) -> np.ndarray:
    """Median of ``a`` along ``axis``, equal to ``np.median(a, axis=axis, keepdims=keepdims)``.

    Sorting along a short axis is faster than NumPy's partition-based median. Arrays with NaN
    (where NumPy's NaN rules apply), empty axes and axes longer than 64 are handed to
    ``np.median``.
    """
    a = np.asarray(a)
    n = a.shape[axis]
    # Long axes (a whole signal) are faster with a partition.
    if n > 64 and a.dtype == np.float64:
        return median_partition(a, axis=axis, keepdims=keepdims)
    if n == 0 or n > 64 or a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and np.isnan(a).any()):
        return np.median(a, axis=axis, keepdims=keepdims)
    # Sorted along the last axis of a contiguous copy: NumPy sorts a middle axis slice by slice
    # through a buffer, a quarter slower on a (leads, beats, samples) block.
    # (For a 2-D array np.moveaxis is the transpose or nothing: the same view, without its
    # argument handling.)
    if a.ndim == 2:
        s = (a.T if axis in (0, -2) else a).copy()
    else:
        s = np.moveaxis(a, axis, -1).copy()
    s.sort(axis=-1)
    mid = n // 2
    if n % 2:
        out = np.take(s, mid, axis=-1)
    else:
        # np.median takes the mean of the two middle values: (lo + hi) / 2, exactly this.
        out = (np.take(s, mid - 1, axis=-1) + np.take(s, mid, axis=-1)) / 2.0
    if a.dtype.kind in "iu":
        out = np.asarray(out, dtype=np.float64)
    return np.expand_dims(out, axis) if keepdims else out


def median_1d(a: np.ndarray) -> np.floating:
    """``np.median(a)`` of a 1-D float64 array, bit for bit, from one sort: the middle value,
    or ``(lo + hi) / 2`` of the two middle values, plus 0.0 as ``np.median``'s mean adds (no
    negative zero); NaN when there is one. ``np.median``'s general machinery costs several
    times the sort on the few dozen values (RR intervals, PR intervals) it is used for.
    Anything else (another dtype or shape, an empty array) is handed to ``np.median``.

    >>> import numpy as np
    >>> float(median_1d(np.array([3.0, 1.0, 2.0, 10.0])))
    2.5
    """
    a = np.asarray(a)
    if a.ndim != 1 or a.size == 0 or a.dtype != np.float64:
        return np.median(a)
    s = np.sort(a)  # NaN sorts last
    if s[-1] != s[-1]:
        return np.median(a)
    m = s.size // 2
    out = s[m] if s.size % 2 else (s[m - 1] + s[m]) / 2.0
    return out + 0.0


def nanmedian_1d(a: np.ndarray) -> np.floating:
    """``np.nanmedian(a)`` of a 1-D float64 array with at least one value that is not NaN, bit
    for bit: NumPy drops the NaN of a 1-D array and takes ``np.median`` of the rest, which
    :func:`median_1d` computes without the general machinery (infinities are kept, as there).

    >>> float(nanmedian_1d(np.array([3.0, np.nan, 1.0, 2.0])))
    2.0
    """
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype != np.float64:
        return np.nanmedian(a)
    kept = a[~np.isnan(a)]
    return median_1d(kept) if kept.size else np.nanmedian(a)


def median_partition(a: np.ndarray, axis: int = -1, keepdims: bool = False) -> np.ndarray:
    """``np.median(a, axis=axis, keepdims=keepdims)`` for float64 data, bit for bit, from one
    ``np.partition`` without ``np.median``'s general machinery (several times its cost on a
    (leads, windows, samples) block array).

    The middle value, or the mean of the two middle values (``(lo + hi) / 2``, what
    ``np.mean`` of the pair computes), plus 0.0 as ``np.mean`` adds (no negative zero); NaN anywhere along the axis gives NaN, as in NumPy.
    Other dtypes and empty axes are handed to ``np.median``.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 4, 101))
    >>> bool(np.array_equal(median_partition(x[..., 1:]), np.median(x[..., 1:], axis=-1)))
    True
    """
    a = np.asarray(a)
    n = a.shape[axis]
    if n == 0 or a.dtype != np.float64:
        return np.median(a, axis=axis, keepdims=keepdims)
    m = n // 2
    # One kth only: NumPy's partition with several kth is several times slower. The lower
    # middle value of an even count is the largest of the m values left of position m.
    part = np.partition(a, m, axis=axis)
    out = np.take(part, m, axis=axis)
    if n % 2 == 0:
        lower = np.max(np.take(part, np.arange(m), axis=axis), axis=axis)
        out = (lower + out) / 2.0
    # np.median's mean adds to a +0.0 start: a middle value of -0.0 comes out as +0.0.
    out = out + 0.0
    nan = np.isnan(part).any(axis=axis)
    if nan.any():
        out = np.where(nan, np.nan, out)
    return np.expand_dims(out, axis) if keepdims else out


def middle_value(a: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """The middle value of ``a`` (the upper one of an even count), over all its values (``axis``
    None: a float, 0.0 for an empty array) or along ``axis``: a median for levels that need not
    be exact to the last bit, from one single-kth partition.

    >>> import numpy as np
    >>> middle_value(np.array([4.0, 1.0, 3.0, 2.0])), middle_value(np.array([[3, 1, 2]]), axis=1)
    (3.0, array([2]))
    """
    a = np.asarray(a)
    if axis is None:
        flat = a.ravel()
        m = flat.size // 2
        return float(np.partition(flat, m)[m]) if flat.size else 0.0
    m = a.shape[axis] // 2
    return np.take(np.partition(a, m, axis=axis), m, axis=axis)


def block_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Means of consecutive blocks of ``k`` samples along the last axis (a trailing partial
    block dropped): ``x[..., : n * k].reshape(..., n, k).mean(axis=-1)``, ``n = len // k``, bit
    for bit, from ``k`` strided slices (a reduction over a short trailing axis is several
    times slower).

    NumPy sums a contiguous inner axis of up to 128 values pairwise: fewer than 8 one after the
    other, else 8 running partial sums combined as ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) +
    (r6 + r7))`` and the rest added in turn, all onto a 0.0 start; the mean divides by ``k``.
    A non-contiguous ``x`` may be reduced in another order and goes to ``np.mean`` (as do
    other dtypes and longer blocks).

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 1003))
    >>> bool(np.array_equal(block_mean(x, 10), x[:, :1000].reshape(3, 100, 10).mean(axis=-1)))
    True
    """
    n = x.shape[-1] // k
    if x.dtype != np.float64 or k > 128 or (k >= 8 and not x.flags.c_contiguous):
        return x[..., : n * k].reshape(*x.shape[:-1], n, k).mean(axis=-1)
    cols = [x[..., i : n * k : k] for i in range(k)]
    if k < 8:
        total = 0.0 + cols[0]
        for col in cols[1:]:
            total += col
    else:
        r = cols[:8]
        top = k - k % 8
        for i in range(8, top, 8):
            r = [r[j] + cols[i + j] for j in range(8)]
        total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for col in cols[top:]:
            total += col
        total += 0.0  # the 0.0 start: -0.0 comes out as +0.0
    total /= k
    return total


def percentile_along(
    a: np.ndarray, q: float | list[float], axis: int = -1, nan_policy: str = "propagate"
) -> np.ndarray:
    """``np.percentile(a, q, axis=axis)`` (method "linear") for finite float64 data, and float32
    data with a Python number ``q`` (:func:`_percentile_float32`), bit for bit (except that a
    zero result may carry the other sign: ties between -0.0 and +0.0 are equal to a
    partition, whichever is picked).

    Single-kth partitions for the order statistics the percentiles need
    (:func:`_order_statistics`), then NumPy's own interpolation formula (``a + (b - a) * g``, or ``b - (b - a) * (1 - g)`` when ``g >= 0.5``).
    Other dtypes, data with NaN and empty axes are handed to ``np.percentile``.

    ``nan_policy="omit"`` ignores NaN (``np.nanpercentile``, linear interpolation): see
    :func:`_percentile_omit_nan`.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(3, 101))
    >>> bool(np.array_equal(percentile_along(x, [5, 99], axis=1), np.percentile(x, [5, 99], axis=1)))
    True
    >>> x[0, :50] = np.nan; x[2] = np.nan
    >>> got = percentile_along(x, 20, axis=1, nan_policy="omit")
    >>> bool(np.allclose(got[:2], np.nanpercentile(x[:2], 20, axis=1))), bool(np.isnan(got[2]))
    (True, True)
    """
    if nan_policy == "omit":
        return _percentile_omit_nan(a, q, axis)
    if nan_policy != "propagate":
        raise ValueError(f"nan_policy must be 'propagate' or 'omit', got {nan_policy!r}")
    a = np.asarray(a)
    n = a.shape[axis]
    if a.ndim == 1 and a.dtype == np.float64 and type(q) in (int, float) and 0 < n <= 256:
        return _percentile_small_1d(a, q)
    weak32 = a.dtype == np.float32 and type(q) in (int, float)
    if n == 0 or not (weak32 or a.dtype == np.float64) or np.isnan(a).any():
        return np.percentile(a, q, axis=axis)
    if weak32:
        return _percentile_float32(a, q, axis)
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    virtual = qs / 100.0 * (n - 1)
    lo = np.floor(virtual).astype(np.intp)
    hi = np.minimum(lo + 1, n - 1)
    g = virtual - lo
    stat = _order_statistics(a, np.concatenate([lo, hi]), axis)
    below = np.stack([stat[k] for k in lo.tolist()])
    above = np.stack([stat[k] for k in hi.tolist()])
    shape = (-1,) + (1,) * (below.ndim - 1)
    g = g.reshape(shape)
    diff = above - below
    out = np.where(g >= 0.5, above - diff * (1 - g), below + diff * g)
    return out if np.ndim(q) else out[0]


def _percentile_small_1d(a: np.ndarray, q: float) -> np.floating:
    """:func:`percentile_along` of a short 1-D float64 ``a`` and a Python number ``q``: one
    sort, then the same position and interpolation arithmetic (several partitions and their
    bookkeeping cost ten times more on a few dozen values). NaN goes to ``np.percentile``."""
    s = np.sort(a)
    if np.isnan(s[-1]):  # NaN sorts last
        return np.percentile(a, q)
    n = s.size
    virtual = q / 100.0 * (n - 1)
    lo = math.floor(virtual)
    hi = min(lo + 1, n - 1)
    g = virtual - lo
    below, above = s[lo], s[hi]
    diff = above - below
    return above - diff * (1 - g) if g >= 0.5 else below + diff * g


def _percentile_float32(a: np.ndarray, q: float, axis: int) -> np.ndarray:
    """``np.percentile(a, q, axis=axis)`` for float32 ``a`` without NaN (not empty) and a
    Python number ``q``. NumPy then finds the position in float64 and interpolates in float32:
    its weight, a Python float, is cast to the array's type (``1 - g`` is taken first)."""
    n = a.shape[axis]
    virtual = (n - 1) * (q / 100)
    lo = math.floor(virtual)
    if lo >= n - 1:  # the last value (q = 100): NumPy's own
        return np.percentile(a, q, axis=axis)
    g = virtual - lo
    stat = _order_statistics(a, np.array([lo, lo + 1]), axis)
    below, above = stat[lo], stat[lo + 1]
    diff = above - below
    return above - diff * (1 - g) if g >= 0.5 else below + diff * g


def _order_statistics(a: np.ndarray, ks: np.ndarray, axis: int) -> dict[int, np.ndarray]:
    """The ``k``-th smallest values along ``axis`` for each ``k`` in ``ks`` (axis removed).

    One single-kth ``np.partition`` per neighbouring pair ``(k, k + 1)`` (a percentile's two
    order statistics): the other of the pair is the largest value left of it, or the smallest
    right of it, whichever side is shorter. NumPy's partition with several kth at once costs
    several times more than one with a single kth.
    """
    n = a.shape[axis]
    want = sorted(set(int(k) for k in ks))
    out: dict[int, np.ndarray] = {}
    for k in want:
        if k in out:
            continue
        if k + 1 in want and k + 1 < n:
            if k + 1 <= n // 2:  # partition at k + 1; k is the largest of the k + 1 below it
                part = np.partition(a, k + 1, axis=axis)
                out[k + 1] = np.take(part, k + 1, axis=axis)
                out[k] = np.max(np.take(part, np.arange(k + 1), axis=axis), axis=axis)
            else:  # partition at k; k + 1 is the smallest of the values above it
                part = np.partition(a, k, axis=axis)
                out[k] = np.take(part, k, axis=axis)
                out[k + 1] = np.min(np.take(part, np.arange(k + 1, n), axis=axis), axis=axis)
        else:
            out[k] = np.take(np.partition(a, k, axis=axis), k, axis=axis)
    return out


def _percentile_omit_nan(a: np.ndarray, q: float | list[float], axis: int) -> np.ndarray:
    """NaN-ignoring percentile along ``axis`` (float64), from one sort along that axis.

    The finite values of each slice are the first ``n`` after sorting (NaN sort last); the
    percentile interpolates linearly between the order statistics at ``floor(pos)`` and the
    next, ``pos = (n - 1) * q / 100``, as ``lo * (1 - g) + hi * g``. That equals
    ``np.nanpercentile`` up to the last bit of the interpolation (NumPy writes it
    ``lo + (hi - lo) * g``). Slices without a finite value give NaN. The result has the shape
    of ``a`` without ``axis``, with a leading axis over ``q`` when ``q`` is a list.
    """
    a = np.asarray(a, dtype=np.float64)
    if axis != 0:  # (moving axis 0 to 0 costs as much as sorting a leads x beats block)
        a = np.moveaxis(a, axis, 0)
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if a.shape[0] == 0:
        out = np.full((qs.size, *a.shape[1:]), np.nan)
        return out if np.ndim(q) else out[0]
    s = np.sort(a, axis=0)  # NaN sort last
    if np.isfinite(s[-1]).all() and np.isfinite(s[0]).all():
        return _percentile_sorted_finite(s, qs, np.ndim(q))
    n = np.isfinite(s).sum(axis=0)
    last = np.maximum(n - 1, 0)
    rows = []
    for qi in qs:
        pos = last * (qi / 100.0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, last)
        frac = pos - lo
        with np.errstate(invalid="ignore"):
            v = (
                np.take_along_axis(s, lo[None], axis=0)[0] * (1.0 - frac)
                + np.take_along_axis(s, hi[None], axis=0)[0] * frac
            )
        rows.append(np.where(n > 0, v, np.nan))
    return np.stack(rows) if np.ndim(q) else rows[0]


def _percentile_sorted_finite(s: np.ndarray, qs: np.ndarray, many: int) -> np.ndarray:
    """:func:`_percentile_omit_nan` of ``s`` sorted along axis 0 with every value finite (the
    first and last rows finite, so every row is): the same interpolation at one position
    shared by all slices, with scalar indices instead of per-slice gathers (the fixed cost of
    the general path dominates on a leads x beats block)."""
    last = s.shape[0] - 1
    rows = []
    # Python floats: the same double arithmetic as NumPy scalars, without their overhead.
    for qi in qs.tolist():
        pos = last * (qi / 100.0)
        lo = math.floor(pos)
        hi = min(lo + 1, last)
        frac = pos - lo
        rows.append(np.asarray(s[lo] * (1.0 - frac) + s[hi] * frac))
    return np.stack(rows) if many else rows[0]
