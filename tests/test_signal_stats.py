"""The signal-stage order statistics equal the plain NumPy formulations they replace."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from ecgr1.signal.stats import median_along, percentile_along


@pytest.mark.parametrize(
    "shape,axis", [((12, 11, 60), 1), ((12, 10, 60), 1), ((9, 40), 0), ((7,), 0)]
)
def test_median_along_equals_numpy(shape, axis) -> None:
    a = np.random.default_rng(1).normal(size=shape)
    assert np.array_equal(median_along(a, axis), np.median(a, axis=axis))
    assert np.array_equal(
        median_along(a, axis, keepdims=True), np.median(a, axis=axis, keepdims=True)
    )


def test_median_along_follows_numpy_with_nan_ints_and_long_axes() -> None:
    a = np.random.default_rng(2).normal(size=(5, 6))
    a[2, 3] = np.nan
    assert np.array_equal(median_along(a, 1), np.median(a, axis=1), equal_nan=True)
    ints = np.arange(24).reshape(4, 6)
    assert np.array_equal(median_along(ints, 0), np.median(ints, axis=0))
    long = np.random.default_rng(3).normal(size=(3, 500))
    assert np.array_equal(median_along(long, 1), np.median(long, axis=1))


@pytest.mark.parametrize(
    "shape,axis,q",
    [((12, 250), 1, [0.5, 99.5]), ((12, 249), 1, 99), ((250,), 0, 98), ((5, 7), 0, [10, 50, 90])],
)
def test_percentile_along_equals_numpy(shape, axis, q) -> None:
    a = np.random.default_rng(6).normal(size=shape)
    got, want = percentile_along(a, q, axis=axis), np.percentile(a, q, axis=axis)
    assert got.shape == want.shape and np.array_equal(got, want)


def test_percentile_of_a_short_series_is_numpys_to_the_bit() -> None:
    """The one-sort path of short 1-D float64 series (ties, -0.0, every kind of q, NaN)."""
    rng = np.random.default_rng(8)
    for trial in range(3000):
        n = int(rng.integers(1, 257))
        a = rng.normal(size=n) * float(rng.choice([1e-3, 1.0, 1e3]))
        if trial % 5 == 0:
            a = np.round(a, 1)  # ties, and -0.0
        q = float(rng.uniform(0, 100)) if trial % 3 else int(rng.integers(0, 101))
        got, want = percentile_along(a, q), np.percentile(a, q)
        assert got == want and type(got) is type(want), (n, q, got, want)
    a = np.array([1.0, np.nan, 2.0])
    assert np.isnan(percentile_along(a, 50))


def test_percentile_along_hands_other_inputs_to_numpy() -> None:
    a = np.random.default_rng(7).normal(size=(4, 30))
    a32 = a.astype(np.float32)
    assert np.array_equal(percentile_along(a32, 99, axis=1), np.percentile(a32, 99, axis=1))
    a[1, 3] = np.nan
    assert np.array_equal(
        percentile_along(a, [5, 95], axis=1), np.percentile(a, [5, 95], axis=1), equal_nan=True
    )


def _ref_nanpct(a, q, axis=0):
    """The engine's former private NaN-ignoring percentile, kept as the reference."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    elif axis == 1:
        a = a.T
    if a.shape[0] == 0:
        return np.full(a.shape[1], np.nan)
    s = np.sort(a, axis=0)
    n = np.isfinite(s).sum(axis=0)
    pos = np.maximum(n - 1, 0) * (q / 100.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    frac = pos - lo
    cols = np.arange(s.shape[1])
    with np.errstate(invalid="ignore"):
        v = s[lo, cols] * (1.0 - frac) + s[hi, cols] * frac
    return np.where(n > 0, v, np.nan)


@pytest.mark.parametrize("q", [0.0, 20.0, 25.0, 50.0, 80.0, 100.0, 33.3])
@pytest.mark.parametrize("axis", [0, 1])
def test_percentile_along_omit_nan(q: float, axis: int) -> None:
    rng = np.random.default_rng(8)
    a = rng.normal(size=(9, 40)).astype(np.float32)  # cast to float64 like the engine's inputs
    a[rng.random(a.shape) < 0.3] = np.nan
    if axis == 0:
        a[:, 5] = np.nan  # a column without any finite value
    else:
        a[4, :] = np.nan
    got = percentile_along(a, q, axis=axis, nan_policy="omit")
    assert np.array_equal(got, _ref_nanpct(a, q, axis=axis), equal_nan=True)  # bit for bit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slice
        want = np.nanpercentile(a.astype(np.float64), q, axis=axis)
    assert np.allclose(got, want, equal_nan=True, rtol=1e-12, atol=1e-12)
    assert np.isnan(got[5 if axis == 0 else 4])
    # A list of percentiles stacks them in front, like np.percentile.
    both = percentile_along(a, [q, 50.0], axis=axis, nan_policy="omit")
    assert both.shape == (2, a.shape[1 - axis])
    assert np.array_equal(both[0], got, equal_nan=True)


def test_percentile_along_omit_nan_empty_axis_and_bad_policy() -> None:
    empty = np.zeros((0, 3))
    assert np.isnan(percentile_along(empty, 50.0, axis=0, nan_policy="omit")).all()
    with pytest.raises(ValueError, match="nan_policy"):
        percentile_along(np.zeros(3), 50.0, nan_policy="raise")


def test_median_along_on_views_float32_and_1d_keeps_numpys_values_and_types() -> None:
    """The beat axis of a (leads, beats, samples) block is sorted last in a contiguous copy:
    strided views (the dominant beats picked from the windows), float32 and 1-D inputs give
    ``np.median``'s values, dtype and scalar type, as contiguous arrays."""
    rng = np.random.default_rng(4)
    block = rng.normal(size=(12, 20, 61))
    dominant = rng.random(20) < 0.5
    for a in (block[:, dominant, :], block[:, :9, ::2].astype(np.float32), block[3, :8, 5]):
        want = np.median(a, axis=a.ndim - 2 if a.ndim > 1 else 0)
        got = median_along(a, axis=a.ndim - 2 if a.ndim > 1 else 0)
        assert type(got) is type(want) and np.asarray(got).dtype == np.asarray(want).dtype
        assert np.array_equal(got, want)
        assert np.asarray(got).flags["C_CONTIGUOUS"]


def test_clip_int_equals_np_clip_on_integer_arrays() -> None:
    # Scalar and per-row array bounds, bounds beyond the data, and crossed bounds (lo > hi,
    # where np.clip gives hi): the same values and dtype as np.clip.
    from ecgr1.signal.stats import fast_clip

    rng = np.random.default_rng(11)
    for _ in range(50):
        i = rng.integers(-50, 250, size=(7, 13))
        lo = rng.integers(-20, 120, size=(7, 1))
        hi = lo + rng.integers(-30, 100, size=(7, 1))  # some rows crossed
        for a, b in ((lo, hi), (0, 199), (int(lo[0, 0]), int(hi[0, 0]))):
            got = fast_clip(i, a, b)
            assert got.dtype == np.clip(i, a, b).dtype
            assert np.array_equal(got, np.clip(i, a, b))


def test_nanmedian_1d_equals_numpy_with_nan_and_infinities() -> None:
    from ecgr1.signal.stats import median_1d, nanmedian_1d

    rng = np.random.default_rng(12)
    for n in range(1, 40):
        a = np.round(rng.normal(size=n), 1)  # ties
        a[rng.uniform(size=n) < 0.3] = np.nan
        a[rng.uniform(size=n) < 0.1] = np.inf
        a[rng.uniform(size=n) < 0.1] = -0.0
        if np.isnan(a).all():
            a[0] = 1.5
        got, want = nanmedian_1d(a), np.nanmedian(a)
        assert type(got) is type(want)
        assert np.array_equal(got, want, equal_nan=True)
        assert np.signbit(got) == np.signbit(want)
        # The RR median of the detector: integers through float64, np.median's value.
        ints = rng.integers(100, 400, size=n)
        assert median_1d(ints.astype(np.float64)) == np.median(ints)


def test_fast_clip_equals_np_clip_bit_for_bit_on_special_floats() -> None:
    # Every combination of value, lower and upper bound among NaN, infinities, signed zeros and
    # ordinary numbers: the same bits as np.clip (fast_clip replaces it on boundary positions).
    import itertools

    from ecgr1.signal.stats import fast_clip

    vals = [-np.inf, -1.0, -0.0, 0.0, 0.5, 1.0, np.inf, np.nan]
    grid = np.array(list(itertools.product(vals, repeat=3)))
    a, lo, hi = grid[:, 0].copy(), grid[:, 1].copy(), grid[:, 2].copy()
    assert np.array_equal(fast_clip(a, lo, hi).view(np.int64), np.clip(a, lo, hi).view(np.int64))
