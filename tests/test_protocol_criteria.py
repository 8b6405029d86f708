"""Every criterion of the table, on each side of its threshold (and for each age/sex variant).

Measurement results are built by hand: the protocol never measures, so a criterion is tested
by putting one measured value just inside and just outside its threshold (one display unit
apart, the precision at which the engine compares).
"""

from __future__ import annotations

from typing import Any

import pytest

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.measure.result import (
    Beat,
    GlobalMeasurements,
    LeadMeasurements,
    LeadQuality,
    MeasurementResult,
    QualityReport,
)
from ecgr1.protocol import evaluate_criterion, load_table
from ecgr1.protocol.quantities import PRECISION
from ecgr1.protocol.table import CriterionSpec

TABLE = load_table()
LEADS = list(STANDARD_LEADS)


def _step(unit: str) -> float:
    nd = PRECISION.get(unit, 2)
    return 1.0 if nd == 0 else 10.0**-nd


def _sides(op: str, thr: Any, unit: str) -> tuple[list[Any], list[Any]]:
    """(values that meet, values that do not meet) ``op thr``."""
    d = _step(unit)
    if op == "between":
        lo, hi = float(thr[0]), float(thr[1])
        return [lo, hi], [lo - d, hi + d]
    if op == "==":
        if isinstance(thr, bool):
            return [thr], [not thr]
        return [thr], ["something_else"]
    if op == "in":
        return [thr[0]], ["something_else"]
    t = float(thr)
    return {
        ">": ([t + d], [t]),
        ">=": ([t], [t - d]),
        "<": ([t - d], [t]),
        "<=": ([t], [t + d]),
    }[op]


# ------------------------------------------------------------------ building results

LEAD_SETTERS = {
    "r_prime_mv": lambda lm, v: setattr(lm, "r_prime_amplitude_mv", v or None),
    "q_depth_mv": lambda lm, v: setattr(lm, "q_amplitude_mv", -v if v else None),
    "q_duration_eff_ms": lambda lm, v: setattr(lm, "q_duration_ms", v or None),
    "s_depth_mv": lambda lm, v: setattr(lm, "s_amplitude_mv", -v if v else None),
    "s_duration_eff_ms": lambda lm, v: setattr(lm, "s_duration_ms", v or None),
    "r_to_s_ratio": lambda lm, v: (
        setattr(lm, "r_amplitude_mv", v),
        setattr(lm, "s_amplitude_mv", -1.0),
    ),
    "qrs_net_ratio": lambda lm, v: (
        setattr(lm, "qrs_net_amplitude_mv", v),
        setattr(lm, "qrs_peak_to_peak_mv", 1.0),
    ),
    "p_terminal_negative_mv": lambda lm, v: setattr(lm, "p_negative_amplitude_mv", -v),
    "t_abs_mv": lambda lm, v: setattr(lm, "t_amplitude_mv", v),
    "st_deviation_mv": lambda lm, v: setattr(lm, "st_j_mv", v),
    "initial_r_wave": lambda lm, v: setattr(lm, "qrs_morphology", "Rs" if v else "rS"),
    "initial_wave_ms": lambda lm, v: (
        setattr(lm, "qrs_morphology", "rS"),
        setattr(lm, "r_duration_ms", v),
    ),
}


def _base_lead() -> LeadMeasurements:
    # A measured lead with neutral values (so "absent means zero" quantities are defined).
    return LeadMeasurements(
        p_amplitude_mv=0.1,
        r_amplitude_mv=1.0,
        s_amplitude_mv=-0.3,
        qrs_peak_to_peak_mv=1.3,
        qrs_net_amplitude_mv=0.7,
    )


def _set_lead(lm: LeadMeasurements, quantity: str, value: Any) -> None:
    if quantity in LEAD_SETTERS:
        LEAD_SETTERS[quantity](lm, value)
    else:
        setattr(lm, quantity, value)


def _beats_from_rr(rrs: list[float]) -> list[Beat]:
    """Dominant beats separated by the given RR intervals (ms)."""
    t, beats = 0.0, [Beat(index=0, r_peak_s=0.0)]
    for i, rr in enumerate(rrs, start=1):
        t += rr / 1000.0
        beats.append(Beat(index=i, r_peak_s=t, rr_prev_ms=rr))
    return beats


