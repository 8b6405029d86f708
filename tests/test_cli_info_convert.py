"""``ecgr1 info`` and ``ecgr1 convert`` through ``ecgr1.cli.main``: exit status, stdout, stderr."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import wfdb
from test_io_bad_inputs import _wave, _write

from ecgr1.cli import main
from ecgr1.io import STANDARD_LEADS, read_record


def _tiny_code15(folder: Path) -> tuple[Path, np.ndarray]:
    t = np.arange(4000) / 400.0
    leads = np.stack([(0.2 + 0.05 * k) * np.sin(2 * np.pi * 1.3 * t + k) for k in range(12)])
    tracings = np.zeros((2, 4096, 12), np.float32)
    tracings[0, 48:4048] = leads.T
    tracings[1, 48:4048] = -leads.T
    path = folder / "exams_part3.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("tracings", data=tracings)
        f.create_dataset("exam_id", data=np.array([101, 202]))
    (folder / "exams.csv").write_text(
        "exam_id,age,is_male,1dAVb,RBBB,LBBB,SB,ST,AF,normal_ecg\n"
        "101,55,True,False,False,True,False,False,False,False\n"
        "202,66,False,False,False,False,False,False,False,True\n"
    )
    return path, leads.astype(np.float32)


def _lines(text: str) -> list[str]:
    return [x for x in text.splitlines() if x.strip()]


def test_info_json_one_object_per_line(tmp_path: Path, capsys) -> None:
    path, _ = _tiny_code15(tmp_path)
    assert main(["info", "--json", str(path)]) == 0
    out = capsys.readouterr()
    rows = [json.loads(x) for x in _lines(out.out)]
    assert [r["id"] for r in rows] == ["101", "202"]
    for key in ("id", "fs", "n_samples", "duration_s", "leads", "age", "sex", "labels", "warnings"):
        assert key in rows[0]
    assert rows[0]["fs"] == 400.0 and rows[0]["n_samples"] == 4000 and rows[0]["duration_s"] == 10.0
    assert rows[0]["leads"] == list(STANDARD_LEADS)
    assert (rows[0]["age"], rows[0]["sex"], rows[0]["labels"]) == (55, "M", ["LBBB"])
    assert rows[1]["labels"] == ["normal_ecg"]
    assert out.err == ""


def test_info_text_and_real_record(cpsc2018_dir: Path, capsys) -> None:
    assert main(["info", str(cpsc2018_dir / "A0001.hea")]) == 0
    line = _lines(capsys.readouterr().out)[0]
    assert line.startswith("A0001") and "500 Hz" in line and "labels: RBBB" in line


def test_single_bad_input_exits_2_with_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "junk.bin"
    bad.write_bytes(bytes(range(256)) * 4)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1 and err.startswith(f"ecgr1 info: error: {bad}: ")
    assert "not a recognised ECG format" in err and "Traceback" not in err


def test_missing_input_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["info", str(tmp_path / "nope.hea")]) == 2
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1 and "no such file or record" in err


def test_batch_with_a_bad_file_reports_it_and_exits_1(tmp_path: Path, capsys) -> None:
    path, _ = _tiny_code15(tmp_path)
    (tmp_path / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    missing_fs = tmp_path / "nofs.npy"
    np.save(missing_fs, np.zeros((12, 100)))
    status = main(["info", "--json", str(tmp_path)])
    assert status == 1
    out, err = capsys.readouterr()
    assert len(_lines(out)) == 2  # the two CODE-15 exams still summarised
    errors = _lines(err)
    assert len(errors) == 2 and "Traceback" not in err
    assert any("broken.npy" in e and "unreadable .npy" in e for e in errors)
    assert any("nofs.npy" in e and "sampling rate unknown" in e for e in errors)
    # Giving the rate fixes the second one.
    assert main(["info", "--fs", "500", str(missing_fs)]) == 0


def test_no_records_found_exits_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "readme.txt").write_text("nothing")
    assert main(["info", str(tmp_path)]) == 2
    assert "no records found" in capsys.readouterr().err


def test_convert_cpsc2018_to_wfdb_at_500hz(cpsc2018_dir: Path, tmp_path: Path, capsys) -> None:
    src = cpsc2018_dir / "A0001.hea"
    out = tmp_path / "out"
    assert main(["convert", str(src), "--out", str(out), "--fs", "500"]) == 0
    assert f"-> {out / 'A0001.hea'}" in capsys.readouterr().out
    back = wfdb.rdrecord(str(out / "A0001"))
    val = scipy.io.loadmat(str(src.with_suffix(".mat")))["val"]
    assert back.fs == 500 and back.sig_name == list(STANDARD_LEADS) and back.units == ["mV"] * 12
    np.testing.assert_allclose(back.p_signal.T, val / 1000.0, atol=0.5e-3 + 1e-9)
    again = read_record(out / "A0001.hea")
    assert again.metadata["labels"] == ["RBBB"] and again.metadata["age"] == 74


def test_convert_model_input_to_npy(cpsc2018_dir: Path, tmp_path: Path, capsys) -> None:
    src = cpsc2018_dir / "A0001.hea"  # 15 s: cropped to the first 10 s
    assert (
        main(["convert", str(src), "--out", str(tmp_path), "--model-input", "--format", "npy"]) == 0
    )
    arr = np.load(tmp_path / "A0001.npy")
    val = scipy.io.loadmat(str(src.with_suffix(".mat")))["val"]
    assert arr.shape == (12, 5000) and arr.dtype == np.float32
    np.testing.assert_allclose(arr, val[:, :5000] / 1000.0, atol=1e-6)


def test_convert_resamples_and_pads(tmp_path: Path, capsys) -> None:
    path, leads = _tiny_code15(tmp_path)
    out = tmp_path / "w"
    code = main(["convert", f"{path}#101", "--out", str(out), "--fs", "500", "--seconds", "12"])
    assert code == 0
    rec = read_record(out / "101.hea")
    assert rec.fs == 500.0 and rec.n_samples == 6000
    assert not rec.signal[:, 5000:].any()  # 10 s of signal then 2 s of recorded zero padding
    assert "1000 zero samples added" in capsys.readouterr().err


def test_convert_code15_to_wfdb_round_trip(tmp_path: Path, capsys) -> None:
    path, leads = _tiny_code15(tmp_path)
    out = tmp_path / "wfdb"
    assert main(["convert", str(path), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert len(_lines(stdout)) == 2
    for exam, sign in ((101, 1.0), (202, -1.0)):
        ref = wfdb.rdrecord(str(out / str(exam)))
        assert ref.fs == 400 and ref.sig_len == 4000 and ref.fmt == ["16"] * 12
        np.testing.assert_allclose(ref.p_signal.T, sign * leads, atol=0.5e-3 + 1e-6)
    back = read_record(out / "202.hea")
    assert back.metadata["sex"] == "F" and back.metadata["labels"] == ["normal_ecg"]


def test_convert_duplicate_ids_and_partial_failure(
    cpsc2018_dir: Path, tmp_path: Path, capsys
) -> None:
    other = tmp_path / "copy"
    other.mkdir()
    for ext in (".hea", ".mat"):
        shutil.copy(cpsc2018_dir / f"A0002{ext}", other / f"A0002{ext}")
    code = main(
        ["convert", str(cpsc2018_dir / "A0002.hea"), str(other), "--out", str(tmp_path / "o")]
    )
    assert code == 1
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and "already written" in err[0] and str(other) in err[0]
    assert (tmp_path / "o" / "A0002.hea").is_file()


def test_debug_shows_the_exception(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        main(["--debug", "info", str(tmp_path / "absent.hea")])


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal (tqdm draws its bar only there)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_terminal(tmp_path: Path, monkeypatch, tty: bool) -> None:
    from ecgr1.cli import _batch

    err = _Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    outcome = _batch.run_batch(["a", "b", "c"], lambda item: None, desc="info")
    assert _batch.batch_exit_status(outcome) == 0
    shown = err.getvalue()
    if tty:
        assert "info" in shown and "3/3" in shown  # the finished bar: 3 of 3 records
    else:
        assert shown == ""


def test_debug_is_accepted_after_the_subcommand(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        main(["info", "--debug", str(tmp_path / "absent.hea")])
    with pytest.raises(Exception, match="no such file"):
        main(["convert", str(tmp_path / "absent.hea"), "--out", str(tmp_path), "--debug"])


def test_unwritable_output_is_one_line_not_a_traceback(
    cpsc2018_dir: Path, tmp_path: Path, capsys
) -> None:
    blocker = tmp_path / "file_not_dir"
    blocker.write_text("x")  # --out names a file: the folder cannot be created
    code = main(["convert", str(cpsc2018_dir / "A0002.hea"), "--out", str(blocker / "sub")])
    assert code == 2  # a usage error, found before any input is read
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("ecgr1 convert: error: cannot write output: ")
    assert str(blocker) in err[0] and "internal error" not in err[0] and "Traceback" not in err[0]


def _bad_inputs(folder: Path) -> list[tuple[Path, str]]:
    """(path, documented message) for every bad input of docs/io.md, built in ``folder``."""
    d = _wave(2)
    raw = d.T.astype("<i2").tobytes()
    cases = [
        (_write(folder, "trunc", d, ["I", "II"], dat_bytes=raw[: len(raw) // 2]),
         "holds 500 samples per signal but the header declares 1000"),
        (_write(folder, "count", d, ["I", "II"], n_header=1200), "wrong sample count"),
        (_write(folder, "gain", _wave(1), ["II"], gain="abc"), "non-numeric ADC gain 'abc'"),
    ]  # fmt: skip
    gone = _write(folder, "gone", _wave(1), ["II"])
    (folder / "gone.dat").unlink()
    cases.append((gone, "'gone.dat', which does not exist"))
    (folder / "empty.hea").write_bytes(b"")
    cases.append((folder / "empty.hea", "empty file"))
    (folder / "junk.bin").write_bytes(bytes(range(256)) * 8)
    cases.append((folder / "junk.bin", "not a recognised ECG format"))
    cases.append((folder / "absent.hea", "no such file or record"))
    return cases


def test_cli_reports_each_bad_input_in_one_line_and_exits_2(tmp_path: Path, capsys) -> None:
    from ecgr1.cli import main

    cases = _bad_inputs(tmp_path)
    for path, message in cases:
        assert main(["info", str(path)]) == 2, path
        err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
        assert len(err) == 1 and err[0].startswith(f"ecgr1 info: error: {path}: "), err
        assert message in err[0] and "Traceback" not in err[0]
    # All of them plus one good record in one batch: each reported, the good one read, status 1.
    good = _write(tmp_path, "good", _wave(2), ["I", "II"])
    assert main(["info", "--json", str(good), *(str(p) for p, _ in cases)]) == 1
    out, err = capsys.readouterr()
    assert len([x for x in out.splitlines() if x.strip()]) == 1
    assert len([x for x in err.splitlines() if x.strip()]) == len(cases)


def test_cli_info_json_lists_the_documented_warnings(tmp_path: Path, capsys) -> None:
    import json

    from ecgr1.cli import main

    d = _wave(3)
    d[0, 100:120] = -32768  # a NaN run
    d[2] = 7  # a flat lead
    hea = _write(tmp_path, "warn", d, ["I", "II", "CM5"])
    assert main(["info", "--json", str(hea)]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["leads"] == ["I", "II", "III", "aVR", "aVL", "aVF", "CM5"]  # standard first
    expected = [
        "lead I: 20 non-finite (NaN/inf) samples in 1 run(s) linearly interpolated",
        "lead CM5 is flat (peak-to-peak 0.0000 mV)",
        "non-standard lead name(s) kept as given: CM5",
        "derived lead(s) III, aVR, aVL, aVF from I and II (Einthoven/Goldberger)",
    ]
    for warning in expected:
        assert warning in row["warnings"], (warning, row["warnings"])
