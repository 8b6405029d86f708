"""``ecgr1 model init-tiny|build|info``: create and inspect ECG-R1 model folders."""

from __future__ import annotations

import argparse
import json
import sys

from ecgr1.cli._batch import add_command

DESCRIPTION = """\
Model folder utilities.

  init-tiny OUT [--arch qwen3vl|qwen2_5vl] [--preset tiny|small]
      build a random model + tokenizer + image processor entirely offline (tests, smoke runs)
  build BASE OUT [--ecg-tower CKPT] [--projector mlp2x_gelu]
      add the ECG tower/projector and ECG tokens to a Qwen3-VL / Qwen2.5-VL folder (optionally
      loading an ECG-CoCa checkpoint into the tower) and save the result for SFT
  info DIR
      print architecture, parameter counts and ECG settings of a model folder (JSON)
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

    info = add_command(sub, "info", _info, help="describe a model folder (JSON)")
    info.add_argument("path", metavar="DIR")


def _init_tiny(args: argparse.Namespace) -> int:
    from ecgr1.model.tiny import init_tiny

    out = init_tiny(args.out, args.arch, preset=args.preset, seed=args.seed)
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
    )
    print(json.dumps(report, indent=2))
    return 0


def _info(args: argparse.Namespace) -> int:
    from ecgr1.model.build import describe_model_dir

    json.dump(describe_model_dir(args.path), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
