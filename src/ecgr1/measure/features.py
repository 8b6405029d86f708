"""Amplitude, duration, ST and axis measurements on the representative (median) beat.

All amplitudes are in mV relative to the PR-segment level of the same lead; durations in ms.
Thresholds (wave naming, flat T, ST shape) are ``config.presence`` and ``config.st``.
"""

from __future__ import annotations

import math

import numpy as np

from ecgr1.measure._numeric import mean_of
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.result import LeadMeasurements

# Frontal lead angles (degrees, hexaxial) and gains relative to the heart vector: geometry of
# the limb leads, not a parameter.
FRONTAL_LEADS: dict[str, tuple[float, float]] = {
    "I": (0.0, 1.0),
    "II": (60.0, 1.0),
    "III": (120.0, 1.0),
    "aVR": (-150.0, 0.8660254037844386),
    "aVL": (-30.0, 0.8660254037844386),
    "aVF": (90.0, 0.8660254037844386),
}


def _lobes(y: np.ndarray) -> list[tuple[int, int, float, int]]:
    """Split ``y`` into same-sign lobes: (start, stop, signed peak amplitude, peak index).

    Zero counts as positive; a lobe's peak is its first sample of the largest magnitude. One
    pass over the samples as Python floats (a QRS is a few dozen samples: several times faster
    than the array operations); data with NaN take the array form, where NaN is its own sign.
    """
    vals = y.tolist()
    if not vals:
        return []
    if not math.isfinite(sum(vals)):  # NaN or infinity somewhere (or a sum that overflows)
        return _lobes_array(y)
    out = []
    start, positive = 0, vals[0] >= 0
    peak, peak_abs = 0, abs(vals[0])
    for i in range(1, len(vals)):
        v = vals[i]
        if (v >= 0) != positive:
            out.append((start, i, vals[peak], peak))
            start, positive, peak, peak_abs = i, not positive, i, abs(v)
        elif abs(v) > peak_abs:
            peak, peak_abs = i, abs(v)
    out.append((start, len(vals), vals[peak], peak))
    return out


def _lobes_array(y: np.ndarray) -> list[tuple[int, int, float, int]]:
    """:func:`_lobes` with array operations (any values, NaN and infinities included)."""
    sign = np.sign(y)
    sign[sign == 0] = 1
    cuts = np.flatnonzero(np.diff(sign) != 0) + 1
    bounds = np.concatenate(([0], cuts, [y.size]))
    out = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        seg = y[a:b]
        k = int(np.argmax(np.abs(seg)))
        out.append((int(a), int(b), float(seg[k]), int(a + k)))
    return out


def _sign(v: float) -> int:
    """``np.sign`` of a number that is not NaN, as a Python int (-1, 0 or 1): the same
    comparisons without a NumPy call on a Python float (about a hundred a record)."""
    return (v > 0) - (v < 0)


def _merge_small(lobes: list[tuple[int, int, float, int]], min_mv: float) -> list:
    """Drop lobes smaller than ``min_mv`` and merge neighbours of the same sign."""
    big = [lb for lb in lobes if abs(lb[2]) >= min_mv]  # (a NaN amplitude never passes)
    merged: list[tuple[int, int, float, int]] = []
    for lb in big:
        if merged and _sign(merged[-1][2]) == _sign(lb[2]):
            prev = merged[-1]
            keep = prev if abs(prev[2]) >= abs(lb[2]) else lb
            merged[-1] = (prev[0], lb[1], keep[2], keep[3])
        else:
            merged.append(lb)
    return merged


