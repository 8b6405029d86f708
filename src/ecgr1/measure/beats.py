"""Beat detection on all leads together, RR series and beat grouping.

Detection: each usable lead is band-limited (triangular smoothing, then first difference), its
squared slope is normalised by the lead's own robust scale so that no lead dominates, and the
leads are summed into one energy envelope (about 100 ms integration). Peaks of the envelope
above an adaptive threshold (a quarter of the way from the envelope's noise level, its median, to
its 98th percentile, over 10-s blocks: Pan and Tompkins' rule) that are at least a refractory
period apart are QRS complexes; long gaps are searched again with half of a quarter of the 98th
percentile, for candidates of at least 0.3 of the median size of the beats found first. The
anchor of each beat is the sample of largest total slope energy near the envelope peak; it is
refined later (``refine_anchor``) to the largest spatial magnitude.
(sleepecg was tried as the detector for single-lead records: on CPSC 2019 it found fewer beats
with more false detections than this detector, so it is not used.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import find_peaks

from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.signal.filters import smooth
from ecgr1.signal.stats import (
    fast_clip,
    median_1d,
    median_along,
    middle_value,
    percentile_along,
)


def _envelope(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slope energy of each lead normalised by its own 99th percentile, summed over the leads
    (``e``, the anchor's statistic), and two envelopes (80 ms integrations): of ``e``
    (``env_any``), and of ``e`` without, at each sample, its largest lead (``env_several``, the
    same as ``env_any`` with fewer than three leads)."""
    xs = smooth(x, max(1, int(round(fs * 0.008))))
    d = np.diff(xs, axis=1, prepend=xs[:, :1])
    # Remove slow components of the slope (P/T) partially: high-pass by subtracting a 60 ms mean.
    # (In place from here: the same operations on the same operands, fewer temporaries.)
    d -= uniform_filter1d(d, max(1, int(fs * 0.06)), axis=1, mode="nearest")
    e = np.multiply(d, d, out=d)
    scale = percentile_along(e, 99, axis=1)[:, None]  # np.percentile's values, less overhead
    scale[scale <= 0] = 1.0
    if np.result_type(e, scale) == e.dtype:
        e /= scale
    else:
        e = e / scale
    width = max(1, int(fs * 0.08))
    total = e.sum(axis=0)
    env_any = uniform_filter1d(total, width, mode="nearest")
    if e.shape[0] < 3:
        return total, env_any, env_any
    env_several = uniform_filter1d(total - e.max(axis=0), width, mode="nearest")
    return total, env_any, env_several


