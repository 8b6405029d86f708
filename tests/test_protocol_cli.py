"""``ecgr1 interpret`` and the record-level pipeline (engine hook, robustness)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ecgr1.cli import main
from ecgr1.io import STANDARD_LEADS, ECGRecord
from ecgr1.pipeline import available_engines, interpret_record, register_engine

LEADS = list(STANDARD_LEADS)
JSON_KEYS = {
    "statements",
    "excluded",
    "measurements",
    "quality",
    "report",
    "answer",
    "solution",
}


def _write_flat_record(folder: Path) -> Path:
    import wfdb

    sig = np.zeros((5000, 12))
    wfdb.wrsamp(
        "flat",
        fs=500,
        units=["mV"] * 12,
        sig_name=LEADS,
        p_signal=sig,
        fmt=["16"] * 12,
        write_dir=str(folder),
    )
    return folder / "flat.hea"


def test_flat_record_does_not_raise_and_says_quality(tmp_path: Path, capsys) -> None:
    path = _write_flat_record(tmp_path)
    assert main(["interpret", str(path), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert JSON_KEYS <= set(out)
    assert out["answer"] == ["poor quality / artifact"]
    assert out["report"].startswith("<think>")


def test_engine_hook_registers_and_runs() -> None:
    calls = []

    def fake(record, measurements, interpretation, **options):
        from ecgr1.pipeline import RecordInterpretation

        calls.append(options.get("model_dir"))
        return RecordInterpretation(
            id=record.record_id,
            engine="fake",
            measurements=measurements,
            interpretation=interpretation,
            report="<think></think>\nx\n<answer>y</answer>",
            answer=["y"],
            solution="",
        )

    register_engine("fake", fake)
    assert "fake" in available_engines() and "protocol" in available_engines()
    rec = ECGRecord(np.zeros((12, 2500), np.float32), 250.0, LEADS, record_id="z")
    out = interpret_record(rec, engine="fake", model_dir="/nowhere")
    assert out.engine == "fake" and calls == ["/nowhere"]
    # The protocol interpretation is always computed and handed to the engine.
    assert out.interpretation.labels == ["poor quality / artifact"]


def test_cli_text_and_out_dir_on_real_records(cpsc2018_dir: Path, tmp_path: Path, capsys) -> None:
    recs = [str(cpsc2018_dir / "A0001.hea"), str(cpsc2018_dir / "A0004.hea")]
    assert main(["interpret", *recs, "--seconds", "10"]) == 0
    text = capsys.readouterr().out
    assert text.count("**Step 1: Technical, Rate & Rhythm**") == 2
    assert text.count("<answer>") == 2
    out = tmp_path / "out"
    assert main(["interpret", *recs, "--format", "json", "--out", str(out), "--sex", "M"]) == 0
    files = sorted(p.name for p in out.iterdir())
    assert files == ["A0001.json", "A0004.json"]
    obj = json.loads((out / "A0004.json").read_text())
    assert JSON_KEYS <= set(obj) and obj["sex"] == "M"
    for st in obj["statements"]:
        assert {"code", "label", "category", "certainty", "evidence"} <= set(st)
    assert obj["answer"] == [st["answer_label"] for st in obj["statements"]]
    assert obj["solution"].startswith("<|answer|>")


@pytest.mark.parametrize(
    "relative",
    ["ludb/data/1.hea", "cpsc2019/data/data_00014.mat", "cpsc2021"],
)
def test_other_datasets_do_not_raise(shared_data: Path, relative: str, capsys) -> None:
    target = shared_data / relative
    if not target.exists():
        pytest.skip(f"{target} not present")
    if target.is_dir():
        heads = sorted(target.rglob("*.hea"))[:1]
        if not heads:
            pytest.skip("no records")
        target = heads[0]
    assert main(["interpret", str(target), "--format", "json", "--seconds", "20"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["answer"]