def _set_global(m: MeasurementResult, quantity: str, value: Any) -> None:
    if quantity == "quality_overall":
        m.quality.overall = value
    elif quantity == "amplitude_normalised":
        m.quality.amplitude_normalised = bool(value)
    elif quantity == "age_years":
        m.age = float(value)
    elif quantity == "rr_range_ms":
        m.beats = _beats_from_rr([800.0, 800.0 + float(value), 800.0, 800.0])
    elif quantity == "n_wide_premature_ventricular":
        # v wide PVCs, one narrow "ventricular" premature beat (not counted), dominant beats.
        m.global_.n_beats = 20
        beats = [Beat(index=i, r_peak_s=0.8 * i) for i in range(20)]
        for i in range(int(value)):
            beats[2 + 2 * i].beat_class = "premature_ventricular"
            beats[2 + 2 * i].wide_qrs = True
        beats[-1].beat_class = "premature_ventricular"
        m.beats = beats
    elif quantity == "premature_ventricular_qrs_ms":
        # Two premature ventricular beats of this QRS duration among dominant beats.
        m.global_.n_beats = 10
        m.beats = [Beat(index=i, r_peak_s=0.8 * i, qrs_duration_ms=90.0) for i in range(10)]
        for i in (3, 6):
            m.beats[i].beat_class = "premature_ventricular"
            m.beats[i].qrs_duration_ms = float(value)
    elif quantity == "underlying_rr_irregularity":
        # RR series between dominant beats with the requested regularity class.
        rrs = {
            "irregularly_irregular": [620.0, 940.0, 700.0, 1010.0, 560.0, 880.0, 760.0],
            "regularly_irregular": [600.0, 600.0, 1000.0, 600.0, 600.0, 1000.0, 600.0],
        }.get(value, [800.0] * 7)
        m.beats = _beats_from_rr(rrs)
        m.global_.n_beats = len(m.beats)
    elif quantity == "paced_fraction":
        m.global_.n_beats = 100
        m.global_.n_paced = int(round(float(value) * 100))
    else:
        if quantity.startswith("n_premature"):
            m.global_.n_beats = 20  # counts only mean something when beats were detected
        setattr(m.global_, quantity, value)


def _empty_result(age: float | None = None, sex: str | None = None) -> MeasurementResult:
    return MeasurementResult(
        id="t",
        fs=500.0,
        duration_s=10.0,
        lead_names=list(LEADS),
        global_=GlobalMeasurements(),
        leads={ld: _base_lead() for ld in LEADS},
        quality=QualityReport(leads={ld: LeadQuality() for ld in LEADS}),
        age=age,
        sex=sex,
    )


def _also_pass_values(spec: CriterionSpec, lead: str | None = None) -> list[tuple[str, Any]]:
    out = []
    for c in spec.also:
        thr = _lead_threshold(c.threshold, lead)  # an also-threshold may be per lead too
        meets, _ = _sides(c.operator, thr, "ms" if c.quantity.endswith("_ms") else "mV")
        out.append((c.quantity, meets[0]))
    return out


def _lead_threshold(thr: Any, lead: str | None) -> Any:
    return thr.get(lead, thr.get("default")) if isinstance(thr, dict) else thr


def _build(spec: CriterionSpec, thr: Any, meet: bool, pick: int, age, sex) -> MeasurementResult:
    m = _empty_result(age, sex)
    quantity = spec.quantity[0]
    if spec.per_lead:
        leads = spec.leads or []
        for i, lead in enumerate(leads):
            lt = _lead_threshold(thr, lead)
            good, bad = _sides(spec.operator, lt, spec.unit)
            passing = meet and i < spec.min_leads
            value = good[pick % len(good)] if passing else bad[pick % len(bad)]
            lm = m.leads[lead]
            _set_lead(lm, quantity, value)
            for q, v in _also_pass_values(spec, lead):
                _set_lead(lm, q, v)
    else:
        good, bad = _sides(spec.operator, thr, spec.unit)
        value = good[pick % len(good)] if meet else bad[pick % len(bad)]
        _set_global(m, quantity, value)
        for q, v in _also_pass_values(spec):
            if q != quantity:
                _set_global(m, q, v)
    return m