def _thresholds(env: np.ndarray, fs: float, noise_weight: float = 0.0) -> np.ndarray:
    """``N + 0.25 (S - N)`` over each 10-s block of ``env`` (and 5 s either side): ``S`` its
    98th percentile, ``N`` ``noise_weight`` times its median (the envelope between beats: the
    noise level; 0 gives a quarter of ``S``)."""
    n = env.size
    block = int(10 * fs)
    thr = np.empty(n)
    for s in range(0, n, block):
        seg = env[max(0, s - block // 2) : min(n, s + block + block // 2)]
        top = percentile_along(seg, 98)
        noise = noise_weight * middle_value(seg) if noise_weight else 0.0
        thr[s : s + block] = noise + 0.25 * (top - noise)
    return thr


def _deflections(x: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """(leads, peaks): each lead's peak-to-peak deflection within +-60 ms of each peak (the
    window clipped to the signal)."""
    h = int(0.06 * fs)
    idx = fast_clip(peaks[:, None] + np.arange(-h, h + 1)[None, :], 0, x.shape[1] - 1)
    return np.ptp(x[:, idx], axis=2)


def _with_qrs_sized(
    x: np.ndarray, peaks: np.ndarray, extra: np.ndarray, fs: float, config: MeasureConfig
) -> np.ndarray:
    """``peaks`` with the candidates of the pause re-search (``extra``) whose size (the
    peak-to-peak deflection within +-60 ms, summed over the leads) is at least
    ``beat.research_min_size_ratio`` of the median size of ``peaks``. An ectopic QRS is as large
    as a QRS; a non-conducted P wave in a Wenckebach pause, which muscle noise can lift to half
    the threshold, is a tenth of one."""
    size = _deflections(x, np.concatenate([peaks, extra]), fs).sum(axis=0)
    limit = config.beat["research_min_size_ratio"] * median_1d(size[: peaks.size])
    return np.unique(np.concatenate([peaks, extra[size[peaks.size :] >= limit]]))


def _window_argmax(v: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    """Per centre ``p``: ``a + argmax(v[a:b])`` with ``a, b = max(0, p - half), min(n, p + half
    + 1)`` (the first maximum), for all centres at once. The window's indices are clipped to
    the signal: a clipped window repeats ``v[0]`` before, or ``v[n - 1]`` after, its real
    samples, so its first maximum is the same sample."""
    n = v.size
    idx = fast_clip(centres[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    best = np.take_along_axis(idx, np.argmax(v[idx], axis=1)[:, None], axis=1)[:, 0]
    return best.astype(centres.dtype, copy=False)


def detect_r_peaks(
    x: np.ndarray,
    fs: float,
    usable: np.ndarray | None = None,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> np.ndarray:
    """Sample indices of QRS complexes detected on all usable leads together.

    Parameters
    ----------
    x : (n_leads, n_samples) baseline-free signal, mV.
    fs : sampling rate, Hz.
    usable : boolean per lead; unusable leads are ignored.
    config : ``beat.refractory_ms``, ``beat.min_qrs_mv``, ``beat.detect_noise_weight`` and
        ``beat.research_min_size_ratio`` are read.

    Example
    -------
    >>> import numpy as np
    >>> fs = 500.0; x = np.zeros((1, 5000))
    >>> for r in range(250, 5000, 500): x[0, r - 10:r + 10] = np.hanning(20)
    >>> detect_r_peaks(x, fs).size
    10
    """
    x = np.atleast_2d(x)
    if usable is not None and np.any(usable):
        x = x[np.asarray(usable, bool)]
    n = x.shape[1]
    if n < int(0.5 * fs) or not np.any(np.ptp(x, axis=1) > 0):
        return np.zeros(0, dtype=int)
    e, env_any, env = _envelope(x, fs)
    refractory = int(config.beat["refractory_ms"] * fs / 1000)
    # A QRS shows in several leads at once, an electrode artefact (a pop, a step of several mV)
    # in one: beats are found on the envelope without the largest lead at each sample, so that
    # no single lead makes a beat (CPSC A0011: V1 steps of 8 mV were two "beats", and displaced
    # a third). A pause long enough to hide a beat is searched again on every lead, at half the
    # threshold: a wide, smooth ectopic beat can stand out in one small-QRS lead only.
    thr = _thresholds(env, fs, config.beat["detect_noise_weight"])
    peaks, _ = find_peaks(env, height=thr, distance=refractory)
    if peaks.size >= 2:
        rr = np.diff(peaks)
        med = median_1d(rr.astype(np.float64))  # np.median of the int RR, bit for bit
        thr_any = None
        extra = []
        pause = config.beat["pause_rr_ratio"] * med
        long_rr = np.flatnonzero(rr > pause)
        spans = list(zip(peaks[long_rr] + refractory, peaks[long_rr + 1] - refractory))
        # As long a stretch before the first beat or after the last one is searched too: beats
        # near the threshold that stop being found at some point leave no pause to search
        # (a CPSC 2021 AF window lost its last five).
        if peaks[0] > pause:
            spans.insert(0, (0, peaks[0] - refractory))
        if n - 1 - peaks[-1] > pause:
            spans.append((peaks[-1] + refractory, n))
        for a, b in spans:
            if b <= a:
                continue
            if thr_any is None:
                # Without the noise level: a wide ectopic beat has little slope energy, and a
                # pause is where one hides (simulated PVCs under muscle noise stand at a third
                # of the threshold above and are found here, at half of this one).
                thr_any = _thresholds(env_any, fs)
            sub, _ = find_peaks(env_any[a:b], height=0.5 * thr_any[a:b], distance=refractory)
            extra.extend((sub + a).tolist())
        if extra:
            peaks = _with_qrs_sized(x, peaks, np.asarray(extra, int), fs, config)
    # A QRS must have some size somewhere: drop candidates whose largest peak-to-peak deflection
    # over the leads within +-60 ms is below beat.min_qrs_mv (noise, flat records).
    if peaks.size:
        peaks = peaks[_deflections(x, peaks, fs).max(axis=0) >= config.beat["min_qrs_mv"]]
    # Anchor: sample of largest instantaneous slope energy within +-60 ms of the envelope peak.
    anchors = np.unique(_window_argmax(e, peaks, int(0.06 * fs)))
    if anchors.size >= 2:
        keep = np.concatenate(([True], np.diff(anchors) >= refractory))
        anchors = anchors[keep]
    return anchors


def refine_anchor(
    x: np.ndarray, fs: float, peaks: np.ndarray, *, config: MeasureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Move each anchor to the largest spatial magnitude (sqrt of summed squares) within 50 ms;
    of two anchors closer than ``beat.min_rr_ms`` the later is dropped."""
    if peaks.size == 0:
        return peaks
    xs = smooth(x, max(1, int(round(fs * 0.01))))
    mag = np.sqrt((xs * xs).sum(axis=0))
    out = np.unique(_window_argmax(mag, peaks, int(0.05 * fs)))
    if out.size >= 2:
        min_rr = int(config.beat["min_rr_ms"] * fs / 1000)
        out = out[np.concatenate(([True], np.diff(out) >= min_rr))]
    return out


def classify_rr_irregularity(
    rr_ms: Sequence[float], *, config: MeasureConfig = DEFAULT_CONFIG
) -> str | None:
    """ "regular", "regularly_irregular" or "irregularly_irregular" for a series of RR
    intervals, with the thresholds ``beat.irregular_rr_cv`` and ``beat.irregular_succ_diff``
    (the rule :func:`rr_statistics` applies to all intervals); None for fewer than two
    intervals."""
    rr = np.asarray(rr_ms, float)
    if rr.size < 2:
        return None
    mean = float(rr.mean())
    cv = float(rr.std(ddof=1)) / mean if mean > 0 else 0.0
    if cv <= config.beat["irregular_rr_cv"]:
        return "regular"
    succ = float(median_1d(np.abs(np.diff(rr))) / mean) if rr.size > 2 else 0.0
    irregularly = succ > config.beat["irregular_succ_diff"]
    return "irregularly_irregular" if irregularly else "regularly_irregular"


def rr_statistics(
    peaks: np.ndarray, fs: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> dict[str, float | bool | str | None]:
    """RR mean, SD, coefficient of variation and regularity class.

    Example
    -------
    >>> import numpy as np
    >>> s = rr_statistics(np.arange(0, 5000, 500), 500.0)
    >>> s["rr_mean_ms"], s["rr_irregularity"]
    (1000.0, 'regular')
    """
    out: dict[str, float | bool | str | None] = {
        "rr_mean_ms": None,
        "rr_sd_ms": None,
        "rr_cv": None,
        "rr_irregular": None,
        "rr_irregularity": None,
        "rr_successive_difference_ratio": None,
    }
    if peaks.size < 2:
        return out
    rr = np.diff(peaks) / fs * 1000.0
    mean = float(rr.mean())
    if rr.size < 2:
        out["rr_mean_ms"] = round(mean, 1)
        return out
    sd = float(rr.std(ddof=1))
    cv = sd / mean if mean > 0 else 0.0
    kind = classify_rr_irregularity(rr, config=config)
    irregular = kind != "regular"
    out.update(
        rr_mean_ms=round(mean, 1),
        rr_sd_ms=round(sd, 1),
        rr_cv=round(cv, 4),
        rr_irregular=bool(irregular),
        rr_irregularity=kind,
    )
    if rr.size > 2 and mean > 0:
        succ = float(median_1d(np.abs(np.diff(rr)))) / mean
        out["rr_successive_difference_ratio"] = round(succ, 4)
    return out


def qrs_morphology_groups(
    x: np.ndarray, fs: float, peaks: np.ndarray, *, config: MeasureConfig = DEFAULT_CONFIG
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation of each beat's QRS (all leads) with the dominant QRS template.

    Returns ``(corr, dominant_mask)``: the dominant group is the largest group of mutually
    similar beats (correlation with the group median >= ``beat.morphology_corr``).
    """
    nb = peaks.size
    if nb == 0:
        return np.zeros(0), np.zeros(0, bool)
    a, b = int(0.06 * fs), int(0.09 * fs)
    n = x.shape[1]
    idx = fast_clip(peaks[:, None] + np.arange(-a, b)[None, :], 0, n - 1)
    seg = x[:, idx]  # (L, B, W)
    seg = seg - seg.mean(axis=2, keepdims=True)
    flat = np.transpose(seg, (1, 0, 2)).reshape(nb, -1)
    norms = np.linalg.norm(flat, axis=1)
    norms[norms == 0] = 1.0
    unit = flat / norms[:, None]
    # Largest group: seed with each beat's neighbourhood size (pairwise corr above threshold).
    c = unit @ unit.T
    thr = config.beat["morphology_corr"]
    similar = c >= thr
    support = similar.sum(axis=1)
    # Among equally large groups the most coherent one (the largest summed correlation), not
    # the first in time: LUDB 95 has five paced and five conducted beats.
    coherence = np.where(similar, c, 0.0).sum(axis=1)
    largest = np.flatnonzero(support == support.max())
    seed = int(largest[np.argmax(coherence[largest])])
    members = c[seed] >= thr
    template = median_along(flat[members], axis=0)
    tn = np.linalg.norm(template)
    corr = unit @ (template / (tn if tn > 0 else 1.0))
    return corr, corr >= thr
