"""R peak time of a notched R: measured to the later hump (the R' that does not reach baseline)."""

from __future__ import annotations

import numpy as np

from ecgr1.measure.features import is_notched, notch_humps, qrs_components

FS = 500.0


def _bump(t: np.ndarray, centre_s: float, width_s: float, amp: float) -> np.ndarray:
    return amp * np.exp(-0.5 * ((t - centre_s) / width_s) ** 2)


def test_notched_r_peak_time_is_measured_to_the_later_hump() -> None:
    t = np.arange(int(0.12 * FS)) / FS  # a 120 ms QRS
    # R at 30 ms, dip (never below baseline), smaller R' at 75 ms: the peak time is not the
    # time of the largest sample.
    y = _bump(t, 0.030, 0.010, 0.55) + _bump(t, 0.075, 0.014, 0.42) + 0.02
    c = qrs_components(y, FS)
    assert c["s_amplitude_mv"] is None  # no return below baseline: one R lobe
    assert is_notched(y, FS)
    assert abs(c["r_peak_index"] / FS - 0.075) <= 0.004


def test_smooth_r_peak_time_is_its_single_peak() -> None:
    t = np.arange(int(0.10 * FS)) / FS
    y = _bump(t, 0.040, 0.012, 1.0)
    assert notch_humps(y, FS) is None
    assert abs(qrs_components(y, FS)["r_peak_index"] / FS - 0.040) <= 0.002


def test_humps_closer_than_20_ms_are_not_a_notch() -> None:
    t = np.arange(int(0.10 * FS)) / FS
    y = _bump(t, 0.040, 0.004, 0.8) + _bump(t, 0.054, 0.004, 0.8)
    assert notch_humps(y, FS) is None
