"""Fibrillatory (f) waves: positive evidence of atrial fibrillation on the QRST-cancelled residual.

An irregular RR without P waves is not AF by itself: sinus arrhythmia, frequent PACs or flutter
with variable block give it too when the P (or F) waves are missed. AF is "irregularly
irregular RR intervals and no distinct P waves" with fibrillatory waves (ESC 2020 AF
guidelines, Hindricks 2021). Once the average QRS-T is subtracted at every beat (QRST
cancellation, Stridh & Sornmo, IEEE TBME 2001), what remains of AF is the f-wave signal, whose
spectrum peaks at the dominant atrial frequency of 4-9 Hz (240-540 /min; Bollmann et al.,
Europace 2006), largest in V1 and the inferior leads. Missed P waves, T-wave mismatch and
baseline wander leave their residual power below 4 Hz; muscle noise spreads it over the whole
band. Two numbers therefore say "f waves": the share of 1-30 Hz residual power in 4-9 Hz, and
the 4-9 Hz power density over the 12-30 Hz noise floor.

>>> fs = 250.0
>>> t = np.arange(int(10 * fs)) / fs
>>> rng = np.random.default_rng(0)
>>> f = 0.05 * np.sin(2 * np.pi * 6.0 * t + 0.5 * np.sin(2 * np.pi * 0.3 * t))
>>> resid = np.vstack([f + 0.002 * rng.standard_normal(t.size)])
>>> ev = fibrillatory_wave_evidence(resid, fs, np.array([300, 900, 1400, 2100]), ["V1"])
>>> ev.present, round(ev.dominant_hz, 1), ev.lead
(True, 6.0, 'V1')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig

# Leads where atrial activity is largest (V1 over the right atrium; II, III, aVF along the
# atrial axis); other leads are used only when none of these is usable.
F_WAVE_LEADS = ("II", "III", "aVF", "V1", "V2")


@dataclass(frozen=True)
class FWaveEvidence:
    """f-wave measures of the lead with the largest f-wave band share."""

    present: bool
    lead: str | None = None
    dominant_hz: float | None = None  # dominant atrial frequency (largest bin in the band)
    band_share: float = 0.0  # share of the 1-30 Hz residual power in the f-wave band
    noise_ratio: float = 0.0  # band power density over the 12-30 Hz noise floor
    residual_rms_mv: float | None = None  # median over the leads, outside the blanked QRS


def qrst_residual(
    clean: np.ndarray, anchors: np.ndarray, template: np.ndarray, pre: int
) -> np.ndarray:
    """``clean`` (leads, samples) with ``template`` (leads, window) subtracted at every anchor
    (its sample ``pre`` on the anchor): the QRST-cancelled residual."""
    n = clean.shape[1]
    resid = np.array(clean, dtype=float, copy=True)
    w = template.shape[-1]
    for a in anchors:
        s = int(a) - pre
        lo, hi = max(0, s), min(n, s + w)
        if hi > lo:
            resid[:, lo:hi] -= template[:, lo - s : hi - s]
    return resid


def f_wave_rows(leads: list[str]) -> list[int]:
    """Rows of ``leads`` among :data:`F_WAVE_LEADS` (every row when none of them is there)."""
    return [k for k, name in enumerate(leads) if name in F_WAVE_LEADS] or list(range(len(leads)))


def fwave_kept_mask(
    n: int,
    fs: float,
    anchors: np.ndarray,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
    other_shape: np.ndarray | None = None,
) -> np.ndarray:
    """True outside the window around each R peak (``atrial.fwave_blank_before_ms`` before to
    ``fwave_blank_after_ms`` after), where QRST cancellation leaves its largest error; beats
    flagged in ``other_shape`` (not of the dominant QRS shape, whose template cannot cancel
    them) are blanked through their T wave (``fwave_blank_ectopic_after_ms``).

    >>> kept = fwave_kept_mask(1000, 250.0, np.array([200, 600]), other_shape=np.array([0, 1], bool))
    >>> int((~kept[:500]).sum()), int((~kept[500:]).sum())
    (40, 127)
    """
    p = config.atrial
    before = int(round(p["fwave_blank_before_ms"] * fs / 1000.0))
    after = int(round(p["fwave_blank_after_ms"] * fs / 1000.0))
    after_other = int(round(p["fwave_blank_ectopic_after_ms"] * fs / 1000.0))
    anchors = np.asarray(anchors, int)
    other = np.zeros(anchors.size, bool) if other_shape is None else np.asarray(other_shape, bool)
    kept = np.ones(n, bool)
    for a, wide in zip(anchors, other, strict=True):
        kept[max(0, a - before) : max(0, a + (after_other if wide else after))] = False
    return kept


def fibrillatory_wave_evidence(
    resid: np.ndarray,
    fs: float,
    anchors: np.ndarray,
    leads: list[str],
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
    other_shape: np.ndarray | None = None,
) -> FWaveEvidence:
    """Whether the QRST-cancelled residual ``resid`` (rows named by ``leads``) holds f waves.

    The residual is blanked around each R peak (``atrial.fwave_blank_*_ms``: cancellation error
    is largest there; through the T wave for the beats of another shape flagged in
    ``other_shape``, see :func:`fwave_kept_mask`), then in each of :data:`F_WAVE_LEADS` the
    1-30 Hz power is split into the f-wave band (``atrial.fwave_min_hz`` to ``fwave_max_hz``)
    and the rest. The lead with the largest band share decides: f waves need
    ``atrial.fwave_min_share`` and a band power density ``atrial.fwave_min_noise_ratio`` times
    that of the noise floor (``atrial.fwave_noise_min_hz`` to ``fwave_noise_max_hz``).
    """
    p = config.atrial
    n = resid.shape[1]
    rows = f_wave_rows(leads)
    if n < int(4 * fs) or not rows:
        return FWaveEvidence(present=False)
    x = resid[rows] - np.median(resid[rows], axis=1, keepdims=True)
    kept = fwave_kept_mask(n, fs, anchors, config=config, other_shape=other_shape)
    x[:, ~kept] = 0.0
    rms = float(np.median(np.sqrt(np.mean(x[:, kept] ** 2, axis=1)))) if kept.any() else None
    spec = np.abs(np.fft.rfft(x * np.hanning(n)[None, :], axis=1)) ** 2
    f = np.fft.rfftfreq(n, 1.0 / fs)
    band = (f >= p["fwave_min_hz"]) & (f <= p["fwave_max_hz"])
    ref = (f >= 1.0) & (f <= 30.0)
    noise = (f >= p["fwave_noise_min_hz"]) & (f <= p["fwave_noise_max_hz"])
    total = spec[:, ref].sum(axis=1)
    share = np.divide(spec[:, band].sum(axis=1), total, out=np.zeros(len(rows)), where=total > 0)
    k = int(np.argmax(share))
    floor = float(spec[k, noise].mean())
    ratio = float(spec[k, band].mean()) / floor if floor > 0 else float("inf")
    present = bool(share[k] >= p["fwave_min_share"] and ratio >= p["fwave_min_noise_ratio"])
    return FWaveEvidence(
        present=present,
        lead=leads[rows[k]],
        dominant_hz=float(f[band][int(np.argmax(spec[k, band]))]),
        band_share=float(share[k]),
        noise_ratio=ratio,
        residual_rms_mv=rms,
    )


def beat_locked_atrial_share(
    clean: np.ndarray,
    fs: float,
    anchors: np.ndarray,
    leads: list[str],
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> float | None:
    """Share of the pre-QRS activity that repeats at a fixed distance before every QRS.

    f waves run on through the TQ interval at a phase unrelated to the QRS ("no distinct P
    waves": ESC 2020 AF guidelines); a P wave (sinus, or the sinus beats between PACs) stands
    at a fixed PR before each QRS, and at 4-9 Hz a missed P wave looks like f waves to the
    spectrum. In each of :data:`F_WAVE_LEADS` the segments of ``clean`` from
    ``atrial.fwave_locked_window_ms`` to ``fwave_locked_gap_ms`` before each R peak (each less
    its mean) are stacked; the energy of their median over their mean energy is about 1 for a
    beat-locked wave and about 1.6 / beats for activity at a random phase. The median over
    the leads is returned; None with fewer than ``atrial.fwave_locked_min_beats`` segments.

    >>> fs, rng = 250.0, np.random.default_rng(1)
    >>> r = np.cumsum(rng.uniform(150, 260, 12)).astype(int)
    >>> p = np.zeros(r[-1] + 10)
    >>> for a in r:
    ...     p[a - 45 : a - 20] += np.hanning(25) * 0.15  # a P wave 180-80 ms before each R
    >>> share = beat_locked_atrial_share(p[None, :], fs, r, ["II"])
    >>> share > 0.9
    True
    """
    p = config.atrial
    lo = int(round(p["fwave_locked_window_ms"] * fs / 1000.0))
    hi = int(round(p["fwave_locked_gap_ms"] * fs / 1000.0))
    rows = f_wave_rows(leads)
    starts = [int(a) - lo for a in np.asarray(anchors, int) if int(a) - lo >= 0]
    if len(starts) < p["fwave_locked_min_beats"] or not rows or lo <= hi:
        return None
    idx = np.asarray(starts)[:, None] + np.arange(lo - hi)[None, :]
    seg = np.asarray(clean, float)[rows][:, idx]  # (leads, beats, window)
    seg = seg - seg.mean(axis=2, keepdims=True)
    energy = (seg**2).sum(axis=2).mean(axis=1)
    locked = (np.median(seg, axis=1) ** 2).sum(axis=1)
    share = np.divide(locked, energy, out=np.zeros(len(rows)), where=energy > 0)
    return float(np.median(share))
