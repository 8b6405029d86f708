"""Issue-6 acceptance on CPU: init-tiny -> train sft -> train grpo -> infer, for rows with both
modalities, signal only and image only; gradients reach the ECG encoder through the SFTTrainer
and GRPOTrainer code paths; ECG values reach generation.

Rows are built from real CPSC 2018 records (labels from their headers) with a rendered image of
the same record.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("ecgr1.model.tiny")

from ecgr1.cli import main as ecgr1_main  # noqa: E402
from ecgr1.train.rewards import STEP_KEYS, STEP_TITLES  # noqa: E402

RECORDS = ("A0001", "A0002", "A0003", "A0004")
DX_TEXT = {
    "Normal": "sinus rhythm",
    "AF": "atrial fibrillation",
    "I-AVB": "first degree av block",
    "LBBB": "left bundle branch block",
    "RBBB": "right bundle branch block",
    "PAC": "premature atrial contraction",
    "PVC": "premature ventricular contraction",
    "STD": "st depression",
    "STE": "st elevation",
}


def _dx(header: Path) -> list[str]:
    for line in header.read_text().splitlines():
        if line.startswith("#Dx:"):
            return [DX_TEXT.get(x.strip(), x.strip()) for x in line[4:].split(",")]
    return []


def _render(record_path: Path, signal: np.ndarray, path: Path) -> None:
    """An image of the record: ``ecgr1.render`` (3x4+II paper layout), shrunk to keep image
    tokens few; a hand-drawn 3 x 4 panel picture if the renderer is unavailable."""
    try:
        from ecgr1.io import read_record
        from ecgr1.render import render_record

        image = render_record(read_record(record_path), dpi=25).image
        image.convert("RGB").resize((128, 80)).save(path)
        return
    except ImportError:
        pass
    from PIL import Image, ImageDraw

    w, h = 112, 84
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    for lead in range(12):
        row, col = lead % 3, lead // 3
        seg = signal[lead, col * 1250 : (col + 1) * 1250 : 25]
        x0, y0 = col * w / 4, row * h / 3 + h / 6
        pts = [(x0 + i * (w / 4) / len(seg), y0 - float(v) * 8) for i, v in enumerate(seg)]
        draw.line(pts, fill="black")
    img.save(path)


def _assistant(labels: list[str]) -> str:
    steps = [
        "Rate 72 bpm, regular rhythm.",
        "QRS 140 ms, normal axis.",
        "No hypertrophy.",
        "No ST elevation.",
        "QTc 440 ms.",
        f"Findings support {labels[0]}.",
    ]
    body = "\n".join(f"**Step {i + 1}: {STEP_TITLES[i]}**\n{p}" for i, p in enumerate(steps))
    return f"<think>\n{body}\n</think>\nSummary.\n<answer>{'; '.join(labels)}</answer>"


def _solution(labels: list[str]) -> str:
    evidence = f"{STEP_KEYS[0]}: rate 72 bpm {STEP_KEYS[1]}: QRS 140 ms"
    return (
        f"<|answer|>{'; '.join(labels)}<|/answer|>"
        f"<|key_diagnostic_evidence|>{evidence}<|/key_diagnostic_evidence|>"
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, cpsc2018_dir: Path) -> Path:
    from ecgr1.model.data import load_ecg
    from ecgr1.model.tiny import init_tiny

    root = tmp_path_factory.mktemp("train6")
    init_tiny(root / "tiny")
    init_tiny(root / "tiny-qwen2_5vl", arch="qwen2_5vl")
    rows = {"both": [], "ecg": [], "image": []}
    for rec in RECORDS:
        signal = load_ecg(cpsc2018_dir / rec)
        _render(cpsc2018_dir / rec, signal, root / f"{rec}.png")
        labels = _dx(cpsc2018_dir / f"{rec}.hea") or ["sinus rhythm"]
        for kind in rows:
            tags = {"both": "<ecg><image>", "ecg": "<ecg>", "image": "<image>"}[kind]
            rows[kind].append(
                {
                    "id": f"{rec}-{kind}",
                    "messages": [
                        {"role": "user", "content": f"{tags}\nInterpret the provided ECG."},
                        {"role": "assistant", "content": _assistant(labels)},
                    ],
                    "images": [f"{rec}.png"] if kind != "ecg" else [],
                    "objects": {"ecg": [rec] if kind != "image" else []},
                    "solution": _solution(labels),
                }
            )
    for kind, kind_rows in rows.items():
        (root / f"{kind}.jsonl").write_text("\n".join(json.dumps(r) for r in kind_rows) + "\n")
    # a reward with guaranteed within-group variance: a random tiny model never writes the
    # 6-step format, so the three clinical rewards alone are all 0 and carry no gradient
    (root / "spread_reward.py").write_text(
        textwrap.dedent(
            """
            def spread(completions, **kwargs):
                # completions of one prompt are consecutive: alternate 0/1 inside each group
                return [float(k % 2) for k in range(len(completions))]
            """
        )
    )
    return root


def _weights(model_dir: Path, prefix: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    out = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        out.update({k: v for k, v in load_file(str(f)).items() if prefix in k})
    assert out, f"no {prefix} weights in {model_dir}"
    return out


def _changed(a: Path, b: Path, prefix: str) -> bool:
    wa, wb = _weights(a, prefix), _weights(b, prefix)
    return any(not torch.equal(wa[k], wb[k]) for k in wa)


def _history(out: Path) -> list[dict]:
    return json.loads((out / "log_history.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["both", "ecg", "image"])
def test_sft_grpo_infer_flow(
    workdir: Path, kind: str, cpsc2018_dir: Path, monkeypatch, capsys
) -> None:
    monkeypatch.syspath_prepend(str(workdir))
    sys.modules.pop("spread_reward", None)
    data = workdir / f"{kind}.jsonl"
    roots = ["--ecg-root", str(cpsc2018_dir), "--image-root", str(workdir)]
    sft, grpo = workdir / f"sft-{kind}", workdir / f"grpo-{kind}"
    common = ["--bf16", "false", "--max-steps", "2", "--lr", "1e-3", *roots]
    status = ecgr1_main(
        ["train", "sft", "--model", str(workdir / "tiny"), "--data", str(data),
         "--out", str(sft), "--batch-size", "2", *common]
    )  # fmt: skip
    assert status == 0
    summary = json.loads(capsys.readouterr().out)  # stdout holds only the JSON summary
    assert summary["steps"] == 2 and summary["finite"]
    losses = [h["loss"] for h in _history(sft) if "loss" in h]
    assert len(losses) == 2 and all(np.isfinite(losses))
    if kind != "image":  # image-only rows never run the ECG tower
        assert _changed(workdir / "tiny", sft, "ecg_tower.")
        assert _changed(workdir / "tiny", sft, "ecg_projector.")
    assert _changed(workdir / "tiny", sft, "language_model.")

    status = ecgr1_main(
        ["train", "grpo", "--model", str(sft), "--data", str(data), "--out", str(grpo),
         "--batch-size", "4", "--num-generations", "2", "--max-completion-length", "8",
         "--no-mask-truncated-completions", "--extra-reward", "spread_reward:spread=1",
         "--overlong-buffer", "4", *common]
    )  # fmt: skip
    assert status == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["rewards"]) == 2
    logged = [h for h in _history(grpo) if "reward" in h]
    assert len(logged) == 2
    for name in ("format_reward", "diagnosis_reward", "evidence_reward"):
        assert all(np.isfinite(h[f"rewards/{name}/mean"]) for h in logged)
    assert _changed(sft, grpo, "language_model.")
    if kind != "image":
        assert _changed(sft, grpo, "ecg_tower.")
        assert _changed(sft, grpo, "ecg_projector.")

    pytest.importorskip("ecgr1.model.inference")
    preds = workdir / f"preds-{kind}.jsonl"
    status = ecgr1_main(
        ["infer", "--model", str(grpo), "--data", str(data), "--out", str(preds),
         "--max-new-tokens", "4", "--batch-size", "2", *roots]
    )  # fmt: skip
    assert status == 0
    out_rows = [json.loads(x) for x in preds.read_text().splitlines() if x.strip()]
    assert sorted(r["id"] for r in out_rows) == sorted(f"{r}-{kind}" for r in RECORDS)
    in_rows = {r["id"]: r for r in map(json.loads, data.read_text().splitlines())}
    for r in out_rows:  # interchange.md section 4
        assert set(r) >= {"id", "response", "labels", "model", "config"} and "error" not in r
        assert isinstance(r["response"], str) and r["model"] == str(grpo)
        assert r["config"]["max_new_tokens"] == 4 and r["config"]["do_sample"] is False
        reference = in_rows[r["id"]]["messages"][-1]["content"]
        answer = reference.split("<answer>")[1].split("</answer>")[0]
        assert r["labels"] == [x.strip() for x in answer.split(";")]


def _cpsc_root() -> Path:
    from ecgr1.paths import shared_data_dir

    return shared_data_dir() / "cpsc2018"


def _load(workdir: Path, arch: str = "qwen3vl"):
    from ecgr1.train.common import load_model

    return load_model(workdir / ("tiny" if arch == "qwen3vl" else f"tiny-{arch}"), bf16=False)


def _assert_ecg_grads(model: torch.nn.Module) -> None:
    """Every ECG tower and projector parameter has a non-zero gradient."""
    params = [
        (n, p) for n, p in model.named_parameters() if "ecg_tower" in n or "ecg_projector" in n
    ]
    assert any("ecg_tower" in n for n, _ in params) and any("ecg_projector" in n for n, _ in params)
    for name, p in params:
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


@pytest.mark.parametrize("arch", ["qwen3vl", "qwen2_5vl"])
def test_gradients_reach_ecg_encoder_through_sfttrainer(workdir: Path, arch: str) -> None:
    from ecgr1.train.sft import SFTOptions, build_sft_trainer

    model, processor = _load(workdir, arch)
    options = SFTOptions(
        data=[str(workdir / "both.jsonl")], out=str(workdir / "grad-sft"), bf16="false",
        ecg_root=str(_cpsc_root()), image_root=str(workdir), modality_dropout=0.0,
    )  # fmt: skip
    trainer = build_sft_trainer(options, model, processor)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    assert batch["ecg_values"].shape == (2, 12, 5000)
    assert (batch["labels"] != -100).any() and (batch["labels"] == -100).any()
    trainer.model.train()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    assert torch.isfinite(loss)
    _assert_ecg_grads(trainer.model)


@pytest.mark.parametrize("arch", ["qwen3vl", "qwen2_5vl"])
def test_gradients_reach_ecg_encoder_through_grpotrainer(
    workdir: Path, arch: str, monkeypatch
) -> None:
    from ecgr1.train.grpo import GRPOOptions, build_grpo_trainer

    model, processor = _load(workdir, arch)
    seen: list[dict] = []
    original_generate = model.generate

    def spy_generate(*args, **kwargs):
        seen.append({k: getattr(v, "shape", None) for k, v in kwargs.items()})
        return original_generate(*args, **kwargs)

    monkeypatch.setattr(model, "generate", spy_generate)

    def half_flat(completions, id, **kwargs):  # noqa: A002 - TRL passes the dataset column
        # group of the first record: constant reward (dropped by dynamic sampling)
        # other group: alternating 0/1 (its completions are consecutive), never flat
        return [0.0 if i.startswith("A0001") else float(k % 2) for k, i in enumerate(id)]

    options = GRPOOptions(
        data=[str(workdir / "both.jsonl")], out=str(workdir / "grad-grpo"), bf16="false",
        ecg_root=str(_cpsc_root()), image_root=str(workdir), batch_size=4, num_generations=2,
        max_completion_length=6, mask_truncated_completions=False, beta=0.04,
        max_resample=0,  # dynamic sampling masks the flat group (the refill is tested below)
    )  # fmt: skip
    trainer = build_grpo_trainer(options, model, processor, extra_reward_funcs=[(half_flat, 1.0)])
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer's loop, absent outside it
    # the generation batch TRL's sampler would give: each prompt num_generations times
    items = [trainer.train_dataset[i] for i in (0, 0, 1, 1)]
    inputs = trainer._prepare_inputs(items)
    assert seen and seen[0]["ecg_values"] == (4, 12, 5000)
    assert seen[0]["pixel_values"] is not None
    assert inputs["ref_per_token_logps"].shape == inputs["completion_ids"].shape  # beta > 0
    fed: list[torch.Tensor] = []  # the ECGs each loss forward really received

    def spy(module, args, kwargs, output):
        fed.append(kwargs["ecg_values"].detach().clone())

    handle = trainer.model.register_forward_hook(spy, with_kwargs=True)
    try:
        loss = trainer.compute_loss(trainer.model, inputs)
    finally:
        handle.remove()
    loss.backward()
    _assert_ecg_grads(trainer.model)
    # after TRL's shuffle each sample is still scored with its own record's ECG: the unmasked
    # (non-flat group) samples come from the second record, the masked ones from the first
    from ecgr1.model.data import load_ecg

    ecg_of = {r: torch.from_numpy(load_ecg(_cpsc_root() / r)) for r in ("A0001", "A0002")}
    fed_all = torch.cat(fed)
    assert fed_all.shape[0] == len(items)
    for i in range(len(items)):
        record = "A0002" if int(inputs["completion_mask"][i].sum()) > 0 else "A0001"
        torch.testing.assert_close(fed_all[i].float(), ecg_of[record])
    assert trainer._metrics["train"]["dynamic_sampling/dropped_group_frac"] == [0.5]
    _assert_logps_use_each_samples_own_media(trainer, processor, inputs, items, workdir)
    # --system-prompt reaches the GRPO prompt encoder
    trainer.system_prompt = "Answer in one line."
    trainer._pending_rows = items[:1]
    ids, _, _ = trainer._tokenize_prompts([items[0]["prompt"]])
    assert "Answer in one line." in processor.decode(ids[0], skip_special_tokens=False)


def _assert_logps_use_each_samples_own_media(trainer, processor, inputs, items, workdir) -> None:
    """The reference log-probs TRL computed (through the media hook, in chunks) equal a plain
    forward of each sample with *its own* record's ECG and image, loaded independently: a
    feed that handed a sample another row's media, or none, would differ."""
    rows = [json.loads(line) for line in (workdir / "both.jsonl").read_text().splitlines()]
    model = trainer.ref_model  # a frozen copy of the (not yet updated) policy, eval mode
    ref = inputs["ref_per_token_logps"]
    # TRL shuffles the generation batch before returning it; the samples of the non-flat
    # group (the second record's) are the ones dynamic sampling left unmasked
    kept = [i for i in range(len(items)) if int(inputs["completion_mask"][i].sum()) > 0]
    assert len(kept) == 2
    row = next(r for r in rows if r["id"] == items[2]["id"])
    for i in kept:
        b = processor.prepare_batch([row], train=False, ecg_root=_cpsc_root(), image_root=workdir)
        prompt = inputs["prompt_ids"][i][inputs["prompt_mask"][i].bool()]
        assert torch.equal(prompt, b["input_ids"][0])  # same prompt, same media placeholders
        n = int(inputs["completion_mask"][i].sum())
        completion = inputs["completion_ids"][i][:n]
        ids = torch.cat([prompt, completion])[None]
        types = torch.zeros_like(ids, dtype=torch.int)
        types[ids == processor.image_token_id] = 1
        with torch.no_grad():
            logits = model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                mm_token_type_ids=types,
                ecg_values=b["ecg_values"],
                pixel_values=b["pixel_values"],
                image_grid_thw=b["image_grid_thw"],
            ).logits[0, len(prompt) - 1 : -1]
        expected = torch.log_softmax(logits.float(), -1).gather(-1, completion[:, None])[:, 0]
        torch.testing.assert_close(ref[i][:n], expected, rtol=1e-4, atol=1e-4)


