"""Time SFT and GRPO steps of a randomly initialised ECG-R1-8B at the paper's sequence lengths.

Run by ``scripts/gpu_smoke.sh`` on one GPU without network. The model is the real size: the
Qwen3-VL-8B configuration written out in ``configs/qwen3_vl_8b.json`` (8.77 B parameters) with
the ECG-R1 ViT-B ECG tower and 2-layer MLP projector added. It is built on the ``meta`` device
(no memory, no time) and materialised directly on the GPU in bf16 with random weights, so
nothing is downloaded and no 16 GB of weights pass through host memory.

Phases, each 1-2 steps, each skipped once the time budget is spent (the table says so):

``sft``
    forward + backward + AdamW step on one 4096-token example (the paper's SFT max length)
    holding one ECG (101 tokens) and one image at the 768-token cap; ViT and ECG tower frozen,
    merger, projector and LLM trained (the ``ecg-r1`` SFT preset); gradient checkpointing.
``grpo-generate``
    sampling 6 completions of 2048 new tokens (temperature 1.0, top-k 50, top-p 0.9) from one
    1024-token prompt with both modalities (HF ``generate``).
``grpo-loss``
    the policy-gradient update on those 6 x (1024 + 2048) tokens, in micro-batches of 3 (the
    preset's 3 x 2), only the LLM trained (the ``ecg-r1`` GRPO preset).
``vllm``
    whether vLLM rollouts can be timed (installed or not; see docs/training.md).

``--scaled-down`` runs the same code with a tiny configuration and short sequences on any
device (the CPU test). Example: ``python -m ecgr1.train.full_size --budget-s 600``.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import sys
import time
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from ecgr1.errors import ModelError

CONFIG_FILE = "qwen3_vl_8b.json"
# Ids the three ECG tokens get when ECG-R1 adds them to the Qwen3-VL tokenizer (151,669
# entries); they fit in the 151,936-row embedding, so no resize is needed.
ECG_TOKEN_IDS = {"ecg_start_token_id": 151669, "ecg_token_id": 151670, "ecg_end_token_id": 151671}
# ECG-R1 groups for the presets' freeze switches (ecgr1.train.common.parameter_group)
SFT_TRAINABLE = {
    "vision": False,
    "merger": True,
    "ecg_tower": False,
    "projector": True,
    "llm": True,
}
GRPO_TRAINABLE = {**SFT_TRAINABLE, "merger": False, "projector": False}


@dataclass(frozen=True)
class Lengths:
    """Sequence lengths of the timed steps (defaults: the paper's)."""

    sft_tokens: int = 4096  # SFT --max_length
    image_tokens: int = 768  # IMAGE_MAX_TOKEN_NUM
    prompt_tokens: int = 1024  # an RL prompt with one image and one ECG
    completion_tokens: int = 2048  # --max_completion_length
    generations: int = 6  # --num_generations
    micro_batch: int = 3  # the ecg-r1 preset's per-device batch


PAPER = Lengths()
SCALED_DOWN = Lengths(
    sft_tokens=192, image_tokens=16, prompt_tokens=160, completion_tokens=6, generations=2,
    micro_batch=1,
)  # fmt: skip
# a configuration small enough for a CPU test, same structure (deepstack, M-RoPE, vocab)
SCALED_DOWN_CONFIG = {
    "text_config": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
                    "rope_scaling": {"mrope_interleaved": True, "mrope_section": [2, 3, 3],
                                     "rope_type": "default"}},
    "vision_config": {"depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2,
                      "out_hidden_size": 64, "deepstack_visual_indexes": [1]},
}  # fmt: skip
SCALED_DOWN_ENCODER = {"width": 32, "layers": 1, "heads": 2}


def raw_config() -> dict[str, Any]:
    """The Qwen3-VL-8B ``config.json`` written out in the package."""
    text = resources.files("ecgr1.train").joinpath("configs", CONFIG_FILE).read_text("utf-8")
    raw = json.loads(text)
    raw.pop("_comment", None)
    return raw


