"""``ecgr1 infer --model DIR --data JSONL --out JSONL``: batch generation with an ECG-R1 model."""

from __future__ import annotations

import argparse
import json
import sys

from ecgr1.cli._batch import BatchOutcome, add_command, batch_exit_status

DESCRIPTION = """\
Generate an interpretation for every interchange row of --data (the rows' user turns with their
ECG signals and/or images; a trailing assistant turn is the reference, never shown to the
model) and write one JSON row per input to --out: id, response, labels (the reference
<answer> when the row has one), model, config. Greedy decoding unless --sample.

--backend vllm uses vLLM (GPU only; needs the vllm package and a registered ECG-R1 vLLM model);
the default backend is transformers (CPU or GPU).

Exit status (docs/cli.md): 0 all rows generated; 1 some rows failed (they are written with an
"error"), or an internal error; 2 usage error, or no row could be used.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``infer`` subcommand."""
    p = add_command(
        subparsers,
        "infer",
        run,
        help="batch inference with an ECG-R1 model (JSONL in, JSONL out)",
        description=DESCRIPTION,
    )
    p.add_argument("--model", required=True, metavar="DIR", help="model folder")
    p.add_argument("--data", required=True, metavar="JSONL", help="interchange rows")
    p.add_argument("--out", required=True, metavar="JSONL", help="output rows")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-new-tokens", type=int, default=1024)
    p.add_argument("--ecg-root", default=None, help="root for relative ECG record paths")
    p.add_argument("--image-root", default=None, help="root for relative image paths")
    p.add_argument(
        "--system-prompt",
        default=None,
        help="replace the system turn ('' for none; default: the row's or ECG-R1's)",
    )
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--backend", choices=("hf", "vllm"), default="hf")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: best)")
    p.add_argument("--dtype", default=None, help="bf16, fp16 or fp32 (default: bf16 on GPU)")
    p.add_argument("--resume", action="store_true", help="skip ids already in --out, append")


def run(args: argparse.Namespace) -> int:
    """Run batch inference; returns the exit status."""
    from ecgr1.model.inference import GenerationSettings, run_inference

    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens,
        do_sample=args.sample,
        temperature=args.temperature,
        top_p=args.top_p,
        backend=args.backend,
        system_prompt=args.system_prompt,
    )
    summary = run_inference(
        args.model,
        args.data,
        args.out,
        batch_size=args.batch_size,
        settings=settings,
        ecg_root=args.ecg_root,
        image_root=args.image_root,
        device=args.device,
        dtype=args.dtype,
        resume=args.resume,
    )
    print(json.dumps(summary), file=sys.stderr)
    if summary["failed"]:
        print(
            f"ecgr1 infer: {summary['failed']} of {summary['written']} rows failed "
            f'(their rows in {args.out} carry an "error")',
            file=sys.stderr,
        )
    # A failed row is a row the model could not be given (an ECGR1Error): bad input.
    return batch_exit_status(BatchOutcome(summary["written"], unreadable=summary["failed"]))
