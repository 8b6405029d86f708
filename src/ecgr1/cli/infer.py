"""``ecgr1 infer --data JSONL --out JSONL (--model DIR | --engine protocol)``: batch
interpretation of interchange rows, by an ECG-R1 model or by the deterministic protocol, written
as interchange.md section-4 rows so that every engine is evaluated by the same commands.

The protocol engine runs on the core install: nothing on its path imports torch or
transformers (the model engine imports them when it starts).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ecgr1.cli._batch import (
    BatchOutcome,
    add_command,
    batch_exit_status,
    internal_error_text,
    positive_int,
)
from ecgr1.errors import ECGR1Error, InvalidInputError

DESCRIPTION = """\
Interpret every interchange row of --data and write one JSON row per input row to --out, in
input order (docs/model.md, spec interchange.md section 4): the input's id, messages (the
reference assistant turn included), images and objects, then response (the generated text),
labels (the reference labels as a list when the row has them, else null), model, engine and
config (the settings used).

Engines:
  --model DIR                 an ECG-R1 model (engine "model"; needs ecgr1[train]); the row's
                              user turns with its ECG signals and/or images, a trailing
                              assistant turn is the reference and never shown to the model.
                              Greedy decoding unless --sample. --max-new-tokens defaults from
                              the folder: its generation_config.json, else 2048 for an ECG-R1
                              folder, else 1024. ECG signals reach the model under the
                              folder's input convention (--ecg-input replaces it): reference
                              (published ECG-R1: file lead order, raw samples cropped/padded
                              to 5000, 12 leads required) or standard (standard order, 500 Hz).
                              Images are bounded by the folder's tokens per image (ECG-R1:
                              4..768; --image-min-tokens/--image-max-tokens replace them).
  --engine protocol           the deterministic measure -> protocol -> six-step report of
                              ecgr1 interpret (core install, no --model); reads objects.ecg[0]
                              under --ecg-root (default: the folder of --data), which it may not
                              leave, with the age/sex of the row's meta when given. A row
                              without an ECG signal (image only) fails: the protocol reads
                              signals, not pictures.

--backend vllm uses vLLM (GPU only; needs the vllm package and a registered ECG-R1 vLLM model);
the default backend is transformers (CPU or GPU).

