"""Recording artefacts added at the electrodes, so lead relations (III = II - I ...) survive.

Each of the nine electrodes (RA, LA, LL, V1-V6) gets its own baseline wander, muscle noise and
mains pickup; leads are then formed from electrode potentials exactly as a recorder does
(limb leads as differences, precordial leads against Wilson's central terminal).
"""

from __future__ import annotations

import numpy as np

NOISE_KINDS: tuple[str, ...] = ("baseline", "muscle", "powerline")

# Amplitudes in mV at noise_level 1 (typical of a resting ECG that is still readable).
NOISE_AMPLITUDE_MV: dict[str, float] = {
    "baseline": 0.15,  # per electrode, respiration/electrode-skin drift, 0.05-0.5 Hz
    "muscle": 0.015,  # per electrode RMS, 20-150 Hz EMG (arm electrodes twice as much)
    "powerline": 0.03,  # per electrode, mains frequency
}
ELECTRODES: tuple[str, ...] = ("RA", "LA", "LL", "V1", "V2", "V3", "V4", "V5", "V6")


def electrodes_to_leads(e: np.ndarray) -> np.ndarray:
    """(9, n) electrode potentials -> (12, n) standard leads."""
    ra, la, ll = e[0], e[1], e[2]
    wct = (ra + la + ll) / 3.0
    return np.stack(
        [
            la - ra,
            ll - ra,
            ll - la,
            ra - (la + ll) / 2.0,
            la - (ra + ll) / 2.0,
            ll - (ra + la) / 2.0,
            *(e[3:] - wct),
        ]
    )


def electrode_noise(
    n: int,
    fs: float,
    kinds: tuple[str, ...],
    level: float,
    powerline_hz: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Noise in the 12 leads (12, n) built from independent electrode noise."""
    from scipy.signal import butter, sosfiltfilt

    t = np.arange(n) / fs
    e = np.zeros((len(ELECTRODES), n))
    if "baseline" in kinds:
        amp = NOISE_AMPLITUDE_MV["baseline"] * level
        resp_phase = rng.uniform(0, 2 * np.pi)
        for k in range(len(ELECTRODES)):
            for hz in (rng.uniform(0.05, 0.15), rng.uniform(0.2, 0.5)):
                e[k] += (
                    amp * rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * hz * t + rng.uniform(0, 6.3))
                )
            e[k] += 0.3 * amp * np.sin(2 * np.pi * 0.25 * t + resp_phase)  # shared respiration
    if "muscle" in kinds:
        high = min(150.0, 0.45 * fs)
        if high > 25.0:
            sos = butter(4, [20.0, high], btype="bandpass", fs=fs, output="sos")
            white = rng.normal(0.0, 1.0, (len(ELECTRODES), n))
            band = sosfiltfilt(sos, white, axis=1)
            band /= band.std(axis=1, keepdims=True) + 1e-12
            gain = np.full(len(ELECTRODES), 1.0)
            gain[:2] = 2.0  # arm electrodes pick up more skeletal-muscle activity
            e += NOISE_AMPLITUDE_MV["muscle"] * level * gain[:, None] * band
    if "powerline" in kinds and powerline_hz < fs / 2:
        amp = NOISE_AMPLITUDE_MV["powerline"] * level
        common = rng.uniform(0, 2 * np.pi)
        for k in range(len(ELECTRODES)):
            e[k] += (
                amp
                * rng.uniform(0.3, 1.0)
                * np.sin(2 * np.pi * powerline_hz * t + common + rng.normal(0, 0.3))
            )
    return electrodes_to_leads(e)