def test_freeze_switches_only_train_what_is_asked(workdir: Path, cpsc2018_dir: Path) -> None:
    out = workdir / "sft-projector-only"
    status = ecgr1_main(
        ["train", "sft", "--model", str(workdir / "tiny"), "--data", str(workdir / "both.jsonl"),
         "--out", str(out), "--max-steps", "1", "--lr", "1e-2", "--bf16", "false",
         "--freeze-llm", "--freeze-ecg-tower", "--ecg-root", str(cpsc2018_dir),
         "--image-root", str(workdir)]
    )  # fmt: skip
    assert status == 0
    assert _changed(workdir / "tiny", out, "ecg_projector.")
    assert not _changed(workdir / "tiny", out, "ecg_tower.")
    assert not _changed(workdir / "tiny", out, "language_model.")
    assert not _changed(workdir / "tiny", out, "visual.")


def test_lora_keeps_ecg_modules_trainable_and_saved(workdir: Path, cpsc2018_dir: Path) -> None:
    from safetensors.torch import load_file

    from ecgr1.train.common import load_model
    from ecgr1.train.sft import SFTOptions, run_sft

    out = workdir / "sft-lora"
    summary = run_sft(
        SFTOptions(
            model=str(workdir / "tiny"), data=[str(workdir / "both.jsonl")], out=str(out),
            max_steps=1, lr=1e-2, bf16="false", lora="4,8", modality_dropout=0.0,
            ecg_root=str(cpsc2018_dir), image_root=str(workdir),
        )
    )  # fmt: skip
    assert summary["trainable"]["ecg_tower"] > 0 and summary["trainable"]["projector"] > 0
    assert summary["trainable"]["vision"] == 0
    adapter = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert any("ecg_tower" in k for k in adapter) and any("ecg_projector" in k for k in adapter)
    assert any("lora_A" in k for k in adapter)
    # the top-level directory is the merged, plain model
    assert _changed(workdir / "tiny", out, "ecg_tower.")
    assert _changed(workdir / "tiny", out, "language_model.")
    assert not _changed(workdir / "tiny", out, "visual.")
    model, _ = load_model(out, bf16=False)
    assert not any("lora" in n for n, _ in model.named_parameters())


