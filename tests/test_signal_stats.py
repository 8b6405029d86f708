"""The signal-stage order statistics equal the plain NumPy formulations they replace."""

from __future__ import annotations

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


def test_percentile_along_hands_other_inputs_to_numpy() -> None:
    a = np.random.default_rng(7).normal(size=(4, 30))
    a32 = a.astype(np.float32)
    assert np.array_equal(percentile_along(a32, 99, axis=1), np.percentile(a32, 99, axis=1))
    a[1, 3] = np.nan
    assert np.array_equal(
        percentile_along(a, [5, 95], axis=1), np.percentile(a, [5, 95], axis=1), equal_nan=True
    )
