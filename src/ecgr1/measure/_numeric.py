"""Small numeric helpers shared by the measurement steps: rounding for the result, and robust
summaries that tolerate missing (NaN) values."""

from __future__ import annotations

import math

import numpy as np

from ecgr1.signal.stats import median_partition


def median_or_none(values: np.ndarray) -> float | None:
    """Median of the finite values; None when there is none.

    >>> median_or_none(np.array([3.0, np.nan, 1.0])), median_or_none(np.array([np.nan]))
    (2.0, None)
    """
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    # median_partition is np.median bit for bit on float64, without its general machinery.
    return float(median_partition(v)) if v.size else None


def mean_of(x: np.ndarray) -> float:
    """``float(np.mean(x))`` of a non-empty float array, the same value (``np.mean`` divides
    the same sum by the count), without ``np.mean``'s dispatch (a few microseconds, on every
    lead's PR-segment level).

    >>> mean_of(np.array([1.0, 2.0, 4.0]))
    2.3333333333333335
    """
    return float(x.sum() / x.size)


def round_or_none(v: float | None, nd: int = 1) -> float | None:
    """``round(v, nd)`` as a float; None for None and non-finite values.

    >>> round_or_none(12.345), round_or_none(float("nan"))
    (12.3, None)
    """
    return None if v is None or not math.isfinite(v) else round(float(v), nd)
