"""Each simulated pattern has its defining property (checked on the signal and the truth)."""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.simulate import simulate
from ecgr1.simulate.dipole import hexaxial_axis_deg

FS = 500.0


def _sim(pattern: str, **kw):
    return simulate(pattern, seconds=10, seed=kw.pop("seed", 4), **kw)


def _lead(sim, name: str) -> np.ndarray:
    return sim.clean[sim.record.leads.index(name)]


def _dominant(sim) -> dict:
    """The second complete dominant beat (away from the record's start)."""
    beats = [b for b in sim.beats if b["complete"] and b["beat_class"] == "dominant"]
    return beats[1]


def _qrs(sim, name: str, beat: dict) -> np.ndarray:
    a, e = round(beat["qrs_on_s"] * FS), round(beat["qrs_off_s"] * FS)
    return _lead(sim, name)[a : e + 1]


def _st(sim, name: str, beat: dict, after_j_ms: float = 60.0) -> float:
    """ST level at J + 60 ms relative to the (zero) PR baseline."""
    return float(_lead(sim, name)[round((beat["qrs_off_s"] + after_j_ms / 1000) * FS)])


def _t(sim, name: str, beat: dict) -> float:
    """Largest-magnitude T deflection, signed."""
    seg = _lead(sim, name)[round(beat["t_on_s"] * FS) : round(beat["t_off_s"] * FS) + 1]
    return float(seg[np.argmax(np.abs(seg))])


def _rr(sim) -> np.ndarray:
    return np.diff([b["qrs_on_s"] for b in sim.beats])


def _p_waves(sim) -> list:
    return [w for w in sim.waves if w.kind == "p"]


def test_normal_sinus_rhythm() -> None:
    sim = _sim("normal")
    assert 60 / _rr(sim).mean() == pytest.approx(72, abs=3)
    assert all(b["p_on_s"] is not None for b in sim.beats)
    assert len(_p_waves(sim)) == len(sim.beats)
    b = _dominant(sim)
    assert b["pr_ms"] == pytest.approx(160) and b["qrs_ms"] == pytest.approx(90)
    # Normal precordial progression: V1 mostly negative, V6 mostly positive.
    assert _qrs(sim, "V1", b).min() < -abs(_qrs(sim, "V1", b).max())
    assert _qrs(sim, "V6", b).max() > abs(_qrs(sim, "V6", b).min())
    assert _p_waves(sim)[2].peak_s  # P upright in II
    p = _p_waves(sim)[2]
    assert _lead(sim, "II")[round(p.peak_s["II"] * FS)] > 0.05


def test_brady_and_tachycardia() -> None:
    assert 60 / _rr(_sim("sinus_bradycardia")).mean() < 60
    assert 60 / _rr(_sim("sinus_tachycardia")).mean() > 100


def test_sinus_arrhythmia_varies_pp_by_more_than_120_ms() -> None:
    sim = _sim("sinus_arrhythmia")
    pp = np.diff([w.onset_s for w in _p_waves(sim)])
    assert (pp.max() - pp.min()) * 1000 > 120
    assert all(b["p_on_s"] is not None for b in sim.beats)


def test_atrial_fibrillation_has_no_p_irregular_rr_and_fibrillatory_baseline() -> None:
    sim = _sim("atrial_fibrillation")
    assert _p_waves(sim) == []
    rr = _rr(sim)
    assert rr.std() / rr.mean() > 0.1
    # The TQ segments are not flat: fibrillatory waves.
    v1 = _lead(sim, "V1")
    tq = [v1[round(a["t_off_s"] * FS) + 5 : round(b["qrs_on_s"] * FS) - 5]
          for a, b in zip(sim.beats, sim.beats[1:])]  # fmt: skip
    tq = np.concatenate([s for s in tq if s.size > 10])
    assert tq.std() > 0.02


def test_atrial_flutter_sawtooth_at_300_per_min_with_regular_conduction() -> None:
    sim = _sim("atrial_flutter")
    assert _p_waves(sim) == []
    rr = _rr(sim)
    assert rr.std() / rr.mean() < 0.02
    ii = _lead(sim, "II")
    b0, b1 = sim.beats[1], sim.beats[2]
    seg = ii[round(b0["t_off_s"] * FS) : round(b1["qrs_on_s"] * FS)]
    spectrum = np.abs(np.fft.rfft(seg - seg.mean(), n=8192))
    freq = np.fft.rfftfreq(8192, 1 / FS)
    assert freq[np.argmax(spectrum)] == pytest.approx(5.0, abs=0.7)


