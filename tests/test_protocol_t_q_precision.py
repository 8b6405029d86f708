"""T-wave inversion and pathological Q-wave precision (issue 18): the false calls found by
scoring every labelled source, fixed with textbook criteria (4th UDMI Q-wave lead conditions,
Minnesota Code 5 T-wave lead conditions and exclusions, AHA Part IV secondary T changes).
Constructed measurements (tests/protocol_builders.py) and simulated signals (ecgr1.simulate)."""

from __future__ import annotations

from protocol_builders import normal_result

from ecgr1.protocol import interpret


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
