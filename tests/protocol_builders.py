"""Hand-built measurement results for protocol and report tests (no signal is measured).

``normal_result()`` is a plausible normal adult 12-lead ECG; the ``make_*`` helpers change
the few measured values that define each pattern.
"""

from __future__ import annotations

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.measure.result import (
    GlobalMeasurements,
    LeadMeasurements,
    LeadQuality,
    MeasurementResult,
    QualityReport,
)

LEADS = list(STANDARD_LEADS)

# lead: (P, q, R, S, T, morphology)
_NORMAL = {
    "I": (0.08, -0.05, 0.80, -0.10, 0.25, "qRs"),
    "II": (0.15, -0.05, 1.00, -0.10, 0.30, "qRs"),
    "III": (0.06, None, 0.40, -0.20, 0.10, "Rs"),
    "aVR": (-0.10, None, 0.10, -0.70, -0.25, "rS"),
    "aVL": (0.04, None, 0.40, -0.30, 0.10, "Rs"),
    "aVF": (0.10, None, 0.70, -0.10, 0.20, "Rs"),
    "V1": (0.06, None, 0.20, -0.90, -0.10, "rS"),
    "V2": (0.08, None, 0.50, -1.20, 0.40, "rS"),
    "V3": (0.08, None, 0.80, -0.80, 0.45, "RS"),
    "V4": (0.08, None, 1.20, -0.40, 0.40, "Rs"),
    "V5": (0.08, -0.06, 1.30, -0.20, 0.30, "qRs"),
    "V6": (0.08, -0.05, 1.10, None, 0.25, "qR"),
}


def _lead(p, q, r, s, t, morph) -> LeadMeasurements:
    net = r + (q or 0.0) + (s or 0.0)
    return LeadMeasurements(
        p_amplitude_mv=p,
        p_positive_amplitude_mv=max(p, 0.0),
        p_negative_amplitude_mv=min(p, 0.0),
        p_terminal_negative_ms=0.0,
        p_duration_ms=100.0,
        p_morphology="positive" if p > 0 else "negative",
        q_amplitude_mv=q,
        q_duration_ms=20.0 if q is not None else None,
        r_amplitude_mv=r,
        s_amplitude_mv=s,
        s_duration_ms=30.0 if s is not None else None,
        qrs_morphology=morph,
        qrs_duration_ms=90.0,
        qrs_peak_to_peak_mv=r - min(q or 0.0, s or 0.0),
        qrs_net_amplitude_mv=net,
        r_peak_time_ms=40.0,
        st_j_mv=0.0,
        st_j60_mv=0.02,
        st_shape="upsloping",
        t_amplitude_mv=t,
        t_polarity="positive" if t > 0 else "negative",
        delta_wave=False,
    )


def normal_result(age: float | None = 50.0, sex: str | None = "M") -> MeasurementResult:
    """A normal adult ECG: sinus rhythm 72 bpm, PR 160, QRS 90, QTc 410, axis +45."""
    g = GlobalMeasurements(
        heart_rate_bpm=72.0,
        atrial_rate_bpm=72.0,
        rr_mean_ms=833.0,
        rr_sd_ms=15.0,
        rr_cv=0.02,
        rr_irregular=False,
        rr_irregularity="regular",
        n_beats=12,
        p_wave_present=True,
        p_wave_fraction=1.0,
        p_waves_per_qrs=1.0,
        atrial_activity="p_waves",
        p_duration_ms=100.0,
        pr_interval_ms=160.0,
        pr_interval_sd_ms=4.0,
        pr_progression="constant",
        qrs_duration_ms=90.0,
        qt_interval_ms=380.0,
        qtc_bazett_ms=416.0,
        qtc_fridericia_ms=404.0,
        qtc_framingham_ms=410.0,
        qtc_hodges_ms=408.0,
        p_axis_deg=50.0,
        qrs_axis_deg=45.0,
        t_axis_deg=40.0,
        sokolow_lyon_mv=2.2,
        sokolow_lyon_rvh_mv=0.4,
        cornell_voltage_mv=1.2,
        cornell_product_mv_ms=108.0,
        max_limb_qrs_peak_to_peak_mv=1.1,
        max_precordial_qrs_peak_to_peak_mv=1.7,
    )
    return MeasurementResult(
        id="normal",
        fs=500.0,
        duration_s=10.0,
        lead_names=list(LEADS),
        global_=g,
        leads={ld: _lead(*_NORMAL[ld]) for ld in LEADS},
        quality=QualityReport(leads={ld: LeadQuality() for ld in LEADS}),
        age=age,
        sex=sex,
    )


