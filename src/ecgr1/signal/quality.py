"""Per-lead signal quality: flat, saturated/clipped, lead-off, noise and baseline wander.

Every flag comes with a human-readable reason. A lead is ``usable`` = False when its fine
detail cannot be trusted (flat, lead-off, saturated over a large part, or very noisy); the
measurement engine then ignores it for delineation and reports its amplitudes as null.
Thresholds live in :data:`QUALITY_THRESHOLDS`.
"""

from __future__ import annotations

import numpy as np

from ecgr1.measure.result import LeadQuality, QualityReport
from ecgr1.signal.filters import smooth

QUALITY_THRESHOLDS: dict[str, float] = {
    "flat_ptp_mv": 0.02,  # peak-to-peak below this over the whole record: flat line
    "flat_fraction": 0.5,  # more than this fraction of 1-s windows flat: lead-off / flat
    "saturation_fraction": 0.01,  # fraction of samples pinned at the extreme value
    "saturation_unusable_fraction": 0.05,
    "min_run_ms": 10.0,  # a pinned run must last this long to count as clipping
    "leadoff_abs_mv": 10.0,  # median absolute level beyond this: electrode off / railed
    "noise_rms_mv": 0.05,  # high-frequency noise (above ~40 Hz) flagged from here
    "noise_unusable_rms_mv": 0.2,
    "noise_snr_unusable": 1.5,  # QRS peak-to-peak / (noise rms) below this: unusable
    "wander_ptp_mv": 1.0,  # removed baseline wander flagged from here (peak-to-peak)
}


def _runs_at_extreme(x: np.ndarray, value: float, tol: float) -> np.ndarray:
    """Boolean mask of samples equal (within tol) to ``value``."""
    return np.abs(x - value) <= tol


def _long_run_fraction(mask: np.ndarray, min_len: int) -> float:
    """Fraction of samples in runs of True at least ``min_len`` long."""
    if not mask.any():
        return 0.0
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(padded)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    lengths = ends - starts
    return float(lengths[lengths >= min_len].sum()) / mask.size


def assess_lead(
    raw: np.ndarray, clean: np.ndarray, baseline: np.ndarray, fs: float
) -> LeadQuality:
    """Quality of one lead.

    Parameters
    ----------
    raw : samples as recorded (mV).
    clean : the same lead after baseline/mains removal.
    baseline : the baseline that was removed.
    fs : sampling rate (Hz).

    Example
    -------
    >>> import numpy as np
    >>> q = assess_lead(np.zeros(5000), np.zeros(5000), np.zeros(5000), 500.0)
    >>> q.usable, q.flags
    (False, ['flat'])
    """
    th = QUALITY_THRESHOLDS
    q = LeadQuality()
    n = raw.size
    if n == 0:
        q.usable = False
        q.flags.append("flat")
        q.reasons.append("lead has no samples")
        return q
    ptp = float(np.ptp(raw))
    if ptp < th["flat_ptp_mv"]:
        q.usable = False
        q.flags.append("flat")
        q.reasons.append(f"peak-to-peak amplitude {ptp * 1000:.1f} uV: flat line")
        return q
    # Flat for most of the record (electrode disconnected part of the time).
    win = max(1, int(fs))
    nw = n // win
    if nw >= 2:
        blocks = clean[: nw * win].reshape(nw, win)
        flat_frac = float(np.mean(np.ptp(blocks, axis=1) < th["flat_ptp_mv"]))
        if flat_frac > th["flat_fraction"]:
            q.usable = False
            q.flags.append("lead_off")
            q.reasons.append(f"{flat_frac:.0%} of 1-s windows are flat: electrode off")
    if abs(float(np.median(raw))) > th["leadoff_abs_mv"]:
        q.usable = False
        if "lead_off" not in q.flags:
            q.flags.append("lead_off")
        q.reasons.append(f"median level {np.median(raw):.1f} mV: lead railed or off")
    # Saturation/clipping: long runs pinned at the maximum or the minimum value.
    hi, lo = float(raw.max()), float(raw.min())
    tol = max(1e-6, 1e-3 * ptp)
    min_run = max(2, int(th["min_run_ms"] * fs / 1000))
    sat = max(
        _long_run_fraction(_runs_at_extreme(raw, hi, tol), min_run),
        _long_run_fraction(_runs_at_extreme(raw, lo, tol), min_run),
    )
    if sat > th["saturation_fraction"]:
        q.flags.append("saturated")
        q.reasons.append(f"{sat:.1%} of samples pinned at the amplifier limit (clipped)")
        if sat > th["saturation_unusable_fraction"]:
            q.usable = False
    # High-frequency noise: residual above ~40 Hz, robust (median-based, QRS excluded mostly).
    width = max(1, int(round(fs / 80.0)))
    hf = clean - smooth(clean, width)
    noise = float(1.4826 * np.median(np.abs(hf - np.median(hf))))
    q.noise_rms_mv = round(noise, 4)
    if noise > th["noise_rms_mv"]:
        q.flags.append("noise")
        q.reasons.append(f"high-frequency noise {noise * 1000:.0f} uV rms")
        qrs_ptp = float(np.percentile(clean, 99.5) - np.percentile(clean, 0.5))
        if noise > th["noise_unusable_rms_mv"] or qrs_ptp < th["noise_snr_unusable"] * 4 * noise:
            q.usable = False
    wander = float(np.ptp(baseline))
    q.baseline_wander_mv = round(wander, 3)
    if wander > th["wander_ptp_mv"]:
        q.flags.append("baseline_wander")
        q.reasons.append(f"baseline wander {wander:.2f} mV peak-to-peak (removed by filter)")
    return q


def assess_quality(
    raw: np.ndarray, clean: np.ndarray, baseline: np.ndarray, fs: float, leads: list[str]
) -> QualityReport:
    """Quality of every lead plus an overall grade.

    Example
    -------
    >>> import numpy as np
    >>> z = np.zeros((2, 1000))
    >>> assess_quality(z, z, z, 500.0, ["I", "II"]).overall
    'unusable'
    """
    report = QualityReport()
    for k, name in enumerate(leads):
        report.leads[name] = assess_lead(raw[k], clean[k], baseline[k], fs)
    n_bad = len(report.poor_leads)
    n = len(leads)
    flagged = sum(1 for q in report.leads.values() if q.flags)
    if n_bad == n:
        report.overall = "unusable"
        report.reasons.append("no usable lead")
    elif n_bad > n // 2:
        report.overall = "poor"
        report.reasons.append(f"{n_bad} of {n} leads unusable: {', '.join(report.poor_leads)}")
    elif n_bad or flagged:
        report.overall = "acceptable"
        if n_bad:
            report.reasons.append(f"unusable leads: {', '.join(report.poor_leads)}")
        others = [k for k, q in report.leads.items() if q.flags and q.usable]
        if others:
            report.reasons.append(f"flagged leads: {', '.join(others)}")
    return report
