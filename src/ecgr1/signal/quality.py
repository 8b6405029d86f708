"""Per-lead signal quality: flat, saturated/clipped, lead-off, noise and baseline wander.

Every flag comes with a human-readable reason. A lead is ``usable`` = False when its fine
detail cannot be trusted (flat, lead-off, saturated over a large part, or very noisy); the
measurement engine then ignores it for delineation and reports its amplitudes as null.
Thresholds live in :data:`QUALITY_THRESHOLDS`.
"""

from __future__ import annotations

import numpy as np

from ecgr1.signal.filters import smooth
from ecgr1.signal.stats import percentile_along
from ecgr1.signal.types import LeadQuality, QualityReport

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


def _hf_noise(clean: np.ndarray, fs: float) -> np.ndarray:
    """Robust rms (1.4826 x MAD) of the residual above ~40 Hz, per lead (rows)."""
    width = max(1, int(round(fs / 80.0)))
    hf = clean - smooth(clean, width, axis=-1)
    # Every third sample is plenty for a robust scale and halves the cost of the medians.
    hf = hf[..., ::3] if hf.shape[-1] >= 300 else hf
    med = np.median(hf, axis=-1, keepdims=True)
    return 1.4826 * np.median(np.abs(hf - med), axis=-1)


def _long_run_fraction(mask: np.ndarray, min_len: int) -> np.ndarray:
    """Per row: fraction of samples in runs of True at least ``min_len`` long."""
    mask = np.atleast_2d(mask)
    rows, n = mask.shape
    padded = np.zeros((rows, n + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    r_s, c_s = np.nonzero(d == 1)
    _, c_e = np.nonzero(d == -1)  # row-major order pairs every start with its end
    lengths = c_e - c_s
    keep = lengths >= min_len
    total = np.bincount(r_s[keep], weights=lengths[keep], minlength=rows)
    return total / max(n, 1)


def _lead_features(
    raw: np.ndarray, clean: np.ndarray, baseline: np.ndarray, fs: float
) -> dict[str, np.ndarray]:
    """Vectorised per-lead quality features (rows = leads)."""
    th = QUALITY_THRESHOLDS
    n = raw.shape[1]
    hi = raw.max(axis=1, keepdims=True)
    lo = raw.min(axis=1, keepdims=True)
    ptp = (hi - lo)[:, 0]
    win = max(1, int(fs))
    nw = n // win
    if nw >= 2:
        blocks = clean[:, : nw * win].reshape(clean.shape[0], nw, win)[:, :, ::2]
        flat_frac = np.mean(np.ptp(blocks, axis=2) < th["flat_ptp_mv"], axis=1)
    else:
        flat_frac = np.zeros(raw.shape[0])
    tol = np.maximum(1e-6, 1e-3 * ptp)[:, None]
    min_run = max(2, int(th["min_run_ms"] * fs / 1000))
    sat = np.zeros(raw.shape[0])
    med = np.median(raw[:, ::4] if n >= 400 else raw, axis=1)
    # (raw <= hi everywhere, so |raw - hi| <= tol is raw >= hi - tol; likewise at the minimum.)
    for ext, mask in ((hi[:, 0], raw >= hi - tol), (lo[:, 0], raw <= lo + tol)):
        # Runs are only worth finding in leads with enough pinned samples to matter, and a rail
        # is far from the signal's usual level (a flat baseline at the minimum is not clipping).
        far = np.abs(ext - med) > 0.25 * ptp
        rows = np.flatnonzero((mask.sum(axis=1) > th["saturation_fraction"] * n) & far)
        if rows.size:
            sat[rows] = np.maximum(sat[rows], _long_run_fraction(mask[rows], min_run))
    noise = _hf_noise(clean, fs)
    # Order statistics on every other sample: same answer to a few uV, half the sorting.
    sub = clean[:, ::2] if n >= 200 else clean
    pct = percentile_along(sub, [0.5, 99.5], axis=1)
    return {
        "ptp": ptp,
        "flat_frac": flat_frac,
        "median": med,
        "sat": sat,
        "noise": noise,
        "qrs_ptp": pct[1] - pct[0],
        "wander": np.ptp(baseline[:, ::8], axis=1),  # the baseline is smooth
    }


def _judge(f: dict[str, float]) -> LeadQuality:
    """Flags, reasons and usability of one lead from its features."""
    th = QUALITY_THRESHOLDS
    q = LeadQuality()
    if f["ptp"] < th["flat_ptp_mv"]:
        q.usable = False
        q.flags.append("flat")
        q.reasons.append(f"peak-to-peak amplitude {f['ptp'] * 1000:.1f} uV: flat line")
        return q
    if f["flat_frac"] > th["flat_fraction"]:
        q.usable = False
        q.flags.append("lead_off")
        q.reasons.append(f"{f['flat_frac']:.0%} of 1-s windows are flat: electrode off")
    if abs(f["median"]) > th["leadoff_abs_mv"]:
        q.usable = False
        if "lead_off" not in q.flags:
            q.flags.append("lead_off")
        q.reasons.append(f"median level {f['median']:.1f} mV: lead railed or off")
    if f["sat"] > th["saturation_fraction"]:
        q.flags.append("saturated")
        q.reasons.append(f"{f['sat']:.1%} of samples pinned at the amplifier limit (clipped)")
        if f["sat"] > th["saturation_unusable_fraction"]:
            q.usable = False
    noise = f["noise"]
    q.noise_rms_mv = round(noise, 4)
    if noise > th["noise_rms_mv"]:
        q.flags.append("noise")
        q.reasons.append(f"high-frequency noise {noise * 1000:.0f} uV rms")
        if (
            noise > th["noise_unusable_rms_mv"]
            or f["qrs_ptp"] < th["noise_snr_unusable"] * 4 * noise
        ):
            q.usable = False
    q.baseline_wander_mv = round(f["wander"], 3)
    if f["wander"] > th["wander_ptp_mv"]:
        q.flags.append("baseline_wander")
        q.reasons.append(f"baseline wander {f['wander']:.2f} mV peak-to-peak (removed by filter)")
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
    raw = np.atleast_2d(np.asarray(raw, dtype=np.float64))
    if raw.shape[1] == 0:
        for name in leads:
            report.leads[name] = LeadQuality(usable=False, flags=["flat"], reasons=["no samples"])
    else:
        f = _lead_features(raw, np.atleast_2d(clean), np.atleast_2d(baseline), fs)
        for k, name in enumerate(leads):
            report.leads[name] = _judge({key: float(v[k]) for key, v in f.items()})
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
