"""``ecgr1 infer`` output rows (spec interchange.md section 4), the protocol engine on the core
install, the record path rule, --limit, and the max_new_tokens default of a model folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ecgr1.cli import main
from ecgr1.model.inference import (
    DEFAULT_MAX_NEW_TOKENS,
    ECGR1_MAX_NEW_TOKENS,
    default_max_new_tokens,
)

RECORDS = ("A0001", "A0002", "A0003")
QUESTION = "<ecg>\nInterpret the provided ECG."
SECTION_4 = {"id", "messages", "images", "objects", "response", "labels", "model", "engine",
             "config"}  # fmt: skip


def dx_labels(header: Path) -> list[str]:
    """The CPSC 2018 diagnosis of a record, from its header's ``#Dx:`` line."""
    m = re.search(r"^#Dx:\s*(.+)$", header.read_text(), re.MULTILINE)
    assert m, header
    return [d.strip() for d in m.group(1).split(",") if d.strip()]


def signal_row(rid: str, path: str, answer: list[str] | None = None, **extra) -> dict:
    messages = [{"role": "system", "content": "You are an ECG assistant."}]
    messages.append({"role": "user", "content": QUESTION})
    if answer is not None:
        text = "<think>\nreference reasoning\n</think>\nnarrative\n<answer>" + "; ".join(answer)
        messages.append({"role": "assistant", "content": text + "</answer>"})
    return {"id": rid, "messages": messages, "images": [], "objects": {"ecg": [path]}, **extra}


def image_row(rid: str) -> dict:
    return {
        "id": rid,
        "messages": [{"role": "user", "content": "<image>\nInterpret the provided ECG image."}],
        "images": ["pages/x.png"],
        "objects": {"ecg": []},
    }


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def read_out(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cpsc_rows(cpsc2018_dir, tmp_path_factory):
    """Three CPSC 2018 rows (record paths relative to the data folder) with their reference
    answers, and the input rows themselves."""
    rows = [
        signal_row(rec, rec, dx_labels(cpsc2018_dir / f"{rec}.hea"), meta={"age": 49, "sex": "F"})
        for rec in RECORDS
    ]
    path = tmp_path_factory.mktemp("rows") / "rows.jsonl"
    return write_rows(path, rows), rows


def infer(*args: str) -> int:
    return main(["infer", *map(str, args)])


# ------------------------------------------------------------------------- protocol engine


def test_protocol_rows_keep_the_input_and_add_response_and_labels(
    cpsc_rows, cpsc2018_dir, tmp_path, monkeypatch
):
    import ecgr1.pipeline

    data, rows = cpsc_rows
    seen = []
    real = ecgr1.pipeline.interpret_record

    def spy(path, **kw):
        seen.append((Path(path).name, kw))
        return real(path, **kw)

    monkeypatch.setattr(ecgr1.pipeline, "interpret_record", spy)
    out = tmp_path / "pred.jsonl"
    assert infer("--engine", "protocol", "--data", data, "--out", out,
                 "--ecg-root", cpsc2018_dir) == 0  # fmt: skip
    got = read_out(out)
    assert [r["id"] for r in got] == list(RECORDS)  # one row per input, in input order
    for row, pred in zip(rows, got):
        assert set(pred) == SECTION_4  # no "error", nothing beyond section 4
        for key in ("id", "messages", "images", "objects"):
            assert pred[key] == row[key], key  # as given, the reference answer included
        text = pred["response"]
        assert text.startswith("<think>\n**Step 1: Technical, Rate & Rhythm**")
        assert "**Step 6: Final Medical Reasoning**" in text and "</think>" in text
        assert re.search(r"<answer>[^<]+</answer>\s*$", text)
        assert pred["labels"] == dx_labels(cpsc2018_dir / f"{row['id']}.hea")
        assert pred["model"] == pred["engine"] == "protocol"
        assert pred["config"]["engine"] == "protocol"
        assert pred["config"]["style"] == "deterministic"
    # the text is the protocol's report, and the row's meta gave the age and sex
    assert got[1]["response"] == real(cpsc2018_dir / "A0002", age=49.0, sex="F").report
    assert [name for name, _ in seen] == list(RECORDS)
    assert all(kw == {"age": 49.0, "sex": "F"} for _, kw in seen)


def test_protocol_labels_from_the_rows_reference(tmp_path, cpsc2018_dir):
    """labels: the row's labels list, else its assistant <answer>, else its RL solution; null
    when the row has no reference."""
    rows = [
        signal_row("listed", "A0001", ["ignored"], labels=["NORM", "AF"]),
        signal_row("answer", "A0001", ["Normal", "RBBB"]),
        {**signal_row("solution", "A0001"), "solution": "<|answer|>STD; STE<|/answer|>"},
        signal_row("none", "A0001"),
    ]
    data = write_rows(tmp_path / "rows.jsonl", rows)
    out = tmp_path / "pred.jsonl"
    assert infer("--engine", "protocol", "--data", data, "--out", out,
                 "--ecg-root", cpsc2018_dir) == 0  # fmt: skip
    got = {r["id"]: r["labels"] for r in read_out(out)}
    assert got == {
        "listed": ["NORM", "AF"],
        "answer": ["Normal", "RBBB"],
        "solution": ["STD", "STE"],
        "none": None,
    }


# Extras of ecgr1[train] (and vLLM): none may be imported on the protocol path.
BLOCKED = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "vllm")
NO_EXTRAS = """
import json, sys

BLOCKED = set(json.loads(sys.argv.pop(1)))


class NoExtras:
    '''What a core install looks like: the extras of ecgr1[train] are not there.'''

    def find_spec(self, name, path=None, target=None):
        if name.partition('.')[0] in BLOCKED:
            raise ModuleNotFoundError(f'No module named {name!r} (core install)', name=name)
        return None


sys.meta_path.insert(0, NoExtras())
try:
    import torch  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit('the import blocker does not work')
from ecgr1.cli import main

status = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.partition('.')[0] in BLOCKED)
print(json.dumps({'status': status, 'loaded': loaded}))
"""


