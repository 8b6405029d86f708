"""Self-made fixtures: CODE-15 HDF5, MIMIC-IV-ECG and PTB-XL layouts, arrays, standardise,
writers."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import wfdb

from ecgr1.errors import InvalidInputError, UnsupportedFormatError
from ecgr1.io import (
    STANDARD_LEADS,
    ECGRecord,
    find_records,
    iter_code15,
    read_code15,
    read_record,
    standardize,
    to_model_tensor,
    write_npy,
    write_wfdb,
)

RNG = np.random.default_rng(7)


def _ecg_like(n_leads: int, n: int, fs: float) -> np.ndarray:
    """A smooth multi-lead test waveform in mV (sinusoids + small noise)."""
    t = np.arange(n) / fs
    rows = [
        (0.3 + 0.05 * k) * np.sin(2 * np.pi * (1.1 + 0.1 * k) * t) + 0.01 * RNG.standard_normal(n)
        for k in range(n_leads)
    ]
    return np.asarray(rows)


# --------------------------------------------------------------------------- CODE-15


@pytest.fixture()
def code15(tmp_path: Path) -> tuple[Path, dict[int, np.ndarray]]:
    """Three exams: 10 s (48 zeros each side), 7 s (padded 648 each side), a padding row."""
    tracings = np.zeros((4, 4096, 12), np.float32)
    truth: dict[int, np.ndarray] = {}
    full = _ecg_like(12, 4000, 400).T.astype(np.float32)
    tracings[0, 48:4048] = full
    truth[1169160] = full
    short = _ecg_like(12, 2800, 400).T.astype(np.float32)
    tracings[1, 648:3448] = short
    truth[2873686] = short
    tracings[2, 48:4048] = full[::-1]
    truth[168405] = full[::-1]
    ids = np.array([1169160, 2873686, 168405, 0])
    path = tmp_path / "exams_part0.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("tracings", data=tracings)
        f.create_dataset("exam_id", data=ids)
    (tmp_path / "exams.csv").write_text(
        "exam_id,age,is_male,nn_predicted_age,1dAVb,RBBB,LBBB,SB,ST,AF,patient_id,death,timey,"
        "normal_ecg,trace_file\n"
        "1169160,38,True,40.1,False,False,False,False,False,False,523632,False,,True,exams_part0.hdf5\n"
        "2873686,73,False,67.5,False,True,False,False,False,True,1724173,False,,False,exams_part0.hdf5\n"
    )
    return path, truth


def test_code15_read_by_id_trims_padding_and_reads_labels(code15) -> None:
    path, truth = code15
    rec = read_record(f"{path}#2873686")
    assert rec.fs == 400.0 and rec.leads == list(STANDARD_LEADS)
    np.testing.assert_array_equal(rec.signal, truth[2873686].T)
    assert rec.metadata["code15_padding"] == [648, 648]
    assert rec.metadata["labels"] == ["RBBB", "AF"]
    assert rec.metadata["age"] == 73 and rec.metadata["sex"] == "F"
    assert rec.record_id == "2873686"
    normal = read_code15(path, 1169160)
    assert normal.metadata["labels"] == ["normal_ecg"] and normal.metadata["sex"] == "M"
    untrimmed = read_code15(path, 1169160, trim_padding=False)
    assert untrimmed.n_samples == 4096


def test_code15_iterate_and_find_records(code15) -> None:
    path, truth = code15
    recs = list(iter_code15(path))
    assert [r.record_id for r in recs] == ["1169160", "2873686", "168405"]  # padding row skipped
    assert recs[2].metadata["labels"] == []  # exam absent from exams.csv
    assert "labels_note" in recs[2].metadata
    assert find_records([path]) == [f"{path}#{i}" for i in (1169160, 2873686, 168405)]


def test_code15_errors(code15, tmp_path: Path) -> None:
    path, _ = code15
    with pytest.raises(InvalidInputError, match="exam id 42 not in this file"):
        read_record(f"{path}#42")
    with pytest.raises(InvalidInputError, match="holds 4 exams"):
        read_record(path)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(UnsupportedFormatError, match="tracings"):
        read_record(other)


# --------------------------------------------------------------------------- layouts


def _wfdb(path: Path, signal: np.ndarray, fs: float, leads, units="mV", comments=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        path.name,
        fs=fs,
        units=[units] * len(leads),
        sig_name=list(leads),
        p_signal=signal.T,
        fmt=["16"] * len(leads),
        adc_gain=[200.0] * len(leads),
        baseline=[0] * len(leads),
        comments=comments or [],
        write_dir=str(path.parent),
    )


def test_mimic_iv_ecg_layout_reads_machine_report(tmp_path: Path) -> None:
    root = tmp_path / "mimic-iv-ecg"
    base = root / "files" / "p1000" / "p10000032" / "s40689238" / "40689238"
    sig = _ecg_like(12, 5000, 500)
    _wfdb(base, sig, 500, [x.lower() if x.startswith("a") else x for x in STANDARD_LEADS])
    header = (
        "subject_id,study_id,cart_id,ecg_time,"
        + ",".join(f"report_{k}" for k in range(18))
        + ",bandwidth,filtering,rr_interval,p_onset,p_end,qrs_onset,qrs_end,t_end,p_axis,qrs_axis,t_axis"
    )
    reports = ["Sinus rhythm", "Possible right atrial abnormality", "", "Borderline ECG"] + [
        ""
    ] * 14
    row = (
        "10000032,40689238,6848296,2180-07-23 08:44:00,"
        + ",".join(reports)
        + ",0.005-150 Hz,60 Hz notch Baseline filter,659,40,128,170,258,518,81,77,79"
    )
    (root / "machine_measurements.csv").write_text(header + "\n" + row + "\n")
    rec = read_record(base)
    assert rec.metadata["dataset"] == "MIMIC-IV-ECG"
    assert rec.metadata["subject_id"] == 10000032 and rec.metadata["study_id"] == 40689238
    assert rec.metadata["labels"] == [
        "Sinus rhythm",
        "Possible right atrial abnormality",
        "Borderline ECG",
    ]
    assert (
        rec.metadata["report"] == "Sinus rhythm; Possible right atrial abnormality; Borderline ECG"
    )
    assert rec.metadata["machine_measurements"]["qrs_end"] == 258
    assert rec.leads == list(STANDARD_LEADS)
    np.testing.assert_allclose(rec.signal, sig, atol=0.5 / 200 + 1e-6)
    assert find_records([root]) == [str(base) + ".hea"]


def test_ptbxl_layout_reads_scp_codes_and_report(tmp_path: Path) -> None:
    root = tmp_path / "ptb-xl"
    base = root / "records100" / "00000" / "00001_lr"
    sig = _ecg_like(12, 1000, 100)
    _wfdb(base, sig, 100, list(STANDARD_LEADS))
    (root / "ptbxl_database.csv").write_text(
        "ecg_id,patient_id,age,sex,height,weight,nurse,site,device,recording_date,report,"
        "scp_codes,heart_axis,strat_fold,filename_lr,filename_hr\n"
        "1,15709.0,56.0,1,,63.0,2.0,0.0,CS-12   E,1984-11-09 09:17:34,"
        "\"sinusrhythmus periphere niederspannung\",\"{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}\","
        ",3,records100/00000/00001_lr,records500/00000/00001_hr\n"
        '2,13243.0,300.0,0,,70.0,2.0,0.0,CS-12   E,1984-11-14 12:55:37,"x","{\'NORM\': 80.0}",,2,'
        "records100/00000/00002_lr,records500/00000/00002_hr\n"
    )
    (root / "scp_statements.csv").write_text(
        ",description,diagnostic\nNORM,normal ECG,1.0\nLVOLT,low QRS voltages in the frontal and "
        "horizontal leads,\nSR,sinus rhythm,\n"
    )
    rec = read_record(base.with_suffix(".hea"))
    assert rec.metadata["dataset"] == "PTB-XL" and rec.metadata["ecg_id"] == 1
    assert rec.metadata["labels"] == ["NORM", "LVOLT", "SR"]
    assert rec.metadata["scp_codes"]["NORM"] == 100.0
    assert rec.metadata["report"] == "sinusrhythmus periphere niederspannung"
    assert rec.metadata["age"] == 56 and rec.metadata["sex"] == "F"
    assert rec.metadata["label_descriptions"]["SR"] == "sinus rhythm"
    assert rec.fs == 100.0


# --------------------------------------------------------------------------- arrays


def test_npy_needs_fs_and_converts_units(tmp_path: Path) -> None:
    sig = _ecg_like(12, 2500, 250)
    f = tmp_path / "a.npy"
    np.save(f, (sig * 1000).T)  # samples x leads, microvolts
    with pytest.raises(InvalidInputError, match="sampling rate unknown"):
        read_record(f)
    rec = read_record(f, fs=250, units="uV")
    assert rec.signal.shape == (12, 2500) and rec.fs == 250.0
    np.testing.assert_allclose(rec.signal, sig, atol=1e-5)
    assert "lead names not given; standard order I..V6 assumed" in rec.warnings
    assert rec.metadata["source_units"] == ["uV"]


def test_npz_and_csv_inputs(tmp_path: Path) -> None:
    sig = _ecg_like(3, 1000, 500)
    z = tmp_path / "b.npz"
    np.savez(z, signal=sig, fs=500.0, leads=np.array(["I", "II", "V1"]), units="mV")
    rec = read_record(z)
    assert rec.leads == ["I", "II", "III", "aVR", "aVL", "aVF", "V1"] and rec.fs == 500.0
    c = tmp_path / "c.csv"
    t = np.arange(1000) / 500.0
    lines = ["time,I,II,V2"] + [
        f"{t[i]:.4f},{sig[0, i]},{sig[1, i]},{sig[2, i]}" for i in range(1000)
    ]
    c.write_text("\n".join(lines) + "\n")
    rec = read_record(c, units="mV")
    assert rec.fs == 500.0 and rec.lead("V2").shape == (1000,)
    np.testing.assert_allclose(rec.lead("V2"), sig[2], atol=1e-6)
    assert any("time column" in w for w in rec.warnings)
    one = tmp_path / "one.csv"  # one column, no header: '.' must not be taken for a delimiter
    np.savetxt(one, sig[0])
    rec = read_record(one, fs=500)
    assert rec.leads == ["lead1"] and rec.n_samples == 1000
    np.testing.assert_allclose(rec.signal[0], sig[0], atol=1e-6)


def test_write_npy_round_trip_without_options(tmp_path: Path) -> None:
    rec = ECGRecord(_ecg_like(12, 1000, 500), 500.0, list(STANDARD_LEADS), record_id="r 1")
    rec.metadata.update(age=61, sex="M", labels=["AF"])
    path = write_npy(rec, tmp_path)
    assert (
        path.name == "r_1.npy" and json.loads(path.with_suffix(".json").read_text())["fs"] == 500.0
    )
    back = read_record(path)
    np.testing.assert_array_equal(back.signal, rec.signal)
    assert back.leads == rec.leads and back.metadata["labels"] == ["AF"] and back.record_id == "r 1"


# --------------------------------------------------------------------------- writers


def test_write_wfdb_round_trip_keeps_microvolt_resolution(tmp_path: Path) -> None:
    sig = _ecg_like(12, 3000, 500)
    sig[3, 100:110] = np.nan
    rec = ECGRecord(sig, 500.0, list(STANDARD_LEADS), record_id="x1")
    rec.metadata.update(
        age=70, sex="F", labels=["Rhythm: sinus, normal", "LVH"], report="two\nlines"
    )
    hea = write_wfdb(rec, tmp_path)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    assert ref.fmt == ["16"] * 12 and ref.adc_gain == [1000.0] * 12
    finite = np.isfinite(sig)
    np.testing.assert_allclose(ref.p_signal.T[finite], sig[finite], atol=0.5e-3 + 1e-6)
    assert np.isnan(ref.p_signal[100:110, 3]).all()  # NaN written as WFDB "no data"
    digital = wfdb.rdrecord(str(hea.with_suffix("")), physical=False)
    sums = (digital.d_signal.astype(np.int64).sum(axis=0) + 2**15) % 2**16 - 2**15
    assert digital.checksum == sums.tolist()
    assert digital.init_value == digital.d_signal[0].tolist()
    back = read_record(hea)
    assert back.metadata["age"] == 70 and back.metadata["sex"] == "F"
    assert back.metadata["labels"] == ["Rhythm: sinus, normal", "LVH"]
    assert any("aVR: 10 non-finite" in w for w in back.warnings)


def test_write_wfdb_reduces_gain_when_out_of_range(tmp_path: Path) -> None:
    sig = np.zeros((1, 100))
    sig[0, 50] = 80.0  # 80 mV does not fit in 16 bits at 1000 adu/mV
    rec = ECGRecord(sig, 250.0, ["II"], record_id="big")
    hea = write_wfdb(rec, tmp_path)
    ref = wfdb.rdrecord(str(hea.with_suffix("")))
    assert ref.adc_gain[0] == 409.0
    assert abs(ref.p_signal[50, 0] - 80.0) < 0.5 / 409
    assert any("exceeds the 16-bit range" in w for w in rec.warnings)
    back = read_record(hea)  # the note travels in the header comments
    assert any("written with gain 409" in w for w in back.metadata["source_warnings"])


# --------------------------------------------------------------------------- standardise


def test_standardize_resamples_pads_and_orders() -> None:
    fs = 360.0
    t = np.arange(int(4 * fs)) / fs
    sine = np.sin(2 * np.pi * 5 * t)
    rec = ECGRecord(np.stack([sine, 0.5 * sine, sine]), fs, ["V1", "I", "II"], record_id="s")
    out = standardize(rec)
    assert out.signal.shape == (12, 5000) and out.fs == 500.0 and out.leads == list(STANDARD_LEADS)
    info = out.metadata["standardize"]
    assert info["pad_after"] == 3000 and info["pad_before"] == 0 and info["source_fs"] == 360.0
    assert info["missing_leads"] == ["V2", "V3", "V4", "V5", "V6"]
    t2 = np.arange(2000) / 500.0
    # Polyphase resampling keeps a 5 Hz sine (away from the edges).
    np.testing.assert_allclose(
        out.lead("V1")[50:1950], np.sin(2 * np.pi * 5 * t2)[50:1950], atol=0.01
    )
    np.testing.assert_allclose(out.lead("III")[:2000], 0.5 * out.lead("V1")[:2000], atol=1e-5)
    assert not out.lead("V6").any()
    assert any("V2, V3, V4, V5, V6 absent" in w for w in out.warnings)
    assert any("3000 zero samples" in w for w in out.warnings)


def test_standardize_crop_windows_and_nan() -> None:
    sig = np.tile(np.arange(7000, dtype=float), (12, 1))
    sig[0, 10] = np.nan
    rec = ECGRecord(sig, 500.0, list(STANDARD_LEADS))
    first = standardize(rec)
    assert first.signal[1, 0] == 0 and first.signal[1, -1] == 4999 and first.signal[0, 10] == 0
    assert first.metadata["standardize"]["nonfinite_zeroed"] == 1
    center = standardize(rec, window="center")
    assert center.signal[1, 0] == 1000
    at = standardize(rec, window=0.5)
    assert at.signal[1, 0] == 250
    x = to_model_tensor(rec)
    assert x.shape == (12, 5000) and x.dtype == np.float32 and np.isfinite(x).all()
