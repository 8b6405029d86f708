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