def test_sft_resumes_from_its_checkpoint(workdir: Path, cpsc2018_dir: Path) -> None:
    from ecgr1.train.common import load_model

    out = workdir / "sft-resume"
    args = ["train", "sft", "--model", str(workdir / "tiny"), "--data", str(workdir / "ecg.jsonl"),
            "--out", str(out), "--bf16", "false", "--save-steps", "1", "--ecg-root",
            str(cpsc2018_dir), "--image-root", str(workdir)]  # fmt: skip
    assert ecgr1_main([*args, "--max-steps", "1"]) == 0
    assert (out / "checkpoint-1").is_dir()
    load_model(out / "checkpoint-1", bf16=False)  # checkpoints are loadable model dirs
    # mark the checkpoint's history: a resumed run carries it on, a fresh run would not
    state_file = out / "checkpoint-1" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    state["log_history"][0]["resume_marker"] = 1
    state_file.write_text(json.dumps(state))
    assert ecgr1_main([*args, "--max-steps", "2", "--resume"]) == 0
    history = [h for h in _history(out) if "loss" in h]
    assert [h["step"] for h in history] == [1, 2]
    assert history[0].get("resume_marker") == 1


def test_collator_applies_imd_only_in_training(workdir: Path, cpsc2018_dir: Path) -> None:
    from ecgr1.train.collator import ECGR1SFTCollator
    from ecgr1.train.common import read_rows

    _, processor = _load(workdir)
    rows = read_rows([workdir / "both.jsonl"])
    roots = {"ecg_root": cpsc2018_dir, "image_root": workdir}
    always = ECGR1SFTCollator(processor, modality_dropout=1.0, interleave=0.0, **roots)
    batch = always(rows)
    n_ecg = batch["ecg_values"].shape[0] if "ecg_values" in batch else 0
    n_img = batch["image_grid_thw"].shape[0] if "image_grid_thw" in batch else 0
    assert n_ecg + n_img == len(rows)  # every row lost exactly one modality
    assert always.imd_counts["dropped_ecg"] + always.imd_counts["dropped_image"] == len(rows)
    n_pads = int((batch["input_ids"] == processor.ecg_token_id).sum())
    assert n_pads == n_ecg * processor.num_ecg_tokens  # tags and data dropped together
    evaluation = ECGR1SFTCollator(processor, modality_dropout=1.0, training=False, **roots)
    batch = evaluation(rows)
    assert batch["ecg_values"].shape[0] == len(rows)
    assert batch["image_grid_thw"].shape[0] == len(rows)
    # labels only on the assistant turn: the prompt (with all media pads) is masked
    assert not (batch["labels"][batch["input_ids"] == processor.ecg_token_id] != -100).any()
    # --system-prompt replaces the rows' system turn
    briefed = ECGR1SFTCollator(processor, training=False, system_prompt="Be brief.", **roots)
    text = processor.decode(briefed(rows[:1])["input_ids"][0], skip_special_tokens=False)
    assert "Be brief." in text
    assert "Be brief." not in processor.decode(batch["input_ids"][0], skip_special_tokens=False)