def make_af() -> MeasurementResult:
    """Atrial fibrillation at 110 bpm (a stray PR value is present but meaningless)."""
    m = normal_result()
    g = m.global_
    g.heart_rate_bpm, g.rr_cv, g.rr_irregularity = 110.0, 0.22, "irregularly_irregular"
    g.p_wave_fraction, g.atrial_activity, g.p_axis_deg = 0.05, "fibrillatory", None
    g.pr_interval_ms = 240.0
    m.id = "af"
    return m


def make_lbbb() -> MeasurementResult:
    """Complete LBBB with LVH voltage and secondary ST-T changes."""
    m = normal_result()
    m.id = "lbbb"
    m.global_.qrs_duration_ms = 150.0
    m.global_.sokolow_lyon_mv = 4.6
    v1 = m.leads["V1"]
    v1.r_amplitude_mv, v1.s_amplitude_mv, v1.qrs_net_amplitude_mv = 0.1, -2.4, -2.3
    v1.qrs_morphology = "rS"
    for lead in ("I", "aVL", "V5", "V6"):
        lm = m.leads[lead]
        lm.q_amplitude_mv, lm.q_duration_ms = None, None
        lm.s_amplitude_mv, lm.s_duration_ms = None, None
        lm.r_peak_time_ms = 75.0
        lm.qrs_net_amplitude_mv = lm.r_amplitude_mv
        lm.t_amplitude_mv = -0.3
    for lead in ("V1", "V2"):
        m.leads[lead].st_j_mv = 0.3
    return m


def make_rbbb() -> MeasurementResult:
    """Complete RBBB: rSR' in V1, wide S in I and V6, secondary T inversion V1-V2."""
    m = normal_result()
    m.id = "rbbb"
    m.global_.qrs_duration_ms = 140.0
    v1 = m.leads["V1"]
    v1.r_amplitude_mv, v1.s_amplitude_mv, v1.r_prime_amplitude_mv = 0.3, -0.4, 0.7
    v1.qrs_net_amplitude_mv, v1.qrs_morphology = 0.6, "rSR'"
    for lead in ("I", "V6"):
        m.leads[lead].s_amplitude_mv = -0.3
        m.leads[lead].s_duration_ms = 60.0
    for lead in ("V1", "V2"):
        m.leads[lead].t_amplitude_mv = -0.3
    return m


def make_inferior_stemi() -> MeasurementResult:
    """ST elevation in II, III, aVF with reciprocal depression in I and aVL."""
    m = normal_result()
    m.id = "inferior_stemi"
    for lead in ("II", "III", "aVF"):
        m.leads[lead].st_j_mv = 0.25
    for lead in ("I", "aVL"):
        m.leads[lead].st_j_mv = -0.15
        m.leads[lead].st_shape = "horizontal"
    return m


def make_poor_quality() -> MeasurementResult:
    """Poor overall quality with two unusable leads and an ST elevation pattern."""
    m = make_inferior_stemi()
    m.id = "poor"
    m.quality.overall = "poor"
    for lead in ("V1", "V2"):
        m.quality.leads[lead] = LeadQuality(usable=False, flags=["noise"], reasons=["noisy"])
    return m


def make_unusable() -> MeasurementResult:
    """Nothing measurable."""
    return MeasurementResult(
        id="unusable",
        fs=500.0,
        duration_s=10.0,
        lead_names=list(LEADS),
        quality=QualityReport(overall="unusable", reasons=["all leads flat"]),
    )


def make_empty() -> MeasurementResult:
    """Good quality but nothing measured (every value None)."""
    return MeasurementResult(id="empty", fs=500.0, duration_s=10.0, lead_names=list(LEADS))


SCENARIOS = {
    "normal": normal_result,
    "af": make_af,
    "lbbb": make_lbbb,
    "rbbb": make_rbbb,
    "inferior_stemi": make_inferior_stemi,
    "poor": make_poor_quality,
    "unusable": make_unusable,
    "empty": make_empty,
}


def simulated_statement_ids(pattern: str, seed: int, seconds: float = 10) -> set[str]:
    """The statement ids that ``ecgr1.interpret_record`` gives a simulated pattern."""
    import ecgr1

    record = ecgr1.simulate(pattern, seconds=seconds, seed=seed).record
    return {s.id for s in ecgr1.interpret_record(record).interpretation.statements}
