"""The atrial rhythm: the cycle of the P waves, organised (flutter-like) activity, and what the
QRS-T-free baseline says when there are no P waves.

The P-wave cycle is the longest one that explains most P-P intervals as whole multiples
(:func:`grid_pp`), halved when every other wave would hide in a QRS-T
(:func:`half_cycle_hidden_in_qrst`). Flutter shows as a strong autocorrelation of the free
signal at one 200-350 /min cycle (:func:`flutter_test`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.fft import next_fast_len
from scipy.ndimage import binary_erosion

from ecgr1.signal.filters import smooth
from ecgr1.signal.stats import fast_clip, median_1d


@dataclass(frozen=True)
class FlutterTest:
    """Autocorrelation of the QRS-T-free signal over the flutter cycles."""

    lag: int  # samples: the cycle with the highest autocorrelation
    autocorr: float  # the autocorrelation there
    flutter_like: bool  # a true peak, high, and far above the autocorrelation at half the lag


def flutter_test(
    xs: np.ndarray, free: np.ndarray, fs: float, params: Mapping[str, float]
) -> FlutterTest:
    """Organised atrial activity at flutter rates without an isoelectric baseline?

    Read on the slope of the free signal (:func:`segment_slopes`): the segment-wise detrended
    ``xs`` is not periodic when a segment spans a fraction of a cycle more than a whole number
    (the line through its two ends differs from segment to segment), and simulated 4:1 flutter
    then showed its best autocorrelation at 210-230 /min instead of its 300 /min. The slope is
    smoothed over ``flutter_slope_smooth_ms`` (flutter's 4-6 Hz pass; muscle noise above
    ~20 Hz, which the difference raises, does not: unsmoothed, simulated 4:1 flutter under
    15-30 uV of EMG fell to 0.77-0.81 and was not taken)."""
    xs, free = segment_slopes(xs, free, odd_width(params["flutter_slope_smooth_ms"], fs))
    lags = np.array(
        sorted({int(round(60.0 / bpm * fs)) for bpm in np.arange(
            params["flutter_min_bpm"], params["flutter_max_bpm"], 5.0)})
    )  # fmt: skip
    acs = autocorr_many(xs, free, np.concatenate([lags, np.maximum(1, lags // 2)]))
    best = int(np.argmax(acs[: lags.size]))
    best_lag, best_ac = int(lags[best]), float(acs[best])
    half_ac = float(acs[lags.size + best])
    # A slow wave (T-wave tail, wander) correlates at every short lag; an oscillation at the
    # flutter cycle correlates at one cycle far better than at half a cycle.
    flutter_like = (
        best_ac >= params["flutter_autocorr"]
        and 0 < best < lags.size - 1  # a true peak, not the edge of the searched range
        and best_ac - half_ac >= params["flutter_half_cycle_gap"]
    )
    return FlutterTest(best_lag, best_ac, flutter_like)


def odd_width(ms: float, fs: float) -> int:
    """The odd number of samples nearest to ``ms`` at ``fs`` Hz (at least 1)."""
    return max(1, 2 * int(round(ms * fs / 2000.0)) + 1)


def segment_slopes(
    xs: np.ndarray, free: np.ndarray, width: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """First difference of ``xs`` (leads x samples) inside each run of ``free`` samples,
    smoothed by :func:`~ecgr1.signal.filters.smooth` over ``width`` samples (odd; 1: not at
    all), less the run's mean per lead; zero elsewhere. Returns it and where it is defined
    (the samples whose whole smoothing support lies in one run).

    A periodic wave keeps its period under all three steps (linear, time-invariant, then a
    constant taken away), while the level and slope of a tilted baseline or T-wave tail drop
    out: the same purpose as :func:`~ecgr1.measure.atrial.waves.detrend_free_segments`
    without its line through the segment's ends, which adds a different ramp to every
    segment. The difference raises high-frequency noise; the smoothing takes it back down."""
    ok = np.zeros_like(free)
    np.logical_and(free[1:], free[:-1], out=ok[1:])  # both samples of the difference free
    d = np.zeros_like(xs)
    np.subtract(xs[:, 1:], xs[:, :-1], out=d[:, 1:])
    d *= ok
    if width > 1:
        d = smooth(d, width, axis=1)
        ok = binary_erosion(ok, structure=np.ones(2 * width - 1, bool))
        d *= ok
    edges = np.flatnonzero(np.diff(ok.astype(np.int8), prepend=0, append=0))
    starts, stops = edges[::2], edges[1::2]  # ok[starts[k]:stops[k]]
    # Each run's mean from a running sum; column 0 (zero) serves the samples outside every
    # run, which are zeroed anyway.
    sums = np.concatenate([np.zeros((xs.shape[0], 1)), np.cumsum(d, axis=1)], axis=1)
    means = np.zeros((xs.shape[0], starts.size + 1))
    means[:, 1:] = (sums[:, stops] - sums[:, starts]) / (stops - starts)
    number = np.arange(1, starts.size + 1)
    marks = np.zeros(xs.shape[1] + 1, np.intp)
    marks[starts], marks[stops] = number, -number  # runs never touch: no index twice
    d -= means[:, np.cumsum(marks[:-1])]
    d *= ok
    return d, ok


def autocorr_many(x: np.ndarray, valid: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of the (zero outside ``valid``, locally detrended) leads
    ``x`` at each lag, over pairs of samples that are both valid (all leads pooled)."""
    n = x.shape[-1]
    lags = fast_clip(np.asarray(lags, int), 1, n - 1)
    # A circular correlation of length >= n + lag holds no wrapped-around pair at that lag: the
    # longest lag asked for sets the length (a flutter cycle is ~70 of ~2500 samples).
    nfft = next_fast_len(n + int(lags.max(initial=1)))
    xv = np.where(valid[None, :], x, 0.0)
    spec = np.fft.rfft(xv, nfft, axis=-1)
    num = np.fft.irfft((spec * np.conj(spec)).sum(0), nfft)
    e = np.fft.rfft((xv**2).sum(0), nfft)
    m = np.fft.rfft(valid.astype(float), nfft)
    # sum_t E[t] M[t + lag] and sum_t M[t] E[t + lag]
    den_a = np.fft.irfft(np.conj(e) * m, nfft)
    den_b = np.fft.irfft(np.conj(m) * e, nfft)
    pairs = np.fft.irfft(np.conj(m) * m, nfft)[lags]
    den = np.sqrt(np.maximum(den_a[lags] * den_b[lags], 0.0))
    out = np.where((den > 0) & (pairs >= lags), num[lags] / np.maximum(den, 1e-300), 0.0)
    return out