def _grpo_trainer(workdir: Path, reward, **overrides):
    from ecgr1.train.grpo import GRPOOptions, build_grpo_trainer

    model, processor = _load(workdir)
    settings = dict(
        data=[str(workdir / "both.jsonl")], out=str(workdir / "grpo-unit"), bf16="false",
        ecg_root=str(_cpsc_root()), image_root=str(workdir), batch_size=4, num_generations=2,
        max_completion_length=4, mask_truncated_completions=False,
    )  # fmt: skip
    options = GRPOOptions(**{**settings, **overrides})
    trainer = build_grpo_trainer(options, model, processor, extra_reward_funcs=[(reward, 1.0)])
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1
    return trainer, processor


def _first_record_flat(completions, id, **kwargs):  # noqa: A002 - TRL passes the dataset column
    """Constant reward for the first record's prompts (a flat group), 0/1 spread otherwise."""
    return [0.0 if i.startswith("A0001") else float(k % 2) for k, i in enumerate(id)]


def test_dynamic_sampling_refills_flat_groups_from_fresh_prompts(workdir: Path) -> None:
    from ecgr1.model.data import load_ecg
    from ecgr1.train.grpo import MEDIA_KEY

    trainer, _ = _grpo_trainer(workdir, _first_record_flat, max_resample=3)
    calls = []
    original = trainer._generate_scored
    trainer._generate_scored = lambda rows: calls.append([r["id"] for r in rows]) or original(rows)
    items = [trainer.train_dataset[i] for i in (0, 0, 1, 1)]  # A0001 (flat), A0002
    inputs = trainer._generate_and_score_completions(items)
    metrics = trainer._metrics["train"]
    assert metrics["dynamic_sampling/flat_group_frac"] == [0.5]
    rounds = int(metrics["dynamic_sampling/resamples"][0])
    assert rounds >= 1 and len(calls) == 1 + rounds  # one generation round per resample
    assert all(len(ids) == 4 for ids in calls[1:])  # fresh batches shaped like the sampler's
    assert metrics["dynamic_sampling/dropped_group_frac"] == [0.0]  # the batch is full again
    assert (inputs["completion_mask"].sum(dim=1) > 0).all()  # nothing masked
    assert int(inputs["num_items_in_batch"]) == int(inputs["completion_mask"].sum())
    # the first record's flat group was replaced: no sample carries its ECG any more
    first = torch.from_numpy(load_ecg(_cpsc_root() / "A0001"))
    ecgs = [m["ecg_values"][0].float() for m in inputs[MEDIA_KEY]]
    assert len(ecgs) == 4 and not any(torch.equal(e, first) for e in ecgs)
    # the second record's group (never flat) is kept in place, first
    second = torch.from_numpy(load_ecg(_cpsc_root() / "A0002"))
    assert all(torch.equal(e, second) for e in ecgs[:2])
    # every group of the refilled batch has a non-zero advantage spread
    adv = inputs["advantages"].view(-1, 2)
    assert ((adv.max(dim=1).values - adv.min(dim=1).values) > 0).all()
    trainer.compute_loss(trainer.model, inputs).backward()