def _cases() -> list[Any]:
    cases = []
    for cid, spec in TABLE.criteria.items():
        # The default row (age and sex unknown), then each variant with a matching patient.
        contexts = [("default", spec.threshold, None, None)]
        for k, v in enumerate(spec.variants):
            sex = v.when.get("sex")
            age = v.when.get("age_ge")
            if "age_lt" in v.when:
                age = float(v.when["age_lt"]) - 1
            if age is None:
                age = 50.0
            if sex is None:
                sex = "M"
            # An earlier variant matching the same patient would win: skip unreachable ones.
            earlier = [w for w in spec.variants[:k] if _matches(w.when, age, sex)]
            if earlier:
                continue
            thr = v.threshold if v.threshold is not None else spec.threshold
            contexts.append((f"variant{k}", thr, age, sex))
        for name, thr, age, sex in contexts:
            cases.append(pytest.param(cid, thr, age, sex, id=f"{cid}-{name}"))
    return cases


def _matches(when: dict, age: float, sex: str) -> bool:
    if "sex" in when and when["sex"] != sex:
        return False
    if "age_lt" in when and not age < when["age_lt"]:
        return False
    if "age_ge" in when and not age >= when["age_ge"]:
        return False
    return True


@pytest.mark.parametrize(("cid", "thr", "age", "sex"), _cases())
def test_criterion_both_sides_of_threshold(cid: str, thr: Any, age, sex) -> None:
    spec = TABLE.criteria[cid]
    if spec.leads is not None and len(spec.leads) < spec.min_leads:
        # Its normal-variant leads excepted, the territory is left short (septal T inversion
        # without V1): never met, even with every remaining lead past the threshold.
        res = evaluate_criterion(spec, _build(spec, thr, True, 0, age, sex), age, sex)
        assert res.met is not True, (cid, [e.to_dict() for e in res.evidence])
        return
    n_sides = 2 if spec.operator == "between" else 1
    for pick in range(n_sides):
        inside = evaluate_criterion(spec, _build(spec, thr, True, pick, age, sex), age, sex)
        assert inside.met is True, (cid, pick, [e.to_dict() for e in inside.evidence])
        outside = evaluate_criterion(spec, _build(spec, thr, False, pick, age, sex), age, sex)
        assert outside.met is False, (cid, pick, [e.to_dict() for e in outside.evidence])
        # The evidence carries the quantity, unit, criterion and the threshold applied.
        ev = inside.met_evidence[0]
        assert ev.criterion == cid and ev.unit == spec.unit and ev.threshold is not None


def test_every_criterion_is_exercised() -> None:
    ids = {p.values[0] for p in _cases()}
    assert ids == set(TABLE.criteria)


@pytest.mark.parametrize("cid", [c for c, s in TABLE.criteria.items() if s.per_lead][:6])
def test_unmeasured_or_unusable_leads_give_none(cid: str) -> None:
    spec = TABLE.criteria[cid]
    m = _build(spec, spec.threshold, True, 0, None, None)
    for lead in spec.leads or []:
        m.quality.leads[lead] = LeadQuality(usable=False, flags=["noise"])
    res = evaluate_criterion(spec, m)
    assert res.met is None and "not usable" in (res.reason or "")


def test_unmeasured_global_gives_none() -> None:
    res = evaluate_criterion(TABLE.criteria["qrs.wide"], _empty_result())
    assert res.met is None and res.reason


def test_sex_and_age_select_st_elevation_threshold() -> None:
    spec = TABLE.criteria["ste.anterior"]

    def with_v2_v3(value: float, age, sex) -> bool | None:
        m = _empty_result(age, sex)
        for lead in ("V2", "V3"):
            m.leads[lead].st_j_mv = value
        return evaluate_criterion(spec, m, age, sex).met

    # 0.18 mV in V2-V3: enough for a woman (0.15), not for a man >= 40 (0.2).
    assert with_v2_v3(0.18, 55, "F") is True
    assert with_v2_v3(0.18, 55, "M") is False
    # 0.22 mV: enough for a man >= 40, not for a man < 40 (0.25).
    assert with_v2_v3(0.22, 55, "M") is True
    assert with_v2_v3(0.22, 30, "M") is False
