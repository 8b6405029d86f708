"""Sources whose leads were all rescaled to one range are flagged (voltage is then meaningless)."""

from __future__ import annotations

import numpy as np

from ecgr1.io import STANDARD_LEADS, read_record
from ecgr1.io.finalize import finalize_record


def _ecg_like(n_leads: int, fs: float = 500.0) -> np.ndarray:
    t = np.arange(int(5 * fs)) / fs
    beats = np.exp(-(((t % 0.8) - 0.4) ** 2) / (2 * 0.01**2))
    gains = np.linspace(0.3, 2.0, n_leads)[:, None]
    return (gains * beats[None, :]).astype(np.float32)


def test_leads_rescaled_to_one_range_are_flagged():
    sig = _ecg_like(12)
    sig /= np.ptp(sig, axis=1, keepdims=True)  # every lead now spans exactly 1 mV
    rec = finalize_record(sig, 500.0, list(STANDARD_LEADS))
    assert rec.metadata.get("amplitude_normalised") is True
    assert any("normalised per lead" in w for w in rec.warnings)


def test_natural_amplitudes_are_not_flagged():
    rec = finalize_record(_ecg_like(12), 500.0, list(STANDARD_LEADS))
    assert not rec.metadata.get("amplitude_normalised")
    assert not any("normalised" in w for w in rec.warnings)


def test_real_cpsc_record_is_not_flagged(cpsc2018_dir):
    rec = read_record(cpsc2018_dir / "A0001.hea")
    assert not rec.metadata.get("amplitude_normalised")


def test_this_ludb_copy_is_flagged_when_its_gains_normalise_leads(ludb_dir):
    import wfdb

    raw = wfdb.rdrecord(str(ludb_dir / "data" / "1"))
    ptp = np.ptp(raw.p_signal, axis=0)
    rec = read_record(ludb_dir / "data" / "1.hea")
    # The flag follows the data, whichever LUDB copy is present.
    expected = bool(np.ptp(ptp) / np.median(ptp) < 0.002)
    assert bool(rec.metadata.get("amplitude_normalised")) is expected