@dataclass(frozen=True)
class AtrialCycle:
    """The cycle of the P waves."""

    pp: float | None  # samples; None with fewer than two P-P intervals to explain
    fit: float  # share of the P-P intervals that are whole multiples of it
    regular: bool  # enough of them are
    rate_bpm: float | None  # 60 / cycle


def atrial_cycle(
    p_waves: np.ndarray, seen: np.ndarray, fs: float, params: Mapping[str, float]
) -> AtrialCycle:
    """The atrial cycle of the P waves at samples ``p_waves``; ``seen`` is True where a whole
    wave lies in QRS-T-free signal (see :func:`half_cycle_hidden_in_qrst`)."""
    pp, fit = grid_pp(p_waves, fs, params)
    if pp is None:
        return AtrialCycle(None, fit, False, None)
    pp, fit = half_cycle_hidden_in_qrst(p_waves, pp, fit, seen, fs, params)
    return AtrialCycle(pp, fit, fit >= params["regular_fit_fraction"], 60.0 * fs / pp)


def grid_pp(
    times: np.ndarray, fs: float, params: Mapping[str, float]
) -> tuple[float | None, float]:
    """Atrial cycle (samples) that best explains the P-P intervals as integer multiples.

    Returns (cycle, share of intervals that fit), cycle None when fewer than 2 intervals.
    """
    d = np.diff(np.sort(times)).astype(float)
    if d.size < 2:
        return None, 0.0
    tol = params["grid_tolerance"]
    need = params["regular_fit_fraction"]
    min_pp = params["min_pp_ms"] * fs / 1000.0
    cands = np.unique(np.concatenate([d, d / 2, d / 3]))
    cands = cands[cands >= min_pp]
    if cands.size == 0:
        return None, 0.0
    # Share of intervals each candidate cycle explains as an integer multiple (all at once).
    q = d[None, :] / cands[:, None]
    k_all = np.round(q)
    fits = ((k_all >= 1) & (np.abs(q - k_all) <= tol)).mean(axis=1)
    # The longest cycle that explains enough intervals: a shorter one would invent atrial
    # waves between the seen ones (an occasional premature or missed wave must not do that).
    good = fits >= need
    if good.any():
        i = int(np.flatnonzero(good)[-1])
    else:
        # No candidate explains enough: the best-explaining one, the longest among equals.
        i = int(np.flatnonzero(fits == fits.max())[-1])
    best, best_fit = float(cands[i]), float(fits[i])
    k = np.round(d / best)
    ok = (k >= 1) & (np.abs(d / best - k) <= tol)
    refined = float(median_1d(d[ok] / k[ok])) if ok.any() else best
    return refined, best_fit


