"""Training smoke run: random model -> 5 SFT steps with IMD -> 2 GRPO steps -> batched generation.

Run by ``scripts/gpu_smoke.sh --small`` on a machine with one NVIDIA GPU and no network: a random
``small`` model (about 0.3 B parameters, built from a config, nothing downloaded) in bf16, and
prints step times, tokens/s and peak GPU memory. ``--tiny`` runs the same code path on CPU with
the ``tiny`` preset in seconds (tests).

The inputs are synthetic but well-formed: WFDB records of a 12-lead beat train (P, QRS, T
bumps at 72 bpm) and a drawn image of each, in interchange rows with a 6-step assistant answer
and an RL ``solution``.

Example
-------
``python -m ecgr1.train.smoke --tiny --out /tmp/smoke``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.train.rewards import STEP_KEYS, STEP_TITLES

FS = 500
N_SAMPLES = 5000


def synthetic_ecg(seed: int, heart_rate_bpm: float = 72.0) -> np.ndarray:
    """(12, 5000) mV beat train: Gaussian P, QRS and T waves with per-lead gains."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_SAMPLES) / FS
    rr = 60.0 / heart_rate_bpm
    beat = np.zeros_like(t)
    for onset in np.arange(0.2, 10.0, rr):
        for offset, width, amp in ((0.0, 0.025, 0.12), (0.16, 0.012, 1.0), (0.42, 0.05, 0.3)):
            beat += amp * np.exp(-0.5 * ((t - onset - offset) / width) ** 2)
    gains = rng.uniform(-1.2, 1.2, size=(12, 1))
    noise = rng.normal(0, 0.01, size=(12, N_SAMPLES))
    return (gains * beat + noise).astype(np.float32)


def _draw(signal: np.ndarray, path: Path, size: tuple[int, int]) -> None:
    from PIL import Image, ImageDraw

    w, h = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    for lead in range(12):
        row, col = lead % 3, lead // 3
        seg = signal[lead, col * 1250 : (col + 1) * 1250 : 5]
        x0, y0 = col * w / 4, row * h / 3 + h / 6
        scale = h / 10
        pts = [(x0 + i * (w / 4) / len(seg), y0 - float(v) * scale) for i, v in enumerate(seg)]
        draw.line(pts, fill="black")
    img.save(path)


def build_rows(root: Path, n: int, image_size: tuple[int, int]) -> tuple[Path, Path]:
    """Write ``n`` synthetic records + images and SFT/RL JSONL files; returns their paths."""
    import wfdb

    labels = ["sinus rhythm", "right bundle branch block", "left axis deviation"]
    rows = []
    for i in range(n):
        signal = synthetic_ecg(i)
        name = f"syn{i:03d}"
        wfdb.wrsamp(
            name, fs=FS, units=["mV"] * 12, sig_name=list(STANDARD_LEADS), p_signal=signal.T.astype(np.float64),
            fmt=["16"] * 12, write_dir=str(root),
        )  # fmt: skip
        _draw(signal, root / f"{name}.png", image_size)
        answer = labels[i % len(labels)]
        steps = "\n".join(
            f"**Step {k + 1}: {title}**\nRate 72 bpm; finding {k + 1} for {answer}."
            for k, title in enumerate(STEP_TITLES)
        )
        rows.append(
            {
                "id": name,
                "messages": [
                    {"role": "user", "content": "<ecg><image>\nInterpret the provided ECG."},
                    {
                        "role": "assistant",
                        "content": f"<think>\n{steps}\n</think>\nSummary.\n<answer>{answer}</answer>",
                    },
                ],
                "images": [f"{name}.png"],
                "objects": {"ecg": [name]},
                "solution": f"<|answer|>{answer}<|/answer|><|key_diagnostic_evidence|>"
                f"{STEP_KEYS[0]}: rate 72 bpm<|/key_diagnostic_evidence|>",
            }
        )
    data = root / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return data, data


