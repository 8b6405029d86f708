"""Issue 17, item 5: annotation files carry the beat classes of the JSON, as WFDB beat codes,
per lead and in the record-level beat file ``<id>.beats``, read back with ``wfdb.rdann``."""

from __future__ import annotations

import json

import pytest
import wfdb

import ecgr1
from ecgr1.cli import main
from ecgr1.io.writers import write_wfdb
from ecgr1.measure.annotations import (
    BEAT_ANNOTATOR,
    BEAT_CODES,
    write_annotations,
    write_beat_annotations,
)
from ecgr1.measure.result import Beat, MeasurementResult

WAVE_MARKS = ("(", ")", "p", "t")


@pytest.mark.parametrize(
    ("pattern", "ectopic_class", "code"),
    [("pvc", "premature_ventricular", "V"), ("pac", "premature_supraventricular", "S")],
)
def test_measure_annotations_carry_the_json_classes(
    pattern, ectopic_class, code, tmp_path, capsys
) -> None:
    name = f"{pattern}0"
    write_wfdb(ecgr1.simulate(pattern, seed=0).record, tmp_path, name)
    ann_dir = tmp_path / "ann"
    assert main(["measure", str(tmp_path / f"{name}.hea"), "--annotations", str(ann_dir)]) == 0
    measured = json.loads(capsys.readouterr().out)
    classes = [b["beat_class"] for b in measured["beats"]]
    assert ectopic_class in classes, f"the classifier found no {ectopic_class} in {pattern}"
    expected = [BEAT_CODES[c] for c in classes]
    assert code in expected and "N" in expected

    # The record-level file: one mark per beat, at its R peak, with its class.
    beats = wfdb.rdann(str(ann_dir / name), BEAT_ANNOTATOR)
    assert beats.symbol == expected
    fs = measured["fs"]
    assert beats.sample.tolist() == [round(b["r_peak_s"] * fs) for b in measured["beats"]]
    assert (ann_dir / f"{name}.beats").is_file()

    # The per-lead files: the QRS peak mark of each beat carries the same code.
    for ext in ("ii", "v1"):
        lead = wfdb.rdann(str(ann_dir / name), ext)
        assert [s for s in lead.symbol if s not in WAVE_MARKS] == expected


def _result(classes: list[str]) -> MeasurementResult:
    beats = [Beat(index=k, r_peak_s=0.5 + 0.8 * k, beat_class=cls) for k, cls in enumerate(classes)]
    peaks = [round(b.r_peak_s * 500) for b in beats]
    fid = {
        "qrs_on": [p - 20 for p in peaks],
        "qrs_peak": peaks,
        "qrs_off": [p + 20 for p in peaks],
    }
    return MeasurementResult(
        id="hand", fs=500.0, duration_s=10.0, lead_names=["II"], beats=beats,
        lead_fiducials={"II": fid},
    )  # fmt: skip


def test_every_class_of_the_classifier_has_its_code(tmp_path) -> None:
    classes = ["dominant", "paced", "premature_ventricular", "premature_supraventricular", "other"]
    res = _result(classes)
    path = write_beat_annotations(res, tmp_path)
    assert path == tmp_path / "hand.beats"
    ann = wfdb.rdann(str(tmp_path / "hand"), "beats")
    assert ann.symbol == ["N", "/", "V", "S", "Q"]
    (lead,) = write_annotations(res, tmp_path)
    assert [s for s in wfdb.rdann(str(tmp_path / "hand"), "ii").symbol if s not in WAVE_MARKS] == [
        "N", "/", "V", "S", "Q",
    ]  # fmt: skip
    # Every code written is a WFDB beat code (wfdb.io.annotation's table of beat symbols).
    from wfdb.io.annotation import ann_label_table

    beat_symbols = set(ann_label_table["symbol"])
    assert set(BEAT_CODES.values()) <= beat_symbols


def test_beats_outside_the_record_are_left_out(tmp_path) -> None:
    res = _result(["dominant"] * 3)
    res.beats[2].r_peak_s = 10.5  # past the end of a 10 s record
    write_beat_annotations(res, tmp_path)
    ann = wfdb.rdann(str(tmp_path / "hand"), "beats")
    assert ann.sample.tolist() == [250, 650]
    assert write_beat_annotations(_result([]), tmp_path / "none") is None
