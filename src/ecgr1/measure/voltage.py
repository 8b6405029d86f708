"""Voltage criteria and pre-excitation, from the per-lead median-beat measurements.

Sokolow-Lyon (LVH and RVH), Cornell voltage and product, the largest limb and precordial QRS
voltages, and the delta wave (short PR, wide QRS and a slurred initial QRS upstroke; thresholds
``config.delta``) of each lead.
"""

from __future__ import annotations

import numpy as np

from ecgr1.io.leads import LIMB_LEADS, PRECORDIAL_LEADS
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.result import LeadMeasurements, MeasurementResult


def delta_waves(
    res: MeasurementResult,
    templates: np.ndarray,
    tg: dict[str, float | None],
    fs: float,
    usable: np.ndarray,
    config: MeasureConfig,
) -> None:
    """Per-lead delta wave: short PR, wide QRS and a slow, yet real, initial QRS deflection.

    ``templates`` are the full-rate median beats (leads, samples) at rate ``fs``, ``tg`` the
    global fiducials in them; thresholds are ``config.delta``.
    """
    g = res.global_
    delta = config.delta
    if g.pr_interval_ms is None or g.qrs_duration_ms is None or tg.get("qrs_on") is None:
        g.reasons["delta_wave_leads"] = "needs PR interval and QRS duration"
        for name in res.lead_names:
            res.leads[name].reasons.setdefault("delta_wave", "needs PR interval and QRS duration")
        return
    criteria = g.pr_interval_ms < delta["max_pr_ms"] and g.qrs_duration_ms >= delta["min_qrs_ms"]
    on, off = int(tg["qrs_on"]), int(tg["qrs_off"])
    k = max(2, int(delta["initial_ms"] * fs / 1000))
    found = []
    for li, name in enumerate(res.lead_names):
        lm = res.leads[name]
        if not usable[li]:
            continue
        if not criteria:
            lm.delta_wave = False
            continue
        y = templates[li]
        seg = y[on : off + 1]
        if seg.size <= k + 2:
            lm.delta_wave = None
            lm.reasons["delta_wave"] = "QRS too short to judge"
            continue
        slope = np.abs(np.diff(seg))
        initial = float(slope[:k].mean())
        steepest = float(slope.max())
        rise = abs(float(seg[k] - seg[0]))
        lm.delta_wave = bool(
            steepest > 0
            and initial < delta["max_slope_ratio"] * steepest
            and rise >= delta["min_initial_mv"]
        )
        if lm.delta_wave:
            found.append(name)
    g.delta_wave_leads = found


def voltage_criteria(res: MeasurementResult) -> None:
    """Sokolow-Lyon, Cornell voltage/product and maximal QRS voltages."""
    g = res.global_
    lm = res.leads

    def amp(lead: str, key: str) -> float | None:
        m = lm.get(lead)
        if m is None or getattr(m, key) is None:
            return None
        return abs(float(getattr(m, key)))

    def measured(lead: str) -> LeadMeasurements | None:
        m = lm.get(lead)
        return None if m is None or m.qrs_peak_to_peak_mv is None else m

    def s_or_zero(lead: str) -> float | None:
        m = measured(lead)
        if m is None:
            return None
        if m.qrs_morphology == "QS":
            return abs(m.q_amplitude_mv or 0.0)
        return abs(m.s_amplitude_mv) if m.s_amplitude_mv is not None else 0.0

    def r_or_zero(lead: str) -> float | None:
        m = measured(lead)
        if m is None:
            return None
        return float(m.r_amplitude_mv or 0.0)

    sv1, rv5, rv6 = s_or_zero("V1"), r_or_zero("V5"), r_or_zero("V6")
    if sv1 is not None and (rv5 is not None or rv6 is not None):
        g.sokolow_lyon_mv = round(sv1 + max(v for v in (rv5, rv6) if v is not None), 3)
    else:
        g.reasons["sokolow_lyon_mv"] = "needs V1 and V5 or V6"
    rv1, sv5, sv6 = r_or_zero("V1"), s_or_zero("V5"), s_or_zero("V6")
    if rv1 is not None and (sv5 is not None or sv6 is not None):
        g.sokolow_lyon_rvh_mv = round(rv1 + max(v for v in (sv5, sv6) if v is not None), 3)
    else:
        g.reasons["sokolow_lyon_rvh_mv"] = "needs V1 and V5 or V6"
    ravl, sv3 = r_or_zero("aVL"), s_or_zero("V3")
    if ravl is not None and sv3 is not None:
        g.cornell_voltage_mv = round(ravl + sv3, 3)
        sex = (res.sex or "").upper()[:1]
        if g.qrs_duration_ms is not None and sex in {"M", "F"}:
            adj = 0.6 if sex == "F" else 0.0  # Cornell product adds 6 mm in women
            g.cornell_product_mv_ms = round((g.cornell_voltage_mv + adj) * g.qrs_duration_ms, 1)
        else:
            g.reasons["cornell_product_mv_ms"] = "needs sex and QRS duration"
    else:
        g.reasons["cornell_voltage_mv"] = "needs aVL and V3"
        g.reasons["cornell_product_mv_ms"] = "needs aVL and V3"
    limb = [lm[k].qrs_peak_to_peak_mv for k in LIMB_LEADS if k in lm]
    limb = [v for v in limb if v is not None]
    prec = [lm[k].qrs_peak_to_peak_mv for k in PRECORDIAL_LEADS if k in lm]
    prec = [v for v in prec if v is not None]
    g.max_limb_qrs_peak_to_peak_mv = max(limb) if limb else None
    g.max_precordial_qrs_peak_to_peak_mv = max(prec) if prec else None