Exit status (docs/cli.md): 0 all rows interpreted; 1 some rows failed (they are written with an
"error" and counted), or an internal error; 2 usage error, or no row could be used.
"""

# Options that only mean something to a model, refused with --engine protocol (their value when
# not given is None/False, so that "given" can be told from the default).
_MODEL_OPTIONS = {
    "batch_size": "--batch-size",
    "max_new_tokens": "--max-new-tokens",
    "image_root": "--image-root",
    "system_prompt": "--system-prompt",
    "sample": "--sample",
    "temperature": "--temperature",
    "top_p": "--top-p",
    "backend": "--backend",
    "device": "--device",
    "dtype": "--dtype",
    "ecg_input": "--ecg-input",
    "image_min_tokens": "--image-min-tokens",
    "image_max_tokens": "--image-max-tokens",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``infer`` subcommand."""
    p = add_command(
        subparsers,
        "infer",
        run,
        help="batch interpretation of interchange rows by a model or the protocol (JSONL)",
        description=DESCRIPTION,
    )
    p.add_argument("--model", default=None, metavar="DIR", help="model folder (engine model)")
    p.add_argument(
        "--engine",
        choices=("model", "protocol"),
        default=None,
        help="model (default with --model) or protocol (no model needed)",
    )
    p.add_argument("--data", required=True, metavar="JSONL", help="interchange rows")
    p.add_argument("--out", required=True, metavar="JSONL", help="output rows")
    p.add_argument("--limit", type=positive_int, default=None, metavar="N",
                   help="only the first N rows of --data (quick runs)")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int, default=None, help="rows per batch (4)")
    p.add_argument(
        "--max-new-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="generation budget (default: from the model folder, see above)",
    )
    p.add_argument(
        "--ecg-root",
        default=None,
        metavar="DIR",
        help="root of relative ECG record paths (protocol: the folder the paths may not leave; "
        "default the folder of --data)",
    )
    p.add_argument("--image-root", default=None, help="root for relative image paths")
    p.add_argument(
        "--system-prompt",
        default=None,
        help="replace the system turn ('' for none; default: the row's or ECG-R1's)",
    )
    p.add_argument("--sample", action="store_true", help="sample instead of greedy decoding")
    p.add_argument("--temperature", type=float, default=None)
    p.add_argument("--top-p", type=float, default=None)
    p.add_argument("--backend", choices=("hf", "vllm"), default=None, help="hf (default) or vllm")
    p.add_argument(
        "--ecg-input",
        choices=("reference", "standard"),
        default=None,
        help="ECG input convention (default: the folder's; reference for ECG-R1 folders)",
    )
    p.add_argument(
        "--image-min-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="least LLM tokens per image (default: the folder's; ECG-R1: 4)",
    )
    p.add_argument(
        "--image-max-tokens",
        type=positive_int,
        default=None,
        metavar="N",
        help="most LLM tokens per image (default: the folder's; ECG-R1: 768)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: best)")
    p.add_argument("--dtype", default=None, help="bf16, fp16 or fp32 (default: bf16 on GPU)")
    p.add_argument("--resume", action="store_true", help="skip ids already in --out, append")


def run(args: argparse.Namespace) -> int:
    """Run batch inference; returns the exit status."""
    engine = args.engine or ("model" if args.model is not None else None)
    if engine is None:
        raise ECGR1Error("give --model DIR (an ECG-R1 model), or --engine protocol")
    if engine == "protocol":
        if args.model is not None:
            raise ECGR1Error("--engine protocol takes no --model")
        given = [flag for key, flag in _MODEL_OPTIONS.items() if getattr(args, key)]
        if given:
            raise ECGR1Error(f"{', '.join(given)}: model options, not for --engine protocol")
        summary = run_protocol_inference(
            args.data,
            args.out,
            ecg_root=args.ecg_root,
            limit=args.limit,
            resume=args.resume,
            debug=getattr(args, "debug", False),
        )
    else:
        if args.model is None:
            raise ECGR1Error("--engine model needs --model DIR")
        summary = _run_model(args)
    print(json.dumps(summary), file=sys.stderr)
    failed = summary["failed"] + summary.get("internal_errors", 0)
    if failed:
        print(
            f"ecgr1 infer: {failed} of {summary['written']} rows failed "
            f'(their rows in {args.out} carry an "error")',
            file=sys.stderr,
        )
    # A failed row is a row the engine could not be given (an ECGR1Error): bad input.
    return batch_exit_status(
        BatchOutcome(
            summary["written"],
            unreadable=summary["failed"],
            internal_errors=summary.get("internal_errors", 0),
        )
    )


def _run_model(args: argparse.Namespace) -> dict[str, Any]:
    from ecgr1.model.inference import GenerationSettings, run_inference

    settings = GenerationSettings(
        max_new_tokens=args.max_new_tokens,
        max_new_tokens_from="--max-new-tokens" if args.max_new_tokens is not None else None,
        do_sample=args.sample,
        temperature=args.temperature,
        top_p=args.top_p,
        backend=args.backend or "hf",
        system_prompt=args.system_prompt,
    )
    return run_inference(
        args.model,
        args.data,
        args.out,
        batch_size=args.batch_size or 4,
        settings=settings,
        ecg_root=args.ecg_root,
        image_root=args.image_root,
        device=args.device,
        dtype=args.dtype,
        resume=args.resume,
        limit=args.limit,
        ecg_convention=args.ecg_input,
        image_min_tokens=args.image_min_tokens,
        image_max_tokens=args.image_max_tokens,
    )


# -------------------------------------------------------------------------- protocol engine


def _row_name(index: int, row: dict[str, Any]) -> str:
    """``row 3 (id "A0001")`` (``index`` counts rows from 1) for error lines; the id is
    JSON-escaped (it is untrusted)."""
    rid = row.get("id")
    if rid is None:
        return f"row {index}"
    shown = json.dumps(rid if isinstance(rid, (str, int, float)) else str(rid), ensure_ascii=True)
    return f"row {index} (id {shown[:80]})"


def _row_age_sex(row: dict[str, Any]) -> tuple[float | None, str | None]:
    """The patient's age and sex from the row's ``meta`` (the corpus builder writes them);
    a value that is not a plausible age or a known sex is ignored (the record's own is used)."""
    meta = row.get("meta")
    if not isinstance(meta, dict):
        return None, None
    age = meta.get("age")
    if isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 <= age < 130:
        age = None
    sex = meta.get("sex")
    known = {"m": "M", "male": "M", "f": "F", "female": "F"}
    sex = known.get(sex.strip().lower()) if isinstance(sex, str) else None
    return (None if age is None else float(age)), sex


def protocol_config() -> dict[str, Any]:
    """The ``config`` of a protocol row: what decides its text."""
    from ecgr1 import __version__
    from ecgr1.protocol.table import load_table

    return {
        "engine": "protocol",
        "style": "deterministic",
        "criteria_table_version": load_table().version,
        "ecgr1_version": __version__,
    }


def run_protocol_inference(
    data: str | Path,
    out: str | Path,
    *,
    ecg_root: str | Path | None = None,
    limit: int | None = None,
    resume: bool = False,
    progress: bool | None = None,
    debug: bool = False,
) -> dict[str, Any]:
    """The protocol's six-step report (``interpret_record(...).report``) for every row of
    ``data``, written to ``out`` as section-4 rows (engine and model "protocol").

    Each row's record is ``objects.ecg[0]`` under ``ecg_root`` (default: the folder of
    ``data``), which it may not leave (the rule of ``ecgr1 verify --rows``); a record named by
    several rows is interpreted once. A row without an ECG signal, an unreadable record or a
    path outside the root is written with an ``error`` and counted in ``failed``; an
    unexpected exception (a bug) likewise, counted in ``internal_errors`` (raised with
    ``debug``). Each failure is one line on stderr.

    Returns ``{"rows", "written", "skipped", "failed", "internal_errors", "seconds"}``.
    """
    from tqdm import tqdm

    from ecgr1.cli.verify import inside_root, record_key, row_record
    from ecgr1.model.data import read_jsonl
    from ecgr1.model.inference import done_ids, prediction_row
    from ecgr1.pipeline import interpret_record

    root = str(Path(data).parent) if ecg_root is None else str(ecg_root)
    if not Path(root).is_dir():
        raise InvalidInputError("--ecg-root is not a folder", root)
    rows = read_jsonl(data)
    if limit is not None:
        rows = rows[: max(0, int(limit))]
    out_p = Path(out)
    if out_p.is_dir():
        raise InvalidInputError("--out names a folder, not a file", str(out_p))
    done = done_ids(out_p) if resume else set()
    todo = [(i, r) for i, r in enumerate(rows, 1) if str(r.get("id")) not in done]
    config = protocol_config()
    # (record, age, sex) -> the report, or the exception interpreting it raised
    reports: dict[tuple[str, float | None, str | None], Any] = {}

    def report_for(row: dict[str, Any]) -> str:
        ref = row_record(row)
        if ref is None:
            raise InvalidInputError(
                "the row has no ECG signal (objects.ecg is empty): the protocol engine "
                "interprets signals, not images; use --model for image-only rows"
            )
        path = inside_root(root, ref)
        age, sex = _row_age_sex(row)
        key = (record_key(path), age, sex)
        if key not in reports:
            try:
                reports[key] = interpret_record(path, age=age, sex=sex).report
            except Exception as exc:  # noqa: BLE001 - every row naming it fails the same way
                reports[key] = exc
        value = reports[key]
        if isinstance(value, BaseException):
            raise value
        return value

    out_p.parent.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    written = failed = internal = 0
    with out_p.open("a" if resume else "w", encoding="utf-8") as fh:
        for index, row in tqdm(todo, desc="infer", unit="row", disable=not show):
            error = None
            try:
                response = report_for(row)
            except (ECGR1Error, OSError) as exc:
                failed += 1
                error = str(exc) if isinstance(exc, ECGR1Error) else f"{exc.strerror or exc}"
                if isinstance(exc, OSError) and exc.filename:
                    error += f": {exc.filename!r}"
            except Exception as exc:  # noqa: BLE001 - one row, even a bug, must not stop a batch
                if debug:
                    raise
                internal += 1
                error = internal_error_text(exc)
            if error is not None:
                error = " ".join(error.splitlines())
                response = ""
                tqdm.write(f"ecgr1 infer: error: {_row_name(index, row)}: {error}", file=sys.stderr)
            rec = prediction_row(
                row, response, model="protocol", engine="protocol", config=config, error=error
            )
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            written += 1
    return {
        "rows": len(rows),
        "written": written,
        "skipped": len(rows) - len(todo),
        "failed": failed,
        "internal_errors": internal,
        "seconds": round(time.perf_counter() - start, 3),
    }
