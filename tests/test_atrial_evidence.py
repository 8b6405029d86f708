"""Positive evidence of atrial fibrillation: f waves on the QRST-cancelled residual.

An irregular RR without P waves is called fibrillatory only with f waves (4-9 Hz dominant
atrial frequency above the noise floor); repolarisation residue, wander and noise are not. Constructed
residuals test the measure; simulated records test the engine and the protocol end to end.
"""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.measure import measure
from ecgr1.measure.atrial.fwaves import fibrillatory_wave_evidence, qrst_residual
from ecgr1.protocol import interpret
from ecgr1.simulate import simulate

FS = 250.0
N = int(10 * FS)
LEADS = ["II", "III", "aVF", "V1", "V2"]


def _anchors(rng: np.random.Generator) -> np.ndarray:
    """Irregular R peaks (RR 0.5-1.1 s)."""
    rr = rng.uniform(0.5, 1.1, 20)
    r = (0.4 + np.cumsum(rr)) * FS
    return r[r < N - 0.2 * FS].astype(int)


def _f_waves(rng: np.random.Generator, mv: float) -> np.ndarray:
    """Fibrillatory waves: a few components in 5-7 Hz with wandering phase (not one line)."""
    t = np.arange(N) / FS
    out = np.zeros(N)
    for hz in (5.2, 6.1, 6.9):
        drift = np.cumsum(rng.standard_normal(N)) * 0.02
        out += np.sin(2 * np.pi * hz * t + drift + rng.uniform(0, 2 * np.pi))
    return mv * out / out.std()


