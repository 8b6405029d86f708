"""Candidate atrial waves: where the ventricles leave the baseline free, what stands out of it
there, and which of those waves share the record's P-wave shape.

The steps, in the order :func:`ecgr1.measure.atrial.analyse_atrial_activity` takes them:
:func:`band_pass` the atrial leads, :func:`ventricular_mask` every QRS-T, remove each free
segment's own level and slope (:func:`detrend_free_segments`), pick envelope peaks in the free
signal (:func:`candidate_waves`) and keep those that match a P-wave template
(:func:`match_p_template`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import find_peaks

from ecgr1.signal.filters import butter_sos, butter_sos_zi, sosfiltfilt_rows
from ecgr1.signal.stats import (
    fast_clip,
    median_1d,
    median_along,
    median_partition,
    nanmedian_1d,
    percentile_along,
)


def as_index(values: Sequence | np.ndarray | None, n: int) -> np.ndarray:
    """Float array of sample indices; None / negative / NaN become NaN (all NaN, ``n`` long,
    when ``values`` is None)."""
    if values is None:
        return np.full(n, np.nan)
    out = np.array([np.nan if v is None else float(v) for v in values], float)
    out[~np.isfinite(out) | (out < 0)] = np.nan
    return out


@dataclass(frozen=True)
class Beats:
    """The detected beats at the analysis rate: samples (float), NaN where unknown."""

    r: np.ndarray  # R peak (or QRS anchor) of every beat, ascending
    qrs_on: np.ndarray
    qrs_off: np.ndarray
    t_off: np.ndarray

    @property
    def count(self) -> int:
        return self.r.size

    def rr_cv(self) -> float:
        """Coefficient of variation of the RR intervals (mean RR floored at one sample)."""
        rr = np.diff(self.r)
        return float(np.std(rr) / max(float(np.mean(rr)), 1.0))

    def qrs_on_or_guess(self, fs: float) -> np.ndarray:
        """QRS onsets, 40 ms before the R peak where unknown."""
        return np.where(np.isfinite(self.qrs_on), self.qrs_on, self.r - 40 * (fs / 1000.0))


def band_pass(x: np.ndarray, fs: float, params: Mapping[str, float]) -> np.ndarray:
    """The atrial-wave band of every lead (0.5-25 Hz by default; the upper edge kept below
    Nyquist)."""
    high = min(params["band_high_hz"], 0.45 * fs)
    band = (params["band_low_hz"], high)
    return sosfiltfilt_rows(butter_sos(2, band, "band", fs), butter_sos_zi(2, band, "band", fs), x)


def ventricular_mask(n: int, fs: float, beats: Beats, params: Mapping[str, float]) -> np.ndarray:
    """True where ventricular activity may hide atrial waves: every QRS-T, widened by the
    configured margins, and the record outside the span of the detected beats."""
    mask = _qrst_of_each_beat(n, fs, beats, params)
    # Outside the span of the detected beats nothing is known about ventricular activity.
    r = beats.r
    edge = int(0.1 * fs)
    mask[: int(max(0, r[0] - 0.6 * fs))] = True
    mask[int(min(n, r[-1] + 0.6 * fs)) :] = True
    mask[:edge] = True
    mask[n - edge :] = True
    return mask


def _qrst_of_each_beat(n: int, fs: float, beats: Beats, params: Mapping[str, float]) -> np.ndarray:
    """True from each QRS onset (minus a margin) to its T end (plus a margin)."""
    ms = fs / 1000.0
    r, q_on, q_off, t_off = beats.r, beats.qrs_on, beats.qrs_off, beats.t_off
    rr = np.diff(r)
    rr_med = float(median_1d(rr)) if rr.size else fs
    # Fallbacks from the record's own medians, else typical durations.
    onset_before_r = nanmedian_1d(r - q_on) if np.isfinite(q_on).any() else 50 * ms
    t_end_after_r = t_off - r
    if np.isfinite(t_end_after_r).any():
        t_end_fallback = float(nanmedian_1d(t_end_after_r))
    else:
        t_end_fallback = 0.42 * np.sqrt(rr_med / fs) * fs  # Bazett QT at the mean rate, from R
    mask = np.zeros(n, bool)
    before = params["mask_before_qrs_ms"] * ms
    after = params["mask_after_t_ms"] * ms
    for i, ri in enumerate(r):
        start = q_on[i] if np.isfinite(q_on[i]) else ri - onset_before_r
        end = t_off[i] if np.isfinite(t_off[i]) else ri + t_end_fallback
        # Keep at least the QRS masked; never let a wrong T end swallow the next beat.
        end = max(end, (q_off[i] if np.isfinite(q_off[i]) else ri + 60 * ms) + 60 * ms)
        if i + 1 < r.size:
            end = min(end, r[i + 1] - 0.25 * (r[i + 1] - ri))
        lo, hi = int(max(0, start - before)), int(min(n, end + after))
        mask[lo:hi] = True
    return mask


def detrend_free_segments(xf: np.ndarray, free: np.ndarray, fs: float) -> np.ndarray:
    """Each QRS-T-free segment minus its own level and slope, per lead; zero elsewhere.

    Residual wander and T-wave tails tilt the baseline between the masks: the line joining the
    segment's end levels (10 ms means) is subtracted. Segments shorter than two such means are
    left at zero.
    """
    ms = fs / 1000.0
    xs = np.zeros_like(xf)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], free.astype(np.int8), [0]))))
    e = max(1, int(round(10 * ms)))
    starts, stops = edges[::2], edges[1::2]
    keep = stops - starts >= 2 * e
    starts, stops = starts[keep], stops[keep]
    if starts.size:
        # All segments at once: end levels from a running sum, then a per-sample ramp.
        cs = np.concatenate([np.zeros((xf.shape[0], 1)), np.cumsum(xf, axis=1)], axis=1)
        first = (cs[:, starts + e] - cs[:, starts]) / e
        last = (cs[:, stops] - cs[:, stops - e]) / e
        lengths = stops - starts
        seg = np.repeat(np.arange(starts.size), lengths)
        idx = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        ramp = idx / (lengths[seg] - 1.0)
        pos = starts[seg] + idx
        xs[:, pos] = xf[:, pos] - (first[:, seg] * (1 - ramp) + last[:, seg] * ramp)
    return xs


@dataclass(frozen=True)
class Candidates:
    """Candidate atrial waves in the QRS-T-free signal."""

    peaks: np.ndarray  # samples of the envelope peaks that stand out of the noise
    whole_wave_free: np.ndarray  # per sample: a whole wave (+-half_window) fits in free signal
    half_window: int  # samples: half the window of one atrial wave (50 ms)


def candidate_waves(
    xs: np.ndarray, free: np.ndarray, fs: float, params: Mapping[str, float]
) -> Candidates:
    """Peaks of the multi-lead envelope of the detrended free signal ``xs`` that stand out of
    its noise and are not far smaller than the larger ones."""
    ms = fs / 1000.0
    # Spatial magnitude of atrial activity, smoothed over ~40 ms (a P wave lasts ~100 ms).
    w = max(1, int(round(40 * ms)))
    env = np.sqrt(np.convolve((xs**2).sum(0), np.ones(w) / w, mode="same"))
    # Peaks only where a whole wave (+-50 ms) lies in QRS-T-free signal.
    half = int(round(50 * ms))
    whole_wave_free = _whole_window_free(free, half)
    env[~whole_wave_free] = 0.0
    # Noise from the sample-to-sample differences (MAD), summed over the leads.
    noise = median_partition(np.abs(np.diff(xs[:, free], axis=1)).ravel()) * 1.4826 / np.sqrt(2)
    noise = max(float(noise) * np.sqrt(xs.shape[0]), 1e-4)
    peaks, _ = find_peaks(
        env,
        height=params["candidate_snr"] * noise,
        distance=max(1, int(params["min_pp_ms"] * ms)),
    )
    # Atrial waves of one rhythm have similar size: drop bumps far smaller than the largest
    # ones (T-wave tails, noise), which would otherwise pass as extra "P waves".
    if peaks.size:
        big = float(percentile_along(env[peaks], params["relative_height_pct"]))
        peaks = peaks[env[peaks] >= params["relative_height"] * big]
    return Candidates(peaks, whole_wave_free, half)


def _whole_window_free(free: np.ndarray, half: int) -> np.ndarray:
    """Per sample i: every sample of [i - half, i + half] lies in the record and is free.

    The definition is ``np.convolve(free, ones(2 half + 1), "same") >= 2 half + 1`` (a count
    of free samples, exact in floating point); a boolean ``free`` takes the same count from a
    running sum (the window clipped at the record's ends never counts 2 half + 1)."""
    width = 2 * half + 1
    n = free.size
    if free.dtype != bool or free.ndim != 1 or n < width:
        return np.convolve(np.asarray(free, float), np.ones(width), mode="same") >= width
    count = np.concatenate(([0], np.cumsum(free)))
    out = np.zeros(n, bool)
    out[half : n - half] = count[width:] - count[: n - width + 1] == width
    return out


@dataclass(frozen=True)
class PWaves:
    """The candidate waves with the record's P-wave shape and size."""

    samples: np.ndarray  # their peaks
    shape_corr: np.ndarray  # their multi-lead correlation with the template
    size_ratio: np.ndarray  # their size relative to the template
    template: np.ndarray  # the P-wave template: one window per lead, concatenated
    onset_to_peak: int  # samples from P onset to P peak, read from the template


def match_p_template(
    xs: np.ndarray, candidates: Candidates, beats: Beats, fs: float, params: Mapping[str, float]
) -> PWaves:
    """The P waves among the candidates: those matching the template of the waves that sit
    before the QRS complexes at a plausible PR (or, failing that, the shape most waves share)."""
    ms = fs / 1000.0
    peaks, half = candidates.peaks, candidates.half_window
    windows = _wave_windows(xs, peaks, half)
    sizes = np.linalg.norm(windows, axis=1)
    before_qrs = _last_waves_before_qrs(peaks, beats.qrs_on_or_guess(fs), ms, params)
    if before_qrs.size >= max(3, int(0.6 * beats.count)):
        template = median_along(windows[before_qrs], axis=0)
        corr, size_ratio, is_p = _match(windows, sizes, template, params)
        if is_p.sum() < 2 and beats.rr_cv() < params["escape_rr_cv"]:
            # The waves before a regular (escape) rhythm's QRS complexes share no shape (a
            # dissociated P lands before some QRS, a T-wave remnant before others): their
            # median matches nothing, so fall back to the shape most waves share. An irregular
            # rhythm keeps its verdict (fibrillatory waves share no shape either).
            template = _shared_shape(windows, sizes, params)
            corr, size_ratio, is_p = _match(windows, sizes, template, params)
    else:
        # No P before most QRS complexes (dissociated atria, flutter): the wave whose shape
        # most others share is the template.
        template = _shared_shape(windows, sizes, params)
        corr, size_ratio, is_p = _match(windows, sizes, template, params)
    onset_to_peak = _onset_to_peak(template, xs.shape[0], half, ms)
    return PWaves(peaks[is_p], corr[is_p], size_ratio[is_p], template, onset_to_peak)


def _wave_windows(x: np.ndarray, peaks: np.ndarray, half: int) -> np.ndarray:
    """Multi-lead window around each peak, concatenated, mean removed per lead."""
    n = x.shape[1]
    if peaks.size == 0:
        return np.zeros((0, x.shape[0] * (2 * half + 1)))
    idx = fast_clip(np.asarray(peaks, int)[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    w = np.transpose(x[:, idx], (1, 0, 2))  # (peaks, leads, window)
    w = w - w.mean(axis=2, keepdims=True)
    return w.reshape(peaks.size, -1)


def _last_waves_before_qrs(
    peaks: np.ndarray, qrs_on: np.ndarray, ms: float, params: Mapping[str, float]
) -> np.ndarray:
    """Indices (into ``peaks``) of the last wave before each QRS onset at a conducting PR."""
    last = []
    for onset in qrs_on:
        d = onset - peaks
        ok = np.flatnonzero((d >= params["pr_min_ms"] * ms) & (d <= params["pr_max_ms"] * ms))
        if ok.size:
            last.append(ok[np.argmin(d[ok])])
    return np.unique(np.array(last, int))


def _shared_shape(
    windows: np.ndarray, sizes: np.ndarray, params: Mapping[str, float]
) -> np.ndarray:
    """The wave whose shape the most others share (correlation >= template_corr)."""
    unit = windows / np.maximum(sizes[:, None], 1e-12)
    alike = ((unit @ unit.T) >= params["template_corr"]).sum(1)
    return windows[int(np.argmax(alike))]


def _match(
    windows: np.ndarray, sizes: np.ndarray, template: np.ndarray, params: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each wave's correlation with the template, its size relative to the template, and
    whether both are within the configured limits."""
    norm = float(np.linalg.norm(template))
    corr = windows @ template / np.maximum(sizes * norm, 1e-12)
    size_ratio = sizes / max(norm, 1e-12)
    ok = (
        (corr >= params["template_corr"])
        & (size_ratio >= params["amp_ratio_low"])
        & (size_ratio <= params["amp_ratio_high"])
    )
    return corr, size_ratio, ok


def _onset_to_peak(template: np.ndarray, n_leads: int, half: int, ms: float) -> int:
    """Samples from P onset to P peak: where the template's spatial magnitude first rises above
    20 % of its maximum (50 ms when it never does)."""
    magnitude = np.sqrt((template.reshape(n_leads, -1) ** 2).sum(0))
    above = np.flatnonzero(magnitude >= 0.2 * magnitude.max())
    return (half - above[0]) if above.size else int(50 * ms)
