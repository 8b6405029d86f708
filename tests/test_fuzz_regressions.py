"""Regression tests for the failure classes found by the fuzzing harness (benchmarks/fuzz.py)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from ecgr1.errors import InvalidInputError, MeasurementError
from ecgr1.io.arrays import array_record, read_array
from ecgr1.io.finalize import finalize_record
from ecgr1.io.header import metadata_from_comments, parse_age, parse_sex
from ecgr1.io.wfdb_reader import _digital_sums, read_wfdb
from ecgr1.measure.engine import MIN_MEASURE_FS, measure
from ecgr1.paths import shared_data_dir

CPSC = shared_data_dir() / "cpsc2018" / "A0011"
needs_cpsc = pytest.mark.skipif(
    not CPSC.with_suffix(".hea").is_file(), reason="CPSC 2018 sample not available"
)


def _beats(fs: float, seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(seconds * fs)) / fs
    x = np.zeros((1, t.size))
    for r in np.arange(0.5, seconds, 1.0):
        x[0] += np.exp(-(((t - r) / 0.012) ** 2)) + 0.2 * np.exp(-(((t - r - 0.3) / 0.05) ** 2))
    return x


# 1. Sampling rate floor.
@pytest.mark.parametrize("fs", [1.0, 10.0, 49.0, 99.0])
def test_measure_refuses_rates_below_the_floor(fs: float) -> None:
    with pytest.raises(MeasurementError, match="sampling rate .* below the 100 Hz"):
        measure(_beats(fs), fs=fs, leads=["II"])


def test_measure_still_measures_at_the_floor() -> None:
    assert MIN_MEASURE_FS == 100.0
    res = measure(_beats(100.0), fs=100.0, leads=["II"])
    assert round(res.global_.heart_rate_bpm) == 60


@needs_cpsc
@pytest.mark.parametrize("fs", [1.0, 49.0])
def test_interpret_record_at_a_wrong_low_rate_is_unusable(fs: float) -> None:
    from ecgr1 import interpret_record, read_record

    rec = read_record(str(CPSC) + ".hea")
    rec.fs = fs
    out = interpret_record(rec)
    assert out.measurements.quality.overall == "unusable"
    assert "below the 100 Hz" in " ".join(out.measurements.warnings)


# 2. Units that are not unit names.
def test_units_that_are_not_names_are_an_input_error() -> None:
    with pytest.raises(InvalidInputError, match="units .* got 5"):
        array_record(np.zeros((12, 5000)), fs=500, units=5)
    with pytest.raises(InvalidInputError, match="got 5"):
        finalize_record(np.zeros((2, 10)), 500, ["I", "II"], units=["mV", 5])


def test_npy_sidecar_with_numeric_units(tmp_path: Path) -> None:
    np.save(tmp_path / "r.npy", np.zeros((12, 5000)))
    (tmp_path / "r.json").write_text('{"fs": 500, "units": 5}')
    with pytest.raises(InvalidInputError, match="got 5"):
        read_array(tmp_path / "r.npy")


# 6. Negative ADC gain.
@needs_cpsc
def test_negative_gain_warns_naming_the_leads(tmp_path: Path) -> None:
    for ext in (".hea", ".mat"):
        shutil.copy(CPSC.with_suffix(ext), tmp_path / f"A0011{ext}")
    hea = tmp_path / "A0011.hea"
    lines = hea.read_text().splitlines()
    lines[1] = lines[1].replace(" 1000/mV", " -1000/mV")  # first signal: lead I
    hea.write_text("\n".join(lines) + "\n")
    rec = read_wfdb(hea)
    ref = read_wfdb(CPSC)
    note = [w for w in rec.warnings if "negative ADC gain" in w]
    assert note and "I" in note[0] and "inverted" in note[0]
    assert not any("negative ADC gain" in w for w in ref.warnings)
    np.testing.assert_allclose(rec.lead("I"), -ref.lead("I"), atol=1e-6)


# 7. Unreadable age and sex.
@pytest.mark.parametrize("value", ["1e9", "abc", "-3", "131", "74 years", "inf", "nan%"])
def test_parse_age_refuses_what_is_not_a_plain_plausible_age(value: str) -> None:
    assert parse_age(value) is None


def test_parse_age_reads_plain_ages() -> None:
    assert [parse_age(v) for v in ("74", " 61 ", 57.0, "0", "130", "0.5")] == [
        74,
        61,
        57,
        0,
        130,
        0.5,
    ]
    assert parse_age("unknown") is None and parse_age("NaN") is None
    assert parse_sex("MF") is None and parse_sex("Male") == "M"


def test_unreadable_age_and_sex_are_warned() -> None:
    found: list[str] = []
    meta = metadata_from_comments(["Age: abc", "Sex: MF"], found)
    assert meta["age"] is None and meta["sex"] is None
    assert "unreadable age 'abc' in the header: ignored" in found
    assert "unreadable sex 'MF' in the header: ignored" in found
    quiet: list[str] = []
    meta = metadata_from_comments(["Age: NaN", "Sex: Unknown", "Age: 65  Sex: M"], quiet)
    assert quiet == [] and meta["age"] == 65


@needs_cpsc
def test_unreadable_age_travels_to_record_warnings(tmp_path: Path) -> None:
    for ext in (".hea", ".mat"):
        shutil.copy(CPSC.with_suffix(ext), tmp_path / f"A0011{ext}")
    hea = tmp_path / "A0011.hea"
    text = hea.read_text()
    lines = [
        "# Age: abc" if ln.lstrip("#").strip().lower().startswith("age:") else ln
        for ln in text.splitlines()
    ]
    hea.write_text("\n".join(lines) + "\n")
    rec = read_wfdb(hea)
    assert rec.metadata.get("age") is None
    assert "unreadable age 'abc' in the header: ignored" in rec.warnings


def test_ptbxl_over_89_convention_still_works(tmp_path: Path) -> None:
    from ecgr1.io.layouts import ptbxl_metadata

    root = tmp_path / "ptbxl"
    (root / "records500" / "00000").mkdir(parents=True)
    (root / "ptbxl_database.csv").write_text(
        "ecg_id,patient_id,age,sex,scp_codes,report\n"
        "1,1.0,300.0,0,\"{'NORM': 100.0}\",x\n"
        "2,2.0,61.0,1,\"{'NORM': 100.0}\",y\n"
    )
    old = ptbxl_metadata(root / "records500" / "00000" / "00001_hr.hea")
    young = ptbxl_metadata(root / "records500" / "00000" / "00002_hr.hea")
    assert old["age"] == 90 and "300" in old["age_note"]
    assert young["age"] == 61


# Latent: float32 overflow, complex arrays, checksum of huge values.
def test_values_beyond_float32_are_clipped_with_a_warning() -> None:
    x = np.zeros((2, 100))
    x[0, 10] = 1e300
    x[1, 20] = -1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = finalize_record(x, 500, ["I", "II"])
    assert np.isfinite(rec.signal).all()
    clipped = [w for w in rec.warnings if "beyond the float32 range" in w]
    assert any(w.startswith("lead I:") for w in clipped)
    assert any(w.startswith("lead II:") for w in clipped)


def test_complex_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="complex"):
        array_record(np.zeros((12, 500), dtype=complex), fs=500)
    np.save(tmp_path / "c.npy", np.ones((12, 500), dtype=np.complex64))
    with pytest.raises(InvalidInputError, match="complex"):
        read_array(tmp_path / "c.npy", fs=500)


def test_checksum_of_huge_values_is_skipped_not_an_invalid_cast() -> None:
    from ecgr1.io.header import parse_header

    info = parse_header(
        "r 2 500 3\nr.dat 16 1000/mV 16 0 0 6 0 I\nr.dat 16 1000/mV 16 0 0 6 0 II\n"
    )
    sig = np.array([[1e300, 0.0, 0.0], [0.001, 0.002, 0.003]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sums = _digital_sums(info, sig)
    assert sums[0] is None
    assert sums[1] is not None and (sums[1] - 6) % 65536 == 0


# QTDB writes age and sex on one comment line ("#Age: 47  Sex: M").
@pytest.mark.parametrize(
    ("line", "age", "sex"),
    [("Age: 65  Sex: M", 65, "M"), ("age: 61 sex: F", 61, "F"), ("Sex: M Age: 70", 70, "M")],
)
def test_age_and_sex_on_one_comment_line(line: str, age: int, sex: str) -> None:
    found: list[str] = []
    meta = metadata_from_comments([line], found)
    assert (meta["age"], meta["sex"], found) == (age, sex, [])


def test_dx_after_age_and_sex_on_one_line() -> None:
    meta = metadata_from_comments(["Age: 65  Sex: M  Dx: AF,RBBB"])
    assert (meta["age"], meta["sex"], meta["labels"]) == (65, "M", ["AF", "RBBB"])


def test_qtdb_record_keeps_its_sex(shared_data: Path) -> None:
    path = shared_data / "qtdb" / "sele0104"
    if not path.with_suffix(".hea").exists():
        pytest.skip("QTDB sele0104 not available")
    from ecgr1.io import read_record

    rec = read_record(path)
    assert (rec.metadata["age"], rec.metadata["sex"]) == (47, "M")
