"""Number, lead and evidence formatting shared by the report writer.

Every number the report prints goes through :func:`fmt_value` from a value that is already in
an :class:`~ecgr1.protocol.Evidence` (rounded to display precision by the engine), so a reader
can parse any number in the text and find it in the evidence.
"""

from __future__ import annotations

from typing import Any

from ecgr1.protocol.quantities import PRECISION

UNIT_TEXT = {
    "ms": " ms",
    "bpm": " bpm",
    "mV": " mV",
    "deg": "°",
    "mV*ms": " mV·ms",
    "ratio": "",
    "fraction": "",
    "count": "",
    "years": " years",
    "": "",
}

QUANTITY_NAMES = {
    "heart_rate_bpm": "heart rate",
    "atrial_rate_bpm": "atrial rate",
    "rr_range_ms": "sinus cycle variation",
    "p_wave_fraction": "fraction of beats with P waves",
    "p_waves_per_qrs": "P waves per QRS",
    "p_axis_deg": "P axis",
    "pr_interval_ms": "PR interval",
    "qrs_duration_ms": "QRS duration",
    "qrs_axis_deg": "QRS axis",
    "qtc_framingham_ms": "QTc (Framingham)",
    "qtc_hodges_ms": "QTc (Hodges)",
    "qtc_fridericia_ms": "QTc (Fridericia)",
    "qtc_bazett_ms": "QTc (Bazett)",
    "qt_interval_ms": "QT interval",
    "sokolow_lyon_mv": "Sokolow-Lyon voltage",
    "sokolow_lyon_rvh_mv": "right-ventricular Sokolow-Lyon voltage",
    "cornell_voltage_mv": "Cornell voltage",
    "cornell_product_mv_ms": "Cornell product",
    "max_limb_qrs_peak_to_peak_mv": "largest limb-lead QRS amplitude",
    "max_precordial_qrs_peak_to_peak_mv": "largest precordial QRS amplitude",
    "n_premature_supraventricular": "premature atrial complexes",
    "n_premature_ventricular": "premature ventricular complexes",
    "n_wide_premature_ventricular": "wide premature ventricular complexes",
    "paced_fraction": "fraction of paced beats",
    "p_amplitude_mv": "P amplitude",
    "p_positive_amplitude_mv": "positive P amplitude",
    "p_duration_ms": "P duration",
    "p_terminal_negative_mv": "terminal negative P depth",
    "p_terminal_negative_ms": "terminal negative P duration",
    "q_depth_mv": "Q depth",
    "q_duration_eff_ms": "Q duration",
    "r_amplitude_mv": "R amplitude",
    "s_depth_mv": "S depth",
    "s_duration_ms": "S duration",
    "r_prime_mv": "R' amplitude",
    "r_to_s_ratio": "R/S ratio",
    "qrs_net_amplitude_mv": "net QRS",
    "qrs_net_ratio": "net-to-peak QRS ratio",
    "r_peak_time_ms": "R-peak time",
    "st_deviation_mv": "ST deviation at J",
    "st_j60_mv": "ST deviation at J+60 ms",
    "st_shape": "ST shape",
    "t_amplitude_mv": "T amplitude",
    "t_abs_mv": "T amplitude (absolute)",
    "delta_wave": "delta wave",
    "initial_r_wave": "initial R wave",
    "initial_wave_ms": "initial r or q wave width",
    "rr_irregularity": "RR pattern",
    "atrial_activity": "atrial activity",
    "pr_progression": "PR behaviour",
    "pacing_spikes_detected": "pacing spikes",
    "quality_overall": "overall quality",
    "amplitude_normalised": "amplitude normalisation",
    "age_years": "age",
    "n_limb_leads_measured": "limb leads measured",
    "n_precordial_leads_measured": "precordial leads measured",
    "premature_ventricular_qrs_ms": "QRS duration of the premature ventricular complexes",
    "s_duration_eff_ms": "S duration",
    "st_slope_mv_per_s": "ST slope",
    "underlying_rr_irregularity": "underlying RR pattern",
}

OP_TEXT = {"<": "<", "<=": "≤", ">": ">", ">=": "≥", "==": "=", "!=": "≠"}
NEGATED_OP_TEXT = {
    "<": "not below",
    "<=": "above",
    ">": "not above",
    ">=": "below",
    "between": "outside",
    "==": "not",
    "in": "not",
}
SIGNED_QUANTITIES = {
    "st_deviation_mv",
    "st_j60_mv",
    "qrs_net_amplitude_mv",
    "t_amplitude_mv",
    "p_amplitude_mv",
}


