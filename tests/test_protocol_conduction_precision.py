"""RBBB at its AHA/ACCF/HRS 2009 Part III criteria: the QRS duration of the right precordial
leads that write the terminal delay, a visible r' (>= 0.1 mV), a dominant R in V1 that is mainly
upright; and a criterion only "excludes" a statement that it leaves impossible.

Constructed measurement results (``protocol_builders``): each test also asserts that no
statement outside the expected set appears."""

from __future__ import annotations

import pytest
from protocol_builders import normal_result

from ecgr1.protocol import interpret

EXPECTED = {"sinus_rhythm"}


def _ids(m) -> set[str]:
    return {s.id for s in interpret(m).statements}


def _rsr_prime(record_qrs_ms: float, v1_qrs_ms: float, v2_qrs_ms: float, r_prime_mv: float = 0.5):
    """rSR' in V1 (net negative: a deep S), a wide S in I and V6, normal leads elsewhere."""
    m = normal_result()
    m.global_.qrs_duration_ms = record_qrs_ms
    v1 = m.leads["V1"]
    v1.r_amplitude_mv, v1.s_amplitude_mv, v1.r_prime_amplitude_mv = 0.2, -0.9, r_prime_mv
    v1.qrs_net_amplitude_mv = 0.2 - 0.9 + r_prime_mv
    v1.qrs_morphology = "rSR'" if r_prime_mv >= 0.5 else "rSr'"
    v1.qrs_duration_ms = v1_qrs_ms
    m.leads["V2"].qrs_duration_ms = v2_qrs_ms
    for lead in ("I", "V6"):
        m.leads[lead].s_amplitude_mv = -0.3
        m.leads[lead].s_duration_ms = 60.0
    return m


# ---------------------------------------------------------------- duration from V1 / V2
def test_incomplete_rbbb_from_the_v2_qrs_when_the_record_qrs_is_shorter() -> None:
    # CPSC A0006: record QRS 100 ms, V2 116 ms with RSR'.
    assert _ids(_rsr_prime(100.0, 108.0, 116.0)) == EXPECTED | {"incomplete_rbbb"}
    # The same morphology with right precordial QRS under 110 ms is a normal-width rSR'.
    assert _ids(_rsr_prime(100.0, 100.0, 104.0)) == EXPECTED | {"normal_ecg"}


def test_complete_rbbb_from_the_v1_qrs_and_not_also_incomplete() -> None:
    # Georgia E00271: record QRS 114 ms, V1 120 ms.
    ids = _ids(_rsr_prime(114.0, 124.0, 100.0))
    assert ids == EXPECTED | {"complete_rbbb"}
    ids = _ids(_rsr_prime(114.0, 112.0, 100.0))
    assert ids == EXPECTED | {"incomplete_rbbb"}


def test_right_precordial_qrs_does_not_stand_in_for_an_implausible_record_qrs() -> None:
    # Ningbo JS45548: a wide-complex rhythm whose record QRS (260 ms) is out of the plausible
    # range; a V1/V2 QRS inside it must not make the RBBB statement on its own.
    m = _rsr_prime(260.0, 240.0, 212.0)
    assert "complete_rbbb" not in _ids(m)
    m.global_.qrs_duration_ms = 140.0
    assert "complete_rbbb" in _ids(m)


# ---------------------------------------------------------------- r' amplitude
@pytest.mark.parametrize(("r_prime_mv", "called"), [(0.06, False), (0.1, True), (0.3, True)])
def test_r_prime_must_reach_one_millimetre(r_prime_mv: float, called: bool) -> None:
    # Ningbo JS21341: r' 0.06 mV after an r of 0.07 mV in an rS V1.
    ids = _ids(_rsr_prime(130.0, 130.0, 120.0, r_prime_mv=r_prime_mv))
    assert ("complete_rbbb" in ids) is called
    # Without an RBBB morphology a QRS >= 110 ms is a nonspecific conduction delay.
    assert ids == EXPECTED | ({"complete_rbbb"} if called else {"nonspecific_ivcd"})


# ---------------------------------------------------------------- dominant R in V1
def _qr_v1(q_mv: float, r_mv: float):
    """V1 q then r (no S), R peak at 90 ms, QRS 114 ms, wide S in I and V6."""
    m = _rsr_prime(114.0, 112.0, 100.0, r_prime_mv=0.0)
    v1 = m.leads["V1"]
    v1.q_amplitude_mv, v1.r_amplitude_mv, v1.s_amplitude_mv = q_mv, r_mv, None
    v1.r_prime_amplitude_mv = None
    v1.qrs_net_amplitude_mv = q_mv + r_mv
    v1.qrs_peak_to_peak_mv = r_mv - q_mv
    v1.qrs_morphology = "qr" if r_mv < abs(q_mv) else "qR"
    v1.r_peak_time_ms = 90.0
    return m


def test_a_tiny_r_after_a_deeper_q_is_not_a_dominant_r() -> None:
    # CPSC-extra Q0001: qr in V1, r 0.05 mV, net -0.28 mV (R/S ratio 99 for want of an S).
    assert _ids(_qr_v1(-0.33, 0.05)) == EXPECTED | {"nonspecific_ivcd"}
    # A qR with a net-positive QRS keeps the dominant-R criterion (Georgia E00271).
    assert _ids(_qr_v1(-0.2, 0.9)) == EXPECTED | {"incomplete_rbbb"}


# ---------------------------------------------------------------- exclusions
def test_a_failed_criterion_excludes_only_statements_it_leaves_impossible() -> None:
    def excluded(m) -> dict[str, set[str]]:
        return {e.criterion: set(e.rules_out) for e in interpret(m).excluded}

    # Narrow record QRS and narrow V1/V2: "QRS < 120 ms" excludes complete RBBB.
    assert "complete_rbbb" in excluded(_rsr_prime(100.0, 100.0, 104.0)).get("qrs.wide", set())
    # Narrow record QRS but a V1 of 124 ms: complete RBBB is still possible by the V1 route;
    # it is undecided here (V1 QRS met, r' left unmeasured), so the record QRS excludes nothing.
    m = _rsr_prime(100.0, 124.0, 104.0)
    m.leads["V1"].r_prime_amplitude_mv = None
    m.leads["V2"].r_prime_amplitude_mv = None
    m.leads["V1"].r_amplitude_mv = None
    m.leads["V1"].qrs_peak_to_peak_mv = None
    m.leads["V2"].r_amplitude_mv = None
    m.leads["V2"].qrs_peak_to_peak_mv = None
    assert "complete_rbbb" not in excluded(m).get("qrs.wide", set())
