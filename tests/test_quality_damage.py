"""Damage confined to part of a lead is flagged (spikes, drop-outs, noise bursts), and one
damaged lead does not hide amplitudes normalised per lead (fuzz classes 3, 4, 5 and 9)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ecgr1
from ecgr1.io import STANDARD_LEADS, read_record
from ecgr1.io.finalize import finalize_record
from ecgr1.io.writers import write_wfdb
from ecgr1.signal.filters import preprocess
from ecgr1.signal.quality import assess_quality


def _quality(sig: np.ndarray, fs: float, leads: list[str]):
    pp = preprocess(sig, fs)
    return assess_quality(sig, pp.clean, pp.baseline, fs, leads)


@pytest.fixture(scope="module")
def clean_sim():
    rec = ecgr1.simulate("normal", seed=3).record
    return np.asarray(rec.signal, np.float64), float(rec.fs), list(rec.leads)


def test_clean_simulated_record_has_no_local_damage(clean_sim) -> None:
    sig, fs, leads = clean_sim
    q = _quality(sig, fs, leads)
    for lq in q.leads.values():
        assert not {"spikes", "dropout", "noise_burst"} & set(lq.flags)


def test_isolated_spikes_are_flagged(clean_sim) -> None:
    sig, fs, leads = clean_sim
    sig = sig.copy()
    sig[1, [1200, 2600, 4100]] += 5.0
    q = _quality(sig, fs, leads)
    assert "spikes" in q.leads[leads[1]].flags
    assert q.overall != "good"
    assert not any("spikes" in lq.flags for k, lq in q.leads.items() if k != leads[1])


def test_dropout_inside_the_record_is_flagged(clean_sim) -> None:
    sig, fs, leads = clean_sim
    sig = sig.copy()
    sig[:, 1000:2500] = 0.0
    q = _quality(sig, fs, leads)
    assert all("dropout" in lq.flags for lq in q.leads.values())
    assert q.overall != "good"


def test_short_all_lead_dropout_is_flagged(clean_sim) -> None:
    sig, fs, leads = clean_sim
    sig = sig.copy()
    sig[:, 1000:1200] = sig[:, 1000:1001]  # 0.4 s, every lead frozen
    q = _quality(sig, fs, leads)
    assert all("dropout" in lq.flags for lq in q.leads.values())


def test_noise_burst_is_flagged(clean_sim) -> None:
    sig, fs, leads = clean_sim
    sig = sig.copy()
    sig[1, 1000:2500] += np.random.default_rng(0).normal(0, 1.0, 1500)
    q = _quality(sig, fs, leads)
    assert "noise_burst" in q.leads[leads[1]].flags
    assert q.overall != "good"


@pytest.mark.parametrize("name", ["A0001", "A0002"])
def test_real_clean_records_stay_unflagged(shared_data: Path, name: str) -> None:
    path = shared_data / "cpsc2018" / name
    if not path.with_suffix(".hea").exists():
        pytest.skip("CPSC 2018 not available")
    rec = read_record(path)
    sig = np.asarray(rec.signal, np.float64)
    q = _quality(sig, float(rec.fs), list(rec.leads))
    for lq in q.leads.values():
        assert not {"spikes", "dropout", "noise_burst"} & set(lq.flags)


def test_real_record_noise_burst_flagged_in_measurement(shared_data: Path) -> None:
    path = shared_data / "cpsc2018" / "A0002"
    if not path.with_suffix(".hea").exists():
        pytest.skip("CPSC 2018 not available")
    rec = read_record(path)
    rec.signal[1, 1000:2500] += np.random.default_rng(0).normal(0, 1.0, 1500)
    m = ecgr1.measure(rec)
    assert "noise_burst" in m.quality.leads["II"].flags
    assert m.quality.reasons


def test_one_damaged_lead_keeps_normalised_warning(tmp_path: Path) -> None:
    t = np.arange(5000) / 500.0
    beats = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.01**2))
    sig = np.vstack([g * beats for g in np.linspace(0.3, 2.0, 12)])
    sig /= np.ptp(sig, axis=1, keepdims=True)
    sig[3, 2500] += 2.0
    rec = finalize_record(sig.astype(np.float32), 500.0, list(STANDARD_LEADS))
    assert rec.metadata.get("amplitude_normalised") is True
    warn = next(w for w in rec.warnings if "appear normalised" in w)
    assert "11 of 12" in warn and "aVR" in warn


def test_ludb_record_with_damaged_lead_keeps_normalised_warning(
    shared_data: Path, tmp_path: Path
) -> None:
    path = shared_data / "ludb" / "data" / "115"
    if not path.with_suffix(".hea").exists():
        pytest.skip("LUDB not available")
    rec = read_record(path)
    assert any("appear normalised" in w for w in rec.warnings)
    rec.signal[3, 2500] += 2.0
    back = read_record(write_wfdb(rec, tmp_path, "r115").with_suffix(""))
    assert back.metadata.get("amplitude_normalised") is True
    assert any("appear normalised" in w for w in back.warnings)


def test_unequal_leads_are_not_called_normalised() -> None:
    t = np.arange(5000) / 500.0
    beats = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.01**2))
    sig = np.vstack([g * beats for g in np.linspace(0.3, 2.0, 12)])
    sig[:8] /= np.ptp(sig[:8], axis=1, keepdims=True)  # only 8 of 12 (67%) share a range
    rec = finalize_record(sig.astype(np.float32), 500.0, list(STANDARD_LEADS))
    assert not rec.metadata.get("amplitude_normalised")


# --------------------------------------------------------------------------------------------
# Fuzz classes 10-14 (benchmarks/fuzz.py, seed 0): noise at 100 Hz, short bursts, one-sample
# bit errors, filler bytes over every lead, and baseline drift the filter cannot remove.

LOCAL_FLAGS = {"spikes", "glitches", "dropout", "noise_burst", "baseline_wander_severe"}


def _real(shared_data: Path, rel: str):
    path = shared_data / rel
    if not path.with_suffix(".hea").exists():
        pytest.skip(f"{rel} not available")
    rec = read_record(path)
    return np.asarray(rec.signal, np.float64).copy(), float(rec.fs), list(rec.leads)


def _flags(q) -> dict[str, list[str]]:
    return {name: list(lq.flags) for name, lq in q.leads.items()}


def test_noise_is_measured_at_100_hz(shared_data: Path) -> None:
    sig, fs, leads = _real(shared_data, "extra/ptbxl/records100/15000/15413_lr")
    assert fs == 100.0
    clean = _quality(sig, fs, leads)
    assert all(0 < lq.noise_rms_mv < 0.05 for lq in clean.leads.values())
    sig[:, 300:900] += np.random.default_rng(5).normal(0, 0.2, (sig.shape[0], 600))
    q = _quality(sig, fs, leads)
    assert all("noise" in lq.flags for lq in q.leads.values())
    assert q.overall != "good"


def test_mains_aliased_at_100_hz_is_noise(shared_data: Path) -> None:
    sig, fs, leads = _real(shared_data, "extra/ptbxl/records100/08000/08257_lr")
    t = np.arange(sig.shape[1]) / fs
    sig += 0.3 * np.sin(2 * np.pi * 60.0 * t)  # 60 Hz sampled at 100 Hz: 40 Hz
    q = _quality(sig, fs, leads)
    assert all("noise" in lq.flags for lq in q.leads.values())


def test_short_burst_in_every_lead_is_flagged(shared_data: Path) -> None:
    sig, fs, leads = _real(shared_data, "cpsc2018/A0031")
    assert not {"spikes"} & {f for fl in _flags(_quality(sig, fs, leads)).values() for f in fl}
    sig[:, 2246:2257] += 32.0  # 22 ms: wider than the 20 ms spike median
    q = _quality(sig, fs, leads)
    assert all("spikes" in lq.flags for lq in q.leads.values())
    assert "short burst" in " ".join(q.leads["II"].reasons)


def test_one_sample_bit_errors_are_glitches_in_their_lead_only(shared_data: Path) -> None:
    sig, fs, leads = _real(shared_data, "ludb/data/85")
    before = _flags(_quality(sig, fs, leads))
    sig[2, [252, 1560, 2221, 3945]] += np.array([0.37, -0.29, 0.33, 0.2])  # lead III only
    q = _quality(sig, fs, leads)
    assert "glitches" in q.leads["III"].flags
    assert "4 one-sample jump(s)" in " ".join(q.leads["III"].reasons)
    assert {k: v for k, v in _flags(q).items() if k != "III"} == {
        k: v for k, v in before.items() if k != "III"
    }


def test_jump_at_one_instant_in_every_lead_is_not_a_glitch(shared_data: Path) -> None:
    # A stimulus or a common-mode artefact shows in every lead at once: not a bit error.
    sig, fs, leads = _real(shared_data, "ludb/data/85")
    sig[:, 1560] += 0.3
    q = _quality(sig, fs, leads)
    assert not any("glitches" in lq.flags for lq in q.leads.values())


def test_filler_bytes_over_every_lead_are_a_dropout(shared_data: Path) -> None:
    sig, fs, leads = _real(shared_data, "cpsc2018/A0002")
    sig[:, 2275:2325] = -0.001  # 0xFF bytes: digital -1 in every signal, 100 ms
    q = _quality(sig, fs, leads)
    assert all("dropout" in lq.flags for lq in q.leads.values())
    assert "filler or corrupt data" in " ".join(q.leads["V2"].reasons)


def test_short_frozen_stretch_left_and_rejoined_is_a_dropout(shared_data: Path) -> None:
    # Five samples of filler: each lead frozen at its own level (gains and baselines differ),
    # V1 leaving its waveform by 0.2 mV and coming back.
    sig, fs, leads = _real(shared_data, "ludb/data/83")
    sig[:, 671:676] = sig[:, 671:672] * 0.0 + np.linspace(-0.02, 0.02, sig.shape[0])[:, None]
    q = _quality(sig, fs, leads)
    assert all("dropout" in lq.flags for lq in q.leads.values())


@pytest.mark.parametrize("rel", ["ludb/data/103", "ludb/data/41"])
def test_held_stretches_of_real_records_are_not_filler(shared_data: Path, rel: str) -> None:
    # LUDB stores some stretches as held steps (every lead constant together for up to 140 ms,
    # then a step to a new level): a property of the recording, not damage.
    sig, fs, leads = _real(shared_data, rel)
    q = _quality(sig, fs, leads)
    assert not any({"dropout", "glitches"} & set(lq.flags) for lq in q.leads.values())


def test_drift_the_filter_cannot_remove_is_severe(shared_data: Path) -> None:
    sig, fs, leads = _real(shared_data, "extra/ptbxl/records100/03000/03403_lr")
    k = leads.index("V2")
    clean = _quality(sig, fs, leads)
    assert "baseline_wander" in clean.leads["V2"].flags  # already wandering, as recorded
    assert not any("baseline_wander_severe" in lq.flags for lq in clean.leads.values())
    sig[k] += 30.0 * np.sin(2 * np.pi * 0.3 * np.arange(sig.shape[1]) / fs)
    q = _quality(sig, fs, leads)
    assert "baseline_wander_severe" in q.leads["V2"].flags
    assert "remains after the filter" in " ".join(q.leads["V2"].reasons)


@pytest.mark.parametrize(
    "rel",
    [
        "cpsc2018/A0061",  # 9 mV of real wander: flagged as wander, not severe
        "cpsc2018/A0043",
        "extra/ptbxl/records100/00000/00005_lr",
        "extra/ptbxl/records500/00000/00021_hr",
        "qtdb/sel808",  # slew-limited R peaks with a one-sample notch
        "qtdb/sel883",
    ],
)
def test_real_records_gain_no_new_damage_flags(shared_data: Path, rel: str) -> None:
    sig, fs, leads = _real(shared_data, rel)
    q = _quality(sig[:, : int(60 * fs)], fs, leads)
    assert not any(
        {"glitches", "baseline_wander_severe"} & set(lq.flags) for lq in q.leads.values()
    )
    assert not any("filler" in r for lq in q.leads.values() for r in lq.reasons)