def load_config(
    overrides: dict[str, dict[str, Any]] | None = None, encoder: dict[str, Any] | None = None
) -> Any:
    """The ECG-R1-8B model config: Qwen3-VL-8B plus the ECG fields (ViT-B tower, MLP projector).

    ``overrides`` replace entries of ``text_config`` / ``vision_config`` and ``encoder`` the
    ECG tower's settings (scaled-down runs).

    >>> cfg = load_config()
    >>> cfg.text_config.hidden_size, cfg.vision_config.depth, cfg.ecg_model_config
    (4096, 27, 'coca_ViT-B-32')
    """
    from transformers import Qwen3VLConfig

    from ecgr1.model.modeling import set_ecg_config

    raw = raw_config()
    for section, values in (overrides or {}).items():
        raw[section] = {**raw[section], **values}
    config = Qwen3VLConfig(**raw)
    config.eos_token_id = raw["text_config"]["eos_token_id"]
    config.pad_token_id = raw["text_config"]["bos_token_id"]  # <|endoftext|>
    return set_ecg_config(config, encoder=encoder, **ECG_TOKEN_IDS)


def build_on_meta(config: Any) -> Any:
    """The ECG-R1 model for ``config`` with every parameter and buffer on the meta device."""
    import torch

    from ecgr1.model.modeling import model_class_for_config

    with torch.device("meta"):
        return model_class_for_config(config)(config)


def _buffer_twin(config: Any) -> Any:
    """A CPU model of the same widths with one layer, a tiny vocabulary and tiny MLPs: its
    buffers (rotary frequencies, the ECG tower's head) equal the full model's."""
    from ecgr1.model.modeling import model_class_for_config

    twin = copy.deepcopy(config)
    text, vision = twin.text_config, twin.vision_config
    text.num_hidden_layers, text.vocab_size, text.intermediate_size = 1, 8, 8
    vision.depth, vision.intermediate_size, vision.deepstack_visual_indexes = 1, 8, [0]
    return model_class_for_config(twin)(twin)


def materialise(model: Any, config: Any, device: str, dtype: Any, seed: int = 0) -> Any:
    """Allocate a meta-device ``model`` on ``device`` in ``dtype`` and fill it: weights
    N(0, 0.02), biases 0, other vectors (norm scales) 1, buffers as a fresh model computes
    them. Returns the model (same object)."""
    import torch

    model.to(dtype)  # on meta: free
    model.to_empty(device=device)
    twin = dict(_buffer_twin(config).named_buffers())
    generator = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            if name not in twin:
                raise ModelError(f"cannot materialise buffer {name!r}: no twin")
            buffer.copy_(twin[name].to(buffer.dtype))
        for name, param in model.named_parameters():
            if param.ndim >= 2:
                param.normal_(0.0, 0.02, generator=generator)
            elif name.endswith("bias"):
                param.zero_()
            else:
                param.fill_(1.0)
    return model


# ---------------------------------------------------------------------------------------------
# synthetic inputs with the real token layout


def _grid(image_tokens: int, merge: int = 2) -> tuple[int, int, int]:
    """(t, h, w) patch grid whose merged token count is ``image_tokens`` (4:3 where possible)."""
    h = max(1, int(round((image_tokens * 3 / 4) ** 0.5)))
    while image_tokens % h:
        h -= 1
    return 1, h * merge, (image_tokens // h) * merge


def make_inputs(config: Any, n: int, total: int, image_tokens: int, device: str, seed: int = 0):
    """``n`` identical-layout prompts of ``total`` tokens: vision block (``image_tokens``
    pads), ECG block (the tower's 101 pads), random text; with the media tensors."""
    import torch

    g = torch.Generator().manual_seed(seed)
    vc = config.vision_config
    n_ecg = 5000 // 50 + 1
    head = (
        [config.vision_start_token_id] + [config.image_token_id] * image_tokens
        + [config.vision_end_token_id, config.ecg_start_token_id]
        + [config.ecg_token_id] * n_ecg + [config.ecg_end_token_id]
    )  # fmt: skip
    if total <= len(head):
        raise ValueError(f"{total} tokens cannot hold the {len(head)}-token media blocks")
    text = torch.randint(0, 151643, (n, total - len(head)), generator=g)
    ids = torch.cat([torch.tensor(head).expand(n, -1), text], dim=1)
    t, h, w = _grid(image_tokens, vc.spatial_merge_size)
    patch_dim = vc.in_channels * vc.temporal_patch_size * vc.patch_size**2
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "mm_token_type_ids": (ids == config.image_token_id).int(),
        "ecg_values": torch.randn(n, 12, 5000, generator=g),
        "pixel_values": torch.randn(n * t * h * w, patch_dim, generator=g),
        "image_grid_thw": torch.tensor([[t, h, w]] * n),
    }
    return {k: v.to(device) for k, v in batch.items()}


