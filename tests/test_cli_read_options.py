"""measure and interpret read arrays like info and render do (--fs/--leads/--units), validate
--age and --seconds, and the reader's warnings travel into the measurement JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ecgr1
from ecgr1.cli import main


@pytest.fixture()
def npy(tmp_path):
    """A simulated 12-lead ECG saved as a bare array (samples x leads, mV): no rate inside."""
    record = ecgr1.simulate("normal", seed=0).record
    signal = np.array(record.signal, dtype=float)
    signal = signal if signal.shape[0] > signal.shape[1] else signal.T
    signal[100:110, 0] = np.nan  # a gap the reader repairs, and says so
    path = tmp_path / "sim.npy"
    np.save(path, signal)
    return path, record.fs


@pytest.mark.parametrize("command", ["measure", "interpret"])
def test_arrays_need_and_take_fs(npy, capsys, command):
    path, fs = npy
    assert main([command, str(path)]) == 2
    err = capsys.readouterr().err
    assert "--fs" in err and len(err.strip().splitlines()) == 1
    extra = ["--format", "json"] if command == "interpret" else []
    assert main([command, str(path), "--fs", str(fs), *extra]) == 0
    out = json.loads(capsys.readouterr().out)
    measured = out if command == "measure" else out["measurements"]
    assert round(measured["global"]["heart_rate_bpm"]) == 72


def test_reader_warnings_travel_into_the_measurement_json(npy, capsys):
    path, fs = npy
    assert main(["measure", str(path), "--fs", str(fs)]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert any("NaN" in w or "non-finite" in w for w in warnings), warnings


@pytest.mark.parametrize(
    "args",
    [["--age", "-5"], ["--age", "200"], ["--seconds", "0"], ["--seconds", "nan"]],
)
def test_interpret_refuses_impossible_age_and_duration(npy, capsys, args):
    path, fs = npy
    with pytest.raises(SystemExit) as stop:
        main(["interpret", str(path), "--fs", str(fs), *args])
    assert stop.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_a_missing_optional_extra_is_named_with_its_install_command(tmp_path, capsys, monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "torch" or m.startswith(("torch.", "ecgr1.model"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" now fails: not installed
    assert main(["model", "init-tiny", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "pip install 'ecgr1[train]'" in err and "torch" in err and "Traceback" not in err


def test_annotations_carry_the_beat_classes_and_read_back_with_wfdb(tmp_path, capsys):
    import wfdb

    from ecgr1.io.writers import write_wfdb

    write_wfdb(ecgr1.simulate("pvc", seed=0).record, tmp_path, "pvc0")
    out = tmp_path / "ann"
    assert main(["measure", str(tmp_path / "pvc0.hea"), "--annotations", str(out)]) == 0
    measured = json.loads(capsys.readouterr().out)
    classes = [b["beat_class"] for b in measured["beats"]]
    assert "premature_ventricular" in classes
    ann = wfdb.rdann(str(out / "pvc0"), "ii")
    qrs = [s for s in ann.symbol if s not in ("(", ")", "p", "t")]
    expected = ["V" if c == "premature_ventricular" else "N" for c in classes]
    assert qrs == expected


def test_render_refuses_an_unknown_highlight_lead(tmp_path, capsys):
    from ecgr1.io.writers import write_wfdb

    write_wfdb(ecgr1.simulate("normal", seed=0).record, tmp_path, "n0")
    rec = str(tmp_path / "n0.hea")
    assert main(["render", rec, "--out", str(tmp_path / "img"), "--highlight", "II,V7"]) == 2
    err = capsys.readouterr().err
    assert "V7" in err and len(err.strip().splitlines()) == 1
    assert main(["render", rec, "--out", str(tmp_path / "img"), "--highlight", "ii,avf"]) == 0