def test_dynamic_sampling_masks_what_resampling_cannot_fill(workdir: Path) -> None:
    def always_flat(completions, **kwargs):
        return [0.0] * len(completions)

    trainer, _ = _grpo_trainer(workdir, always_flat, max_resample=2)
    items = [trainer.train_dataset[i] for i in (0, 0, 1, 1)]
    inputs = trainer._generate_and_score_completions(items)
    metrics = trainer._metrics["train"]
    assert metrics["dynamic_sampling/resamples"] == [2.0]  # gave up after --max-resample
    assert metrics["dynamic_sampling/dropped_group_frac"] == [1.0]
    assert int(inputs["completion_mask"].sum()) == 0 and int(inputs["num_items_in_batch"]) == 0


def test_imd_in_the_rl_training_forward(workdir: Path) -> None:
    """With ``imd`` the loss forward sees IMD'd prompts (here: always one modality dropped)
    while generation saw both; with IMD probabilities 0 the re-encoded prompts equal the
    generation prompts token for token."""
    trainer, processor = _grpo_trainer(
        workdir, _first_record_flat, imd=True, modality_dropout=0.0, interleave=0.0,
        max_resample=0,
    )  # fmt: skip
    items = [trainer.train_dataset[i] for i in (0, 0, 1, 1)]
    inputs = trainer._generate_and_score_completions(items)
    same = trainer._with_imd_prompts(inputs)
    assert torch.equal(same["prompt_ids"], inputs["prompt_ids"])
    assert torch.equal(same["prompt_mask"], inputs["prompt_mask"])

    trainer.imd = {"modality_dropout": 1.0, "interleave": 0.0, "passes": 2}
    fed = []

    def spy(module, args, kwargs, output):  # after the media hook has filled kwargs
        fed.append(
            {
                "ids": kwargs["input_ids"].detach().clone(),
                "ecgs": kwargs["ecg_values"].shape[0] if "ecg_values" in kwargs else 0,
                "images": kwargs["image_grid_thw"].shape[0] if "image_grid_thw" in kwargs else 0,
            }
        )

    handle = trainer.model.register_forward_hook(spy, with_kwargs=True)
    try:
        loss = trainer.compute_loss(trainer.model, inputs)
    finally:
        handle.remove()
    loss.backward()
    assert torch.isfinite(loss)
    ids = torch.cat([f["ids"] for f in fed])
    assert ids.shape[0] == 4
    # every sample kept exactly one modality: its media and its placeholders agree
    assert sum(f["ecgs"] + f["images"] for f in fed) == 4
    has_ecg = (ids == processor.ecg_token_id).any(dim=1)
    has_image = (ids == processor.image_token_id).any(dim=1)
    assert not (has_ecg & has_image).any() and (has_ecg | has_image).all()
    assert int(has_ecg.sum()) == sum(f["ecgs"] for f in fed)
    # generation saw both modalities in every prompt
    assert (inputs["prompt_ids"] == processor.ecg_token_id).any(dim=1).all()
    assert (inputs["prompt_ids"] == processor.image_token_id).any(dim=1).all()