# ---------------------------------------------------------------------------------------------
# timed phases


@dataclass
class Row:
    """One line of the printed table."""

    phase: str
    what: str
    step_s: list[float]
    tokens_per_s: float | None = None
    peak_gib: float | None = None
    note: str = ""


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None


def _reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _optimizer(model: Any) -> Any:
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=1e-6, foreach=False)


def time_sft(model: Any, config: Any, lengths: Lengths, device: str, steps: int) -> Row:
    """SFT steps: one example of ``lengths.sft_tokens`` tokens, loss on the text part."""
    from ecgr1.train.common import set_trainable

    set_trainable(model, SFT_TRAINABLE)
    model.train()
    model.gradient_checkpointing_enable()
    optimizer = _optimizer(model)
    batch = make_inputs(config, 1, lengths.sft_tokens, lengths.image_tokens, device)
    labels = batch["input_ids"].clone()
    labels[:, : lengths.image_tokens + 106] = -100  # media blocks and their markers
    times = []
    _reset_peak(device)
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - start)
    del optimizer
    what = f"1 x {lengths.sft_tokens} tokens, {lengths.image_tokens} image + 101 ECG tokens"
    return Row("sft", what, times, lengths.sft_tokens / min(times), _peak(device))


def time_generation(model: Any, config: Any, lengths: Lengths, device: str) -> tuple[Row, Any]:
    """One GRPO rollout: ``generations`` sampled completions of exactly
    ``completion_tokens`` new tokens. Returns the row and the prompt+completion ids."""
    import torch

    model.eval()
    model.gradient_checkpointing_disable()
    n = lengths.generations
    batch = make_inputs(config, n, lengths.prompt_tokens, lengths.image_tokens, device, seed=1)
    _reset_peak(device)
    _sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **batch, max_new_tokens=lengths.completion_tokens,
            min_new_tokens=lengths.completion_tokens, do_sample=True, temperature=1.0, top_k=50,
            top_p=0.9, pad_token_id=config.pad_token_id,
        )  # fmt: skip
    _sync(device)
    seconds = time.perf_counter() - start
    new = (out.shape[1] - batch["input_ids"].shape[1]) * n
    what = (
        f"{n} x {lengths.completion_tokens} new tokens after a {lengths.prompt_tokens}-token prompt"
    )
    return Row("grpo-generate", what, [seconds], new / seconds, _peak(device)), (batch, out)


def time_grpo_loss(model: Any, rollout: Any, lengths: Lengths, device: str, steps: int) -> Row:
    """GRPO updates on the rollout: per-token log-probs of the completions, a policy-gradient
    loss with random advantages, micro-batches of ``micro_batch``, one optimizer step each."""
    import torch

    from ecgr1.train.common import set_trainable

    batch, sequences = rollout
    set_trainable(model, GRPO_TRAINABLE)
    model.train()
    model.gradient_checkpointing_enable()
    optimizer = _optimizer(model)
    n, prompt = sequences.shape[0], batch["input_ids"].shape[1]
    completion = sequences[:, prompt:]
    advantages = torch.randn(n, device=device)
    per_image = batch["pixel_values"].shape[0] // n
    times = []
    _reset_peak(device)
    for _ in range(steps):
        _sync(device)
        start = time.perf_counter()
        for lo in range(0, n, lengths.micro_batch):
            hi = min(n, lo + lengths.micro_batch)
            ids = sequences[lo:hi]
            logits = model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                mm_token_type_ids=(ids == model.config.image_token_id).int(),
                ecg_values=batch["ecg_values"][lo:hi],
                pixel_values=batch["pixel_values"][lo * per_image : hi * per_image],
                image_grid_thw=batch["image_grid_thw"][lo:hi],
                logits_to_keep=completion.shape[1] + 1,
            ).logits[:, :-1]
            logps = torch.log_softmax(logits.float(), -1).gather(-1, completion[lo:hi, :, None])
            loss = -(advantages[lo:hi, None] * logps[..., 0]).sum() / completion.numel()
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        _sync(device)
        times.append(time.perf_counter() - start)
    del optimizer
    tokens = sequences.numel()
    what = f"{n} x ({prompt} + {completion.shape[1]}) tokens, micro-batch {lengths.micro_batch}"
    return Row("grpo-loss", what, times, tokens / min(times), _peak(device))