def test_first_degree_av_block() -> None:
    sim = _sim("av_block_1")
    assert all(b["pr_ms"] > 200 for b in sim.beats)
    assert len(_p_waves(sim)) == len(sim.beats)


def test_mobitz_1_pr_prolongs_then_a_p_is_blocked() -> None:
    sim = _sim("av_block_2_mobitz1")
    prs = [b["pr_ms"] for b in sim.beats]
    assert len(_p_waves(sim)) > len(sim.beats)  # non-conducted P waves
    assert max(prs) - min(prs) > 80
    # Within a group the PR lengthens; after the dropped beat it is short again.
    increases = sum(b > a for a, b in zip(prs, prs[1:]))
    assert increases >= len(prs) // 2
    assert any(w.beat is None for w in _p_waves(sim))


def test_mobitz_2_constant_pr_with_blocked_p() -> None:
    sim = _sim("av_block_2_mobitz2")
    prs = np.array([b["pr_ms"] for b in sim.beats])
    assert prs.max() - prs.min() < 1.0
    blocked = [w for w in _p_waves(sim) if w.beat is None]
    assert len(blocked) >= 2


def test_third_degree_av_block_dissociation() -> None:
    sim = _sim("av_block_3")
    p = _p_waves(sim)
    atrial_rate = 60 / np.diff([w.onset_s for w in p]).mean()
    ventricular_rate = 60 / _rr(sim).mean()
    assert atrial_rate > ventricular_rate + 20
    assert all(b["p_on_s"] is None for b in sim.beats)  # no P conducts


@pytest.mark.parametrize("pattern,cls", [("pac", "premature_supraventricular"),
                                         ("pvc", "premature_ventricular")])  # fmt: skip
def test_premature_beats_are_premature(pattern: str, cls: str) -> None:
    sim = _sim(pattern)
    rr = _rr(sim)
    for i, b in enumerate(sim.beats):
        if b["beat_class"] == cls:
            assert rr[i - 1] < 0.8 * np.median(rr)
            if cls == "premature_ventricular":
                assert b["qrs_ms"] >= 120 and b["p_on_s"] is None
            else:
                assert b["p_on_s"] is not None and b["qrs_ms"] < 120
    assert sum(b["beat_class"] == cls for b in sim.beats) >= 2


def test_rbbb_wide_qrs_with_terminal_r_prime_in_v1() -> None:
    sim = _sim("rbbb")
    b = _dominant(sim)
    assert b["qrs_ms"] >= 120
    v1 = _qrs(sim, "V1", b)
    third = len(v1) // 3
    assert v1[:third].max() > 0.05  # r
    assert v1[third : 2 * third].min() < -0.2  # S
    assert v1[2 * third :].max() > 0.3  # terminal R'
    assert v1[2 * third :].max() > v1[:third].max()  # R' > r
    assert _qrs(sim, "I", b)[2 * third :].min() < -0.2  # wide terminal S in I
    assert _t(sim, "V1", b) < 0


def test_lbbb_wide_qrs_qs_in_v1_no_septal_q_in_v6() -> None:
    sim = _sim("lbbb")
    b = _dominant(sim)
    assert b["qrs_ms"] >= 120
    v1, v6 = _qrs(sim, "V1", b), _qrs(sim, "V6", b)
    assert v1.max() < 0.15 * abs(v1.min())
    assert v6[: round(0.03 * FS)].min() > -0.02  # no septal q
    assert v6.max() > 1.0
    assert _t(sim, "V6", b) < 0 < _t(sim, "V1", b)  # discordant T