def half_cycle_hidden_in_qrst(
    times: np.ndarray,
    cycle: float,
    fit: float,
    seen: np.ndarray,
    fs: float,
    params: Mapping[str, float],
) -> tuple[float, float]:
    """March the atrial waves out at half the cycle :func:`grid_pp` chose (the caliper check).

    :func:`grid_pp` keeps the longest cycle that explains most P-P intervals, so that one
    premature wave cannot halve the atrial rate. When every other P wave hides in a QRS-T
    (complete AV block with the atria near twice the ventricular rate), that longest cycle is
    twice the true one. The half cycle is taken instead when it explains every interval the
    long cycle does, some intervals are odd multiples of it (two visible waves one short cycle
    apart: direct evidence), and every wave it predicts between the visible ones falls where a
    wave could not have been seen (``seen`` False: its +-50 ms overlap QRS-T). A wave predicted
    on visible baseline refutes it.
    """
    half = cycle / 2.0
    tol = params["grid_tolerance"]
    if half < params["min_pp_ms"] * fs / 1000.0:
        return cycle, fit
    t = np.sort(np.asarray(times, float))
    d = np.diff(t)
    k = np.round(d / half)
    fits = (k >= 1) & (np.abs(d / half - k) <= tol)
    fit_half = float(fits.mean()) if d.size else 0.0
    odd = fits & (k % 2 == 1)
    if odd.sum() < params["half_cycle_min_odd"] or fit_half < fit:
        return cycle, fit
    n = seen.size
    for a, di, ki in zip(t[:-1], d, k, strict=True):
        if ki < 2:
            continue
        for j in range(1, int(ki)):
            pos = int(round(a + j * di / ki))
            if 0 <= pos < n and seen[pos]:
                return cycle, fit  # a wave would have been seen here
    refined = float(np.median(d[fits] / k[fits]))
    return refined, fit_half


def hidden_waves(
    p_waves: np.ndarray,
    pp: float,
    mask: np.ndarray,
    r: np.ndarray,
    fs: float,
    params: Mapping[str, float],
) -> np.ndarray:
    """Predicted positions of the P waves a regular atrial rhythm of cycle ``pp`` hides in
    QRS-T (``mask``), from half a second before the first R peak to 0.3 s after the last."""
    n = mask.size
    grid = []
    start = p_waves[0]
    while start - pp > r[0] - 0.5 * fs:
        start -= pp
    t = start
    while t < min(n, r[-1] + 0.3 * fs):
        # A predicted wave before the record's first sample was not recorded (and a negative
        # index would read the masked end of the record).
        if t >= 0 and mask[int(t)] and np.min(np.abs(p_waves - t)) > 0.3 * pp:
            grid.append(int(round(t)))
        # Re-anchor on detected waves so the grid follows slow rate changes.
        near = p_waves[np.abs(p_waves - (t + pp)) <= params["grid_tolerance"] * pp]
        t = float(near[0]) if near.size else t + pp
    return np.array(grid, int)


def fibrillatory_possible(
    free_rms: float, rr_cv: float, irregular_rr_cv: float, params: Mapping[str, float]
) -> bool:
    """Disorganised atrial activity is called fibrillatory only with the irregular ventricular
    response it causes (RR coefficient of variation above ``irregular_rr_cv``, the engine's one
    RR-regularity limit); with a regular rhythm an unexplained baseline stays undecided."""
    return free_rms > params["fibrillatory_rms_mv"] and rr_cv > irregular_rr_cv


def activity_without_p_waves(
    fibrillatory: bool, free_rms: float, free_share: float, params: Mapping[str, float]
) -> str | None:
    """Atrial activity without P waves: fibrillatory, none (flat baseline) or undecided.

    "none" needs enough QRS-T-free signal to have looked at: at fast rates P waves hide in
    the T waves and their absence from the short TQ intervals proves nothing."""
    if fibrillatory:
        return "fibrillatory"
    flat = free_rms <= params["fibrillatory_rms_mv"]
    return "none" if flat and free_share >= params["min_free_share_for_none"] else None