def vllm_row() -> Row:
    """The vLLM rollout path: reported, not timed (see docs/training.md)."""
    if importlib.util.find_spec("vllm") is None:
        return Row("vllm", "rollouts through TRL's vLLM integration", [], note="not installed")
    return Row(
        "vllm",
        "rollouts through TRL's vLLM integration",
        [],
        note="installed; not timed: TRL's vLLM path carries no ECG values (ECG-R1 rows refused)",
    )


def run(
    budget_s: float = 600.0,
    *,
    scaled_down: bool = False,
    device: str | None = None,
    steps: int = 2,
) -> dict[str, Any]:
    """Build, materialise and time the phases until ``budget_s`` is spent; returns the report."""
    import torch

    t0 = time.perf_counter()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    lengths = SCALED_DOWN if scaled_down else PAPER
    config = load_config(SCALED_DOWN_CONFIG, SCALED_DOWN_ENCODER) if scaled_down else load_config()
    model = build_on_meta(config)
    n_params = sum(p.numel() for p in model.parameters())
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    materialise(model, config, device, dtype)
    rows = [Row("build", "meta -> " + device, [time.perf_counter() - t0], peak_gib=_peak(device))]
    rollout = None
    phases = [
        ("sft", lambda: time_sft(model, config, lengths, device, steps)),
        ("grpo-generate", lambda: time_generation(model, config, lengths, device)),
        ("grpo-loss", lambda: time_grpo_loss(model, rollout, lengths, device, steps)),
    ]
    for name, phase in phases:
        if time.perf_counter() - t0 > budget_s or (name == "grpo-loss" and rollout is None):
            rows.append(Row(name, "", [], note="skipped: time budget spent"))
            continue
        result = phase()
        if name == "grpo-generate":
            result, rollout = result
        rows.append(result)
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    rows.append(vllm_row())
    return {
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else device,
        "parameters": n_params,
        "dtype": str(dtype).replace("torch.", ""),
        "lengths": asdict(lengths),
        "rows": [asdict(r) for r in rows],
        "total_s": time.perf_counter() - t0,
    }


def format_table(report: dict[str, Any]) -> str:
    """The report as one plain-text table."""

    def num(x: Any, spec: str = ".2f") -> str:
        return "-" if x is None else format(x, spec)

    lines = [
        f"ECG-R1-8B (random, {report['parameters'] / 1e9:.2f} B parameters, {report['dtype']}) "
        f"on {report['device']}; total {report['total_s']:.0f} s",
        f"{'phase':<14} {'step s':<16} {'tokens/s':>10} {'peak GiB':>9}  what",
    ]
    for r in report["rows"]:
        steps = " ".join(f"{s:.2f}" for s in r["step_s"]) or "-"
        what = r["what"] + (f" [{r['note']}]" if r["note"] else "")
        lines.append(
            f"{r['phase']:<14} {steps:<16} {num(r['tokens_per_s'], '.0f'):>10} "
            f"{num(r['peak_gib'], '.1f'):>9}  {what}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line (see module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m ecgr1.train.full_size")
    parser.add_argument("--budget-s", type=float, default=600.0, help="stop starting phases after")
    parser.add_argument("--steps", type=int, default=2, help="steps per SFT / GRPO-loss phase")
    parser.add_argument("--scaled-down", action="store_true", help="tiny config (CPU check)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    report = run(args.budget_s, scaled_down=args.scaled_down, device=args.device, steps=args.steps)
    print(format_table(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
