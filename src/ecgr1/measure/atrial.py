"""Atrial activity analysis: discrete P waves anywhere in the cycle, flutter, AV relation.

The beat-by-beat delineator looks for one P wave before each QRS. This module looks at the
whole record instead, in the leads where atrial activity is best seen (II, III, aVF, V1, ...),
with the ventricular activity (QRS and ST-T, from QRS onset to T end) masked out, and answers:

* which atrial waves there are (positions in samples), and at what rate;
* whether they are discrete P waves with an isoelectric baseline, a regular sawtooth at
  flutter rates, or disorganised (fibrillatory) activity;
* how they relate to the QRS complexes: one P per QRS, non-conducted P waves (P:QRS > 1),
  PR constant / prolonging before a dropped beat (Mobitz II / Wenckebach), or P waves that
  march through at their own rate (AV dissociation, third-degree block).

P waves hidden inside a QRS or T wave are not detected directly: they are *predicted* from the
atrial rhythm found in the QRS-free intervals, and counted for the P:QRS ratio only when that
rhythm is regular. The analysis is deliberately conservative: a non-conducted P must match the
morphology of the record's other P waves, sit where the atrial rhythm predicts it, and lie in a
long RR interval (a pause), so a normal sinus record cannot produce an AV block from a T-wave
remnant. ``confidence`` says how much the caller should trust the result.

Use in the measurement engine (validated on the simulator and on 199 real sinus/non-AF records
with no false AV block, flutter or dissociation): call it after beats and delineation with the
beats' R peak / QRS onset / QRS offset / T offset in samples, then override the engine's own
atrial fields only when confident --

* ``atrial_activity == "flutter"`` with ``confidence >= 0.8`` and RR *not* irregularly
  irregular (coarse AF can look periodic): atrial_activity "flutter", atrial_rate_bpm from
  here, no P waves (p_wave_present False, PR / P:QRS / PR progression None with this reason);
* ``atrial_activity == "p_waves"`` with ``p_waves_per_qrs >= 1.2`` and ``confidence >= 0.7``
  (AV block): atrial_rate_bpm, p_waves_per_qrs and pr_progression from here, p_wave_present
  True, p_wave_fraction = conducted / all; for "constant" or "prolonging" progression the PR is
  the shortest conducted PR (the first of a group); an "irregularly_irregular" RR becomes
  "regularly_irregular" (group beating, not fibrillation);
* ``p_waves_per_qrs == 1.0`` with ``confidence >= 0.7``: every P conducts, which rules out
  second- and third-degree block (set p_waves_per_qrs 1.0 if the engine left it None);
* never for "fibrillatory", "none" or undecided results: the engine's classification stays.

Example
-------
>>> import numpy as np
>>> fs = 500.0; t = np.arange(5000) / fs; x = np.zeros((1, 5000))
>>> r = np.arange(0.6, 9.8, 0.8)
>>> for ri in r:
...     x[0] += np.exp(-((t - ri) / 0.012) ** 2) + 0.25 * np.exp(-((t - ri - 0.3) / 0.05) ** 2)
...     x[0] += 0.15 * np.exp(-((t - ri + 0.16) / 0.025) ** 2)
>>> rp = (r * fs).astype(int)
>>> res = analyse_atrial_activity(x, fs, ["II"], rp, rp - 20, rp + 25, rp + 200)
>>> res.atrial_activity, res.p_waves_per_qrs, res.pr_progression
('p_waves', 1.0, 'constant')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.fft import next_fast_len
from scipy.signal import butter, find_peaks, sosfiltfilt

# Leads in which atrial activity is best seen, in order of preference.
ATRIAL_LEADS: tuple[str, ...] = ("II", "III", "aVF", "V1", "I", "V2")

# Thresholds of the analysis (times in ms, rates in /min). Clinical limits used downstream
# (flutter 240-340 /min, P:QRS >= 1.2) live in the protocol's criteria table.
ATRIAL_ANALYSIS: dict[str, float] = {
    "analysis_fs": 250.0,  # signals are analysed at about this rate
    "band_low_hz": 0.5,  # P waves: 0.5-25 Hz (removes wander, keeps flutter's 4-6 Hz)
    "band_high_hz": 25.0,
    "mask_before_qrs_ms": 20.0,  # ventricular activity masked from QRS onset - this ...
    "mask_after_t_ms": 40.0,  # ... to T end + this
    "min_pp_ms": 160.0,  # closest two atrial waves may be (flutter up to 375 /min)
    "candidate_snr": 4.0,  # wave peak over the masked signal's noise (MAD) level
    "relative_height": 0.35,  # candidate size relative to a high percentile of candidates
    "relative_height_pct": 70.0,  # (not the maximum: one missed ectopic QRS must not rule)
    "template_corr": 0.7,  # multi-lead shape correlation with the record's P template
    "amp_ratio_low": 0.4,  # wave size relative to the template
    "amp_ratio_high": 2.5,
    "pr_min_ms": 70.0,  # P peak to QRS onset for a P that conducts
    "pr_max_ms": 480.0,
    "grid_tolerance": 0.15,  # interval / PP within this of an integer fits the atrial rhythm
    # Intervals of an odd number of half cycles needed before the half cycle is considered.
    "half_cycle_min_odd": 1,
    "regular_fit_fraction": 0.8,  # share of P-P intervals that must fit the atrial rhythm
    "flutter_min_bpm": 200.0,  # organised atrial rhythm faster than this: flutter waves
    "flutter_max_bpm": 350.0,
    "flutter_autocorr": 0.5,
    "flutter_half_cycle_gap": 0.5,  # autocorrelation at one cycle minus at half a cycle  # autocorrelation of the QRS-free signal at one flutter cycle
    "pause_ratio": 1.5,  # an RR holding a non-conducted P is at least this many PP cycles
    "min_non_conducted": 2,
    "non_conducted_corr": 0.85,  # shape match demanded of a non-conducted P
    "non_conducted_amp_low": 0.6,
    "non_conducted_amp_high": 1.6,
    # Non-conducted P waves are sinus P waves: above this atrial rate a "blocked P" is far more
    # often a T/U-wave remnant than a real one (atrial tachycardia with block is not claimed).
    "max_block_atrial_bpm": 140.0,  # explicit non-conducted P waves needed to claim AV block
    "pr_constant_sd_ms": 20.0,
    "pr_prolonging_step_ms": 15.0,  # PR rise over a Wenckebach group
    "dissociated_pr_sd_ms": 60.0,
    # AV dissociation from the march of the P waves: the PR of at least this many consecutive
    # QRS complexes changes one way by at least this much per beat.
    "march_min_beats": 3,
    "march_min_step_ms": 30.0,
    "dissociated_max_conducted": 0.7,  # share of QRS with a P at a conducting PR, below: AV dissociation
    "escape_rr_cv": 0.1,  # an escape rhythm is regular
    "fibrillatory_rms_mv": 0.02,
    "fibrillatory_min_rr_cv": 0.08,
    "min_free_share_for_none": 0.3,  # QRS-T-free share of the record needed to say "none"  # disorganised QRS-free activity above this: fibrillatory
}


@dataclass
class AtrialActivity:
    """Result of :func:`analyse_atrial_activity`.

    Attributes
    ----------
    atrial_activity : "p_waves" | "flutter" | "fibrillatory" | "none", or None when undecided.
    atrial_rate_bpm : rate of the atrial rhythm (P or F waves), None when not regular.
    p_waves_per_qrs : atrial cycles per ventricular cycle (1.0 with 1:1 conduction).
    pr_progression : "constant" | "prolonging" | "variable" | "dissociated" or None.
    pr_intervals_ms : per QRS, PR of its conducting P (P onset to QRS onset), None if none.
    atrial_wave_samples : sample positions (peaks) of the detected atrial waves.
    hidden_wave_samples : predicted positions of P waves hidden in QRS/T (regular rhythm only).
    non_conducted_samples : detected P waves not followed by a QRS at a conducting PR.
    confidence : 0-1, how much the classification should be trusted.
    reason : one sentence on why.
    """

    atrial_activity: str | None = None
    atrial_rate_bpm: float | None = None
    p_waves_per_qrs: float | None = None
    pr_progression: str | None = None
    pr_intervals_ms: list[float | None] = field(default_factory=list)
    atrial_wave_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    hidden_wave_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    non_conducted_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    confidence: float = 0.0
    reason: str = ""


def _as_index(values: Sequence | np.ndarray | None, n: int) -> np.ndarray:
    """Float array of sample indices; None / negative / NaN become NaN."""
    if values is None:
        return np.full(n, np.nan)
    out = np.array([np.nan if v is None else float(v) for v in values], float)
    out[~np.isfinite(out) | (out < 0)] = np.nan
    return out


@lru_cache(maxsize=32)
def _butter_sos(order: int, cutoff_hz: float | tuple[float, float], btype: str, fs: float):
    """Butterworth design in second-order sections (cached: every record reuses the same;
    callers must not modify it)."""
    return butter(order, cutoff_hz, btype=btype, fs=fs, output="sos")


def _pick_leads(leads: list[str], usable: np.ndarray) -> list[int]:
    upper = [name.upper() for name in leads]
    chosen = [upper.index(n.upper()) for n in ATRIAL_LEADS if n.upper() in upper]
    chosen = [i for i in chosen if usable[i]]
    if not chosen:
        chosen = [i for i in range(len(leads)) if usable[i]]
    return chosen


def _ventricular_mask(
    n: int, fs: float, r: np.ndarray, q_on: np.ndarray, q_off: np.ndarray, t_off: np.ndarray
) -> np.ndarray:
    """True where ventricular activity (QRS to T end) may be present."""
    ms = fs / 1000.0
    rr = np.diff(r)
    rr_med = float(np.median(rr)) if rr.size else fs
    # Fallbacks from the record's own medians, else typical durations.
    on_lead = np.nanmedian(r - q_on) if np.isfinite(q_on).any() else 50 * ms
    t_dist = t_off - r
    if np.isfinite(t_dist).any():
        t_fallback = float(np.nanmedian(t_dist))
    else:
        t_fallback = 0.42 * np.sqrt(rr_med / fs) * fs  # Bazett QT at the mean rate, from R
    mask = np.zeros(n, bool)
    before = ATRIAL_ANALYSIS["mask_before_qrs_ms"] * ms
    after = ATRIAL_ANALYSIS["mask_after_t_ms"] * ms
    for i, ri in enumerate(r):
        a = q_on[i] if np.isfinite(q_on[i]) else ri - on_lead
        b = t_off[i] if np.isfinite(t_off[i]) else ri + t_fallback
        # Keep at least the QRS masked; never let a wrong T end swallow the next beat.
        b = max(b, (q_off[i] if np.isfinite(q_off[i]) else ri + 60 * ms) + 60 * ms)
        if i + 1 < r.size:
            b = min(b, r[i + 1] - 0.25 * (r[i + 1] - ri))
        lo, hi = int(max(0, a - before)), int(min(n, b + after))
        mask[lo:hi] = True
    return mask


def _features(x: np.ndarray, peaks: np.ndarray, half: int) -> np.ndarray:
    """Multi-lead window around each peak, concatenated, mean removed per lead."""
    n = x.shape[1]
    if peaks.size == 0:
        return np.zeros((0, x.shape[0] * (2 * half + 1)))
    idx = np.clip(np.asarray(peaks, int)[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    w = np.transpose(x[:, idx], (1, 0, 2))  # (peaks, leads, window)
    w = w - w.mean(axis=2, keepdims=True)
    return w.reshape(peaks.size, -1)


def _grid_pp(times: np.ndarray, fs: float) -> tuple[float | None, float]:
    """Atrial cycle (samples) that best explains the P-P intervals as integer multiples.

    Returns (cycle, share of intervals that fit), cycle None when fewer than 2 intervals.
    """
    d = np.diff(np.sort(times)).astype(float)
    if d.size < 2:
        return None, 0.0
    tol = ATRIAL_ANALYSIS["grid_tolerance"]
    need = ATRIAL_ANALYSIS["regular_fit_fraction"]
    min_pp = ATRIAL_ANALYSIS["min_pp_ms"] * fs / 1000.0
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
    refined = float(np.median(d[ok] / k[ok])) if ok.any() else best
    return refined, best_fit


def _half_cycle_hidden_in_qrst(
    times: np.ndarray, cycle: float, fit: float, seen: np.ndarray, fs: float
) -> tuple[float, float]:
    """March the atrial waves out at half the cycle :func:`_grid_pp` chose (the caliper check).

    :func:`_grid_pp` keeps the longest cycle that explains most P-P intervals, so that one
    premature wave cannot halve the atrial rate. When every other P wave hides in a QRS-T
    (complete AV block with the atria near twice the ventricular rate), that longest cycle is
    twice the true one. The half cycle is taken instead when it explains every interval the
    long cycle does, some intervals are odd multiples of it (two visible waves one short cycle
    apart: direct evidence), and every wave it predicts between the visible ones falls where a
    wave could not have been seen (``seen`` False: its +-50 ms overlap QRS-T). A wave predicted
    on visible baseline refutes it.
    """
    half = cycle / 2.0
    tol = ATRIAL_ANALYSIS["grid_tolerance"]
    if half < ATRIAL_ANALYSIS["min_pp_ms"] * fs / 1000.0:
        return cycle, fit
    t = np.sort(np.asarray(times, float))
    d = np.diff(t)
    k = np.round(d / half)
    fits = (k >= 1) & (np.abs(d / half - k) <= tol)
    fit_half = float(fits.mean()) if d.size else 0.0
    odd = fits & (k % 2 == 1)
    if odd.sum() < ATRIAL_ANALYSIS["half_cycle_min_odd"] or fit_half < fit:
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


def _autocorr_many(x: np.ndarray, valid: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of the (zero outside ``valid``, locally detrended) leads
    ``x`` at each lag, over pairs of samples that are both valid (all leads pooled)."""
    n = x.shape[-1]
    nfft = next_fast_len(2 * n)  # >= 2n - 1: no circular wrap-around
    xv = np.where(valid[None, :], x, 0.0)
    spec = np.fft.rfft(xv, nfft, axis=-1)
    num = np.fft.irfft((spec * np.conj(spec)).sum(0), nfft)
    e = np.fft.rfft((xv**2).sum(0), nfft)
    m = np.fft.rfft(valid.astype(float), nfft)
    # sum_t E[t] M[t + lag] and sum_t M[t] E[t + lag]
    den_a = np.fft.irfft(np.conj(e) * m, nfft)
    den_b = np.fft.irfft(np.conj(m) * e, nfft)
    lags = np.clip(np.asarray(lags, int), 1, n - 1)
    pairs = np.fft.irfft(np.conj(m) * m, nfft)[lags]
    den = np.sqrt(np.maximum(den_a[lags] * den_b[lags], 0.0))
    out = np.where((den > 0) & (pairs >= lags), num[lags] / np.maximum(den, 1e-300), 0.0)
    return out


