"""T-wave inversion and pathological Q-wave precision (issue 18): the false calls found by
scoring every labelled source, fixed with textbook criteria (4th UDMI Q-wave lead conditions,
Minnesota Code 5 T-wave lead conditions and exclusions, AHA Part IV secondary T changes).
Constructed measurements (tests/protocol_builders.py) and simulated signals (ecgr1.simulate)."""

from __future__ import annotations

from protocol_builders import normal_result, simulated_statement_ids

import ecgr1
from ecgr1.protocol import interpret
from ecgr1.report import write_report


def _ids(m) -> set[str]:
    return {s.id for s in interpret(m).statements}


def _qs(m, lead: str, depth: float = -0.6, ms: float = 50.0) -> None:
    """A QS complex: one negative deflection, no R wave."""
    lm = m.leads[lead]
    lm.q_amplitude_mv, lm.q_duration_ms = depth, ms
    lm.r_amplitude_mv, lm.s_amplitude_mv, lm.s_duration_ms = 0.0, None, None
    lm.qrs_morphology = "QS"
    lm.qrs_peak_to_peak_mv, lm.qrs_net_amplitude_mv = -depth, depth


def _qr(m, lead: str, depth: float = -0.6, ms: float = 50.0, r: float = 0.2) -> None:
    """A Q wave followed by a small R wave (Qr)."""
    _qs(m, lead, depth, ms)
    lm = m.leads[lead]
    lm.r_amplitude_mv = r
    lm.qrs_morphology = "Qr"
    lm.qrs_peak_to_peak_mv, lm.qrs_net_amplitude_mv = r - depth, r + depth


# ---------------------------------------------------------------- septal Q waves (4th UDMI)
def test_qs_in_v1_and_v2_with_an_r_wave_in_v3_is_not_a_septal_q_wave() -> None:
    # 4th UDMI: any Q wave in V2-V3 > 20 ms, or a QS complex in V2 AND V3. QS in V1-V2 with
    # an rS in V3 is a normal variant (high electrodes, LVH, LAFB).
    m = normal_result()
    _qs(m, "V1")
    _qs(m, "V2")
    # nothing beyond what the normal record gets (no Q, no other statement)
    assert _ids(m) == _ids(normal_result())


def test_a_q_wave_followed_by_r_in_v2_is_a_septal_q_wave() -> None:
    m = normal_result()
    _qs(m, "V1")
    _qr(m, "V2")
    assert "q_septal" in _ids(m)


def test_qs_in_v1_to_v3_is_a_septal_q_wave() -> None:
    m = normal_result()
    for lead in ("V1", "V2", "V3"):
        _qs(m, lead)
    got = _ids(m)
    assert "q_septal" in got
    assert "q_anterior" in got  # QS in V2 and V3 is also two contiguous anterior leads


# ---------------------------------------------------------------- T inversion (Minnesota 5)
def _invert_t(m, lead: str, t: float = -0.3) -> None:
    m.leads[lead].t_amplitude_mv = t
    m.leads[lead].t_polarity = "negative"


def _qrs(m, lead: str, r: float, s: float) -> None:
    """An R-S complex of the given amplitudes (s <= 0), no Q wave."""
    lm = m.leads[lead]
    lm.q_amplitude_mv = lm.q_duration_ms = None
    lm.r_amplitude_mv, lm.s_amplitude_mv = r, s
    lm.qrs_peak_to_peak_mv, lm.qrs_net_amplitude_mv = r - s, r + s
    lm.qrs_morphology = "Rs" if r + s > 0 else "rS"


def test_t_inversion_in_avf_counts_only_when_its_qrs_is_mainly_upright() -> None:
    # Minnesota Code 5 reads aVF "when the QRS is mainly upright": III and aVF inverted after
    # an rS in aVF (net -0.2 of the QRS size, not "mainly negative" by the Part IV rule) is
    # one abnormal inferior lead, not two.
    m = normal_result()
    _invert_t(m, "III")
    _invert_t(m, "aVF")
    _qrs(m, "aVF", r=0.4, s=-0.6)
    assert _ids(m) == _ids(normal_result())
    _qrs(m, "aVF", r=0.6, s=-0.3)  # mainly upright: two abnormal inferior leads
    assert "tinv_inferior" in _ids(m)


def test_report_does_not_deny_negative_t_waves_it_does_not_count() -> None:
    # Negative T waves that the lead conditions leave uncounted are present, not absent.
    m = normal_result()
    for lead in ("II", "III", "aVF"):
        _invert_t(m, lead)
        _qrs(m, lead, r=0.2, s=-0.8)  # rS: mainly negative, an inverted T is concordant
    interp = interpret(m)
    assert not {s.id for s in interp.statements if s.id.startswith("tinv_")}
    report = write_report(interp)
    assert "no T-wave inversion" not in report
    assert "not counted as T-wave inversion in two contiguous leads" in report


def test_t_inversion_in_avl_counts_only_after_an_r_wave_of_5_mm() -> None:
    # Minnesota Code 5 reads aVL only "when the R amplitude is >= 5.0 mm".
    m = normal_result()
    _invert_t(m, "I")
    _invert_t(m, "aVL")
    _qrs(m, "aVL", r=0.3, s=-0.1)
    assert _ids(m) == _ids(normal_result())
    _qrs(m, "aVL", r=0.6, s=-0.1)
    assert "tinv_high_lateral" in _ids(m)


def test_t_inversion_after_a_wide_qrs_is_secondary() -> None:
    # Minnesota Code 5 is not coded with complete BBB or IVCD >= 120 ms (7-1-1, 7-2-1, 7-4);
    # AHA Part IV: the T wave after abnormal depolarisation is a secondary change.
    m = normal_result()
    _invert_t(m, "V5")
    _invert_t(m, "V6")
    assert "tinv_lateral" in _ids(m)
    m.global_.qrs_duration_ms = 130.0
    out = interpret(m)
    assert not {s.id for s in out.statements if s.id.startswith("tinv_")}
    assert "tinv_lateral" in {s.statement for s in out.suppressed}


# ---------------------------------------------------------------- simulated signals
def test_simulated_t_inversion_is_stated_with_nothing_unexpected() -> None:
    allowed = {"sinus_rhythm", "tinv_inferior", "tinv_lateral", "tinv_anterior"}
    for seed in range(3):
        got = simulated_statement_ids("t_inversion", seed)
        assert {"tinv_inferior", "tinv_lateral"} <= got, (seed, got)
        assert got <= allowed, (seed, got - allowed)


def test_simulated_t_inversion_after_a_wide_qrs_is_withheld() -> None:
    # The same inverted T vector after a 130 ms QRS: secondary, withheld (not denied).
    for seed in range(3):
        out = ecgr1.interpret_record(ecgr1.simulate("t_inversion", qrs_ms=130.0, seed=seed).record)
        got = {s.id for s in out.interpretation.statements}
        assert not {s for s in got if s.startswith(("tinv_", "q_"))}, (seed, got)
        assert "tinv_lateral" in {s.statement for s in out.interpretation.suppressed}
        # a QRS widened without a bundle-branch shape reads as an IVCD (seed 0: as LBBB)
        assert got <= {"sinus_rhythm", "nonspecific_ivcd", "complete_lbbb"}, (seed, got)
