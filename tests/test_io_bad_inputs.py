"""Bad and unusual inputs: each yields the documented error or warning (docs/io.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ecgr1.errors import InvalidInputError, MissingFileError, UnsupportedFormatError
from ecgr1.io import STANDARD_LEADS, read_record
from ecgr1.io.finalize import QUALITY_LIMITS


def _write(
    folder: Path,
    name: str,
    digital: np.ndarray,
    leads: list[str],
    *,
    gain: str = "200",
    fs: str = "500",
    n_header: int | None = None,
    units: str = "mV",
    dat_bytes: bytes | None = None,
    comments: tuple[str, ...] = (),
) -> Path:
    """A format-16 WFDB record written by hand (so headers can be made wrong on purpose)."""
    n_sig, n = digital.shape
    lines = [f"{name} {n_sig} {fs} {n if n_header is None else n_header}"]
    lines += [
        f"{name}.dat 16 {gain}/{units} 16 0 {int(row[0])} {int(row.sum())} 0 {lead}"
        for lead, row in zip(leads, digital.astype(np.int64))
    ]
    lines += [f"#{c}" for c in comments]
    (folder / f"{name}.hea").write_text("\n".join(lines) + "\n")
    raw = digital.T.astype("<i2").tobytes()
    (folder / f"{name}.dat").write_bytes(raw if dat_bytes is None else dat_bytes)
    return folder / f"{name}.hea"


def _wave(n_sig: int, n: int = 1000) -> np.ndarray:
    t = np.arange(n)
    return np.stack([np.round(200 * np.sin(2 * np.pi * t / (250 + 10 * k))) for k in range(n_sig)])


def test_truncated_dat(tmp_path: Path) -> None:
    d = _wave(2)
    raw = d.T.astype("<i2").tobytes()
    hea = _write(tmp_path, "trunc", d, ["I", "II"], dat_bytes=raw[: len(raw) // 2])
    with pytest.raises(
        InvalidInputError, match="holds 500 samples per signal but the header declares 1000"
    ):
        read_record(hea)


def test_header_pointing_to_missing_file(tmp_path: Path) -> None:
    hea = _write(tmp_path, "gone", _wave(1), ["II"])
    (tmp_path / "gone.dat").unlink()
    with pytest.raises(MissingFileError, match="'gone.dat', which does not exist") as info:
        read_record(hea)
    assert info.value.path == str(hea)


def test_header_with_wrong_sample_count(tmp_path: Path) -> None:
    hea = _write(tmp_path, "more", _wave(2), ["I", "II"], n_header=1200)
    with pytest.raises(InvalidInputError, match="wrong sample count"):
        read_record(hea)
    hea = _write(tmp_path, "fewer", _wave(2), ["I", "II"], n_header=800)
    rec = read_record(hea)
    assert rec.n_samples == 800
    assert any("holds 1000 samples per signal, the header declares 800" in w for w in rec.warnings)


def test_non_numeric_gain(tmp_path: Path) -> None:
    hea = _write(tmp_path, "gain", _wave(1), ["II"], gain="abc")
    with pytest.raises(InvalidInputError, match="non-numeric ADC gain 'abc'"):
        read_record(hea)


@pytest.mark.parametrize("name", ["empty.hea", "empty.npy", "empty.mat", "empty.hdf5", "empty"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(InvalidInputError, match="empty file"):
        read_record(tmp_path / name)


def test_empty_dat_and_missing_record(tmp_path: Path) -> None:
    hea = _write(tmp_path, "e", _wave(1), ["II"], dat_bytes=b"")
    with pytest.raises(InvalidInputError, match="'e.dat' is empty"):
        read_record(hea)
    with pytest.raises(MissingFileError, match="no such file or record"):
        read_record(tmp_path / "nothing_here")


def test_nan_runs_are_interpolated_or_zeroed(tmp_path: Path) -> None:
    d = _wave(2)
    d[0, 100:120] = -32768  # WFDB "no data" value for format 16
    d[0, 500:505] = -32768
    hea = _write(tmp_path, "gaps", d, ["I", "II"])
    rec = read_record(hea)
    lead = rec.lead("I")
    assert np.isfinite(rec.signal).all()
    expected = np.interp(np.arange(100, 120), [99, 120], [d[0, 99] / 200, d[0, 120] / 200])
    np.testing.assert_allclose(lead[100:120], expected, atol=1e-6)
    assert (
        "lead I: 25 non-finite (NaN/inf) samples in 2 run(s) linearly interpolated" in rec.warnings
    )
    zero = read_record(hea, nan_policy="zero")
    assert (zero.lead("I")[100:120] == 0).all()
    assert any("set to 0 mV" in w for w in zero.warnings)


def test_nan_in_arrays(tmp_path: Path) -> None:
    sig = np.sin(np.arange(1000) / 20.0)[None, :].repeat(2, 0)
    sig[1, :] = np.nan  # a lead with no finite sample at all becomes 0
    sig[0, 0:3] = np.inf
    f = tmp_path / "n.npy"
    np.save(f, sig)
    rec = read_record(f, fs=500, leads="V1,V2", units="mV")
    assert np.isfinite(rec.signal).all() and not rec.lead("V2").any()
    assert rec.lead("V1")[0] == pytest.approx(sig[0, 3], abs=1e-6)  # edge run takes nearest value
    assert any("lead V2: 1000 non-finite" in w and "set to 0 mV" in w for w in rec.warnings)
    assert any("lead V2 is flat" in w for w in rec.warnings)


def test_flat_lead_warning(tmp_path: Path) -> None:
    d = _wave(3)
    d[2] = 7  # constant: a disconnected electrode
    hea = _write(tmp_path, "flat", d, ["I", "II", "V1"])
    rec = read_record(hea)
    assert "lead V1 is flat (peak-to-peak 0.0000 mV)" in rec.warnings
    assert QUALITY_LIMITS["flat_lead_ptp_mv"] > 0
    assert not any("lead I is flat" in w for w in rec.warnings)


def test_one_lead_record(tmp_path: Path) -> None:
    rec = read_record(_write(tmp_path, "one", _wave(1), ["II"]))
    assert rec.leads == ["II"] and rec.n_leads == 1 and rec.warnings == []
    rec = read_record(_write(tmp_path, "one_v", _wave(1), ["V"]))
    assert rec.leads == ["V"]
    assert "non-standard lead name(s) kept as given: V" in rec.warnings


def test_fifteen_lead_record_with_frank_leads(tmp_path: Path) -> None:
    leads = [x.lower() for x in STANDARD_LEADS] + ["vx", "vy", "vz"]
    rec = read_record(_write(tmp_path, "s0010", _wave(15), leads, units="uV", gain="2"))
    assert rec.leads == list(STANDARD_LEADS) + ["vx", "vy", "vz"]
    assert "non-standard lead name(s) kept as given: vx, vy, vz" in rec.warnings
    # 2 adu/uV: a 200-adu sample is 100 uV = 0.1 mV.
    assert rec.signal.max() == pytest.approx(0.1, abs=1e-6)
    assert rec.metadata["source_units"] == ["uV"]


def test_unknown_and_duplicate_lead_names(tmp_path: Path) -> None:
    rec = read_record(_write(tmp_path, "odd", _wave(3), ["I", "CM5", "CM5"]))
    assert rec.leads == ["I", "CM5", "CM5#2"]
    assert "duplicate lead name 'CM5'; second one renamed 'CM5#2'" in rec.warnings
    assert any("kept as given: CM5, CM5#2" in w for w in rec.warnings)


def test_inverted_avr_and_derivation_from_i_iii(tmp_path: Path) -> None:
    d = _wave(3)
    rec = read_record(_write(tmp_path, "inv", d, ["I", "III", "-aVR"]))
    lead_i, lead_iii = d[0] / 200, d[1] / 200
    np.testing.assert_allclose(rec.lead("II"), lead_i + lead_iii, atol=1e-6)
    np.testing.assert_allclose(rec.lead("aVR"), -d[2] / 200, atol=1e-6)  # the given -aVR, inverted
    assert rec.metadata["derived_leads"] == ["II", "aVL", "aVF"]
    assert "lead -aVR inverted and stored as aVR" in rec.warnings


def test_microvolts_and_volts_become_millivolts(tmp_path: Path) -> None:
    uv = read_record(_write(tmp_path, "uv", _wave(1), ["II"], units="uV", gain="1"))
    v = read_record(_write(tmp_path, "v", _wave(1), ["II"], units="V", gain="1000000"))
    mv = read_record(_write(tmp_path, "mv", _wave(1), ["II"], units="mV", gain="1000"))
    np.testing.assert_allclose(uv.signal, mv.signal, atol=1e-7)
    np.testing.assert_allclose(v.signal, mv.signal, atol=1e-7)
    assert uv.units == v.units == "mV"
    odd = read_record(_write(tmp_path, "adu", _wave(1), ["II"], units="bpm"))
    assert any("unit 'bpm' is not a voltage unit" in w for w in odd.warnings)


def test_microvolts_mislabelled_as_millivolts_are_flagged(tmp_path: Path) -> None:
    rec = read_record(_write(tmp_path, "big", _wave(2) * 100, ["I", "II"], gain="1"))
    assert any("check the units" in w for w in rec.warnings)


@pytest.mark.parametrize(
    "name", ["junk.bin", "junk.dat", "junk.hea", "junk.mat", "junk.hdf5", "junk"]
)
def test_non_ecg_binary_junk(tmp_path: Path, name: str) -> None:
    junk = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (tmp_path / name).write_bytes(b"\x00" + junk)
    with pytest.raises((UnsupportedFormatError, MissingFileError)) as info:
        read_record(tmp_path / name)
    message = str(info.value)
    assert str(tmp_path / name) in message
    if name == "junk.dat":
        assert "without its .hea header" in message
    elif name != "junk.hea":
        assert isinstance(info.value, UnsupportedFormatError)


def test_text_junk_header(tmp_path: Path) -> None:
    (tmp_path / "note.hea").write_text("this is not a header\n")
    with pytest.raises(InvalidInputError, match="non-numeric number of signals 'is'"):
        read_record(tmp_path / "note.hea")


def test_fs_option_never_overrides_a_header(tmp_path: Path) -> None:
    rec = read_record(_write(tmp_path, "r", _wave(1), ["II"]), fs=250)
    assert rec.fs == 500.0
    assert any("fs=250 ignored" in w for w in rec.warnings)
    with pytest.raises(TypeError, match="unknown read_record option"):
        read_record(tmp_path / "r.hea", sampling_rate=250)


def test_leads_mapped_by_assumption_are_warned(tmp_path: Path) -> None:
    rec = read_record(_write(tmp_path, "d", _wave(3), ["D1", "D2", "D3"]))
    assert rec.leads[:3] == ["I", "II", "III"]
    assert rec.metadata["derived_leads"] == ["aVR", "aVL", "aVF"]
    assumed = [w for w in rec.warnings if "mapped by assumption" in w]
    assert len(assumed) == 1 and all(f"D{k} -> " in assumed[0] for k in (1, 2, 3))
    rec = read_record(_write(tmp_path, "m", _wave(2), ["MLII", "V5"]))
    assert rec.leads == ["II", "V5"]
    assert rec.warnings == [
        "lead name(s) mapped by assumption: MLII -> II (a modified limb lead on torso "
        "electrodes, as in Holter or Mason-Likar recordings)"
    ]
    rec = read_record(_write(tmp_path, "latin", _wave(2), ["DI", "DII"]))
    assert not any("assumption" in w for w in rec.warnings)  # DI-DIII: the standard's names


def test_numbered_lead_names_need_an_explicit_lead_map(tmp_path: Path) -> None:
    names = [f"lead_{k}" for k in range(1, 13)]
    hea = _write(tmp_path, "num", _wave(12), names)
    kept = read_record(hea)
    assert kept.leads == names
    assert [w for w in kept.warnings if "numbered" in w or "non-standard" in w] == [
        f"numbered lead name(s) kept as given: {', '.join(names)}; if they number the standard "
        "leads in the order I, II, III, aVR, aVL, aVF, V1-V6, read with "
        "lead_map='standard-order' (CLI: --lead-map standard-order)"
    ]
    mapped = read_record(hea, lead_map="standard-order")
    assert mapped.leads == list(STANDARD_LEADS)
    np.testing.assert_array_equal(mapped.signal, kept.signal)
    assert any("mapped to the standard order" in w for w in mapped.warnings)
    with pytest.raises(ValueError, match="lead_map must be one of"):
        read_record(hea, lead_map="guess")


def test_lead_map_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from ecgr1.cli import main

    hea = _write(tmp_path, "num", _wave(12), [f"lead_{k}" for k in range(1, 13)])
    assert main(["info", "--json", "--lead-map", "standard-order", str(hea)]) == 0
    assert json.loads(capsys.readouterr().out)["leads"] == list(STANDARD_LEADS)
    assert main(["info", "--json", str(hea)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["leads"][0] == "lead_1"
    assert any("--lead-map standard-order" in w for w in out["warnings"])


def test_lead_map_applies_to_arrays(tmp_path: Path) -> None:
    numbered = ",".join(f"lead_{k}" for k in range(1, 13))
    np.save(tmp_path / "a.npy", _wave(12).astype(float) / 200)
    rec = read_record(tmp_path / "a.npy", fs=500, leads=numbered, lead_map="standard-order")
    assert rec.leads == list(STANDARD_LEADS)
    assert any("mapped to the standard order" in w for w in rec.warnings)
    kept = read_record(tmp_path / "a.npy", fs=500, leads=numbered)
    assert kept.leads[0] == "lead_1"
    assert any("--lead-map standard-order" in w for w in kept.warnings)
    from ecgr1.io.readers import as_record

    rec = as_record(_wave(12) / 200.0, fs=500, leads=numbered.split(","), lead_map="standard-order")
    assert rec.leads == list(STANDARD_LEADS)
    assert not any("ignored" in w for w in rec.warnings)


def test_lead_map_applies_to_csv_header_names(tmp_path: Path) -> None:
    x = _wave(12).astype(float) / 200
    header = ",".join(f"lead_{k}" for k in range(1, 13))
    np.savetxt(tmp_path / "a.csv", x.T, delimiter=",", header=header, comments="")
    rec = read_record(tmp_path / "a.csv", fs=500, lead_map="standard-order")
    assert rec.leads == list(STANDARD_LEADS)


@pytest.mark.parametrize("beyond", [1e39, -1e39, np.inf, -np.inf])
def test_samples_beyond_float32_are_clipped_whatever_else_the_record_holds(beyond) -> None:
    # The quick range check must not let a sample beyond float32 through: not next to a NaN
    # (which fails every comparison), not as an infinity, not in the last lead.
    from ecgr1.io.finalize import FLOAT32_MAX_MV, clip_to_float32

    sig = np.zeros((3, 50))
    sig[0, 5] = np.nan
    sig[2, 40] = beyond
    warnings = clip_to_float32(sig, ["I", "II", "V1"])
    assert warnings == [
        f"lead V1: 1 sample(s) beyond the float32 range (±{FLOAT32_MAX_MV:.2g} mV) clipped"
    ]
    assert sig[2, 40] == np.copysign(FLOAT32_MAX_MV, beyond)
    assert np.isnan(sig[0, 5])
    clean = np.zeros((2, 30))
    clean[1, 7] = beyond
    assert len(clip_to_float32(clean, ["I", "II"])) == 1
    assert clean[1, 7] == np.copysign(FLOAT32_MAX_MV, beyond)
    within = np.full((2, 4), FLOAT32_MAX_MV)
    within[1] *= -1
    assert clip_to_float32(within, ["I", "II"]) == [] and np.all(np.abs(within) == FLOAT32_MAX_MV)
    assert clip_to_float32(np.zeros((2, 0)), ["I", "II"]) == []
