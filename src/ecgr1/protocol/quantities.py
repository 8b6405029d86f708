"""Quantities the criteria table may name: measured fields plus a few derived ones.

A criterion's ``quantity`` is looked up here. Global quantities are the fields of
:class:`~ecgr1.measure.result.GlobalMeasurements` plus ``DERIVED_GLOBAL``; lead quantities are
the fields of :class:`~ecgr1.measure.result.LeadMeasurements` plus ``DERIVED_LEAD``. Derived
quantities only re-express measured values (sign, ratio, "absent means zero"); they contain no
clinical threshold.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ecgr1.io.leads import LIMB_LEADS, PRECORDIAL_LEADS
from ecgr1.measure.result import GlobalMeasurements, LeadMeasurements, MeasurementResult
from ecgr1.measure.rhythm import sinus_cycle_range_ms, underlying_rr_irregularity

# Display precision (decimals) per unit. Values are rounded to this before any comparison.
PRECISION: dict[str, int] = {
    "ms": 0,
    "bpm": 0,
    "deg": 0,
    "count": 0,
    "mV*ms": 0,
    "mV": 2,
    "mV/s": 2,
    "ratio": 2,
    "fraction": 2,
    "years": 1,
    "": 0,
}

# The patient's age, a record-level quantity the caller may override (as for variants).
AGE_QUANTITY = "age_years"
BEAT_COUNTS = {"n_premature_supraventricular", "n_premature_ventricular", "n_paced"}
GLOBAL_FIELDS = {f.name for f in dataclasses.fields(GlobalMeasurements)} - {"reasons"}
LEAD_FIELDS = {f.name for f in dataclasses.fields(LeadMeasurements)} - {"reasons"}


def unit_of(quantity: str) -> str:
    """Unit implied by a quantity name (``qrs_duration_ms`` -> ``ms``)."""
    for suffix, unit in (
        ("_mv_ms", "mV*ms"),
        ("_mv_per_s", "mV/s"),
        ("_ms", "ms"),
        ("_mv", "mV"),
        ("_deg", "deg"),
        ("_bpm", "bpm"),
        ("_fraction", "fraction"),
        ("_ratio", "ratio"),
        ("_per_qrs", "ratio"),
        ("_cv", "ratio"),
        ("_years", "years"),
    ):
        if quantity.endswith(suffix):
            return unit
    if quantity.startswith("n_"):
        return "count"
    return ""


def round_value(value: Any, unit: str) -> Any:
    """Round a number to its unit's display precision; other values pass through."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.str_):
        return str(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    try:
        x = float(value)
    except (TypeError, ValueError):
        return value
    if not math.isfinite(x):
        return None
    nd = PRECISION.get(unit, 2)
    if nd == 0:
        return int(round(x))
    return round(x, nd)


# ------------------------------------------------------------------ derived global quantities


def _paced_fraction(m: MeasurementResult) -> float | None:
    n = m.global_.n_beats or len(m.beats)
    if not n:
        return None
    return float(m.global_.n_paced or 0) / float(n)


def _n_measured(m: MeasurementResult, leads: tuple[str, ...]) -> int:
    return sum(
        1
        for ld in leads
        if ld in m.leads and lead_usable(m, ld) and m.leads[ld].qrs_peak_to_peak_mv is not None
    )


def _n_wide_pvc(m: MeasurementResult) -> int | None:
    """Premature beats classed ventricular whose QRS is wide (the engine's ``wide_qrs``)."""
    if not (m.global_.n_beats or m.beats):
        return None
    if not m.beats:  # no per-beat detail: fall back to the engine's count
        return m.global_.n_premature_ventricular
    return sum(1 for b in m.beats if b.beat_class == "premature_ventricular" and b.wide_qrs)


def _pvc_qrs_ms(m: MeasurementResult) -> float | None:
    """Median QRS duration of the beats classed premature ventricular (None without one)."""
    qrs = [
        b.qrs_duration_ms
        for b in m.beats
        if b.beat_class == "premature_ventricular" and b.qrs_duration_ms is not None
    ]
    return float(np.median(qrs)) if qrs else None


def _underlying_rr_irregularity(m: MeasurementResult) -> str | None:
    if m.global_.underlying_rr_irregularity is not None:
        return m.global_.underlying_rr_irregularity
    return underlying_rr_irregularity(m.beats) if m.beats else m.global_.rr_irregularity


DERIVED_GLOBAL: dict[str, Callable[[MeasurementResult], Any]] = {
    "n_wide_premature_ventricular": _n_wide_pvc,
    "premature_ventricular_qrs_ms": _pvc_qrs_ms,
    "n_limb_leads_measured": lambda m: _n_measured(m, LIMB_LEADS),
    "n_precordial_leads_measured": lambda m: _n_measured(m, PRECORDIAL_LEADS),
    "quality_overall": lambda m: m.quality.overall,
    "amplitude_normalised": lambda m: bool(getattr(m.quality, "amplitude_normalised", False)),
    # Variation of the sinus cycle (P-P, else R-R) between consecutive dominant beats.
    "rr_range_ms": lambda m: sinus_cycle_range_ms(m.beats),
    "paced_fraction": _paced_fraction,
    # Regularity between non-ectopic beats, as the engine measured it (with the table's
    # limits); results written before the engine reported it are judged from their beats.
    "underlying_rr_irregularity": _underlying_rr_irregularity,
    # The patient's age as the record gives it (``interpret(..., age=...)`` overrides it).
    AGE_QUANTITY: lambda m: m.age,
}


# ------------------------------------------------------------------ derived lead quantities


def _qrs_measured(lm: LeadMeasurements) -> bool:
    return lm.r_amplitude_mv is not None or lm.qrs_peak_to_peak_mv is not None


def _absent_is_zero(value: float | None, measured: bool, sign: float = 1.0) -> float | None:
    if value is not None:
        return sign * float(value)
    return 0.0 if measured else None


def _r_to_s(lm: LeadMeasurements) -> float | None:
    if not _qrs_measured(lm):
        return None
    r = float(lm.r_amplitude_mv or 0.0)
    s = abs(float(lm.s_amplitude_mv or 0.0))
    if s < 1e-6:
        return None if r < 1e-6 else 99.0  # capped: no S wave at all
    return min(r / s, 99.0)


def _net_ratio(lm: LeadMeasurements) -> float | None:
    if lm.qrs_net_amplitude_mv is None or not lm.qrs_peak_to_peak_mv:
        return None
    return abs(float(lm.qrs_net_amplitude_mv)) / float(lm.qrs_peak_to_peak_mv)


def _signed_net_ratio(lm: LeadMeasurements) -> float | None:
    """Net QRS over its peak-to-peak size, signed: +1 all upright (R), -1 all negative (QS)."""
    if lm.qrs_net_amplitude_mv is None or not lm.qrs_peak_to_peak_mv:
        return None
    return float(lm.qrs_net_amplitude_mv) / float(lm.qrs_peak_to_peak_mv)


def _initial_r_wave(lm: LeadMeasurements) -> bool | None:
    """Whether the QRS starts with a capital R (the engine's ``presence.capital_wave_mv``)."""
    if not _qrs_measured(lm):
        return None
    return bool(lm.qrs_morphology) and lm.qrs_morphology.startswith("R")


def _initial_wave_ms(lm: LeadMeasurements) -> float | None:
    """Width of the QRS's first wave: its initial r or R, or the q of a qR / QR complex; 0 for
    the other shapes (QS, a q before a small r), where no initial r or q of its own stands."""
    if not _qrs_measured(lm):
        return None
    shape = lm.qrs_morphology or ""
    if shape[:1] in ("r", "R"):
        return float(lm.r_duration_ms or 0.0)
    if shape[:1] in ("q", "Q") and shape[1:2] == "R":
        return float(lm.q_duration_ms or 0.0)
    return 0.0


DERIVED_LEAD: dict[str, Callable[[LeadMeasurements], Any]] = {
    "initial_r_wave": _initial_r_wave,
    "initial_wave_ms": _initial_wave_ms,
    "r_prime_mv": lambda lm: _absent_is_zero(lm.r_prime_amplitude_mv, _qrs_measured(lm)),
    "q_depth_mv": lambda lm: _absent_is_zero(lm.q_amplitude_mv, _qrs_measured(lm), -1.0),
    "q_duration_eff_ms": lambda lm: _absent_is_zero(lm.q_duration_ms, _qrs_measured(lm)),
    "s_duration_eff_ms": lambda lm: _absent_is_zero(lm.s_duration_ms, _qrs_measured(lm)),
    "s_depth_mv": lambda lm: _absent_is_zero(lm.s_amplitude_mv, _qrs_measured(lm), -1.0),
    "r_to_s_ratio": _r_to_s,
    "qrs_net_ratio": _net_ratio,
    "qrs_signed_net_ratio": _signed_net_ratio,
    "p_terminal_negative_mv": lambda lm: _absent_is_zero(
        lm.p_negative_amplitude_mv, lm.p_amplitude_mv is not None, -1.0
    ),
    "t_abs_mv": lambda lm: None if lm.t_amplitude_mv is None else abs(float(lm.t_amplitude_mv)),
    "st_deviation_mv": lambda lm: lm.st_j_mv if lm.st_j_mv is not None else lm.st_j60_mv,
}


def is_lead_quantity(quantity: str) -> bool:
    """Whether ``quantity`` is measured per lead."""
    return quantity in LEAD_FIELDS or quantity in DERIVED_LEAD


def is_global_quantity(quantity: str) -> bool:
    """Whether ``quantity`` is a record-level quantity."""
    return quantity in GLOBAL_FIELDS or quantity in DERIVED_GLOBAL


def is_known_quantity(quantity: str) -> bool:
    """Whether the table may name ``quantity``."""
    return (
        quantity in GLOBAL_FIELDS
        or quantity in DERIVED_GLOBAL
        or quantity in LEAD_FIELDS
        or quantity in DERIVED_LEAD
    )


def _plausible(value: Any, quantity: str, ranges: dict[str, list[float]] | None) -> Any:
    if ranges is None or quantity not in ranges or value is None or isinstance(value, (bool, str)):
        return value
    lo, hi = ranges[quantity]
    try:
        return value if lo <= float(value) <= hi else None
    except (TypeError, ValueError):
        return None


def global_value(
    m: MeasurementResult, quantity: str, ranges: dict[str, list[float]] | None = None
) -> Any:
    """A record-level quantity (raw, unrounded), None when not measured or implausible."""
    return _plausible(_global_value(m, quantity), quantity, ranges)


def _global_value(m: MeasurementResult, quantity: str) -> Any:
    if quantity in DERIVED_GLOBAL:
        return DERIVED_GLOBAL[quantity](m)
    if quantity in BEAT_COUNTS and not (m.global_.n_beats or m.beats):
        return None  # a count of zero means nothing when no beat was detected
    return getattr(m.global_, quantity, None)


def lead_value(
    m: MeasurementResult, lead: str, quantity: str, ranges: dict[str, list[float]] | None = None
) -> Any:
    """A per-lead quantity (raw), None when the lead is absent, unusable, not measured or the
    value is outside its plausible range."""
    return _plausible(_lead_value(m, lead, quantity), quantity, ranges)


def _lead_value(m: MeasurementResult, lead: str, quantity: str) -> Any:
    lm = m.leads.get(lead)
    if lm is None or not lead_usable(m, lead):
        return None
    if quantity in DERIVED_LEAD:
        return DERIVED_LEAD[quantity](lm)
    return getattr(lm, quantity, None)


def lead_usable(m: MeasurementResult, lead: str) -> bool:
    """False when the quality report marks the lead unusable."""
    q = m.quality.leads.get(lead)
    return True if q is None else bool(q.usable)