def fmt_number(value: Any, unit: str, signed: bool = False) -> str:
    """Format a number at its unit's precision (no unit text).

    >>> fmt_number(0.1, "mV"), fmt_number(146, "ms"), fmt_number(0.05, "mV", signed=True)
    ('0.10', '146', '+0.05')
    """
    nd = PRECISION.get(unit, 2)
    x = float(value)
    text = f"{x:.{nd}f}" if nd else str(int(round(x)))
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    if signed and not text.startswith("-") and float(text) != 0.0:
        text = "+" + text
    return text


def fmt_value(value: Any, unit: str, quantity: str = "") -> str:
    """A value with its unit; words for categorical values.

    >>> fmt_value(-45, "deg"), fmt_value(0.25, "mV"), fmt_value("irregularly_irregular", "")
    ('-45°', '0.25 mV', 'irregularly irregular')
    """
    if isinstance(value, bool):
        return "present" if value else "absent"
    if isinstance(value, str):
        return value.replace("_", " ")
    if value is None:
        return "not measured"
    return fmt_number(value, unit, signed=quantity in SIGNED_QUANTITIES) + UNIT_TEXT.get(unit, "")


def fmt_threshold(operator: str | None, threshold: Any, unit: str) -> str:
    """``≥ 120 ms``, ``60-100 bpm``, ``0.1 mV (0.2 mV in V2, V3)``."""
    if threshold is None:
        return ""
    if isinstance(threshold, dict):
        default = threshold.get("default")
        special: dict[str, list[str]] = {}
        for lead, val in threshold.items():
            if lead != "default" and val != default:
                special.setdefault(fmt_value(val, unit), []).append(lead)
        text = fmt_threshold(operator, default, unit)
        extra = "; ".join(f"{v} in {join_leads(leads)}" for v, leads in special.items())
        return f"{text} ({extra})" if extra else text
    if operator == "between":
        lo, hi = threshold
        return f"{fmt_number(lo, unit)} to {fmt_value(hi, unit)}"
    if operator in ("in", "not_in"):
        return " or ".join(fmt_value(t, unit) for t in threshold)
    if isinstance(threshold, (bool, str)):
        return fmt_value(threshold, unit)
    return f"{OP_TEXT.get(operator or '', operator or '')} {fmt_value(threshold, unit)}".strip()


def join_leads(leads: list[str]) -> str:
    """``II, III and aVF``."""
    leads = list(leads)
    if not leads:
        return ""
    if len(leads) == 1:
        return leads[0]
    return ", ".join(leads[:-1]) + " and " + leads[-1]


def join_words(items: list[str], conj: str = "and") -> str:
    """``a, b and c``."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conj} " + items[-1]


def join_labels(labels: list[str], conj: str = "or") -> str:
    """Join statement labels; semicolons separate them when a label itself has a comma.

    >>> join_labels(["a", "b, c"])
    'a; or b, c'
    """
    labels = [x for x in labels if x]
    if not any("," in x for x in labels):
        return join_words(labels, conj)
    if len(labels) <= 1:
        return "".join(labels)
    return "; ".join(labels[:-1]) + f"; {conj} " + labels[-1]


def quantity_name(quantity: str) -> str:
    """Clinical display name of a quantity."""
    return QUANTITY_NAMES.get(quantity, quantity.replace("_", " "))


def evidence_text(evidence: list[Any]) -> str:
    """Evidence as report text: ``QRS duration 146 ms (≥ 120 ms); R' amplitude 0.45 mV in V1
    (≥ 0.05 mV)``. Entries of one criterion and quantity are grouped; a threshold that was not
    reached is written "not ≥ 120 ms"; a phrase that several criteria give (the same atrial
    activity read by two rules) is written once.

    >>> from ecgr1.protocol.types import Evidence
    >>> evs = [Evidence("atrial_activity", [], "fibrillatory", "", c, "==", "fibrillatory", True)
    ...        for c in ("rhythm.a", "rhythm.b")]
    >>> evidence_text(evs)
    'atrial activity fibrillatory'
    """
    groups: dict[tuple[str | None, str, str], list[Any]] = {}
    for ev in evidence:
        thr = fmt_threshold(ev.operator, ev.threshold, ev.unit)
        groups.setdefault((ev.criterion, ev.quantity, thr), []).append(ev)
    parts = []
    for (_, quantity, thr), evs in groups.items():
        name = quantity_name(quantity)
        if any(e.leads for e in evs):
            vals = join_words(
                [f"{fmt_value(e.value, e.unit, e.quantity)} in {join_leads(e.leads)}" for e in evs]
            )
        else:
            vals = join_words([fmt_value(e.value, e.unit, e.quantity) for e in evs])
        categorical = any(isinstance(e.value, (str, bool)) for e in evs)
        if thr and not categorical:
            # A failed leaf of a "not" clause: say the threshold was not reached.
            thr = thr if any(e.met for e in evs) else f"not {thr}"
            parts.append(f"{name} {vals} ({thr})")
        else:
            parts.append(f"{name} {vals}")
    return "; ".join(dict.fromkeys(parts))
