"""Ventricular tachycardia: a regular wide-QRS tachycardia without P waves, QRS > 140 ms
(Wellens) and the ventricular onset of Vereckei's aVR steps 1-2; and what it withholds.

Before the statement existed, simulated VT (and Ningbo JS45548, labelled paroxysmal VT) was
read as "complete LBBB, left axis deviation, PVCs, prolonged QT" (JS45548: "complete RBBB,
indeterminate axis, LVH, ST elevation").
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import ecgr1
from ecgr1.measure.result import LeadMeasurements
from ecgr1.protocol import interpret
from ecgr1.protocol.quantities import DERIVED_LEAD

VT = "ventricular_tachycardia"
# Statements that describe conduction down the bundles, or the ST-T after it: never with VT.
WITHHELD = {
    "complete_lbbb", "complete_rbbb", "left_axis_deviation", "right_axis_deviation",
    "indeterminate_axis", "premature_ventricular_contractions", "long_qt", "lvh",
    "sinus_tachycardia", "ste_inferior", "tinv_inferior",
}  # fmt: skip


def _ids(result) -> set[str]:
    return {s.id for s in interpret(result).statements}


@pytest.fixture(scope="module")
def vt_result():
    return ecgr1.measure(ecgr1.simulate("ventricular_tachycardia", seed=0).record)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_simulated_vt_is_called_and_bundle_branch_statements_withheld(seed) -> None:
    sim = ecgr1.simulate("ventricular_tachycardia", seed=seed)
    interp = ecgr1.interpret_record(sim.record).interpretation
    ids = {s.id for s in interp.statements}
    assert VT in ids
    assert not ids & WITHHELD, ids & WITHHELD
    assert "ventricular tachycardia" in interp.answer_labels()


@pytest.mark.parametrize("noise", ["muscle", "all"])
def test_simulated_vt_under_noise(noise: str) -> None:
    # Every seed. Before the QRS onset was searched from the earliest QRS-sized slope, the
    # noise floor made the pause inside the notched complex its onset on 1 (muscle) and 3 (all
    # noise) of 10 seeds: the first ~45 ms were taken for a P wave at a short PR (QRS 102-108
    # ms of 150, "sinus tachycardia", ST elevation in three territories).
    found = []
    for seed in range(10):
        sim = ecgr1.simulate("ventricular_tachycardia", seed=seed, noise=noise)
        found.append(
            VT in {s.id for s in ecgr1.interpret_record(sim.record).interpretation.statements}
        )
    assert all(found), found


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bundle_branch_block_whose_p_waves_hide_in_the_t_waves_is_not_vt(seed) -> None:
    # LBBB at 150/min: the P waves sit on the preceding T waves and are not found, so the record
    # is a wide tachycardia without P waves, QRS ~150 ms; the conducted onset (aVR: QS or Qr,
    # no initial r or q of its own) keeps it a bundle branch block.
    rec = ecgr1.simulate("lbbb", seed=seed, hr=150.0).record
    ids = {s.id for s in ecgr1.interpret_record(rec).interpretation.statements}
    assert VT not in ids
    assert "complete_lbbb" in ids


def _with(result, **changes):
    out = copy.deepcopy(result)
    for key, value in changes.items():
        if key.startswith("aVR_"):
            setattr(out.leads["aVR"], key[4:], value)
        else:
            setattr(out.global_, key, value)
    return out


def test_the_measured_vt_sits_clear_of_every_limit(vt_result) -> None:
    g = vt_result.global_
    assert g.heart_rate_bpm > 150 and g.qrs_duration_ms > 150
    assert g.p_wave_fraction < 0.5
    assert VT in _ids(vt_result)


@pytest.mark.parametrize(
    ("changes", "is_vt"),
    [
        ({"qrs_duration_ms": 140.0}, False),  # Wellens: wider than 140 ms
        ({"qrs_duration_ms": 141.0}, True),
        ({"heart_rate_bpm": 100.0}, False),  # tachycardia: above 100/min
        ({"heart_rate_bpm": 101.0}, True),
        ({"p_wave_fraction": 0.5}, False),  # P waves before the QRS: sinus/atrial with BBB
        ({"p_wave_fraction": 0.45}, True),
        ({"atrial_activity": "fibrillatory"}, False),  # AF with bundle branch block
        ({"atrial_activity": "flutter"}, False),
        ({"underlying_rr_irregularity": "irregularly_irregular"}, False),
        ({"pacing_spikes_detected": True}, False),
    ],
)
def test_each_limit_of_the_vt_statement(vt_result, changes, is_vt) -> None:
    assert (VT in _ids(_with(vt_result, **changes))) is is_vt


@pytest.mark.parametrize(
    ("shape", "r_ms", "q_ms", "is_vt"),
    [
        ("Rs", 20.0, None, True),  # step 1: an initial R wave in aVR
        ("rS", 44.0, None, True),  # step 2: an initial r wider than 40 ms
        ("rS", 40.0, None, False),
        ("qR", 60.0, 44.0, True),  # step 2: the q of a qR wider than 40 ms
        ("qR", 60.0, 40.0, False),
        ("Qr", 10.0, 120.0, False),  # the negative complex of a conducted beat
        ("QS", None, 150.0, False),
    ],
)
def test_vereckei_onset_in_avr(vt_result, shape, r_ms, q_ms, is_vt) -> None:
    changed = _with(vt_result, aVR_qrs_morphology=shape, aVR_r_duration_ms=r_ms,
                    aVR_q_duration_ms=q_ms)  # fmt: skip
    assert (VT in _ids(changed)) is is_vt


@pytest.mark.parametrize(
    ("shape", "r_ms", "q_ms", "width", "initial_r"),
    [
        ("R", 120.0, None, 120.0, True),
        ("rS", 30.0, None, 30.0, False),
        ("qR", 50.0, 24.0, 24.0, False),
        ("QR", 50.0, 48.0, 48.0, False),
        ("Qr", 8.0, 130.0, 0.0, False),
        ("QS", None, 150.0, 0.0, False),
    ],
)
def test_initial_wave_quantities(shape, r_ms, q_ms, width, initial_r) -> None:
    lm = LeadMeasurements(r_amplitude_mv=0.5, qrs_peak_to_peak_mv=1.0, qrs_morphology=shape,
                          r_duration_ms=r_ms, q_duration_ms=q_ms)  # fmt: skip
    assert DERIVED_LEAD["initial_wave_ms"](lm) == width
    assert DERIVED_LEAD["initial_r_wave"](lm) is initial_r
    assert DERIVED_LEAD["initial_wave_ms"](LeadMeasurements()) is None  # QRS not measured


def test_verifier_checks_vt_claims() -> None:
    vt = ecgr1.simulate("ventricular_tachycardia", seed=1).record
    normal = ecgr1.simulate("normal", seed=1).record

    def verdicts(rec, text: str) -> list[tuple[str, str]]:
        return [(c["concept"], c["verdict"]) for c in ecgr1.verify(rec, text).to_dict()["claims"]]

    assert verdicts(vt, "Ventricular tachycardia.") == [(VT, "supported")]
    assert verdicts(normal, "Monomorphic ventricular tachycardia.") == [(VT, "contradicted")]
    assert verdicts(normal, "Supraventricular tachycardia.")[0][0] != VT
    lbbb = ecgr1.verify(vt, "Complete left bundle branch block.").to_dict()["claims"][0]
    assert lbbb["verdict"] == "not_checkable"
    assert "ventricular tachycardia" in lbbb["reason"]


@pytest.mark.shared_data
def test_ningbo_ventricular_tachycardia_is_read_as_such(shared_data: Path) -> None:
    path = shared_data / "extra" / "cinc_ningbo" / "JS45548.hea"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    interp = ecgr1.interpret_record(ecgr1.read_record(str(path))).interpretation
    assert interp.answer_labels() == ["ventricular tachycardia"]