def test_protocol_engine_runs_without_torch(cpsc_rows, cpsc2018_dir, tmp_path):
    data, _ = cpsc_rows
    out = tmp_path / "pred.jsonl"
    args = ["infer", "--engine", "protocol", "--data", str(data), "--out", str(out),
            "--ecg-root", str(cpsc2018_dir), "--limit", "1"]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", NO_EXTRAS, json.dumps(BLOCKED), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"status": 0, "loaded": []}, proc.stderr
    (row,) = read_out(out)
    assert "error" not in row and "<answer>" in row["response"]


def test_image_only_rows_fail_with_a_reason(cpsc2018_dir, tmp_path, capsys):
    data = write_rows(tmp_path / "rows.jsonl",
                      [signal_row("sig", "A0001"), image_row("img"), signal_row("sig2", "A0002")])  # fmt: skip
    out = tmp_path / "pred.jsonl"
    # some rows failed: 1, every row still written, in order
    assert infer("--engine", "protocol", "--data", data, "--out", out,
                 "--ecg-root", cpsc2018_dir) == 1  # fmt: skip
    got = read_out(out)
    assert [r["id"] for r in got] == ["sig", "img", "sig2"]
    assert "error" not in got[0] and "error" not in got[2]
    assert got[1]["response"] == "" and "no ECG signal" in got[1]["error"]
    assert got[1]["images"] == ["pages/x.png"] and set(got[1]) == SECTION_4 | {"error"}
    err = capsys.readouterr().err
    assert 'ecgr1 infer: error: row 2 (id "img"): the row has no ECG signal' in err
    assert "1 of 3 rows failed" in err


def test_every_row_failing_is_status_2(tmp_path, capsys):
    """No row could be used: status 2 (needs no data: image-only rows are refused first)."""
    data = write_rows(tmp_path / "rows.jsonl", [image_row("a"), image_row("b")])
    out = tmp_path / "pred.jsonl"
    assert infer("--engine", "protocol", "--data", data, "--out", out) == 2
    assert [r.get("error", "")[:28] for r in read_out(out)] == ["the row has no ECG signal (o"] * 2


def test_limit_and_resume(cpsc_rows, cpsc2018_dir, tmp_path):
    data, _ = cpsc_rows
    out = tmp_path / "pred.jsonl"
    common = ["--engine", "protocol", "--data", data, "--out", out, "--ecg-root", cpsc2018_dir]
    assert infer(*common, "--limit", "2") == 0
    assert [r["id"] for r in read_out(out)] == ["A0001", "A0002"]
    assert infer(*common, "--resume") == 0  # the rest, appended in input order
    assert [r["id"] for r in read_out(out)] == list(RECORDS)
    with pytest.raises(SystemExit) as exc:  # not a usable limit: usage error (argparse)
        infer(*common, "--limit", "0")
    assert exc.value.code == 2


def test_record_paths_may_not_leave_the_ecg_root(cpsc2018_dir, ludb_dir, tmp_path, capsys):
    escape = str(Path("..") / ludb_dir.name / "data" / "1")
    rows = [
        signal_row("inside", "A0001"),
        signal_row("dotdot", escape),
        signal_row("absolute", str(ludb_dir / "data" / "1")),
        signal_row("dotdot-in", "A0001/../../" + ludb_dir.name + "/data/1"),
    ]
    data = write_rows(tmp_path / "rows.jsonl", rows)
    out = tmp_path / "pred.jsonl"
    assert infer("--engine", "protocol", "--data", data, "--out", out,
                 "--ecg-root", cpsc2018_dir) == 1  # fmt: skip
    got = read_out(out)
    assert "error" not in got[0]
    for row in got[1:]:
        assert row["response"] == "" and "is outside --ecg-root" in row["error"], row["id"]
    # default root: the folder of --data, which an absolute record path elsewhere leaves
    data2 = write_rows(tmp_path / "rows2.jsonl", [signal_row("abs", str(cpsc2018_dir / "A0001"))])
    assert infer("--engine", "protocol", "--data", data2, "--out", out) == 2
    assert "is outside --ecg-root" in read_out(out)[0]["error"]