def analyse_atrial_activity(
    signal: np.ndarray,
    fs: float,
    leads: list[str],
    r_peaks: Sequence[int] | np.ndarray,
    qrs_onsets: Sequence[int | None] | np.ndarray | None,
    qrs_offsets: Sequence[int | None] | np.ndarray | None,
    t_offsets: Sequence[int | None] | np.ndarray | None,
    usable: np.ndarray | None = None,
) -> AtrialActivity:
    """Find atrial waves in the whole record and relate them to the QRS complexes.

    Parameters
    ----------
    signal : (n_leads, n_samples) ECG in mV.
    fs : sampling rate (Hz).
    leads : lead names (II, III, aVF, V1, I, V2 are preferred when present).
    r_peaks : R-peak (or QRS anchor) sample of every beat, ascending.
    qrs_onsets, qrs_offsets, t_offsets : per beat, samples; None / -1 / NaN where unknown.
    usable : per-lead quality flag; unusable leads are ignored.

    Returns
    -------
    AtrialActivity (see its attributes); sample positions refer to ``signal``. See the module
    docstring for an example.
    """
    x = np.nan_to_num(np.asarray(signal, float))
    if x.ndim == 1:
        x = x[None, :]
    # Only the leads the analysis reads are filtered (filters act on each lead alone).
    leads = list(leads)
    use = np.ones(x.shape[0], bool) if usable is None else np.asarray(usable, bool)
    sel = _pick_leads(leads, use)
    if sel:
        x, leads, usable = x[sel], [leads[i] for i in sel], use[sel]
    # Atrial waves hold nothing above 25 Hz: analyse at about 250 Hz (anti-aliased first).
    k = max(1, int(fs // ATRIAL_ANALYSIS["analysis_fs"]))
    if k > 1 and x.shape[1] > 30 * k:
        sos = _butter_sos(4, 0.4 * fs / k, "low", fs)
        x = sosfiltfilt(sos, x, axis=1)[:, ::k]

        def scale(v: Sequence | np.ndarray | None) -> np.ndarray | None:
            return None if v is None else _as_index(v, len(v)) / k

        res = _analyse(
            x, fs / k, leads, np.asarray(r_peaks, float) / k, scale(qrs_onsets),
            scale(qrs_offsets), scale(t_offsets), usable,
        )  # fmt: skip
        res.atrial_wave_samples = res.atrial_wave_samples * k
        res.hidden_wave_samples = res.hidden_wave_samples * k
        res.non_conducted_samples = res.non_conducted_samples * k
        return res
    return _analyse(x, fs, leads, r_peaks, qrs_onsets, qrs_offsets, t_offsets, usable)


def _analyse(
    signal: np.ndarray,
    fs: float,
    leads: list[str],
    r_peaks: Sequence[int] | np.ndarray,
    qrs_onsets: Sequence[int | None] | np.ndarray | None,
    qrs_offsets: Sequence[int | None] | np.ndarray | None,
    t_offsets: Sequence[int | None] | np.ndarray | None,
    usable: np.ndarray | None = None,
) -> AtrialActivity:
    """Body of :func:`analyse_atrial_activity` (signal at the analysis rate)."""
    x = np.nan_to_num(np.asarray(signal, float))
    if x.ndim == 1:
        x = x[None, :]
    n_leads, n = x.shape
    ms = fs / 1000.0
    r = np.asarray(r_peaks, float).ravel()
    nb = r.size
    res = AtrialActivity(pr_intervals_ms=[None] * nb)
    if nb < 3 or n < int(3 * fs):
        res.reason = "fewer than three beats: atrial rhythm not analysed"
        return res
    use = np.ones(n_leads, bool) if usable is None else np.asarray(usable, bool)
    sel = _pick_leads(list(leads), use)
    if not sel:
        res.reason = "no usable lead"
        return res
    q_on = _as_index(qrs_onsets, nb)
    q_off = _as_index(qrs_offsets, nb)
    t_off = _as_index(t_offsets, nb)
    q_on_f = np.where(np.isfinite(q_on), q_on, r - 40 * ms)

    hi = min(ATRIAL_ANALYSIS["band_high_hz"], 0.45 * fs)
    sos = _butter_sos(2, (ATRIAL_ANALYSIS["band_low_hz"], hi), "band", fs)
    xf = sosfiltfilt(sos, x[sel], axis=1)
    mask = _ventricular_mask(n, fs, r, q_on, q_off, t_off)
    # Outside the span of the detected beats nothing is known about ventricular activity.
    edge = int(0.1 * fs)
    mask[: int(max(0, r[0] - 0.6 * fs))] = True
    mask[int(min(n, r[-1] + 0.6 * fs)) :] = True
    mask[:edge] = True
    mask[n - edge :] = True
    free = ~mask
    if free.sum() < int(1.0 * fs):
        res.reason = "too little signal outside QRS-T to analyse atrial activity"
        return res
    # Remove each free segment's own level and slope (residual wander, T tails) per lead:
    # the line joining the segment's end levels (10 ms means).
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
    # Spatial magnitude of atrial activity, smoothed over ~40 ms (a P wave lasts ~100 ms).
    w = max(1, int(round(40 * ms)))
    env = np.sqrt(np.convolve((xs**2).sum(0), np.ones(w) / w, mode="same"))
    # Peaks only where a whole wave (+-50 ms) lies in QRS-T-free signal.
    half = int(round(50 * ms))
    core = np.convolve(free.astype(float), np.ones(2 * half + 1), mode="same") >= 2 * half + 1
    env[~core] = 0.0
    noise = np.median(np.abs(np.diff(xs[:, free], axis=1))) * 1.4826 / np.sqrt(2)
    noise = max(float(noise) * np.sqrt(len(sel)), 1e-4)
    peaks, _ = find_peaks(
        env,
        height=ATRIAL_ANALYSIS["candidate_snr"] * noise,
        distance=max(1, int(ATRIAL_ANALYSIS["min_pp_ms"] * ms)),
    )
    # Atrial waves of one rhythm have similar size: drop bumps far smaller than the largest
    # ones (T-wave tails, noise), which would otherwise pass as extra "P waves".
    if peaks.size:
        big = float(np.percentile(env[peaks], ATRIAL_ANALYSIS["relative_height_pct"]))
        peaks = peaks[env[peaks] >= ATRIAL_ANALYSIS["relative_height"] * big]
    free_rms = float(np.sqrt(np.mean(xs[:, free] ** 2)))
    # Disorganised atrial activity is called fibrillatory only with the irregular ventricular
    # response it causes; with a regular rhythm an unexplained baseline stays undecided.
    rr_all = np.diff(r)
    fibrillatory_possible = (
        free_rms > ATRIAL_ANALYSIS["fibrillatory_rms_mv"]
        and float(np.std(rr_all) / max(float(np.mean(rr_all)), 1.0))
        >= ATRIAL_ANALYSIS["fibrillatory_min_rr_cv"]
    )

    # ---- flutter: organised atrial activity at 200-350 /min without isoelectric baseline -----
    lags = np.array(
        sorted({int(round(60.0 / bpm * fs)) for bpm in np.arange(
            ATRIAL_ANALYSIS["flutter_min_bpm"], ATRIAL_ANALYSIS["flutter_max_bpm"], 5.0)})
    )  # fmt: skip
    acs = _autocorr_many(xs, free, np.concatenate([lags, np.maximum(1, lags // 2)]))
    best = int(np.argmax(acs[: lags.size]))
    best_lag, best_ac = int(lags[best]), float(acs[best])
    half_ac = float(acs[lags.size + best])
    # A slow wave (T-wave tail, wander) correlates at every short lag; an oscillation at the
    # flutter cycle correlates at one cycle far better than at half a cycle.
    flutter_like = (
        best_ac >= ATRIAL_ANALYSIS["flutter_autocorr"]
        and 0 < best < lags.size - 1  # a true peak, not the edge of the searched range
        and best_ac - half_ac >= ATRIAL_ANALYSIS["flutter_half_cycle_gap"]
    )

    if peaks.size < 2:
        if flutter_like:
            return _flutter(res, fs, best_lag, best_ac, peaks)
        res.atrial_activity = _no_p_class(fibrillatory_possible, free_rms, float(free.mean()))
        res.confidence = 0.3
        res.reason = "no discrete atrial waves found outside QRS-T"
        return res

    # ---- template: the P waves before QRS complexes at a plausible PR -------------------------
    feats = _features(xs, peaks, half)
    amps = np.linalg.norm(feats, axis=1)
    pre = []
    for i in range(nb):
        d = q_on_f[i] - peaks
        ok = np.flatnonzero(
            (d >= ATRIAL_ANALYSIS["pr_min_ms"] * ms) & (d <= ATRIAL_ANALYSIS["pr_max_ms"] * ms)
        )
        if ok.size:
            pre.append(ok[np.argmin(d[ok])])  # the last wave before the QRS
    pre_idx = np.unique(np.array(pre, int))

    def shared_shape() -> np.ndarray:
        # No P before most QRS complexes (dissociated atria, flutter): the wave whose shape
        # most others share is the template.
        fn = feats / np.maximum(amps[:, None], 1e-12)
        return feats[int(np.argmax(((fn @ fn.T) >= ATRIAL_ANALYSIS["template_corr"]).sum(1)))]

    def match(template: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        norm = float(np.linalg.norm(template))
        c = feats @ template / np.maximum(amps * norm, 1e-12)
        q = amps / max(norm, 1e-12)
        ok = (
            (c >= ATRIAL_ANALYSIS["template_corr"])
            & (q >= ATRIAL_ANALYSIS["amp_ratio_low"])
            & (q <= ATRIAL_ANALYSIS["amp_ratio_high"])
        )
        return norm, c, q, ok

    if pre_idx.size >= max(3, int(0.6 * nb)):
        tmpl = np.median(feats[pre_idx], axis=0)
        tn, corr, ratio, is_p = match(tmpl)
        rr_cv = float(np.std(rr_all) / max(float(np.mean(rr_all)), 1.0))
        if is_p.sum() < 2 and rr_cv < ATRIAL_ANALYSIS["escape_rr_cv"]:
            # The waves before a regular (escape) rhythm's QRS complexes share no shape (a
            # dissociated P lands before some QRS, a T-wave remnant before others): their
            # median matches nothing, so fall back to the shape most waves share. An irregular
            # rhythm keeps its verdict (fibrillatory waves share no shape either).
            tmpl = shared_shape()
            tn, corr, ratio, is_p = match(tmpl)
    else:
        tmpl = shared_shape()
        tn, corr, ratio, is_p = match(tmpl)
    pw = peaks[is_p]
    res.atrial_wave_samples = pw.astype(int)
    if pw.size < 2:
        if flutter_like:
            return _flutter(res, fs, best_lag, best_ac, peaks)
        res.atrial_activity = _no_p_class(fibrillatory_possible, free_rms, float(free.mean()))
        res.confidence = 0.3
        res.reason = "no consistent atrial wave shape outside QRS-T"
        return res

    pp, fit = _grid_pp(pw, fs)
    if pp is not None:
        pp, fit = _half_cycle_hidden_in_qrst(pw, pp, fit, core, fs)
    regular = pp is not None and fit >= ATRIAL_ANALYSIS["regular_fit_fraction"]
    if regular and 60.0 * fs / pp >= ATRIAL_ANALYSIS["flutter_min_bpm"] and flutter_like:
        return _flutter(res, fs, int(round(pp)), best_ac, pw)
    if flutter_like and not regular:
        return _flutter(res, fs, best_lag, best_ac, pw)

    # ---- P waves: relate each to the QRS complexes ------------------------------------------
    # P onset estimated from the template: where the spatial magnitude rises above 20 % of max.
    tmpl_mag = np.sqrt((tmpl.reshape(len(sel), -1) ** 2).sum(0))
    above = np.flatnonzero(tmpl_mag >= 0.2 * tmpl_mag.max())
    onset_lead = (half - above[0]) if above.size else int(50 * ms)
    conducted = np.zeros(pw.size, bool)
    pr_ms: list[float | None] = [None] * nb
    pr_min, pr_max = ATRIAL_ANALYSIS["pr_min_ms"] * ms, ATRIAL_ANALYSIS["pr_max_ms"] * ms
    for i in range(nb):
        d = q_on_f[i] - pw
        ok = np.flatnonzero((d >= pr_min) & (d <= pr_max))
        if ok.size:
            j = ok[np.argmin(d[ok])]
            # The P must come after the previous QRS (a P before it conducted that one).
            if i == 0 or pw[j] > r[i - 1]:
                conducted[j] = True
                pr_ms[i] = round(float((q_on_f[i] - (pw[j] - onset_lead)) / ms), 1)
    res.pr_intervals_ms = pr_ms
    rr = np.diff(r)
    rate_v = 60.0 * fs / float(np.mean(rr))
    inside = (pw > r[0]) & (pw < r[-1])
    # A non-conducted P: not conducting, in a pause (RR of >= 1.5 atrial cycles) when the atrial
    # rhythm is regular, between two QRS complexes.
    nc = []
    # The same waves with only the record's P-wave shape demanded (is_p): a dissociation claim
    # rests on the march of the P waves as a whole, not on a few perfectly shaped blocked P.
    nc_march = []
    for j in np.flatnonzero(~conducted & inside):
        k = int(np.searchsorted(r, pw[j]))  # r[k-1] < p < r[k]
        if not (1 <= k < nb):
            continue
        if regular and rr[k - 1] < ATRIAL_ANALYSIS["pause_ratio"] * pp:
            continue
        nc_march.append(pw[j])
        # A claim of AV block rests on these waves: demand the conducted P's shape and size.
        jj = int(np.flatnonzero(peaks == pw[j])[0])
        if corr[jj] < ATRIAL_ANALYSIS["non_conducted_corr"] or not (
            ATRIAL_ANALYSIS["non_conducted_amp_low"]
            <= ratio[jj]
            <= ATRIAL_ANALYSIS["non_conducted_amp_high"]
        ):
            continue
        nc.append(pw[j])
    res.non_conducted_samples = np.array(nc, int)
    pr_vals = np.array([v for v in pr_ms if v is not None], float)

    if not regular:
        # Irregular atrial waves: P waves that drive the QRS (sinus arrhythmia, ectopy) keep a
        # steady PR; otherwise the activity is disorganised.
        frac_pr = float(np.mean([v is not None for v in pr_ms]))
        steady = (
            pr_vals.size >= 3 and float(np.std(pr_vals)) <= ATRIAL_ANALYSIS["pr_constant_sd_ms"]
        )
        if frac_pr >= 0.8 and steady:
            res.atrial_activity = "p_waves"
            res.p_waves_per_qrs = 1.0
            res.pr_progression = "constant"
            res.confidence = 0.5
            res.reason = "P waves before the QRS complexes at a constant PR, irregular rate"
        else:
            res.atrial_activity = "fibrillatory" if fibrillatory_possible else None
            res.confidence = 0.3
            res.reason = "atrial waves found but neither regular nor locked to the QRS"
        return res

    rate_a = 60.0 * fs / pp
    res.atrial_rate_bpm = round(rate_a, 1)
    res.atrial_activity = "p_waves"
    # Predicted P waves hidden by QRS-T (for display; the ratio uses the rates).
    grid = []
    start = pw[0]
    while start - pp > r[0] - 0.5 * fs:
        start -= pp
    t = start
    while t < min(n, r[-1] + 0.3 * fs):
        if mask[int(t)] and np.min(np.abs(pw - t)) > 0.3 * pp:
            grid.append(int(round(t)))
        # Re-anchor on detected waves so the grid follows slow rate changes.
        near = pw[np.abs(pw - (t + pp)) <= ATRIAL_ANALYSIS["grid_tolerance"] * pp]
        t = float(near[0]) if near.size else t + pp
    res.hidden_wave_samples = np.array(grid, int)

    ratio_pq = rate_a / rate_v
    n_nc = len(nc)
    frac_conducted = float(np.mean([v is not None for v in pr_ms]))
    pr_sd = float(np.std(pr_vals)) if pr_vals.size >= 2 else 0.0
    # AV dissociation: a regular escape rhythm, and P waves that do not hold a PR to it (PR
    # scattered, or many QRS complexes with no P at a conducting PR). In second-degree block
    # every QRS has its conducting P.
    dissociated = (
        ratio_pq >= 1.15
        and float(np.std(rr) / np.mean(rr)) < ATRIAL_ANALYSIS["escape_rr_cv"]
        and (
            frac_conducted < ATRIAL_ANALYSIS["dissociated_max_conducted"]
            or (
                pr_sd >= ATRIAL_ANALYSIS["dissociated_pr_sd_ms"]
                and abs(ratio_pq - round(ratio_pq)) > 0.1
            )
        )
    )
    # A P wave marching through: the PR of consecutive QRS complexes that have a P in front
    # changes steadily, one way, by a clear step each beat (PP and RR are unrelated). Conducted
    # beats keep their PR, and Wenckebach has a dropped QRS, which the regular escape RR
    # (``dissociated``) excludes.
    marching = dissociated and _pr_marches(pr_ms)
    if marching and n_nc < ATRIAL_ANALYSIS["min_non_conducted"]:
        nc = nc_march
        n_nc = len(nc)
        res.non_conducted_samples = np.array(nc, int)
    if (
        n_nc >= ATRIAL_ANALYSIS["min_non_conducted"]
        and ratio_pq >= 1.1
        and rate_a <= ATRIAL_ANALYSIS["max_block_atrial_bpm"]
    ):
        res.p_waves_per_qrs = round(ratio_pq, 2)
        if dissociated:
            res.pr_progression = "dissociated"
            res.reason = (
                f"P waves at {rate_a:.0f}/min march through a regular ventricular rhythm at "
                f"{rate_v:.0f}/min with no fixed PR"
            )
        else:
            res.pr_progression = _pr_progression(pr_ms, nc, r)
            res.reason = (
                f"{n_nc} non-conducted P waves; atrial {rate_a:.0f}/min, ventricular "
                f"{rate_v:.0f}/min; PR {res.pr_progression}"
            )
        res.confidence = float(min(1.0, 0.5 + 0.1 * n_nc + 0.3 * (fit - 0.8) / 0.2))
        return res
    progression = _pr_progression(pr_ms, [], r)
    # 1:1 conduction; ectopic QRS complexes (PVCs) only lower the share of QRS with a P.
    if ratio_pq < 1.1 and frac_conducted >= 0.6 and progression == "constant":
        res.p_waves_per_qrs = 1.0
        res.pr_progression = "constant"
        res.confidence = float(min(1.0, 0.4 + 0.6 * frac_conducted))
        res.reason = f"one P wave per QRS at {rate_a:.0f}/min, constant PR"
        return res
    # Regular waves that neither conduct 1:1 at a steady PR nor show a clear block: undecided
    # (T-wave remnants locked to the QRS, organised fibrillation, hidden P waves).
    res.atrial_activity = None
    res.p_waves_per_qrs = None
    res.pr_progression = None
    res.confidence = 0.3
    res.reason = (
        f"atrial waves at {rate_a:.0f}/min (ventricular {rate_v:.0f}/min) without a steady PR "
        "or enough non-conducted P waves to classify"
    )
    return res


def _pr_marches(pr_ms: list[float | None]) -> bool:
    """True when the PR of a run of consecutive QRS complexes changes steadily one way.

    In AV dissociation each P wave falls a fixed (RR - k * PP) later or earlier relative to
    the next QRS, so the PR of the visible P waves drifts monotonically beat after beat; a
    conducted rhythm holds its PR (or, in Wenckebach, rises and then drops a QRS)."""
    need = int(ATRIAL_ANALYSIS["march_min_beats"])
    step = ATRIAL_ANALYSIS["march_min_step_ms"]
    run: list[float] = []
    for v in list(pr_ms) + [None]:
        if v is not None:
            run.append(v)
            continue
        if len(run) >= need:
            d = np.diff(run)
            if (d >= step).all() or (d <= -step).all():
                return True
        run = []
    return False


def _no_p_class(fibrillatory_possible: bool, free_rms: float, free_share: float) -> str | None:
    """Atrial activity without P waves: fibrillatory, none (flat baseline) or undecided.

    "none" needs enough QRS-T-free signal to have looked at: at fast rates P waves hide in
    the T waves and their absence from the short TQ intervals proves nothing."""
    if fibrillatory_possible:
        return "fibrillatory"
    flat = free_rms <= ATRIAL_ANALYSIS["fibrillatory_rms_mv"]
    return "none" if flat and free_share >= ATRIAL_ANALYSIS["min_free_share_for_none"] else None


def _flutter(
    res: AtrialActivity, fs: float, lag: int, ac: float, waves: np.ndarray
) -> AtrialActivity:
    res.atrial_activity = "flutter"
    res.atrial_rate_bpm = round(60.0 * fs / lag, 1)
    res.p_waves_per_qrs = None
    res.pr_progression = None
    res.atrial_wave_samples = np.asarray(waves, int)
    res.non_conducted_samples = np.zeros(0, int)
    res.confidence = float(min(1.0, 0.5 + (ac - ATRIAL_ANALYSIS["flutter_autocorr"])))
    res.reason = (
        f"continuous regular atrial activity at {res.atrial_rate_bpm:.0f}/min "
        f"(autocorrelation {ac:.2f} at one cycle) without isoelectric baseline"
    )
    return res


def _pr_progression(pr_ms: list[float | None], non_conducted: list, r: np.ndarray) -> str | None:
    """PR behaviour of conducted beats: constant, prolonging (within groups ended by a dropped
    P) or variable."""
    vals = np.array([np.nan if v is None else v for v in pr_ms], float)
    ok = vals[np.isfinite(vals)]
    if ok.size < 3:
        return None
    if non_conducted:
        # Split conducted beats into groups at each non-conducted P (r is the R-peak array).
        r_arr = np.asarray(r, float)
        breaks = set(int(np.searchsorted(r_arr, p)) for p in non_conducted)
        groups, cur = [], []
        for i, v in enumerate(vals):
            if i in breaks and cur:
                groups.append(cur)
                cur = []
            if np.isfinite(v):
                cur.append(v)
        if cur:
            groups.append(cur)
        rises = [g[-1] - g[0] for g in groups if len(g) >= 2]
        steps = np.concatenate([np.diff(g) for g in groups if len(g) >= 2]) if rises else []
        if (
            rises
            and np.median(rises) >= ATRIAL_ANALYSIS["pr_prolonging_step_ms"]
            and np.mean(np.asarray(steps) > 0) >= 0.7
        ):
            return "prolonging"
    # Robust spread: one mis-timed P (noise, an ectopic beat) must not make PR "variable".
    robust_sd = 1.4826 * float(np.median(np.abs(ok - np.median(ok))))
    if robust_sd <= ATRIAL_ANALYSIS["pr_constant_sd_ms"]:
        return "constant"
    return "variable"