@pytest.mark.slow
def test_grpo_plain_defaults_run_on_the_tiny_model(workdir: Path, tmp_path: Path, capsys) -> None:
    """``ecgr1 train grpo --model --data --out --max-steps 2``: the default batch settings fit
    together (issue 15); rows carry absolute paths, so no root options are needed. The default
    completion length is cut to keep the CPU test short (the defaults' batch check is the
    point; a random tiny model never stops, so every completion runs to the limit)."""
    rows = []
    for line in (workdir / "ecg.jsonl").read_text().splitlines():
        row = json.loads(line)
        row["objects"]["ecg"] = [str(_cpsc_root() / r) for r in row["objects"]["ecg"]]
        rows.append(row)
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "run"
    status = ecgr1_main(
        ["train", "grpo", "--model", str(workdir / "tiny"), "--data", str(data), "--out",
         str(out), "--max-steps", "2", "--max-completion-length", "8"]
    )  # fmt: skip
    assert status == 0
    assert json.loads(capsys.readouterr().out)["steps"] == 2
    logged = [h for h in _history(out) if "reward" in h]
    assert len(logged) == 2
    # all-zero clinical rewards from a random model: every group flat, resampled, then masked
    assert all(h["dynamic_sampling/resamples"] == 3 for h in logged)
    options = json.loads((out / "ecgr1_train_options.json").read_text())
    assert (options["batch_size"], options["num_generations"]) == (4, 4)