@pytest.mark.parametrize(
    "args",
    [
        [],  # neither --model nor --engine protocol
        ["--engine", "protocol", "--model", "x"],
        ["--engine", "protocol", "--max-new-tokens", "8"],
        ["--engine", "protocol", "--sample"],
        ["--engine", "model"],  # no --model
    ],
)
def test_usage_errors(args, tmp_path, capsys):
    data = write_rows(tmp_path / "rows.jsonl", [image_row("a")])
    assert infer("--data", data, "--out", tmp_path / "o.jsonl", *args) == 2
    assert "ecgr1 infer: error:" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


# ------------------------------------------------------------------------- max_new_tokens


def _folder(path: Path, config: dict | None = None, generation: dict | None = None) -> Path:
    path.mkdir(parents=True)
    if config is not None:
        (path / "config.json").write_text(json.dumps(config))
    if generation is not None:
        (path / "generation_config.json").write_text(json.dumps(generation))
    return path


def test_max_new_tokens_default_of_a_folder(tmp_path):
    qwen = {"model_type": "qwen3_vl", "architectures": ["Qwen3VLForConditionalGeneration"]}
    ecgr1_cfg = {**qwen, "ecg_token_id": 151669, "ecg_model_config": "vit_base"}
    reference = {**qwen, "architectures": ["ECGR1ForConditionalGeneration"]}
    assert ECGR1_MAX_NEW_TOKENS == 2048 and DEFAULT_MAX_NEW_TOKENS == 1024
    cases = {
        "plain": (_folder(tmp_path / "plain", qwen, {"do_sample": False}), (1024, "default")),
        "ecgr1": (_folder(tmp_path / "ecgr1", ecgr1_cfg), (2048, "ECG-R1 folder")),
        "reference": (_folder(tmp_path / "ref", reference), (2048, "ECG-R1 folder")),
        "generation": (
            _folder(tmp_path / "gen", ecgr1_cfg, {"max_new_tokens": 300}),
            (300, "generation_config.json"),
        ),
        "empty": (_folder(tmp_path / "empty"), (1024, "default")),
    }
    adapter = _folder(tmp_path / "adapter")
    (adapter / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": str(tmp_path / "ecgr1")})
    )
    cases["adapter"] = (adapter, (2048, "ECG-R1 folder"))
    for name, (folder, expected) in cases.items():
        assert default_max_new_tokens(folder) == expected, name


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    pytest.importorskip("transformers")
    from ecgr1.model.tiny import init_tiny

    return init_tiny(tmp_path_factory.mktemp("tiny") / "model")


def test_tiny_model_rows_and_max_new_tokens(tiny_dir, cpsc_rows, cpsc2018_dir, tmp_path):
    data, rows = cpsc_rows
    # an ECG-R1 folder (the tiny one carries the ECG fields) asks for 2048 new tokens
    assert default_max_new_tokens(tiny_dir) == (2048, "ECG-R1 folder")
    out = tmp_path / "pred.jsonl"
    common = ["--model", tiny_dir, "--data", data, "--out", out, "--ecg-root", cpsc2018_dir,
              "--device", "cpu", "--limit", "2"]  # fmt: skip
    assert infer(*common, "--max-new-tokens", "8") == 0
    got = read_out(out)
    assert [r["id"] for r in got] == ["A0001", "A0002"]
    for row, pred in zip(rows, got):
        assert set(pred) == SECTION_4
        for key in ("id", "messages", "images", "objects"):
            assert pred[key] == row[key], key
        assert isinstance(pred["response"], str)
        assert pred["labels"] == dx_labels(cpsc2018_dir / f"{row['id']}.hea")
        assert pred["model"] == str(tiny_dir) and pred["engine"] == "model"
        assert pred["config"]["max_new_tokens"] == 8
        assert pred["config"]["max_new_tokens_from"] == "--max-new-tokens"
    # without the option the folder decides: its generation config when it sets a budget
    gen_path = tiny_dir / "generation_config.json"
    saved = gen_path.read_text()
    try:
        gen_path.write_text(json.dumps({**json.loads(saved), "max_new_tokens": 5}))
        assert infer(*common[:-1], "1") == 0
    finally:
        gen_path.write_text(saved)
    (pred,) = read_out(out)
    assert pred["config"]["max_new_tokens"] == 5
    assert pred["config"]["max_new_tokens_from"] == "generation_config.json"


def test_docstring_examples():
    import doctest
    import importlib

    # by module name: another test may have re-imported the ecgr1.cli package
    names = ("ecgr1.model.inference", "ecgr1.cli.infer")
    for module in (importlib.import_module(name) for name in names):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
