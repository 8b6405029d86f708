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
