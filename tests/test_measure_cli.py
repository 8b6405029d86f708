"""``ecgr1 measure``: JSON per record, WFDB annotations per lead, batch error handling."""

from __future__ import annotations

import json

import numpy as np
import wfdb
from synthetic_ecg import synthetic_ecg

from ecgr1.cli import main


def _write_wfdb(rec, folder, name):
    wfdb.wrsamp(
        name,
        fs=rec.fs,
        units=["mV"] * rec.n_leads,
        sig_name=list(rec.leads),
        p_signal=rec.signal.T.astype(np.float64),
        fmt=["16"] * rec.n_leads,
        write_dir=str(folder),
    )
    return folder / name


def test_measure_writes_json_and_annotations(tmp_path, capsys):
    rec, _ = synthetic_ecg()
    src = tmp_path / "in"
    src.mkdir()
    a = _write_wfdb(rec, src, "rec1")
    b = _write_wfdb(synthetic_ecg(rr_s=0.75)[0], src, "rec2")
    out, ann = tmp_path / "json", tmp_path / "ann"
    status = main(["measure", str(a), str(b), "--json-dir", str(out), "--annotations", str(ann)])
    assert status == 0
    data = json.loads((out / "rec1.json").read_text())
    g = data["global"]
    for key in ("heart_rate_bpm", "pr_interval_ms", "qrs_duration_ms", "qt_interval_ms",
                "qtc_bazett_ms", "qtc_fridericia_ms", "p_axis_deg", "qrs_axis_deg",
                "t_axis_deg", "p_wave_present"):  # fmt: skip
        assert key in g
    assert abs(g["heart_rate_bpm"] - 60) < 1
    assert abs(json.loads((out / "rec2.json").read_text())["global"]["heart_rate_bpm"] - 80) < 1
    assert set(data["leads"]) == set(rec.leads)
    assert data["beats"][0]["qrs_onset_s"] is not None
    lead_ii = wfdb.rdann(str(ann / "rec1"), "ii")
    assert lead_ii.symbol.count("N") == len(data["beats"])
    assert "rec1" in capsys.readouterr().out


def test_bad_input_is_reported_and_the_batch_goes_on(tmp_path, capsys):
    rec, _ = synthetic_ecg()
    good = _write_wfdb(rec, tmp_path, "good")
    missing = tmp_path / "missing.hea"
    status = main(["measure", str(missing), str(good), "--json-dir", str(tmp_path / "j")])
    assert status == 1
    assert (tmp_path / "j" / "good.json").exists()
    assert "missing" in capsys.readouterr().err


def test_annotations_leave_out_marks_outside_the_record(tmp_path):
    """A wave cut by the start of the recording must not make the WFDB writer fail."""
    import wfdb

    from ecgr1.measure.annotations import lead_annotation_marks, write_annotations
    from ecgr1.measure.result import MeasurementResult

    fid = {
        "p_on": [-12, 180], "p_peak": [5, 200], "p_off": [30, 220],
        "qrs_on": [60, 260], "qrs_peak": [70, 270], "qrs_off": [85, 285],
        "t_on": [None, 400], "t_peak": [150, 450], "t_off": [190, 520],
    }  # fmt: skip
    samples, symbols = lead_annotation_marks(fid, n_samples=500)
    assert samples.min() >= 0 and samples.max() < 500
    assert 520 not in samples.tolist() and -12 not in samples.tolist()
    res = MeasurementResult("cut", 500.0, 1.0, ["II"], lead_fiducials={"II": fid})
    (path,) = write_annotations(res, tmp_path)
    ann = wfdb.rdann(str(tmp_path / "cut"), "ii")
    assert list(ann.sample) == sorted(samples.tolist()) and path.exists()
    # The first P wave keeps its peak and offset; its onset (before sample 0) is dropped.
    assert ann.symbol[:3] == ["p", ")", "("]


def test_workers_give_the_output_of_one_process_in_input_order(ludb_dir, tmp_path, capsys):
    # Real LUDB records with an unreadable header in the middle: the same stdout (in the order
    # of the inputs), the same one-line error, the same exit status and the same JSON files.
    junk = tmp_path / "junk.hea"
    junk.write_text("junk a 500\n")
    records = [str(ludb_dir / "data" / f"{i}.hea") for i in (1, 3, 5)]
    paths = [*records[:2], str(junk), records[2]]
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"json{workers}"
        status = main(["measure", *paths, "--json-dir", str(out), "--workers", workers])
        captured = capsys.readouterr()
        files = {p.name: p.read_text() for p in sorted(out.glob("*.json"))}
        runs[workers] = (status, captured.out, captured.err, files)
    assert runs["2"] == runs["1"]
    status, out, err, files = runs["2"]
    assert status == 1
    assert [line.split(":")[0] for line in out.splitlines()] == ["1", "3", "5"]
    assert len(err.splitlines()) == 1 and err.startswith(f"ecgr1 measure: error: {junk}: ")
    assert sorted(files) == ["1.json", "3.json", "5.json"]


def test_worker_failures_are_counted_as_in_one_process(tmp_path):
    # int() raises ValueError (a bug's class: internal error), os.stat OSError (unreadable).
    import os

    from ecgr1.cli._batch import run_batch

    seen: list[tuple[str, int]] = []
    outcomes = {}
    for workers in (1, 2):
        seen.clear()
        outcomes[workers] = run_batch(
            ["1", "x", "2", "3"], int, workers=workers, consume=lambda i, r: seen.append((i, r))
        )
        assert seen == [("1", 1), ("2", 2), ("3", 3)]
    assert outcomes[2] == outcomes[1]
    assert outcomes[2].internal_errors == 1 and outcomes[2].unreadable == 0
    assert "internal error: ValueError" in outcomes[2].problems[0]
    missing = [str(tmp_path / "a"), str(tmp_path / "b")]
    out = run_batch(missing, os.stat, workers=2)
    assert out.unreadable == 2 and out.internal_errors == 0
    assert out.problems[0].startswith(f"{missing[0]}: No such file or directory")
