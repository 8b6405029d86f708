"""The delineation speed helpers give exactly the results of the plain formulations they replace."""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.measure import delineate as dl


def _ref_masked_arg(y, start, stop, mode):
    out = []
    for row, a, b in zip(y, start, stop, strict=True):
        cols = [j for j in range(y.shape[1]) if a <= j < b]
        if not cols:
            out.append(-1)
            continue
        vals = row[cols]
        out.append(cols[int(np.argmax(vals) if mode == "max" else np.argmin(vals))])
    return np.array(out)


def _ref_last_true(mask, start, stop):
    return np.array(
        [max([j for j in range(mask.shape[1]) if a <= j < b and m[j]], default=-1)
         for m, a, b in zip(mask, start, stop, strict=True)]
    )  # fmt: skip


def _ref_first_true(mask, start, stop):
    return np.array(
        [min([j for j in range(mask.shape[1]) if a <= j < b and m[j]], default=-1)
         for m, a, b in zip(mask, start, stop, strict=True)]
    )  # fmt: skip


def _random_ranges(rng, n, w):
    start = rng.integers(-5, w, n)
    stop = start + rng.integers(-2, 30, n)
    return start, stop


def test_column_restricted_searches_equal_full_width_reference() -> None:
    rng = np.random.default_rng(4)
    n, w = 40, 120
    y = np.round(rng.normal(size=(n, w)), 1)  # coarse values: many ties
    for _ in range(20):
        start, stop = _random_ranges(rng, n, w)
        for mode in ("max", "min"):
            assert np.array_equal(
                dl._masked_arg(y, start, stop, mode), _ref_masked_arg(y, start, stop, mode)
            )
        mask = y > 0.3
        assert np.array_equal(dl._last_true(mask, start, stop), _ref_last_true(mask, start, stop))
        assert np.array_equal(dl._first_true(mask, start, stop), _ref_first_true(mask, start, stop))


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_quiet_searches_on_a_span_equal_the_full_width_filter(k: int) -> None:
    rng = np.random.default_rng(5)
    n, w = 30, 150
    sv = np.abs(rng.normal(size=(n, w)))
    thr = rng.uniform(0.8, 1.6, n)
    for _ in range(20):
        start, stop = _random_ranges(rng, n, w)
        assert np.array_equal(
            dl._last_quiet(sv, thr, k, start, stop),
            dl._last_true(dl._quiet(sv, thr, k, False), start, stop),
        )
        assert np.array_equal(
            dl._first_quiet(sv, thr, k, start, stop),
            dl._first_true(dl._quiet(sv, thr, k, True), start, stop),
        )


def test_integer_range_masks_equal_the_float_comparisons() -> None:
    # _in_columns compares clipped, rounded-up bounds in int16: the same mask as comparing the
    # column numbers with the bounds themselves, fractional, negative and far beyond the span.
    rng = np.random.default_rng(6)
    n = 50
    for _ in range(30):
        start = np.round(rng.uniform(-40, 350, n), rng.integers(0, 2))
        stop = start + np.round(rng.uniform(-10, 200, n), 1)
        stop[::7] = 1e6  # far beyond any window
        lo, hi = sorted(int(v) for v in rng.integers(0, 150, 2))
        if _ % 3 == 0:
            lo, hi = 0, 400  # a span wider than a small integer type holds
        ar = np.arange(lo, hi)
        expected = (ar >= start[:, None]) & (ar < stop[:, None])
        assert np.array_equal(dl._in_columns(lo, hi, start, stop), expected)
        odd_start, odd_stop = start.copy(), stop.copy()
        odd_start[3::11], odd_stop[5::13], odd_stop[6::13] = np.nan, np.nan, -np.inf
        odd_start[4::11] = -np.inf
        for s_, e_ in ((odd_start, stop), (start, odd_stop), (odd_start, odd_stop)):
            expected_odd = (ar >= s_[:, None]) & (ar < e_[:, None])
            assert np.array_equal(dl._in_columns(lo, hi, s_, e_), expected_odd)
        istart, istop = np.floor(start).astype(int), np.floor(stop).astype(int)
        expected = (ar >= istart[:, None]) & (ar < istop[:, None])
        assert np.array_equal(dl._in_columns(lo, hi, istart, istop), expected)


def _where_form(y, start, stop, mode):
    """The masked search as first written: np.where fills the columns outside each row's range
    (so a range holding only the fill value gives the span's first column, as before)."""
    lo, hi = dl._column_span(start, stop, y.shape[-1])
    if hi == lo:
        return np.full(y.shape[0], -1)
    ar = np.arange(lo, hi)
    inside = (ar >= start[:, None]) & (ar < stop[:, None])
    z = np.where(inside, y[:, lo:hi], -np.inf if mode == "max" else np.inf)
    out = np.argmax(z, axis=1) if mode == "max" else np.argmin(z, axis=1)
    return np.where(inside.any(axis=1), out + lo, -1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_both_extremes_at_once_equal_two_masked_searches(dtype) -> None:
    # _masked_extremes finds the minimum as the first maximum of -y, and _masked_arg fills a
    # copy in place: the same indices as the np.where form on ties, NaNs, infinities, signed
    # zeros and empty ranges.
    rng = np.random.default_rng(8)
    n, w = 40, 120
    y = np.round(rng.normal(size=(n, w)), 1).astype(dtype)  # coarse values: many ties
    y[3, 40:60] = np.nan
    y[5, :] = np.inf
    y[6, :] = -np.inf
    y[7, 10:30] = -0.0
    for _ in range(20):
        start, stop = _random_ranges(rng, n, w)
        start = start + np.round(rng.uniform(0, 1, n), 1) * (rng.uniform(size=n) < 0.3)
        for s, e in ((start, stop), (np.full(n, 10), np.full(n, 90))):
            pos, neg = dl._masked_extremes(y, s, e)
            assert np.array_equal(pos, _where_form(y, s, e, "max"))
            assert np.array_equal(neg, _where_form(y, s, e, "min"))
            assert np.array_equal(dl._masked_arg(y, s, e, "max"), _where_form(y, s, e, "max"))
            assert np.array_equal(dl._masked_arg(y, s, e, "min"), _where_form(y, s, e, "min"))


def _ref_hold_outside(y, a, b):
    """``y`` held at ``y[row, a]`` before ``a`` and at ``y[row, b]`` after ``b``, row by row."""
    out = y.copy()
    w = y.shape[1]
    for row in range(y.shape[0]):
        if a is not None:
            i = min(max(int(a[row]), 0), w - 1)
            out[row, :i] = y[row, i]
        if b is not None:
            i = min(max(int(b[row]), 0), w - 1)
            out[row, i + 1 :] = y[row, i]
    return out


@pytest.mark.parametrize("n", [3, 60])  # a small mask and one past the int16 threshold
def test_hold_outside_equals_its_row_by_row_definition(n: int) -> None:
    rng = np.random.default_rng(9)
    w = 173
    y = rng.normal(size=(n, w)).astype(np.float32)
    for _ in range(10):
        a = rng.integers(-20, w + 20, n)
        b = a + rng.integers(-5, 120, n)
        for lo, hi in ((a, b), (a, None), (None, b), (None, None)):
            got = dl._hold_outside(y, lo, hi)
            assert got.dtype == y.dtype
            assert np.array_equal(got, _ref_hold_outside(y, lo, hi))