def _t_wave_mismatch(anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What the median beat leaves of sinus arrhythmia: T waves (~160 ms wide) whose amplitude
    follows the varying RR (+-0.1 mV about the median T), plus 0.3 Hz baseline wander."""
    t = np.arange(N)
    out = 0.05 * np.sin(2 * np.pi * 0.3 * t / FS)
    for a in anchors:
        out += rng.uniform(-0.1, 0.1) * np.exp(-0.5 * ((t - (a + 0.3 * FS)) / (0.04 * FS)) ** 2)
    return out


def _cancellation_error(anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """QRS-sized residue at each R (beat-to-beat QRS variation the median does not cancel)."""
    out = np.zeros(N)
    for a in anchors:
        out[a - 5 : a + 5] += rng.normal(0, 0.2, 10)
    return out


def _residual(parts: list[np.ndarray], rng: np.random.Generator, noise_mv: float) -> np.ndarray:
    base = np.sum(parts, axis=0)
    return np.vstack([base + noise_mv * rng.standard_normal(N) for _ in LEADS])


@pytest.mark.parametrize("seed", range(4))
def test_fine_f_waves_are_fibrillatory(seed):
    rng = np.random.default_rng(seed)
    anchors = _anchors(rng)
    resid = _residual([_f_waves(rng, 0.03), _cancellation_error(anchors, rng)], rng, 0.005)
    ev = fibrillatory_wave_evidence(resid, FS, anchors, LEADS)
    assert ev.present
    assert 4.0 <= ev.dominant_hz <= 9.0


@pytest.mark.parametrize("seed", range(4))
def test_repolarisation_residual_is_not_fibrillatory(seed):
    """Sinus arrhythmia with its P waves missed: the residual is T-wave mismatch and wander,
    power below 4 Hz, not f waves; and it is not flat, so atrial activity stays undecided."""
    rng = np.random.default_rng(seed)
    anchors = _anchors(rng)
    parts = [_t_wave_mismatch(anchors, rng), _cancellation_error(anchors, rng)]
    ev = fibrillatory_wave_evidence(_residual(parts, rng, 0.005), FS, anchors, LEADS)
    assert not ev.present
    assert ev.residual_rms_mv > 0.02


@pytest.mark.parametrize("seed", range(4))
def test_muscle_noise_is_not_fibrillatory(seed):
    """Broadband noise puts power in 4-9 Hz too, but no more than in 12-30 Hz."""
    rng = np.random.default_rng(seed)
    anchors = _anchors(rng)
    noise = np.convolve(rng.standard_normal(N), np.ones(3) / 3, mode="same")  # to ~40 Hz
    resid = _residual([0.05 * noise + _t_wave_mismatch(anchors, rng)], rng, 0.0)
    ev = fibrillatory_wave_evidence(resid, FS, anchors, LEADS)
    assert not ev.present


def test_residual_cancels_the_template():
    rng = np.random.default_rng(0)
    anchors = _anchors(rng)
    template = rng.standard_normal((2, 60))
    clean = np.zeros((2, N))
    for a in anchors:
        clean[:, a - 20 : a + 40] += template
    assert np.allclose(qrst_residual(clean, anchors, template, 20), 0.0)


def _statements(sim) -> tuple[set[str], object]:
    res = measure(sim.record)
    return {s.id for s in interpret(res).statements}, res


@pytest.mark.parametrize("seed", range(3))
def test_simulated_af_with_fine_f_waves_is_af(seed, monkeypatch):
    """Fine f waves (0.04 mV instead of the simulator's 0.07 mV) still give AF."""
    from ecgr1.simulate import patterns

    monkeypatch.setitem(patterns.RHYTHM, "f_wave_mv", 0.04)
    ids, res = _statements(simulate("atrial_fibrillation", seed=seed))
    assert res.global_.atrial_activity == "fibrillatory"
    assert "atrial_fibrillation" in ids


@pytest.mark.parametrize("seed", range(3))
def test_simulated_sinus_arrhythmia_with_noise_is_not_af(seed):
    sim = simulate("sinus_arrhythmia", seed=seed, noise=("muscle", "baseline"))
    ids, res = _statements(sim)
    assert res.global_.atrial_activity != "fibrillatory"
    assert "atrial_fibrillation" not in ids


@pytest.mark.parametrize("seed", range(3))
def test_simulated_irregular_rr_over_muscle_noise_is_not_af(seed, monkeypatch):
    """Irregular RR and no P waves, but the baseline is muscle noise without f waves: the
    atrial activity stays undecided and AF is not stated (the irregular RR alone is not AF)."""
    from ecgr1.simulate import patterns

    monkeypatch.setitem(patterns.RHYTHM, "f_wave_mv", 0.0)
    sim = simulate("atrial_fibrillation", seed=seed, noise=("muscle",), noise_level=2.0)
    ids, res = _statements(sim)
    assert res.global_.atrial_activity is None
    assert "atrial_fibrillation" not in ids


def _ectopic_remnant(anchors: np.ndarray, ectopic: np.ndarray) -> np.ndarray:
    """What the dominant template leaves of ventricular ectopic beats: their own wide QRS and
    large, opposite T wave (0.6 mV, 150-400 ms after the R peak)."""
    t = np.arange(N)
    out = np.zeros(N)
    for a in anchors[ectopic]:
        out += 0.8 * np.exp(-0.5 * ((t - (a + 0.05 * FS)) / (0.03 * FS)) ** 2)
        out -= 0.6 * np.exp(-0.5 * ((t - (a + 0.28 * FS)) / (0.06 * FS)) ** 2)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_f_waves_between_ventricular_ectopics_count_once_their_qrst_is_blanked(seed):
    """AF with frequent PVCs (MIT-BIH 221): the dominant beat's template cancels neither the
    PVC's QRS nor its T wave, whose power below 4 Hz hides the f waves; blanked through their
    T wave (``other_shape``), the f waves between the beats show."""
    rng = np.random.default_rng(seed)
    anchors = _anchors(rng)
    ectopic = np.zeros(anchors.size, bool)
    ectopic[1::3] = True
    parts = [_f_waves(rng, 0.03), _ectopic_remnant(anchors, ectopic)]
    resid = _residual(parts, rng, 0.005)
    # Premise: without the ectopic beats blanked, the remnants hide the f waves.
    assert not fibrillatory_wave_evidence(resid, FS, anchors, LEADS).present
    ev = fibrillatory_wave_evidence(resid, FS, anchors, LEADS, other_shape=ectopic)
    assert ev.present
    assert 4.0 <= ev.dominant_hz <= 9.0


def _lead_subset(rec, leads: list[str]):
    from ecgr1.io import ECGRecord

    rows = [rec.leads.index(lead) for lead in leads]
    return ECGRecord(rec.signal[rows], rec.fs, list(leads), record_id=rec.record_id)


@pytest.mark.parametrize(
    ("leads", "af"),
    [
        (None, True),  # 12 leads
        (["II", "V1"], True),  # a Holter pair: f waves in two leads
        (["II", "V5"], False),  # one f-wave lead: the RR pattern cannot support it
    ],
)
def test_af_strip_whose_rr_reads_regularly_irregular(leads, af):
    """A 10-s strip of AF at 60/min whose RR happens to vary in runs of similar intervals
    (the successive-difference test calls it "regularly irregular"): with f waves in two
    leads and no P waves it is AF (it read as nothing, or as premature atrial contractions,
    before); with f waves in one lead only, the atrial activity is "none" as for a regular RR."""
    rec = simulate("atrial_fibrillation", seed=20, hr=60).record
    if leads is not None:
        rec = _lead_subset(rec, leads)
    res = measure(rec)
    ids = {s.id for s in interpret(res).statements}
    # Premise: the RR pattern is not irregularly irregular.
    assert res.global_.underlying_rr_irregularity == "regularly_irregular"
    assert res.global_.p_wave_fraction < 0.5
    assert (res.global_.atrial_activity == "fibrillatory") is af
    assert ("atrial_fibrillation" in ids) is af
    assert "premature_atrial_contractions" not in ids
