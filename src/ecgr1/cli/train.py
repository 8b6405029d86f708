"""``ecgr1 train sft|grpo``: supervised fine-tuning with IMD, then GRPO/DAPO with evidence rewards.

Every option can also come from ``--config FILE.yaml`` (keys are the option names with
underscores, e.g. ``max_steps: 100``); flags given on the command line win over the file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any

from ecgr1.cli._batch import add_command

S = argparse.SUPPRESS

GRPO_DESCRIPTION = """\
GRPO on TRL's GRPOTrainer with DAPO-style defaults: token-level loss (--loss-type dapo),
clip-higher (--epsilon 0.2, --epsilon-high 0.28), no KL term (--beta 0), truncated
completions masked out of the loss, optional soft overlong punishment (--overlong-buffer N),
and dynamic sampling: groups whose weighted total rewards are all equal carry no advantage and
are replaced by groups of fresh prompts (up to --max-resample extra generation rounds; flat
groups still left are masked out of the loss; logged as dynamic_sampling/*). Rewards: format,
diagnosis, evidence (--reward-mode ecgr1 or reference), weighted by --reward-weights.
--preset ecg-r1 applies the paper's settings. RL rows need a "solution" (interchange.md
section 1). See docs/training.md.
"""


def _switch(parser: argparse.ArgumentParser, group: str, dest: str, what: str) -> None:
    parser.add_argument(
        f"--train-{group}", dest=dest, action="store_true", default=S, help=f"train {what}"
    )
    parser.add_argument(
        f"--freeze-{group}", dest=dest, action="store_false", default=S, help=f"freeze {what}"
    )


def _bool_flag(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    dest = name.replace("-", "_")
    parser.add_argument(f"--{name}", dest=dest, action="store_true", default=S, help=help_text)
    parser.add_argument(f"--no-{name}", dest=dest, action="store_false", default=S)


def _common(parser: argparse.ArgumentParser, stage: str) -> None:
    parser.add_argument(
        "--model", default=S, help="model directory (ecgr1 model init-tiny / SFT output)"
    )
    parser.add_argument("--data", nargs="+", default=S, metavar="JSONL", help="interchange rows")
    parser.add_argument("--out", default=S, help="output directory (checkpoints + final model)")
    parser.add_argument("--config", default=None, metavar="FILE.yaml", help="options file")
    parser.add_argument(
        "--preset",
        default=S,
        metavar="NAME",
        help="named settings (ecg-r1: the paper's recipe); --config and flags override them",
    )
    parser.add_argument(
        "--system-prompt",
        default=S,
        help="replace every row's system turn ('' for none; default: the row's, else ECG-R1's)",
    )
    parser.add_argument("--ecg-root", default=S, help="root for relative ECG record paths")
    parser.add_argument("--image-root", default=S, help="root for relative image paths")
    parser.add_argument("--max-steps", type=int, default=S, help="optimizer steps (-1: epochs)")
    parser.add_argument("--epochs", type=float, default=S)
    parser.add_argument("--lr", type=float, default=S, help="learning rate")
    parser.add_argument("--batch-size", type=int, default=S, help="per-device batch size")
    parser.add_argument("--grad-accum", type=int, default=S, help="gradient accumulation steps")
    parser.add_argument("--weight-decay", type=float, default=S)
    parser.add_argument(
        "--lr-scheduler", default=S, help="learning-rate schedule (linear, cosine, constant...)"
    )
    parser.add_argument(
        "--warmup", type=float, default=S, help="warm-up: share of steps if < 1, else steps"
    )
    _switch(parser, "vision", "train_vision", "the vision tower (default: frozen)")
    _switch(parser, "merger", "train_merger", "the vision merger(s) (default: as the vision tower)")
    _switch(parser, "ecg-tower", "train_ecg_tower", "the ECG encoder (default: trained)")
    _switch(parser, "projector", "train_projector", "the ECG projector (default: trained)")
    _switch(parser, "llm", "train_llm", "the language model (default: trained)")
    parser.add_argument("--lora", default=S, metavar="R,ALPHA", help="LoRA on the LLM (peft)")
    parser.add_argument("--gradient-checkpointing", action="store_true", default=S)
    parser.add_argument("--bf16", default=S, choices=["auto", "true", "false"], help="default auto")
    parser.add_argument(
        "--resume", action="store_true", default=S, help="resume from last checkpoint in --out"
    )
    parser.add_argument(
        "--save-steps", type=int, default=S, help="checkpoint every N steps (0: none)"
    )
    parser.add_argument("--seed", type=int, default=S)
    parser.add_argument(
        "--attn-implementation", default=S, help="sdpa, flash_attention_2, eager (GPU runs)"
    )
    parser.add_argument(
        "--ecg-tower-checkpoint", default=S, metavar="CKPT", help="ECG-CoCa weights for the tower"
    )
    parser.add_argument(
        "--modality-dropout", type=float, default=S, help="IMD drop probability (0.5)"
    )
    parser.add_argument("--interleave", type=float, default=S, help="IMD swap probability (0.1)")
    parser.add_argument(
        "--imd-passes",
        type=int,
        default=S,
        help="IMD passes per sample (1; 2 = the reference's effective 75%% drop / 18%% swap)",
    )
    parser.set_defaults(stage=stage)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` with its ``sft`` and ``grpo`` subcommands."""
    parser = add_command(
        subparsers, "train", None, help="train the ECG-R1 model (SFT with IMD, GRPO/DAPO)"
    )
    # A missing STAGE is a usage error (exit status 2), reported by argparse.
    stages = parser.add_subparsers(dest="stage_name", metavar="STAGE", required=True)

    sft = add_command(
        stages, "sft", run, help="supervised fine-tuning with Interleaved Modality Dropout"
    )
    _common(sft, "sft")
    sft.add_argument("--max-length", type=int, default=S, help="max tokens per example")

    grpo = add_command(
        stages,
        "grpo",
        run,
        help="GRPO with DAPO-style options and evidence rewards",
        description=GRPO_DESCRIPTION,
    )
    _common(grpo, "grpo")
    grpo.add_argument("--num-generations", type=int, default=S, help="completions per prompt (8)")
    grpo.add_argument(
        "--max-completion-length", type=int, default=S, help="tokens per completion (1024)"
    )
    grpo.add_argument("--temperature", type=float, default=S, help="sampling temperature (1.0)")
    grpo.add_argument("--top-k", type=int, default=S, help="top-k sampling (0: off)")
    grpo.add_argument("--top-p", type=float, default=S, help="nucleus sampling (1.0)")
    grpo.add_argument(
        "--loss-type",
        default=S,
        choices=["dapo", "grpo", "dr_grpo", "bnpo"],
        help="policy loss normalisation (dapo: token-level)",
    )
    grpo.add_argument(
        "--beta", type=float, default=S, help="KL coefficient (0: DAPO, no reference model)"
    )
    grpo.add_argument("--epsilon", type=float, default=S, help="lower clip (0.2)")
    grpo.add_argument("--epsilon-high", type=float, default=S, help="clip-higher (0.28)")
    grpo.add_argument(
        "--num-iterations", type=int, default=S, help="updates per generation batch (1)"
    )
    grpo.add_argument(
        "--scale-rewards",
        default=S,
        choices=["group", "batch", "none"],
        help="advantage scaling (group)",
    )
    _bool_flag(
        grpo,
        "mask-truncated-completions",
        "exclude truncated completions from the loss (default: on)",
    )
    _bool_flag(
        grpo,
        "dynamic-sampling",
        "replace groups whose rewards are all equal with fresh prompts' groups (default: on)",
    )
    grpo.add_argument(
        "--max-resample",
        type=int,
        default=S,
        help="dynamic sampling: extra generation rounds per batch (3; 0: mask only)",
    )
    _bool_flag(grpo, "imd", "apply IMD to the prompts in the training forward (default: off)")
    grpo.add_argument(
        "--reward-mode",
        default=S,
        choices=["ecgr1", "reference"],
        help="reward formulas: ecgr1 (default) or the ECG-R1 reference implementation's",
    )
    _bool_flag(grpo, "use-vllm", "rollouts with vLLM through TRL (GPU; rows without ECG)")
    grpo.add_argument(
        "--vllm-mode", default=S, choices=["colocate", "server"], help="TRL vLLM mode"
    )
    grpo.add_argument(
        "--overlong-buffer",
        type=int,
        default=S,
        help="DAPO soft overlong punishment: tokens before the limit where it starts (0: off)",
    )
    grpo.add_argument(
        "--overlong-weight", type=float, default=S, help="weight of that reward (1.0)"
    )
    grpo.add_argument("--reward-weights", default=S, metavar="format=1,diagnosis=1,evidence=1")
    grpo.add_argument(
        "--extra-reward",
        dest="extra_rewards",
        action="append",
        default=S,
        metavar="MODULE:FUNC[=W]",
        help="add a TRL-style reward function (repeatable)",
    )


def options_from_args(args: argparse.Namespace) -> tuple[str, Any]:
    """(stage, options dataclass) from parsed args: defaults < ``--config`` file < flags."""
    from ecgr1.train.common import load_options_file, merge_options

    skip = {"func", "config", "stage", "stage_name", "command", "debug"}
    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in skip}
    file_options = load_options_file(getattr(args, "config", None))
    if args.stage == "sft":
        from ecgr1.train.sft import SFTOptions

        options = merge_options(SFTOptions, file_options, given, stage="sft")
    else:
        from ecgr1.train.grpo import GRPOOptions, parse_reward_weights

        options = merge_options(GRPOOptions, file_options, given, stage="grpo")
        options.reward_weights = parse_reward_weights(options.reward_weights)
    if isinstance(options.data, str):  # a single path in an options file
        options.data = [options.data]
    _require(options)
    return args.stage, options


def run(args: argparse.Namespace) -> int:
    """Run the chosen stage and print a JSON summary on stdout (trainer logs go to stderr, so
    stdout stays machine-readable)."""
    stage, options = options_from_args(args)
    with contextlib.redirect_stdout(sys.stderr):
        if stage == "sft":
            from ecgr1.train.sft import run_sft

            summary = run_sft(options)
        else:
            from ecgr1.train.grpo import run_grpo

            summary = run_grpo(options)
    json.dump(summary, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")
    return 0 if summary.get("finite", True) else 1


def _require(options: Any) -> None:
    from ecgr1.errors import InvalidInputError

    missing = [n for n in ("model", "data", "out") if not getattr(options, n)]
    if missing:
        raise InvalidInputError(
            "missing required option(s): " + ", ".join("--" + m for m in missing)
        )
