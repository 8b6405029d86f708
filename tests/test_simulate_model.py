"""Simulator: lead relations, exact truth, axis, reproducibility, WFDB output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ecgr1.simulate import PATTERNS, simulate
from ecgr1.simulate.dipole import INVERSE_DOWER, frontal_to_frank, hexaxial_axis_deg, project
from ecgr1.simulate.output import write_simulation

UV = 1e-3  # 1 microvolt in mV


def _relations(sig: np.ndarray, leads: list[str]) -> dict[str, np.ndarray]:
    g = {name: sig[leads.index(name)].astype(np.float64) for name in leads}
    return {
        "III": g["III"] - (g["II"] - g["I"]),
        "aVR": g["aVR"] + (g["I"] + g["II"]) / 2,
        "aVL": g["aVL"] - (g["I"] - g["II"] / 2),
        "aVF": g["aVF"] - (g["II"] - g["I"] / 2),
    }


@pytest.mark.parametrize("pattern", ["normal", "atrial_fibrillation", "lbbb", "pvc"])
@pytest.mark.parametrize("noise", ["", "all"])
def test_limb_lead_relations_hold_within_1uv(pattern: str, noise: str) -> None:
    rec = simulate(pattern, seconds=6, seed=3, noise=noise).record
    for name, residual in _relations(rec.signal, rec.leads).items():
        assert np.max(np.abs(residual)) < UV, name


def test_wfdb_record_keeps_relations_and_values(tmp_path) -> None:
    import wfdb

    sim = simulate("inferior_stemi", seconds=5, seed=2, noise="all")
    write_simulation(sim, tmp_path)
    stored = wfdb.rdrecord(str(tmp_path / sim.record.record_id))
    sig = stored.p_signal.T
    for name, residual in _relations(sig, list(stored.sig_name)).items():
        assert np.max(np.abs(residual)) < UV, name
    assert np.max(np.abs(sig - sim.record.signal)) <= 1.0 * UV + 1e-9
    truth = json.loads((tmp_path / f"{sim.record.record_id}.json").read_text())
    assert truth["params"]["pattern"] == "inferior_stemi"
    assert len(truth["beats"]) == len(sim.beats)


def test_clean_signal_is_zero_exactly_outside_waves_and_alive_inside() -> None:
    sim = simulate("normal", seconds=6, seed=0)
    fs = sim.record.fs
    covered = np.zeros(sim.clean.shape[1], bool)
    for w in sim.waves:
        a, b = int(np.ceil(w.onset_s * fs)), int(np.floor(w.offset_s * fs))
        covered[max(a, 0) : b + 1] = True
        if not w.complete:
            continue
        energy = np.abs(sim.clean[:, a : b + 1]).max(axis=0)
        # Non-zero right after onset and right before offset (sharp but smooth boundaries).
        assert energy[1] > 0 and energy[-2] > 0
    assert np.all(sim.clean[:, ~covered] == 0.0)


def test_annotations_match_generated_waves(tmp_path) -> None:
    import wfdb

    sim = simulate("normal", seconds=6, seed=1)
    write_simulation(sim, tmp_path)
    fs = sim.record.fs
    complete = sorted((w for w in sim.waves if w.complete), key=lambda w: w.onset_s)
    for k, lead in enumerate(sim.record.leads):
        ann = wfdb.rdann(str(tmp_path / sim.record.record_id), lead.lower())
        sym, samp = list(ann.symbol), np.asarray(ann.sample)
        assert len(sym) == 3 * len(complete)
        for j, w in enumerate(complete):
            on, peak, off = samp[3 * j : 3 * j + 3]
            assert sym[3 * j] == "(" and sym[3 * j + 2] == ")"
            assert sym[3 * j + 1] == {"p": "p", "qrs": "N", "t": "t"}[w.kind]
            assert on == round(w.onset_s * fs) and off == round(w.offset_s * fs)
            seg = np.abs(sim.clean[k, on : off + 1])
            assert seg[peak - on] == pytest.approx(seg.max(), rel=1e-9, abs=1e-12)


def test_true_lead_fiducials_follow_measurement_result_shape() -> None:
    sim = simulate("av_block_2_mobitz2", seconds=8, seed=0)
    fid = sim.lead_fiducials()
    assert set(fid) == set(sim.record.leads)
    n = len(sim.beats)
    assert all(len(v) == n for v in fid["V2"].values())
    for i, beat in enumerate(sim.beats):
        if beat["complete"]:
            assert fid["II"]["qrs_on"][i] == round(beat["qrs_on_s"] * sim.record.fs)


@pytest.mark.parametrize("axis", [-30.0, 60.0, 100.0])
def test_requested_frontal_axis_is_the_net_qrs_axis(axis: float) -> None:
    sim = simulate("normal", seconds=4, seed=0, axis_deg=axis)
    rec = sim.record
    net_i = net_avf = 0.0
    for b in sim.beats:
        a, e = int(round(b["qrs_on_s"] * rec.fs)), int(round(b["qrs_off_s"] * rec.fs))
        net_i += float(sim.clean[0, a : e + 1].sum())
        net_avf += float(sim.clean[5, a : e + 1].sum())
    assert hexaxial_axis_deg(net_i, net_avf) == pytest.approx(axis, abs=1.0)


def test_frontal_lobe_shows_its_design_amplitude_in_i_and_ii() -> None:
    xyz = frontal_to_frank(-45.0, 0.8, 0.3)
    lead_i, lead_ii = project(xyz[None, :])[0, :2]
    assert lead_i == pytest.approx(0.8 * np.cos(np.deg2rad(-45.0)))
    assert lead_ii == pytest.approx(0.8 * np.cos(np.deg2rad(-105.0)))


def test_inverse_dower_recovers_the_dipole_approximately() -> None:
    # Dower and inverse Dower are published separately (not exact inverses); the round trip
    # should still return the dipole's direction closely.
    xyz = np.array([[1.0, 0.6, 0.4]])
    eight = project(xyz)[0]  # I, II, V1..V6
    ordered = np.concatenate([eight[2:], eight[:2]])  # V1..V6, I, II
    back = INVERSE_DOWER @ ordered
    cos = back @ xyz[0] / (np.linalg.norm(back) * np.linalg.norm(xyz[0]))
    assert cos > 0.97


def test_same_seed_same_record_other_seed_other_noise() -> None:
    a = simulate("atrial_fibrillation", seconds=5, seed=7, noise="all").record.signal
    b = simulate("atrial_fibrillation", seconds=5, seed=7, noise="all").record.signal
    c = simulate("atrial_fibrillation", seconds=5, seed=8, noise="all").record.signal
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


def test_intervals_follow_parameters() -> None:
    sim = simulate("normal", seconds=10, seed=0, hr=60, pr_ms=180, qrs_ms=100, qt_ms=400)
    beats = [b for b in sim.beats if b["complete"]]
    assert all(b["pr_ms"] == pytest.approx(180, abs=0.01) for b in beats)
    assert all(b["qrs_ms"] == pytest.approx(100, abs=0.01) for b in beats)
    assert np.mean([b["qt_ms"] for b in beats]) == pytest.approx(400, abs=10)
    rr = np.diff([b["qrs_on_s"] for b in beats])
    assert 60 / rr.mean() == pytest.approx(60, abs=2)


def test_every_pattern_simulates_with_sane_amplitudes() -> None:
    for name in PATTERNS:
        rec = simulate(name, seconds=4, seed=0).record
        assert rec.n_leads == 12 and rec.fs == 500
        assert 0.2 < np.abs(rec.signal).max() < 6.0, name


def test_unknown_pattern_and_noise_are_rejected() -> None:
    from ecgr1.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        simulate("nonsense")
    with pytest.raises(InvalidInputError):
        simulate("normal", noise="thunder")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"fs": 10}, "fs 10 Hz is outside"),
        ({"seconds": 0}, "seconds 0 s is outside"),
        ({"qrs_ms": 400}, "qrs_ms 400 ms is outside"),
        ({"pr_ms": 50}, "pr_ms 50 ms is outside"),
        ({"qt_ms": 5000}, "qt_ms 5000 ms is outside"),
        ({"hr": 120, "qt_ms": 520}, "does not fit the 500 ms cycle"),
        ({"qrs_ms": 200, "qt_ms": 250}, "leaves no room for a T wave"),
        ({"powerline_hz": 300, "noise": "powerline"}, "powerline_hz 300"),
    ],
)
def test_unphysiological_parameters_are_refused(kwargs: dict, message: str) -> None:
    from ecgr1.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=message):
        simulate("normal", **kwargs)


def test_lowest_accepted_rate_simulates_without_mains_noise() -> None:
    rec = simulate("normal", seconds=2, fs=100).record  # 50 Hz mains not asked for: no clash
    assert rec.fs == 100 and rec.n_samples == 200


def test_fastest_accepted_rate_keeps_each_t_wave_before_the_next_qrs() -> None:
    sim = simulate("sinus_tachycardia", seconds=5, seed=0, hr=200)
    for a, b in zip(sim.beats, sim.beats[1:]):
        assert a["t_off_s"] < b["qrs_on_s"]


@pytest.mark.parametrize("pattern", ["rbbb", "av_block_2_mobitz1"])
def test_written_record_carries_its_statements_as_labels(tmp_path, pattern: str) -> None:
    from ecgr1.io import read_record

    sim = simulate(pattern, seconds=3, seed=0)
    paths = write_simulation(sim, tmp_path)
    back = read_record(paths["header"])
    assert back.metadata["labels"] == sim.params["labels"]  # commas in a label survive too
