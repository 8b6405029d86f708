"""``ecgr1 model init-tiny|build|info``: create and inspect ECG-R1 model folders."""

from __future__ import annotations

import argparse
import json
import sys

from ecgr1.cli._batch import add_command, positive_int

DESCRIPTION = """\
Model folder utilities.

  init-tiny OUT [--arch qwen3vl|qwen2_5vl] [--preset tiny|small] [--ecg-input CONV]
      build a random model + tokenizer + image processor entirely offline (tests, smoke runs)
  build BASE OUT [--ecg-tower CKPT] [--projector mlp2x_gelu] [--ecg-input CONV]
                 [--image-min-tokens N] [--image-max-tokens N] [--max-new-tokens N]
      add the ECG tower/projector and ECG tokens to a Qwen3-VL / Qwen2.5-VL folder (optionally
      loading an ECG-CoCa checkpoint into the tower) and save the result for SFT
  info DIR
      print architecture, parameter counts and ECG settings of a model folder (JSON)

Every folder records its settings (docs/model.md): the ECG input convention (reference, the
published ECG-R1's: file lead order, raw samples; or standard: standard order, 500 Hz), the
LLM tokens per image (ECG-R1: 4..768) and the generation budget (ECG-R1: 2048 new tokens).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``model`` subcommand group."""
    parser = add_command(
        subparsers,
        "model",
        None,
        help="create/inspect ECG-R1 model folders",
        description=DESCRIPTION,
    )
    # A missing ACTION is a usage error (exit status 2), reported by argparse.
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    tiny = add_command(sub, "init-tiny", _init_tiny, help="random tiny model for tests (offline)")
    tiny.add_argument("out", metavar="OUT")
    tiny.add_argument("--arch", choices=("qwen3vl", "qwen2_5vl"), default="qwen3vl")
    tiny.add_argument("--preset", choices=("tiny", "small"), default="tiny")
    tiny.add_argument("--seed", type=int, default=0)
    _add_ecg_input(tiny)
    tiny.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="generation budget to record (default: none, i.e. 2048 at inference)",
    )

    build = add_command(sub, "build", _build, help="add ECG modules to a Qwen-VL folder")
    build.add_argument("base", metavar="BASE", help="Qwen3-VL or Qwen2.5-VL model folder")
    build.add_argument("out", metavar="OUT")
    build.add_argument(
        "--ecg-tower",
        default=None,
        metavar="CKPT",
        help="ECG-CoCa checkpoint (.pt/.safetensors) for the ECG tower",
    )
    build.add_argument("--projector", default="mlp2x_gelu", help="linear or mlpNx_gelu")
    build.add_argument("--dtype", default="bf16", help="saved dtype (bf16, fp16, fp32)")
    _add_ecg_input(build)
    build.add_argument(
        "--image-min-tokens", type=positive_int, default=None, metavar="N",
        help="least LLM tokens per image (default 4, ECG-R1's)",
    )  # fmt: skip
    build.add_argument(
        "--image-max-tokens", type=positive_int, default=None, metavar="N",
        help="most LLM tokens per image (default 768, ECG-R1's)",
    )  # fmt: skip
    build.add_argument(
        "--max-new-tokens", type=positive_int, default=None, metavar="N",
        help="generation budget (default 2048, ECG-R1's)",
    )  # fmt: skip

    info = add_command(sub, "info", _info, help="describe a model folder (JSON)")
    info.add_argument("path", metavar="DIR")


def _add_ecg_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ecg-input",
        choices=("reference", "standard"),
        default="reference",
        help="ECG input convention recorded in the folder (default reference, ECG-R1's: file "
        "lead order, raw samples cropped/padded; standard: standard order, 500 Hz)",
    )


def _init_tiny(args: argparse.Namespace) -> int:
    from ecgr1.model.tiny import init_tiny

    out = init_tiny(
        args.out,
        args.arch,
        preset=args.preset,
        seed=args.seed,
        ecg_convention=args.ecg_input,
        max_new_tokens=args.max_new_tokens,
    )
    meta = json.loads((out / "ecgr1_tiny.json").read_text())
    print(f"wrote {args.arch} {args.preset} model ({meta['parameters']:,} parameters) to {out}")
    return 0


def _build(args: argparse.Namespace) -> int:
    from ecgr1.model.build import build_ecg_model

    report = build_ecg_model(
        args.base,
        args.out,
        ecg_tower_checkpoint=args.ecg_tower,
        projector_type=args.projector,
        dtype=args.dtype,
        ecg_convention=args.ecg_input,
        image_min_tokens=args.image_min_tokens,
        image_max_tokens=args.image_max_tokens,
        max_new_tokens=args.max_new_tokens,
    )
    print(json.dumps(report, indent=2))
    return 0


def _info(args: argparse.Namespace) -> int:
    from ecgr1.model.build import describe_model_dir

    json.dump(describe_model_dir(args.path), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