def qrs_components(
    y: np.ndarray, fs: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> dict[str, float | str | None]:
    """Q, R, S, R', S' amplitudes/durations and the morphology label of one QRS.

    ``y`` is the QRS (onset to offset) relative to the PR baseline, mV. Deflections smaller than
    ``presence.wave_min_mv`` are not named; capitals from ``presence.capital_wave_mv``.

    Example
    -------
    >>> import numpy as np
    >>> y = np.concatenate([-0.1 * np.hanning(10), 1.2 * np.hanning(20), -0.4 * np.hanning(14)])
    >>> c = qrs_components(y, 500.0)
    >>> c["qrs_morphology"], round(c["r_amplitude_mv"], 1), round(c["s_amplitude_mv"], 1)
    ('qRs', 1.2, -0.4)
    """
    min_mv = config.presence["wave_min_mv"]
    cap = config.presence["capital_wave_mv"]
    lobes = _merge_small(_lobes(y), min_mv)
    out: dict[str, float | str | None] = {
        "q_amplitude_mv": None,
        "q_duration_ms": None,
        "r_amplitude_mv": None,
        "r_duration_ms": None,
        "s_amplitude_mv": None,
        "s_duration_ms": None,
        "r_prime_amplitude_mv": None,
        "s_prime_amplitude_mv": None,
        "qrs_morphology": None,
        "r_peak_index": None,
    }
    if not lobes:
        # No deflection reaches the naming threshold: an (almost) isoelectric QRS.
        out["r_amplitude_mv"] = 0.0
        out["s_amplitude_mv"] = 0.0
        return out
    dur = 1000.0 / fs
    pos = [lb for lb in lobes if lb[2] > 0]
    if not pos:
        deepest = min(lobes, key=lambda lb: lb[2])
        out["q_amplitude_mv"] = deepest[2]
        out["q_duration_ms"] = (lobes[-1][1] - lobes[0][0]) * dur
        out["s_amplitude_mv"] = deepest[2]
        out["r_amplitude_mv"] = 0.0
        out["qrs_morphology"] = "QS"
        return out
    label = ""
    first_pos = lobes.index(pos[0])
    if first_pos > 0:
        q = min(lobes[:first_pos], key=lambda lb: lb[2])
        out["q_amplitude_mv"] = q[2]
        out["q_duration_ms"] = (lobes[first_pos - 1][1] - lobes[0][0]) * dur
        label += "Q" if abs(q[2]) >= cap else "q"
    r = lobes[first_pos]
    out["r_amplitude_mv"] = r[2]
    out["r_duration_ms"] = (r[1] - r[0]) * dur
    # R peak time is measured to the last R component: the R' when there is one (below), the
    # later hump of a notched R that does not return to baseline (AHA 2009 part III).
    humps = notch_humps(y[r[0] : r[1]], fs)
    out["r_peak_index"] = r[0] + humps[1] if humps is not None else r[3]
    label += "R" if r[2] >= cap else "r"
    rest = lobes[first_pos + 1 :]
    names = [("s", "s_amplitude_mv", "s_duration_ms"), ("r'", "r_prime_amplitude_mv", None),
             ("s'", "s_prime_amplitude_mv", None)]  # fmt: skip
    for lb, (letter, amp_key, dur_key) in zip(rest, names, strict=False):
        out[amp_key] = lb[2]
        if dur_key:
            out[dur_key] = (lb[1] - lb[0]) * dur
        label += letter.upper() if abs(lb[2]) >= cap else letter
        if letter == "r'":
            out["r_peak_index"] = lb[3]
    out["qrs_morphology"] = label
    return out


def wave_polarity(y: np.ndarray, flat_mv: float) -> tuple[str, float, float, float]:
    """Polarity of a P or T wave segment: (label, signed amplitude, positive, negative)."""
    if y.size == 0:
        return "flat", 0.0, 0.0, 0.0
    pos = float(max(0.0, y.max()))
    neg = float(min(0.0, y.min()))
    amp = pos if pos >= -neg else neg
    if max(pos, -neg) < flat_mv:
        return "flat", amp, pos, neg
    small, large = sorted((pos, -neg))
    if small >= 0.3 * large and small >= flat_mv:
        return "biphasic", amp, pos, neg
    return ("positive" if amp > 0 else "negative"), amp, pos, neg


def terminal_negative_samples(y: np.ndarray, floor_mv: float = 0.0) -> int:
    """Length, in sample intervals, of a wave's terminal negative lobe: the lobe around the
    deepest point after the positive peak, from its last baseline crossing before that point
    to its first one after it (or the end). 0 when the wave has no positive part or no such
    lobe reaching ``floor_mv`` on either side (noise at the baseline is not a wave), or when
    the segment is not finite.

    >>> terminal_negative_samples(np.array([0.0, 0.05, 0.1, 0.05, -0.05, -0.1, -0.05, 0.0]))
    4
    >>> terminal_negative_samples(np.array([-0.05, -0.1, -0.05]))
    0
    """
    if y.size < 2 or not np.isfinite(y).all():
        return 0
    peak = int(np.argmax(y))
    if y[peak] <= floor_mv:
        return 0
    deep = peak + int(np.argmin(y[peak:]))
    if y[deep] >= -floor_mv:
        return 0
    before = np.flatnonzero(y[peak:deep] >= 0.0)
    start = peak + int(before[-1])  # the last sample at or above the baseline
    after = np.flatnonzero(y[deep:] >= 0.0)
    stop = deep + int(after[0]) if after.size else y.size - 1
    return stop - start


def notch_humps(y: np.ndarray, fs: float) -> tuple[int, int] | None:
    """First and last hump of a notched wave: two local maxima of the wave's dominant sign, both
    above half its peak, at least 20 ms apart, with a dip of >= 10 % of the peak between them;
    None when the wave is not notched.

    One pass over Python floats (a wave is a few dozen samples); data with NaN or infinities
    take the array form (:func:`_notch_humps_array`), which gives the same answer on the rest.
    """
    if y.size < 5:
        return None
    vals = y.tolist()
    if not math.isfinite(sum(vals)):
        return _notch_humps_array(y, fs)
    hi, lo = max(vals), min(vals)
    # The dominant sign's copy and its peak (``-y``'s maximum is exactly ``-min(y)``).
    s, peak = (vals, hi) if abs(hi) >= abs(lo) else ([-v for v in vals], -lo)
    if peak <= 0:
        return None
    half = 0.5 * peak
    inner = [
        i for i in range(1, len(s) - 1) if s[i] > s[i - 1] and s[i] >= s[i + 1] and s[i] > half
    ]
    if len(inner) < 2:
        return None
    a, b = inner[0], inner[-1]
    if (b - a) < 0.02 * fs:
        return None
    dip = min(s[a : b + 1])
    return (a, b) if min(s[a], s[b]) - dip >= 0.1 * peak else None


def _notch_humps_array(y: np.ndarray, fs: float) -> tuple[int, int] | None:
    """:func:`notch_humps` with array operations (any values)."""
    if y.size < 5:
        return None
    s = y if abs(y.max()) >= abs(y.min()) else -y
    peak = s.max()
    if peak <= 0:
        return None
    inner = np.flatnonzero((s[1:-1] > s[:-2]) & (s[1:-1] >= s[2:]) & (s[1:-1] > 0.5 * peak)) + 1
    if inner.size < 2:
        return None
    a, b = int(inner[0]), int(inner[-1])
    if (b - a) < 0.02 * fs:
        return None
    dip = s[a : b + 1].min()
    return (a, b) if min(s[a], s[b]) - dip >= 0.1 * peak else None


def is_notched(y: np.ndarray, fs: float) -> bool:
    """Two humps of the same sign at least 20 ms apart with a dip of >= 10 % between them."""
    return notch_humps(y, fs) is not None


def frontal_axis(net: dict[str, float]) -> float | None:
    """Frontal-plane axis (degrees, -180..180) from net deflections/areas in the limb leads.

    A least-squares heart vector is fitted to every limb lead given (hexaxial angles, augmented
    leads scaled by sqrt(3)/2); needs two leads with independent directions.

    Example
    -------
    >>> import math
    >>> th = math.radians(60)
    >>> net = {n: g * math.cos(th - math.radians(a)) for n, (a, g) in FRONTAL_LEADS.items()}
    >>> round(frontal_axis(net))
    60
    """
    rows, vals = [], []
    for name, value in net.items():
        if name in FRONTAL_LEADS and value is not None and math.isfinite(value):
            ang, gain = FRONTAL_LEADS[name]
            a = math.radians(ang)
            rows.append((gain * math.cos(a), gain * math.sin(a)))
            vals.append(value)
    if len(rows) < 2:
        return None
    m = np.asarray(rows)
    # Least squares by the 2x2 normal equations (the lead directions are well conditioned
    # unless all leads are (anti)parallel, which the determinant test rejects).
    mtm = m.T @ m
    det = float(mtm[0, 0] * mtm[1, 1] - mtm[0, 1] * mtm[1, 0])
    if det <= 1e-9 * float(np.trace(mtm)) ** 2:
        return None
    v = np.linalg.solve(mtm, m.T @ np.asarray(vals))
    if float(np.hypot(*v)) < 1e-6:
        return None
    return round(math.degrees(math.atan2(v[1], v[0])), 1)


def lead_measurements(
    y: np.ndarray,
    fs: float,
    fid: dict[str, float | None],
    g: dict[str, float | None],
    p_present: bool,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> LeadMeasurements:
    """Measurements of one lead's median beat.

    Parameters
    ----------
    y : the median beat (clean signal), mV.
    fs : sampling rate.
    fid : this lead's fiducials inside ``y`` (samples; None when absent).
    g : global fiducials inside ``y`` (``qrs_on``, ``qrs_off``, ``p_off``, ``t_off``; and
        ``st_j``, the J point ST is read at, when it differs from ``qrs_off``).
    p_present : whether the record has P waves.
    config : ``presence`` (wave naming, flat T and P) and ``st`` (ST shape) are read.
    """
    lm = LeadMeasurements()
    ms = fs / 1000.0
    g_on, g_off = g.get("qrs_on"), g.get("qrs_off")
    if g_on is None or g_off is None:
        lm.reasons["qrs"] = "QRS boundaries not found"
        return lm
    g_on, g_off = int(g_on), int(g_off)
    # PR-segment level: 20 ms ending 4 ms before QRS onset, after the P offset when known.
    b_end = max(1, g_on - int(4 * ms))
    b_start = max(0, b_end - int(20 * ms))
    if g.get("p_off") is not None:
        b_start = max(b_start, min(int(g["p_off"]), b_end - 1))
    base = mean_of(y[b_start:b_end])
    z = y - base
    qrs = z[g_on : g_off + 1]
    comp = qrs_components(qrs, fs, config=config)
    for key in (
        "q_amplitude_mv",
        "q_duration_ms",
        "r_amplitude_mv",
        "r_duration_ms",
        "s_amplitude_mv",
        "s_duration_ms",
        "r_prime_amplitude_mv",
        "s_prime_amplitude_mv",
        "qrs_morphology",
    ):
        setattr(lm, key, comp[key])
    if comp["r_peak_index"] is not None:
        lm.r_peak_time_ms = round(float(comp["r_peak_index"]) / ms, 1)
    else:
        lm.reasons["r_peak_time_ms"] = "no R wave"
    if lm.q_amplitude_mv is None:
        lm.reasons["q_amplitude_mv"] = "no Q wave"
    if lm.r_prime_amplitude_mv is None:
        lm.reasons["r_prime_amplitude_mv"] = "no R' wave"
    if qrs.size:
        lm.qrs_peak_to_peak_mv = round(float(qrs.max() - qrs.min()), 4)
        lm.qrs_net_amplitude_mv = round(float(qrs.max() + qrs.min()), 4)
    if fid.get("qrs_on") is not None and fid.get("qrs_off") is not None:
        lm.qrs_duration_ms = round((fid["qrs_off"] - fid["qrs_on"]) / ms, 1)
    j_st = g.get("st_j")
    _st_segment(lm, z, g_off if j_st is None else int(j_st), ms, config)
    # T wave.
    t_on = fid.get("t_on") if fid.get("t_on") is not None else g_off
    t_off = fid.get("t_off")
    if t_off is not None and t_off > t_on:
        t_seg = z[int(t_on) : int(t_off) + 1]
        pol, amp, pos, neg = wave_polarity(t_seg, config.presence["flat_t_mv"])
        lm.t_polarity, lm.t_amplitude_mv = pol, round(amp, 4)
        lm.t_positive_amplitude_mv, lm.t_negative_amplitude_mv = round(pos, 4), round(neg, 4)
    else:
        lm.reasons["t_amplitude_mv"] = "T wave not delineated"
    _p_wave(lm, z, fs, fid, p_present, config)
    return lm


def _st_segment(
    lm: LeadMeasurements, z: np.ndarray, j: int, ms: float, config: MeasureConfig
) -> None:
    """J amplitude, ST at J/J+60/J+80 ms and the ST shape (J: the global QRS end, see
    :func:`~ecgr1.measure.median_beat.st_j_point`)."""
    lm.j_amplitude_mv = round(float(z[j]), 4)
    lm.st_j_mv = lm.j_amplitude_mv
    k60, k80 = j + int(round(60 * ms)), j + int(round(80 * ms))
    if k80 >= z.size:
        lm.reasons["st_j80_mv"] = "beat window too short after J"
        return
    lm.st_j60_mv = round(float(z[k60]), 4)
    lm.st_j80_mv = round(float(z[k80]), 4)
    lm.st_slope_mv_per_s = round((float(z[k80]) - float(z[j])) / 0.08, 3)
    st_slope = config.st["slope_mv_per_s"]
    if lm.st_slope_mv_per_s > st_slope:
        lm.st_shape = "upsloping"
    elif lm.st_slope_mv_per_s < -st_slope:
        lm.st_shape = "downsloping"
    else:
        lm.st_shape = "horizontal"


def _p_wave(
    lm: LeadMeasurements,
    z: np.ndarray,
    fs: float,
    fid: dict[str, float | None],
    p_present: bool,
    config: MeasureConfig,
) -> None:
    """P amplitudes, duration and morphology of one lead."""
    if not p_present:
        lm.p_morphology = "absent"
        lm.reasons["p_amplitude_mv"] = "no P wave in this record"
        return
    p_on, p_off = fid.get("p_on"), fid.get("p_off")
    if p_on is None or p_off is None:
        lm.reasons["p_amplitude_mv"] = "P wave not delineated in this lead"
        return
    seg = z[int(p_on) : int(p_off) + 1]
    floor = config.presence["p_min_amp_mv"] / 2
    pol, amp, pos, neg = wave_polarity(seg, floor)
    lm.p_amplitude_mv, lm.p_positive_amplitude_mv = round(amp, 4), round(pos, 4)
    lm.p_negative_amplitude_mv = round(neg, 4)
    lm.p_terminal_negative_ms = round(terminal_negative_samples(seg, floor) / (fs / 1000.0), 1)
    lm.p_duration_ms = round((p_off - p_on) / (fs / 1000.0), 1)
    if pol == "flat":
        lm.p_morphology = "flat"
    elif pol == "biphasic":
        lm.p_morphology = "biphasic"
    elif is_notched(seg, fs):
        lm.p_morphology = "notched"
    else:
        lm.p_morphology = pol


def wave_area(y: np.ndarray, a: float | None, b: float | None, base: float) -> float | None:
    """Signed area (mV x samples) of ``y - base`` between ``a`` and ``b``."""
    if a is None or b is None or b <= a:
        return None
    # The array's own sum: np.sum's reduction without its dispatch (36 calls a record).
    return float((y[int(a) : int(b) + 1] - base).sum())
