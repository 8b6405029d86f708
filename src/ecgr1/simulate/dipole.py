"""The cardiac dipole: wave lobes in vectorcardiographic space and their projection to 12 leads.

The heart's electrical activity is modelled as one time-varying dipole (the vectorcardiogram,
Frank X/Y/Z in mV; X to the patient's left, Y to the feet, Z to the back). The eight
independent leads (I, II, V1-V6) are linear projections of that dipole with Dower's
coefficients (Dower et al., J Electrocardiol 1988), the textbook VCG -> ECG transform whose
pseudo-inverse is the inverse Dower matrix (Edenbrandt & Pahlm 1988). The four remaining limb
leads follow from Einthoven's and Goldberger's definitions, so ``III = II - I`` and
``aVR = -(I + II) / 2`` hold by construction.

Each wave (P, QRS, T, ST shift) is a sum of *lobes*: a smooth pulse in time times a fixed
direction. A lobe's direction is given the way clinicians read it: an angle on the frontal
(hexaxial) plane, the amplitude it shows along that axis, and a Frank Z component for the
horizontal-plane (precordial) picture. :func:`frontal_to_frank` solves the Dower rows of
leads I and II for X and Y so that a lobe at frontal angle ``theta`` with amplitude ``m``
shows exactly ``m cos(theta)`` in lead I and ``m cos(theta - 60 deg)`` in lead II.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Dower transform (rows: leads I, II, V1..V6; columns: Frank X, Y, Z). Published coefficients.
DOWER: dict[str, tuple[float, float, float]] = {
    "I": (0.632, -0.235, 0.059),
    "II": (0.235, 1.066, -0.132),
    "V1": (-0.515, 0.157, -0.917),
    "V2": (0.044, 0.164, -1.387),
    "V3": (0.882, 0.098, -1.277),
    "V4": (1.213, 0.127, -0.601),
    "V5": (1.125, 0.127, -0.086),
    "V6": (0.831, 0.076, 0.230),
}

# Inverse Dower transform (rows: X, Y, Z; columns: V1..V6, I, II). Published coefficients,
# kept beside the forward transform so a test can check the simulator's dipole round-trips.
INVERSE_DOWER = np.array(
    [
        [-0.172, -0.074, 0.122, 0.231, 0.239, 0.194, 0.156, -0.010],
        [0.057, -0.019, -0.106, -0.022, 0.041, 0.048, -0.227, 0.887],
        [-0.229, -0.310, -0.246, -0.063, 0.055, 0.108, 0.022, 0.102],
    ]
)

INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")

_DOWER_MATRIX = np.array([DOWER[name] for name in INDEPENDENT_LEADS])  # (8, 3)


@dataclass(frozen=True)
class Lobe:
    """One dipole component of a wave.

    ``start``/``end`` are fractions of the wave's duration (0 = wave onset, 1 = offset) for
    templates, or seconds once placed. ``angle_deg`` is the hexaxial frontal angle (0 = lead I,
    +90 = aVF, i.e. towards the feet), ``frontal_mv`` the amplitude seen along that axis and
    ``z_mv`` the Frank Z component (positive = posterior, so it makes V1-V2 negative).
    """

    start: float
    end: float
    angle_deg: float
    frontal_mv: float
    z_mv: float = 0.0


def frontal_to_frank(angle_deg: float, frontal_mv: float, z_mv: float) -> np.ndarray:
    """Frank (X, Y, Z) of a lobe given its frontal angle, frontal amplitude and Z.

    >>> xyz = frontal_to_frank(60.0, 1.0, 0.0)
    >>> lead_i, lead_ii = project(xyz[None, :])[0, :2]
    >>> round(float(lead_i), 6), round(float(lead_ii), 6)
    (0.5, 1.0)
    """
    theta = np.deg2rad(angle_deg)
    want_i = frontal_mv * np.cos(theta)
    want_ii = frontal_mv * np.cos(theta - np.pi / 3)
    a = _DOWER_MATRIX[:2, :2]
    rhs = np.array([want_i, want_ii]) - _DOWER_MATRIX[:2, 2] * z_mv
    x, y = np.linalg.solve(a, rhs)
    return np.array([x, y, z_mv])


def project(vcg: np.ndarray) -> np.ndarray:
    """Project a VCG (n, 3) onto the eight independent leads (n, 8): I, II, V1..V6."""
    return np.asarray(vcg, dtype=np.float64) @ _DOWER_MATRIX.T


def limb_leads_from_i_ii(lead_i: np.ndarray, lead_ii: np.ndarray) -> dict[str, np.ndarray]:
    """III, aVR, aVL, aVF from I and II (Einthoven's law and Goldberger's definitions)."""
    return {
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2.0,
        "aVL": lead_i - lead_ii / 2.0,
        "aVF": lead_ii - lead_i / 2.0,
    }


def twelve_from_independent(eight: np.ndarray) -> np.ndarray:
    """(8, n) leads I, II, V1..V6 -> (12, n) in standard order."""
    lead_i, lead_ii = eight[0], eight[1]
    limb = limb_leads_from_i_ii(lead_i, lead_ii)
    return np.stack(
        [lead_i, lead_ii, limb["III"], limb["aVR"], limb["aVL"], limb["aVF"], *eight[2:]]
    )


def pulse(t: np.ndarray, start: float, end: float) -> np.ndarray:
    """A smooth pulse of peak 1 that is exactly zero outside ``[start, end]``.

    A Gaussian (sigma = a quarter of the width) lowered so that it reaches zero at the edges:
    the wave has a definite onset and offset (true fiducials are exact) while its edges keep
    a visible slope, as real wave boundaries do.
    """
    centre = 0.5 * (start + end)
    half = 0.5 * (end - start)
    if half <= 0:
        return np.zeros_like(t, dtype=np.float64)
    sigma = half / 2.0
    floor = np.exp(-(half**2) / (2 * sigma**2))
    u = t - centre
    out = (np.exp(-(u**2) / (2 * sigma**2)) - floor) / (1.0 - floor)
    out[np.abs(u) >= half] = 0.0
    return out


def hexaxial_axis_deg(lead_i: float, lead_avf: float) -> float:
    """Frontal axis (degrees) from net deflections of I and aVF on the exact hexaxial frame."""
    return float(np.rad2deg(np.arctan2(lead_avf * 2.0 / np.sqrt(3.0), lead_i)))