def test_merger_switch_trains_the_vision_merger_alone(workdir: Path) -> None:
    from ecgr1.train.common import set_trainable

    model, _ = _load(workdir)
    counts = set_trainable(
        model,
        {"vision": False, "merger": True, "ecg_tower": False, "projector": True, "llm": True},
    )
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert counts["merger"] > 0 and counts["vision"] == 0 and counts["ecg_tower"] == 0
    assert any(".visual.merger." in n for n in trainable)
    assert any(".visual.deepstack_merger_list." in n for n in trainable)
    assert not any(".visual.blocks." in n or "patch_embed" in n for n in trainable)


def test_ecg_r1_preset_reaches_the_trainers(workdir: Path) -> None:
    """The preset's values end up in TRL's configs and the model's freezing, not only in the
    options: cosine schedule with its warm-up share, bnpo/clip/sampling, trainable groups."""
    from ecgr1.train.common import load_options_file, merge_options, trainable_counts
    from ecgr1.train.grpo import GRPOOptions, build_grpo_trainer
    from ecgr1.train.sft import SFTOptions, build_sft_trainer

    base = {"preset": "ecg-r1", "data": [str(workdir / "both.jsonl")], "bf16": "false",
            "ecg_root": str(_cpsc_root()), "image_root": str(workdir)}  # fmt: skip
    assert load_options_file(None) == {}
    sft_options = merge_options(SFTOptions, {}, {**base, "out": str(workdir / "p-sft")}, "sft")
    model, processor = _load(workdir)
    sft = build_sft_trainer(sft_options, model, processor)
    assert sft.args.lr_scheduler_type == "cosine" and sft.args.learning_rate == 2e-5
    sft.create_optimizer_and_scheduler(num_training_steps=100)
    lrs = []
    for _ in range(5):
        lrs.append(sft.lr_scheduler.get_last_lr()[0])
        sft.optimizer.step()
        sft.lr_scheduler.step()
    assert lrs[0] == 0.0 and lrs[3] == pytest.approx(2e-5)  # 3 warm-up steps of 100
    counts = trainable_counts(sft.model)
    assert counts["merger"] > 0 and counts["projector"] > 0 and counts["llm"] > 0
    assert counts["vision"] == 0 and counts["ecg_tower"] == 0
    assert sft.data_collator.passes == 2

    grpo_options = merge_options(GRPOOptions, {}, {**base, "out": str(workdir / "p-rl")}, "grpo")
    model, processor = _load(workdir)
    rl = build_grpo_trainer(grpo_options, model, processor)
    args = rl.args
    assert (args.loss_type, args.epsilon, args.epsilon_high, args.beta) == ("bnpo", 0.2, 0.3, 0.0)
    assert (args.num_generations, args.max_completion_length) == (6, 2048)
    assert (args.temperature, args.top_k, args.top_p) == (1.0, 50, 0.9)
    assert args.mask_truncated_completions and args.lr_scheduler_type == "cosine"
    assert rl.max_resample == 3 and rl.imd == {"modality_dropout": 0.5, "interleave": 0.1,
                                               "passes": 2}  # fmt: skip
    names = [getattr(f, "__module__", "") for f in rl.reward_funcs]
    assert names == ["ecgr1.train.reference_rewards"] * 3
    counts = trainable_counts(rl.model)
    assert counts["llm"] > 0 and not any(counts[g] for g in ("vision", "merger", "ecg_tower",
                                                             "projector"))  # fmt: skip