def make_step_timer() -> Any:
    """A TrainerCallback recording wall time per optimizer step (device-synchronised)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            _sync()
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            _sync()
            self.times.append(time.perf_counter() - self._t)

    return StepTimer()


def length_spread_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """Smoke-only reward with spread inside each group.

    A random model never writes the 6-step format, so the three clinical rewards are all 0, every
    group is flat and dynamic sampling would mask the whole batch; this keeps the GRPO backward
    pass representative of a real run.
    """
    # completions of one prompt are consecutive, so alternating values spread every group
    return [float(k % 2) for k in range(len(completions))]


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_gib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**30


def _reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def run_smoke(out: Path, tiny: bool, sft_steps: int = 5, grpo_steps: int = 2) -> dict[str, Any]:
    """Run the smoke sequence in ``out``; returns the measured figures."""
    import torch

    from ecgr1.model.tiny import init_tiny
    from ecgr1.train.common import load_model, resolve_bf16
    from ecgr1.train.grpo import GRPOOptions, build_grpo_trainer
    from ecgr1.train.sft import SFTOptions, build_sft_trainer

    out.mkdir(parents=True, exist_ok=True)
    preset = "tiny" if tiny else "small"
    bf16 = resolve_bf16("auto") and not tiny
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
        "preset": preset,
        "bf16": bf16,
    }
    t0 = time.perf_counter()
    init_tiny(out / "model", preset=preset)
    report["init_s"] = time.perf_counter() - t0
    data, _ = build_rows(out, n=8 if tiny else 32, image_size=(112, 84) if tiny else (448, 336))

    # --- SFT with IMD ------------------------------------------------------------------
    model, processor = load_model(out / "model", bf16)
    report["parameters"] = sum(p.numel() for p in model.parameters())
    sft_opts = SFTOptions(
        data=[str(data)], out=str(out / "sft"), max_steps=sft_steps, lr=1e-5,
        batch_size=2 if tiny else 4, bf16=str(bf16).lower(), ecg_root=str(out),
        image_root=str(out), gradient_checkpointing=not tiny,
    )  # fmt: skip
    timer = make_step_timer()
    trainer = build_sft_trainer(sft_opts, model, processor)
    trainer.add_callback(timer)
    _reset_peak()
    trainer.train()
    tokens = max((h.get("num_tokens", 0) for h in trainer.state.log_history), default=0)
    report["sft"] = {
        "step_s": timer.times,
        "tokens_per_s": tokens / sum(timer.times) if timer.times else None,
        "final_loss": next(
            (h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None
        ),
        "peak_gib": _peak_gib(),
        "imd": dict(trainer.data_collator.imd_counts),
    }
    model = trainer.model

    # --- GRPO -----------------------------------------------------------------------------
    grpo_opts = GRPOOptions(
        data=[str(data)], out=str(out / "grpo"), max_steps=grpo_steps, lr=1e-6,
        batch_size=4 if tiny else 8, num_generations=2 if tiny else 4,
        max_completion_length=16 if tiny else 128, bf16=str(bf16).lower(),
        ecg_root=str(out), image_root=str(out), mask_truncated_completions=False,
        gradient_checkpointing=not tiny, overlong_buffer=4 if tiny else 32,
    )  # fmt: skip
    timer = make_step_timer()
    trainer = build_grpo_trainer(
        grpo_opts, model, processor, extra_reward_funcs=[(length_spread_reward, 0.1)]
    )
    trainer.add_callback(timer)
    _reset_peak()
    trainer.train()
    logged = [h for h in trainer.state.log_history if "reward" in h]
    gen_tokens = sum(h.get("completions/mean_length", 0) * grpo_opts.batch_size for h in logged)
    report["grpo"] = {
        "step_s": timer.times,
        "completion_tokens_per_s": gen_tokens / sum(timer.times) if timer.times else None,
        "rewards": [
            {k: v for k, v in h.items() if k.startswith("rewards/") and k.endswith("/mean")}
            for h in logged
        ],
        "peak_gib": _peak_gib(),
    }

    # --- batched generation -------------------------------------------------------------
    from ecgr1.train.common import read_rows

    rows = read_rows([data])[: 4 if tiny else 16]
    batch = processor.prepare_batch(rows, train=False, ecg_root=out, image_root=out)
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in batch.items()}
    new_tokens = 16 if tiny else 256
    gen_model = model.get_base_model() if hasattr(model, "get_base_model") else model
    gen_model.eval()
    _reset_peak()
    _sync()
    t = time.perf_counter()
    with torch.no_grad():
        generated = gen_model.generate(
            **batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False
        )
    _sync()
    elapsed = time.perf_counter() - t
    n_new = (generated.shape[1] - batch["input_ids"].shape[1]) * generated.shape[0]
    report["generation"] = {
        "batch": len(rows),
        "new_tokens": int(n_new),
        "seconds": elapsed,
        "tokens_per_s": n_new / elapsed,
        "peak_gib": _peak_gib(),
    }
    return report


def _print(report: dict[str, Any]) -> None:
    def fmt(x: Any) -> str:
        return "-" if x is None else f"{x:.3f}" if isinstance(x, float) else str(x)

    print(f"device {report['device']}  preset {report['preset']}  bf16 {report['bf16']}  "
          f"parameters {report['parameters'] / 1e6:.1f} M")  # fmt: skip
    print("SFT  step s:", " ".join(fmt(s) for s in report["sft"]["step_s"]),
          "| tokens/s", fmt(report["sft"]["tokens_per_s"]),
          "| peak GiB", fmt(report["sft"]["peak_gib"]))  # fmt: skip
    print("GRPO step s:", " ".join(fmt(s) for s in report["grpo"]["step_s"]),
          "| completion tokens/s", fmt(report["grpo"]["completion_tokens_per_s"]),
          "| peak GiB", fmt(report["grpo"]["peak_gib"]))  # fmt: skip
    g = report["generation"]
    print(f"generate batch {g['batch']}: {g['new_tokens']} new tokens in {fmt(g['seconds'])} s"
          f" = {fmt(g['tokens_per_s'])} tokens/s | peak GiB {fmt(g['peak_gib'])}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line of the smoke run (see module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m ecgr1.train.smoke")
    parser.add_argument("--out", required=True, help="work folder (model, data, runs)")
    parser.add_argument("--tiny", action="store_true", help="tiny preset on CPU (tests)")
    parser.add_argument("--sft-steps", type=int, default=5)
    parser.add_argument("--grpo-steps", type=int, default=2)
    parser.add_argument("--json", default=None, help="also write the report here")
    args = parser.parse_args(argv)
    report = run_smoke(Path(args.out), args.tiny, args.sft_steps, args.grpo_steps)
    _print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
