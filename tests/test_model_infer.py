"""init-tiny, loading and batch inference end to end (tiny models, real records, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from ecgr1.cli import main
from ecgr1.model import generate_interpretation, load_model_and_processor
from ecgr1.model.data import load_ecg

ANSWER = "<think>\n**Step 1: Technical, Rate & Rhythm**\nx\n</think>\nn\n<answer>Sinus rhythm; Normal ECG</answer>"


def draw_ecg_image(signal: np.ndarray, path) -> None:
    """A quick 12-row trace drawing of a (12, N) mV signal (stand-in for a rendered page)."""
    w, row_h = 500, 40
    img = Image.new("RGB", (w, row_h * 12), "white")
    d = ImageDraw.Draw(img)
    for lead, sig in enumerate(signal):
        xs = np.linspace(0, w - 1, sig.shape[0])
        ys = row_h * lead + row_h / 2 - np.clip(sig, -2, 2) * row_h / 4
        d.line(list(zip(xs.tolist(), ys.tolist())), fill="black", width=1)
    img.save(path)


def greedy_ids(model, processor, row, n, image_root=None) -> list[int]:
    """Greedy decoding written out: one full forward pass per new token (no cache, no
    ``generate``), argmax of the last position, stop after an end-of-sequence token."""
    b = processor.prepare_batch([row], train=False, image_root=image_root)
    eos = model.generation_config.eos_token_id
    eos = set(eos if isinstance(eos, list) else [eos])
    ids, types = b["input_ids"], b["mm_token_type_ids"]
    media = {k: b[k] for k in ("pixel_values", "image_grid_thw", "ecg_values") if k in b}
    out: list[int] = []
    for _ in range(n):
        with torch.no_grad():
            logits = model(
                input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=types, **media
            ).logits[0, -1]
        nxt = int(logits.argmax())
        out.append(nxt)
        if nxt in eos:
            break
        ids = torch.cat([ids, torch.tensor([[nxt]])], 1)
        types = torch.cat([types, torch.zeros(1, 1, dtype=types.dtype)], 1)
    return out


def expected_text(model, processor, row, n, image_root=None) -> str:
    """What inference must write for ``row``: the greedy ids, decoded without special tokens."""
    ids = greedy_ids(model, processor, row, n, image_root)
    return processor.decode(ids, skip_special_tokens=True).strip()


@pytest.fixture(scope="module")
def rows_file(tmp_path_factory, ludb_dir, cpsc2018_dir):
    """Both-modality, signal-only and image-only rows built from real records."""
    root = tmp_path_factory.mktemp("rows")
    for rec_dir, rec in ((ludb_dir / "data", "1"), (cpsc2018_dir, "A0001")):
        draw_ecg_image(load_ecg(rec_dir / rec), root / f"{rec}.png")
    user = "Interpret the provided ECG."
    rows = [
        {
            "id": "both",
            "messages": [
                {"role": "user", "content": f"<ecg><image>\n{user}"},
                {"role": "assistant", "content": ANSWER},
            ],
            "images": ["1.png"],
            "objects": {"ecg": [str(ludb_dir / "data" / "1")]},
        },
        {
            "id": "signal",
            "messages": [{"role": "user", "content": f"<ecg>\n{user}"}],
            "images": [],
            "objects": {"ecg": [str(cpsc2018_dir / "A0001")]},
        },
        {
            "id": "image",
            "messages": [{"role": "user", "content": f"<image>\n{user}"}],
            "images": ["A0001.png"],
            "objects": {"ecg": []},
        },
    ]
    path = root / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module", params=("qwen3vl", "qwen2_5vl"))
def tiny_dir(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "model"
    assert main(["model", "init-tiny", str(out), "--arch", request.param]) == 0
    return out


def test_init_tiny_folder_loads(tiny_dir):
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "preprocessor_config.json",
        "ecgr1_processor.json",
    ):
        assert (tiny_dir / name).exists(), name
    model, proc = load_model_and_processor(tiny_dir, device="cpu")
    assert not model.training
    assert model.config.ecg_token_id == proc.ecg_token_id
    assert proc.num_ecg_tokens == model.num_ecg_tokens == 101


def test_model_info_cli(tiny_dir, capsys):
    assert main(["model", "info", str(tiny_dir)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_type"] in ("qwen3_vl", "qwen2_5_vl")
    assert info["ecg_tokens_per_ecg"] == 101
    assert 0 < info["ecg_parameters"] < info["parameters"]
    # the folder's inference settings: ECG-R1's convention and budget; the tiny image
    # processor's own bounds (null: none recorded)
    assert info["ecg_input_convention"] == "reference"
    assert (info["max_new_tokens"], info["max_new_tokens_from"]) == (2048, "ECG-R1 folder")
    assert info["image_tokens"] == [None, None]


def test_infer_writes_one_row_per_input(tiny_dir, rows_file, tmp_path, capsys):
    out = tmp_path / "pred.jsonl"
    status = main(
        [
            "infer",
            "--model",
            str(tiny_dir),
            "--data",
            str(rows_file),
            "--out",
            str(out),
            "--batch-size",
            "2",
            "--max-new-tokens",
            "3",
            "--image-root",
            str(rows_file.parent),
        ]
    )
    assert status == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in got] == ["both", "signal", "image"]
    model, proc = load_model_and_processor(tiny_dir, device="cpu")
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    for r, row in zip(got, rows):
        assert set(r) >= {"id", "response", "labels", "model", "config"}
        assert "error" not in r
        # the text of greedy decoding (rows batched two by two, left-padded, must not matter)
        assert r["response"] == expected_text(model, proc, row, 3, rows_file.parent), r["id"]
        assert r["config"]["max_new_tokens"] == 3 and r["config"]["do_sample"] is False
        assert r["config"]["ecg_input_convention"] == "reference"
        assert r["config"]["image_tokens"] == [None, None]  # the tiny processor's own bounds
    assert got[0]["labels"] == ["Sinus rhythm", "Normal ECG"]
    assert got[1]["labels"] is None
    # resume: nothing left to do, nothing rewritten
    assert (
        main(
            [
                "infer",
                "--model",
                str(tiny_dir),
                "--data",
                str(rows_file),
                "--out",
                str(out),
                "--resume",
                "--max-new-tokens",
                "3",
                "--image-root",
                str(rows_file.parent),
            ]
        )
        == 0
    )
    assert len(out.read_text().splitlines()) == 3


def test_bad_row_is_reported_not_fatal(tiny_dir, rows_file, tmp_path):
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    rows[1]["objects"]["ecg"] = ["/nonexistent/record"]
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "pred.jsonl"
    status = main(
        [
            "infer",
            "--model",
            str(tiny_dir),
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-new-tokens",
            "2",
            "--image-root",
            str(rows_file.parent),
        ]
    )
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert status == 1
    assert len(got) == 3 and "error" in got[1] and "error" not in got[0]


def test_generate_interpretation_signal_and_image(tiny_dir, ludb_dir, rows_file):
    model, proc = load_model_and_processor(tiny_dir, device="cpu")
    from ecgr1.io import read_record

    rec = read_record(ludb_dir / "data" / "1")
    from ecgr1.model.inference import interpretation_row

    for kwargs in (
        {"record": rec},
        {"image": rows_file.parent / "1.png"},
        {"record": rec, "image": Image.open(rows_file.parent / "1.png")},
    ):
        text = generate_interpretation(model, proc, max_new_tokens=2, **kwargs)
        row = interpretation_row(kwargs.get("record"), kwargs.get("image"))
        assert text == expected_text(model, proc, row, 2)
    with pytest.raises(Exception, match="ECG record, an image"):
        generate_interpretation(model, proc)


def test_generated_ids_are_greedy_and_depend_on_the_ecg(tiny_dir, ludb_dir, cpsc2018_dir):
    """``generate`` (with its KV cache and the ECG spliced on the prefill only) picks the same
    tokens as argmax over full forward passes; a different ECG changes the first logits."""
    model, proc = load_model_and_processor(tiny_dir, device="cpu")
    rows = [
        {
            "id": rec,
            "messages": [{"role": "user", "content": "<ecg>\nInterpret the provided ECG."}],
            "objects": {"ecg": [str(path)]},
        }
        for rec, path in (("1", ludb_dir / "data" / "1"), ("A0001", cpsc2018_dir / "A0001"))
    ]
    for row in rows:
        b = proc.prepare_batch([row], train=False)
        with torch.no_grad():
            out = model.generate(**b, max_new_tokens=6, do_sample=False)
        new = out[0, b["input_ids"].shape[1] :].tolist()
        assert new == greedy_ids(model, proc, row, 6)
    first = []
    for row in rows:
        b = proc.prepare_batch([row], train=False)
        with torch.no_grad():
            first.append(model(**b).logits[0, -1])
    assert (first[0] - first[1]).abs().max() > 1e-4


def test_model_engine_of_interpret(tiny_dir, ludb_dir):
    pipeline = pytest.importorskip("ecgr1.pipeline")
    from ecgr1.io import read_record

    rec = read_record(ludb_dir / "data" / "1")
    out = pipeline.interpret_record(
        rec, engine="model", model_dir=str(tiny_dir), max_new_tokens="3", device="cpu"
    )
    assert out.engine == "model"
    assert isinstance(out.report, str)
    assert out.id == rec.record_id
    with pytest.raises(Exception, match="model_dir"):
        pipeline.interpret_record(rec, engine="model")


def test_interpret_cli_with_model_option(tiny_dir, ludb_dir, capsys, tmp_path):
    """``ecgr1 interpret PATH --model DIR`` prints the model's text, not the protocol report."""
    from ecgr1 import cli

    status = cli.main(
        ["interpret", str(ludb_dir / "data" / "1"), "--model", str(tiny_dir),
         "--engine-option", "max_new_tokens=3", "--engine-option", "device=cpu"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert "**Step 1:" not in out  # a 3-token random model cannot write the protocol report
    assert (
        cli.main(["interpret", str(ludb_dir / "data" / "1"), "--model", str(tmp_path / "x")]) == 2
    )
