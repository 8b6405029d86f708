"""Constructed 12-lead ECGs with known intervals, axis and ST level (test helper, no real data).

Each wave is a smooth bump with compact support (a raised cosine), so its true onset and offset
are exact numbers; each wave has its own frontal-plane direction, and the limb leads are the
projections of that vector (augmented leads scaled by sqrt(3)/2, as in the Einthoven model).
Precordial leads get fixed scale factors.
"""

from __future__ import annotations

import math

import numpy as np

from ecgr1.io.record import ECGRecord

LIMB = {
    "I": (0.0, 1.0),
    "II": (60.0, 1.0),
    "III": (120.0, 1.0),
    "aVR": (-150.0, math.sqrt(3) / 2),
    "aVL": (-30.0, math.sqrt(3) / 2),
    "aVF": (90.0, math.sqrt(3) / 2),
}
PRECORDIAL = {"V1": -0.6, "V2": -0.2, "V3": 0.4, "V4": 0.9, "V5": 1.0, "V6": 0.8}
LEADS = list(LIMB) + list(PRECORDIAL)
# Terminal (right bundle branch block) component per lead, mV: rightward and anterior.
TERMINAL_MV = {"I": -0.3, "aVL": -0.25, "aVR": 0.25, "V1": 0.6, "V2": 0.4, "V5": -0.2, "V6": -0.3}


def bump(t: np.ndarray, start: float, width: float) -> np.ndarray:
    """Raised cosine that is exactly zero outside [start, start + width]."""
    u = (t - start) / width
    out = np.where((u >= 0) & (u <= 1), 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(u, 0, 1)), 0.0)
    return out


def synthetic_ecg(
    *,
    fs: float = 500.0,
    duration_s: float = 10.0,
    rr_s: float = 1.0,
    pr_ms: float = 160.0,
    p_ms: float = 100.0,
    qrs_ms: float = 90.0,
    qt_ms: float = 400.0,
    qrs_axis_deg: float = 60.0,
    t_axis_deg: float = 45.0,
    p_axis_deg: float = 50.0,
    st_mv: float = 0.0,
    p_amp_mv: float = 0.15,
    with_p: bool = True,
    wander_mv: float = 0.0,
    noise_mv: float = 0.0,
    drop_qrs_every: int = 0,
    terminal_ms: float = 0.0,
    qrs_onsets_s: list[float] | None = None,
    seed: int = 0,
) -> tuple[ECGRecord, list[float]]:
    """Return (record, QRS onset times in s). Intervals in ms refer to the true wave limits.

    ``drop_qrs_every`` = k > 0 blocks every k-th beat after its P wave (Mobitz II, k:(k-1)).
    ``terminal_ms`` > 0 appends a slow terminal QRS component of that length (right bundle
    branch block: R' in V1/V2/aVR, wide S in I/aVL/V5/V6, nearly nothing in the other leads), so
    the true QRS lasts ``qrs_ms + terminal_ms``. ``qrs_onsets_s`` gives the QRS onset times
    instead of a regular ``rr_s``.
    """
    t = np.arange(int(duration_s * fs)) / fs
    if qrs_onsets_s is not None:
        qrs_on = np.asarray(qrs_onsets_s, float)
    else:
        qrs_on = np.arange(0.6, duration_s - 0.7, rr_s)
    qrs = np.zeros_like(t)
    p = np.zeros_like(t)
    tw = np.zeros_like(t)
    st = np.zeros_like(t)
    term = np.zeros_like(t)
    q = qrs_ms / 1000.0
    d_term = terminal_ms / 1000.0
    conducted = []
    for i, on in enumerate(qrs_on):
        if with_p:
            p_on = on - pr_ms / 1000.0
            p += p_amp_mv * bump(t, p_on, p_ms / 1000.0)
        if drop_qrs_every and (i + 1) % drop_qrs_every == 0:
            continue  # P wave not conducted: no QRS, no T
        conducted.append(on)
        # q (15 %), R (45 %), S (40 %) lobes that tile the QRS exactly.
        qrs += -0.1 * bump(t, on, 0.15 * q) + 1.5 * bump(t, on + 0.15 * q, 0.45 * q)
        qrs += -0.4 * bump(t, on + 0.6 * q, 0.4 * q)
        if d_term:
            term += bump(t, on + q, d_term)
        j = on + q + d_term
        t_end = on + qt_ms / 1000.0
        t_width = 0.6 * (t_end - j)
        tw += 0.35 * bump(t, t_end - t_width, t_width)
        if st_mv:
            # Flat ST plateau from J for 110 ms, reached by a ramp inside the QRS's last 30 %,
            # released smoothly under the T wave.
            ramp_a = on + 0.7 * (j - on)
            up = np.clip((t - ramp_a) / (j - ramp_a), 0, 1)
            fall_a = j + 0.11
            down = np.clip((t - fall_a) / (t_end - fall_a), 0, 1)
            st += st_mv * up * (0.5 + 0.5 * np.cos(np.pi * down)) * (t < t_end)
    sig = []
    for name in LEADS:
        if name in LIMB:
            ang, gain = LIMB[name]
            proj = lambda axis, a=ang, g=gain: g * math.cos(math.radians(axis - a))  # noqa: E731
            row = proj(qrs_axis_deg) * qrs + proj(t_axis_deg) * tw + proj(p_axis_deg) * p
            row = row + st
        else:
            k = PRECORDIAL[name]
            row = k * qrs + abs(k) * tw + 0.5 * p + st
        row = row + TERMINAL_MV.get(name, 0.0) * term
        sig.append(row)
    x = np.array(sig)
    rng = np.random.default_rng(seed)
    if wander_mv:
        x = x + wander_mv * np.sin(2 * np.pi * 0.15 * t + rng.uniform(0, 6, (len(LEADS), 1)))
    if noise_mv:
        x = x + rng.normal(0, noise_mv, x.shape)
    return ECGRecord(x.astype(np.float32), fs, LEADS, record_id="synthetic"), conducted


def spiky_leads(
    rows: int, n: int, fs: float, seed: int, *, t_wave_mv: float = 0.2, noise_mv: float = 0.01
) -> np.ndarray:
    """Leads (rows x n, mV) of narrow QRS-like spikes every ~0.8 s, each followed by a broad
    T-like bump of ``t_wave_mv`` (none at 0), plus a slow sine and white noise: ECG-shaped
    input for checks that a fast path equals the code it replaced."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = np.zeros((rows, n))
    for k in range(rows):
        for beat in np.arange(0.3, t[-1], 0.8 + 0.05 * rng.random()):
            x[k] += rng.uniform(0.5, 1.5) * np.exp(-(((t - beat) / 0.012) ** 2))
            if t_wave_mv:
                x[k] += t_wave_mv * np.exp(-(((t - beat - 0.3) / 0.06) ** 2))
        x[k] += 0.3 * np.sin(2 * np.pi * 0.2 * t + k) + rng.normal(0, noise_mv, n)
    return x