def test_lafb_left_axis_with_qr_in_avl_and_rs_in_ii() -> None:
    sim = _sim("lafb")
    b = _dominant(sim)
    axis = hexaxial_axis_deg(float(_qrs(sim, "I", b).sum()), float(_qrs(sim, "aVF", b).sum()))
    assert -90 < axis < -45
    avl, ii = _qrs(sim, "aVL", b), _qrs(sim, "II", b)
    assert avl[: len(avl) // 4].min() < -0.05 and avl.max() > 0.5  # qR
    assert ii[: len(ii) // 3].max() > 0.05 and ii.min() < -0.3  # rS
    iii = _qrs(sim, "III", b)
    assert iii.min() < ii.min()  # S in III deeper than in II
    assert b["qrs_ms"] < 120


def test_lvh_sokolow_lyon_above_35_mm() -> None:
    sim = _sim("lvh")
    b = _dominant(sim)
    sokolow = -_qrs(sim, "V1", b).min() + max(_qrs(sim, "V5", b).max(), _qrs(sim, "V6", b).max())
    assert sokolow > 3.5
    normal = _sim("normal")
    nb = _dominant(normal)
    assert -_qrs(normal, "V1", nb).min() + _qrs(normal, "V5", nb).max() < 3.5


def test_low_voltage_limb_and_precordial() -> None:
    sim = _sim("low_voltage")
    b = _dominant(sim)
    for name in ("I", "II", "III", "aVR", "aVL", "aVF"):
        assert np.ptp(_qrs(sim, name, b)) < 0.5, name
    for name in ("V1", "V2", "V3", "V4", "V5", "V6"):
        assert np.ptp(_qrs(sim, name, b)) < 1.0, name


def test_inferior_st_elevation_with_reciprocal_depression() -> None:
    sim = _sim("inferior_stemi")
    b = _dominant(sim)
    for name in ("II", "III", "aVF"):
        assert _st(sim, name, b) >= 0.1, name
    assert _st(sim, "aVL", b) <= -0.1


def test_anterior_st_elevation_with_reciprocal_depression() -> None:
    sim = _sim("anterior_stemi")
    b = _dominant(sim)
    # STEMI criteria: >= 0.2 mV in V2-V3, >= 0.1 mV in other leads.
    for name in ("V2", "V3"):
        assert _st(sim, name, b) >= 0.2, name
    assert _st(sim, "V4", b) >= 0.1
    for name in ("II", "III", "aVF"):
        assert _st(sim, name, b) <= -0.05, name


def test_st_depression_lateral_with_avr_elevation() -> None:
    sim = _sim("st_depression")
    b = _dominant(sim)
    for name in ("I", "II", "V5", "V6"):
        assert _st(sim, name, b) <= -0.1, name
    assert _st(sim, "aVR", b) >= 0.1
    assert abs(_st(_sim("normal"), "V5", _dominant(_sim("normal")))) < 0.02


def test_t_inversion() -> None:
    sim = _sim("t_inversion")
    b = _dominant(sim)
    for name in ("I", "II", "V4", "V5", "V6"):
        assert _t(sim, name, b) < -0.1, name


def test_long_qt() -> None:
    sim = _sim("long_qt")
    b = _dominant(sim)
    rr = b["rr_prev_ms"] / 1000
    assert b["qt_ms"] / np.sqrt(rr) > 480
    normal = _dominant(_sim("normal"))
    assert normal["qt_ms"] / np.sqrt(normal["rr_prev_ms"] / 1000) < 450


def test_ventricular_tachycardia_beats_are_ventricular_with_dissociated_atria() -> None:
    sim = _sim("ventricular_tachycardia")
    beats = sim.beats
    onsets = np.array([b["qrs_on_s"] for b in beats])
    assert 60.0 / np.mean(np.diff(onsets)) == pytest.approx(160.0, abs=3.0)
    # Every QRS the ventricular focus's own, none conducted from a P wave.
    assert all(b["morphology"] == "pvc" and b["p_on_s"] is None for b in beats)
    assert sim.params["pr_ms"] is None
    # The sinus node goes on at 75/min: about 12 P waves in 10 s, against 26 QRS complexes.
    assert 11 <= sim.params["n_p_waves"] <= 14
    # Each T wave ends before the next QRS (the QT of the cycle, not a premature beat's).
    for beat, following in zip(beats[:-1], beats[1:]):
        if beat["t_off_s"] is not None:
            assert beat["t_off_s"] < following["qrs_on_s"], beat["index"]
