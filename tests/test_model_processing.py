"""ECGR1Processor (tags, labels, chat format) and interchange row loading."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ecgr1.errors import InvalidInputError, MissingFileError
from ecgr1.model.data import load_ecg, load_row_media, read_jsonl, reference_answer
from ecgr1.model.processing import (
    DEFAULT_SYSTEM_PROMPT,
    IGNORE_INDEX,
    ECGR1Processor,
    build_training_example,
)
from ecgr1.model.tiny import build_tiny_tokenizer, tiny_image_processor

N_ECG = 7


@pytest.fixture(scope="module")
def proc() -> ECGR1Processor:
    return ECGR1Processor(
        build_tiny_tokenizer(), tiny_image_processor("qwen3vl"), num_ecg_tokens=N_ECG
    )


def _img(w: int, h: int) -> Image.Image:
    return Image.new("RGB", (w, h), (200, 30, 30))


def _ecg(v: float = 0.0) -> np.ndarray:
    return np.full((12, 5000), v, np.float32)


def test_tag_expansion_counts(proc):
    images = [_img(64, 64), _img(128, 64)]
    out = proc(
        text=["<ecg><image>\nA", "<image> then <ecg> and <ecg>"],
        images=[[images[0]], [images[1]]],
        ecgs=[[_ecg()], [_ecg(1), _ecg(2)]],
    )
    ids = out["input_ids"]
    grid = out["image_grid_thw"]
    per_image = [int(g.prod()) // 4 for g in grid]
    assert (ids == proc.image_token_id).sum(1).tolist() == per_image
    assert (ids == proc.ecg_token_id).sum(1).tolist() == [N_ECG, 2 * N_ECG]
    assert (ids == proc.ecg_start_token_id).sum(1).tolist() == [1, 2]
    assert (ids == proc.ecg_end_token_id).sum(1).tolist() == [1, 2]
    assert out["ecg_values"].shape == (3, 12, 5000)
    assert out["ecg_values"][2].max() == 2.0  # ECGs stay in tag order
    # each ECG block is start + N contiguous pads + end
    row = ids[0].tolist()
    s = row.index(proc.ecg_start_token_id)
    assert row[s + 1 : s + 1 + N_ECG] == [proc.ecg_token_id] * N_ECG
    assert row[s + 1 + N_ECG] == proc.ecg_end_token_id
    # image block: vision_start, pads, vision_end (as the Qwen-VL processors write it)
    text = proc.tokenizer.decode(ids[0], skip_special_tokens=False)
    assert "<|vision_start|>" + "<|image_pad|>" * per_image[0] + "<|vision_end|>" in text
    # mm_token_type_ids marks image pads only (ECG pads count as text for M-RoPE)
    assert torch.equal(out["mm_token_type_ids"].bool(), ids == proc.image_token_id)


def test_single_placeholder_forms_expand(proc):
    out = proc(
        text="<|ecg_start|><|ecg_pad|><|ecg_end|><|vision_start|><|image_pad|><|vision_end|>",
        images=[_img(32, 32)],
        ecgs=[_ecg()],
    )
    assert int((out["input_ids"] == proc.ecg_token_id).sum()) == N_ECG
    assert (
        int((out["input_ids"] == proc.image_token_id).sum())
        == int(out["image_grid_thw"].prod()) // 4
    )


def test_tag_media_mismatch_raises(proc):
    msgs = [{"role": "user", "content": "<image><image>"}, {"role": "assistant", "content": "x"}]
    with pytest.raises(InvalidInputError, match="more <image> tags"):
        proc.encode_example(msgs, images=[_img(32, 32)])
    with pytest.raises(InvalidInputError, match="more images"):
        proc.encode_example(msgs[1:], images=[_img(32, 32)])
    with pytest.raises(InvalidInputError, match="ECG"):
        proc.encode_example([{"role": "user", "content": "<ecg>"}], ecgs=[])
    with pytest.raises(InvalidInputError):
        proc(text="<ecg><ecg>", ecgs=[_ecg()])
    with pytest.raises(InvalidInputError):
        proc(text="<image>", images=[])
    with pytest.raises(InvalidInputError):
        proc(text="<ecg>", ecgs=[np.zeros((12, 100), np.float32)])


def test_nan_ecg_values_become_zero(proc):
    x = _ecg()
    x[2, 10] = np.nan
    out = proc(text="<ecg>", ecgs=[x])
    assert torch.isfinite(out["ecg_values"]).all()


def test_labels_only_on_assistant_turn(proc):
    answer = "<think>\n**Step 1: Technical, Rate & Rhythm**\nok\n</think>\nfine\n<answer>Normal ECG</answer>"
    msgs = [
        {"role": "user", "content": "<ecg><image>\nInterpret the provided ECG."},
        {"role": "assistant", "content": answer},
    ]
    ex = proc.encode_example(msgs, images=[_img(64, 64)], ecgs=[_ecg()])
    ids, labels = torch.tensor(ex["input_ids"]), torch.tensor(ex["labels"])
    labelled = ids[labels != IGNORE_INDEX]
    assert proc.tokenizer.decode(labelled, skip_special_tokens=False) == answer + "<|im_end|>"
    # labelled tokens are one contiguous run at the end (the assistant turn)
    first = int((labels != IGNORE_INDEX).nonzero()[0])
    assert (labels[first:] != IGNORE_INDEX).all()
    prompt = proc.tokenizer.decode(ids[:first], skip_special_tokens=False)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert (labels[ids == proc.ecg_token_id] == IGNORE_INDEX).all()


def test_multi_turn_labels_every_assistant_turn(proc):
    msgs = [
        {"role": "user", "content": "<ecg>\nQ1"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2"},
    ]
    ex = proc.encode_example(msgs, ecgs=[_ecg()])
    ids, labels = torch.tensor(ex["input_ids"]), torch.tensor(ex["labels"])
    text = proc.tokenizer.decode(ids[labels != IGNORE_INDEX], skip_special_tokens=False)
    assert text == "A1<|im_end|>A2<|im_end|>"


def test_system_prompt_policy(proc):
    user = [{"role": "user", "content": "hi"}]
    own = [{"role": "system", "content": "Be brief."}, *user]
    assert proc.apply_chat_template(user).startswith(
        f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\nhi"
    )
    assert proc.apply_chat_template(own).startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert proc.apply_chat_template(own, system_prompt="").startswith("<|im_start|>user\n")
    assert "X<|im_end|>" in proc.apply_chat_template(own, system_prompt="X")
    assert proc.apply_chat_template(user, add_generation_prompt=True).endswith(
        "<|im_start|>assistant\n"
    )


def test_inference_batch_is_left_padded_prompt_only(proc):
    rows = [
        {
            "id": "1",
            "messages": [
                {"role": "user", "content": "<ecg>\nInterpret"},
                {"role": "assistant", "content": "<answer>x</answer>"},
            ],
            "images": [],
            "objects": {"ecg": [_ecg()]},
        },
        {
            "id": "2",
            "messages": [
                {"role": "user", "content": "<image>\nInterpret the provided ECG image please"}
            ],
            "images": [_img(64, 64)],
            "objects": {"ecg": []},
        },
    ]
    b = proc.prepare_batch(rows, train=False)
    assert "labels" not in b
    assert b["attention_mask"][:, -1].all()  # left padding: every row ends at the last column
    assert not b["attention_mask"].all()
    for row in b["input_ids"]:
        tail = proc.tokenizer.decode(row[-8:], skip_special_tokens=False)
        assert tail.endswith("<|im_start|>assistant\n")
    assert b["ecg_values"].shape[0] == 1 and b["image_grid_thw"].shape[0] == 1
    train = proc.prepare_batch(rows[:1], train=True)
    assert (train["labels"] != IGNORE_INDEX).any()


def test_processor_save_load(proc, tmp_path):
    proc.save_pretrained(tmp_path)
    again = ECGR1Processor.from_pretrained(tmp_path)
    assert again.num_ecg_tokens == N_ECG
    assert again.system_prompt == proc.system_prompt
    text = "<ecg><image>\nx"
    a = proc(text=text, images=[_img(40, 40)], ecgs=[_ecg()])
    b = again(text=text, images=[_img(40, 40)], ecgs=[_ecg()])
    assert torch.equal(a["input_ids"], b["input_ids"])
    torch.testing.assert_close(a["pixel_values"], b["pixel_values"])


# ------------------------------------------------------------------------------ data


def test_load_ecg_real_records(ludb_dir, qtdb_dir):
    x = load_ecg(ludb_dir / "data" / "1")
    assert x.shape == (12, 5000) and x.dtype == np.float32
    assert np.isfinite(x).all() and np.abs(x).max() > 0.1  # millivolts, not microvolts
    # 2-lead 250 Hz record, standard convention: resampled to 500 Hz, missing leads are zero
    # rows except the limb leads derivable from two leads
    y = load_ecg(qtdb_dir / "sel100", convention="standard")
    assert y.shape == (12, 5000)
    assert (np.abs(y).sum(1) > 0).sum() <= 6
    # the reference convention feeds 12 channels in file order: a 2-lead record is refused
    with pytest.raises(InvalidInputError, match="exactly 12 leads.*has 2 \\(II, V5\\)"):
        load_ecg(qtdb_dir / "sel100")
    with pytest.raises(InvalidInputError, match="unknown ECG input convention"):
        load_ecg(ludb_dir / "data" / "1", convention="raw")


def test_rows_and_roots(ludb_dir, tmp_path):
    Image.new("RGB", (30, 20)).save(tmp_path / "a.png")
    rows = [
        {
            "id": "r1",
            "messages": [
                {"role": "user", "content": "<ecg><image>\nx"},
                {"role": "assistant", "content": "t <answer>Sinus rhythm; LVH</answer>"},
            ],
            "images": ["a.png"],
            "objects": {"ecg": ["1"]},
        },
        {
            "id": "r2",
            "messages": [{"role": "user", "content": "<image>\nx"}],
            "images": ["a.png"],
            "objects": {"ecg": []},
            "solution": "<|answer|>AF<|/answer|><|key_diagnostic_evidence|>x<|/key_diagnostic_evidence|>",
        },
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    got = read_jsonl(path)
    assert [r["id"] for r in got] == ["r1", "r2"]
    ecgs, images = load_row_media(got[0], ecg_root=ludb_dir / "data", image_root=tmp_path)
    assert ecgs[0].shape == (12, 5000) and images[0].size == (30, 20)
    assert reference_answer(got[0]) == "Sinus rhythm; LVH"
    assert reference_answer(got[1]) == "AF"
    with pytest.raises(MissingFileError):
        load_row_media(got[0], ecg_root=tmp_path, image_root=tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n')
    with pytest.raises(InvalidInputError, match="line 2"):
        read_jsonl(bad)


def test_build_training_example_from_row(proc, ludb_dir, tmp_path):
    _img(50, 50).save(tmp_path / "i.png")
    row = {
        "id": "x",
        "messages": [
            {"role": "user", "content": "<ecg><image>\nInterpret"},
            {"role": "assistant", "content": "<answer>N</answer>"},
        ],
        "images": ["i.png"],
        "objects": {"ecg": ["1"]},
    }
    ex = build_training_example(row, proc, ecg_root=ludb_dir / "data", image_root=tmp_path)
    assert ex["ecg_values"].shape == (1, 12, 5000)
    torch.testing.assert_close(
        ex["ecg_values"][0], torch.from_numpy(load_ecg(ludb_dir / "data" / "1"))
    )
    assert len(ex["labels"]) == len(ex["input_ids"])


def test_truncation_cuts_text_never_media(proc):
    msgs = [
        {"role": "user", "content": "<ecg>\nInterpret"},
        {"role": "assistant", "content": "a long answer " * 20},
    ]
    full = proc.encode_example(msgs, ecgs=[_ecg()])
    n_prompt = sum(1 for x in full["labels"] if x == IGNORE_INDEX)
    cut = proc.encode_example(msgs, ecgs=[_ecg()], max_length=n_prompt + 5)
    assert len(cut["input_ids"]) == len(cut["labels"]) == n_prompt + 5
    assert cut["input_ids"] == full["input_ids"][: n_prompt + 5]
    with pytest.raises(InvalidInputError, match="media"):
        proc.encode_example(msgs, ecgs=[_ecg()], max_length=10)


def test_image_token_bounds(proc):
    bounded = ECGR1Processor(
        proc.tokenizer, proc.image_processor, num_ecg_tokens=N_ECG, image_max_tokens=2
    )
    big = _img(256, 256)
    n_default = int(proc(text="<image>", images=[big])["image_grid_thw"].prod()) // 4
    n_bounded = int(bounded(text="<image>", images=[big])["image_grid_thw"].prod()) // 4
    assert n_bounded <= 2 < n_default


def test_tiny_tokenizer_chat_template_matches_processor(proc):
    msgs = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "<ecg>\nhi"},
        {"role": "assistant", "content": "<answer>N</answer>"},
    ]
    tok = proc.tokenizer
    assert tok.apply_chat_template(msgs, tokenize=False) == proc.apply_chat_template(msgs)
    parts = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}]
    text = tok.apply_chat_template(parts, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    out = proc(text=text, images=[_img(32, 32)])  # the single-pad block is expanded
    assert (
        int((out["input_ids"] == proc.image_token_id).sum())
        == int(out["image_grid_thw"].prod()) // 4
    )
