"""``ecgr1 evaluate grounding|ecgbench|modality``: ECG-R1's three evaluations, scored correctly
(docs/evaluate.md). Every command pairs rows by id, prints a Markdown summary, and with
``--out DIR`` writes ``DIR/<name>.json`` (every number), ``.md`` and ``.html``."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from ecgr1.cli._batch import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    add_command,
    add_debug_option,
    output_errors,
    output_folder,
)
from ecgr1.errors import InvalidInputError

EXIT_TEXT = """\
Exit status (docs/cli.md): 0 every pair scored (unparseable model answers are scores, counted
in the report); 1 some judgements failed (grounding: endpoint errors or unparseable judge
replies, counted and reported, never dropped) or an internal error; 2 usage error, an
unreadable rows file, or no row could be paired.
"""

GROUNDING_DESCRIPTION = (
    """\
Grounded-interpretation judging (ECG-R1's seven criteria): each prediction is compared with
the reference interpretation of the same id by an LLM judge through any OpenAI-compatible
endpoint, or offline by the protocol judge (measurements, protocol statements and claim
verification; criteria it cannot score are reported as unavailable).

  ecgr1 evaluate grounding --pred pred.jsonl --ref ref.jsonl --judge http://127.0.0.1:8000/v1 --judge-model qwen
  ecgr1 evaluate grounding --pred pred.jsonl --ref ref.jsonl --judge protocol --ecg-root corpus/ecg
"""
    + EXIT_TEXT
)

ECGBENCH_DESCRIPTION = (
    """\
ECGBench-style diagnosis scoring. Multi-label sets: per-label and macro F1, Hamming loss, exact
match, AUC only from the predictions' "scores". Single-choice sets: accuracy. Labels are read
from the <answer> block only; a row without one is unparseable (counted, scored as no label /
a wrong choice).

  ecgr1 evaluate ecgbench --pred pred.jsonl --ref corpus/ecgbench/cpsc2018_multilabel.jsonl --out eval/
"""
    + EXIT_TEXT
)

MODALITY_DESCRIPTION = (
    """\
Consistency when one modality is missing: the signal-only and image-only predictions of the
same ids compared by BLEU-4, ROUGE-L, sentence-embedding cosine (a packaged all-MiniLM-L6-v2,
offline; --embedder for any sentence-transformers folder) and answer-label Jaccard, on the final
text and on the <think> text separately.

  ecgr1 evaluate modality --a pred_ecg_only.jsonl --b pred_image_only.jsonl --out eval/
"""
    + EXIT_TEXT
)


def register(subparsers: Any) -> None:
    """Add ``evaluate grounding``, ``evaluate ecgbench`` and ``evaluate modality``."""
    group = add_command(subparsers, "evaluate", None, help="score predictions the ECG-R1 way")
    sub = group.add_subparsers(dest="evaluate_command", metavar="ACTION", required=True)
    _register_grounding(sub)
    _register_ecgbench(sub)
    _register_modality(sub)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", help="write <name>.json, .md and .html here")
    p.add_argument("--limit", type=int, metavar="N",
                   help="only the first N reference rows (grounding: the first N pairs)")  # fmt: skip
    p.add_argument(
        "--reference-compatible",
        action="store_true",
        help="reproduce the published ECG-R1 script's arithmetic (bugs included; for comparing "
        "with the paper's numbers)",
    )
    add_debug_option(p)


def _rows(path: str, limit: int | None = None) -> list[dict[str, Any]]:
    from ecgr1.evaluate.rows import read_rows

    if not os.path.isfile(path):
        raise InvalidInputError("no such rows file", path)
    if limit is not None and limit < 1:
        raise InvalidInputError(f"--limit must be at least 1, got {limit}")
    return read_rows(path, limit=limit)


def _limited_pairs(
    first: str, second: str, limit: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The first ``limit`` rows of ``first`` and the rows of ``second`` with their ids (the
    files need not be in the same order: pairing is by id)."""
    from ecgr1.evaluate.rows import row_id

    a = _rows(first, limit)
    b = _rows(second)
    if limit is not None:
        ids = {row_id(r) for r in a}
        b = [r for r in b if row_id(r) in ids]
    return a, b


def _finish(args: argparse.Namespace, name: str, result: dict[str, Any], markdown: str) -> None:
    """Print the summary; write the three files when ``--out`` is given."""
    from ecgr1.evaluate.report import write_results

    if args.out:
        out = output_folder(args.out, "--out")
        with output_errors():
            paths = write_results(out, name, result, markdown)
        print(f"wrote {paths['json']}, {paths['md']}, {paths['html']}", file=sys.stderr)
    print(markdown)


@contextlib.contextmanager
def _progress_bar(unit: str) -> Iterator[Any]:
    """A ``progress(done, total)`` callback drawing a bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(unit=unit, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield progress
    finally:
        bar.close()


def _paired_or_usage(n_pairs: int) -> None:
    if n_pairs == 0:
        raise InvalidInputError("no prediction row shares an id with a reference row")


# ------------------------------------------------------------------------------- ecgbench
def _register_ecgbench(sub: Any) -> None:
    p = add_command(sub, "ecgbench", _run_ecgbench, help="diagnosis scores (multi-label F1, accuracy)",
                    description=ECGBENCH_DESCRIPTION)  # fmt: skip
    p.add_argument("--pred", required=True, metavar="PRED.jsonl", help="prediction rows (spec §4)")
    p.add_argument(
        "--ref",
        required=True,
        metavar="REF.jsonl",
        help="reference rows (labels, options or answer)",
    )
    p.add_argument("--reference-split", metavar="NAME",
                   help="with --reference-compatible: the published split the rows are (e.g. "
                   "ptb-test, cpsc-test, code15-test, csn-test, g12-test), for rows without meta.set")  # fmt: skip
    p.add_argument("--seed", type=int, default=None,
                   help="seed of --reference-compatible's random guesses (default: the script's 42)")  # fmt: skip
    _common(p)


def _run_ecgbench(args: argparse.Namespace) -> int:
    from ecgr1.evaluate.ecgbench import evaluate_ecgbench, to_markdown

    refs, preds = _limited_pairs(args.ref, args.pred, args.limit)
    result = evaluate_ecgbench(
        preds, refs, reference_compatible=args.reference_compatible, seed=args.seed,
        reference_split=args.reference_split,
    )  # fmt: skip
    _paired_or_usage(result["rows"]["pairs"])
    _finish(args, "ecgbench", result, to_markdown(result))
    return EXIT_OK


# ------------------------------------------------------------------------------- modality
def _register_modality(sub: Any) -> None:
    p = add_command(sub, "modality", _run_modality, help="signal-only vs image-only consistency",
                    description=MODALITY_DESCRIPTION)  # fmt: skip
    p.add_argument(
        "--a", required=True, metavar="SIGNAL_ONLY.jsonl", help="predictions without the image"
    )
    p.add_argument(
        "--b", required=True, metavar="IMAGE_ONLY.jsonl", help="predictions without the signal"
    )
    p.add_argument("--embedder", metavar="PATH",
                   help="sentence-transformers folder (default: the packaged all-MiniLM-L6-v2; 'none' to skip)")  # fmt: skip
    _common(p)


def _run_modality(args: argparse.Namespace) -> int:
    from ecgr1.evaluate.modality import evaluate_modality, to_markdown

    a, b = _limited_pairs(args.a, args.b, args.limit)
    embedder: Any = None
    if args.embedder is not None:
        embedder = False if args.embedder.lower() == "none" else args.embedder
    with _progress_bar("pairs") as progress:
        result = evaluate_modality(
            a, b, embedder=embedder, reference_compatible=args.reference_compatible,
            progress=progress,
        )  # fmt: skip
    _paired_or_usage(result["pairing"]["pairs"])
    _finish(args, "modality", result, to_markdown(result))
    return EXIT_OK


# ------------------------------------------------------------------------------ grounding
def _register_grounding(sub: Any) -> None:
    p = add_command(sub, "grounding", _run_grounding, help="judge grounded interpretations (7 criteria)",
                    description=GROUNDING_DESCRIPTION)  # fmt: skip
    p.add_argument("--pred", required=True, metavar="PRED.jsonl", help="prediction rows (spec §4)")
    p.add_argument(
        "--ref",
        required=True,
        metavar="REF.jsonl",
        help="reference rows (a clinician's or a corpus interpretation)",
    )
    p.add_argument("--judge", required=True, metavar="URL|protocol",
                   help="OpenAI-compatible endpoint (e.g. http://127.0.0.1:8000/v1), or 'protocol' (offline)")  # fmt: skip
    p.add_argument("--judge-model", metavar="NAME", help="model name at the endpoint")
    p.add_argument("--judge-prompt", metavar="PATH",
                   help="ECG-R1's interpretation_evaluation_prompt.txt (default: the copy in "
                   "../shared/data/formats/ecg-r1_prompts)")  # fmt: skip
    p.add_argument("--ecg-root", metavar="DIR", help="root of objects.ecg (protocol judge)")
    p.add_argument(
        "--concurrency", type=int, default=4, metavar="N", help="requests in flight (default 4)"
    )
    p.add_argument(
        "--cache", metavar="DIR", help="judgement cache (default: <out>/judge-cache, else none)"
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        metavar="S",
        help="seconds per request (default 120)",
    )
    _common(p)


def _run_grounding(args: argparse.Namespace) -> int:
    from ecgr1.evaluate import grounding

    # --limit counts pairs here (judging is what costs), so both files are read whole
    preds, refs = _rows(args.pred), _rows(args.ref)
    judge = grounding_judge(args)
    result = grounding.evaluate_grounding(
        preds, refs, judge, reference_compatible=args.reference_compatible,
        limit=args.limit, progress=sys.stderr.isatty(),
    )  # fmt: skip
    _paired_or_usage(result["pairing"]["pairs"])
    _finish(args, "grounding", result, grounding.to_markdown(result))
    return EXIT_SOME_FAILED if result.get("failures") else EXIT_OK


def grounding_judge(args: argparse.Namespace) -> Any:
    """The judge the options name (validated before any row is judged)."""
    if args.limit is not None and args.limit < 1:
        raise InvalidInputError(f"--limit must be at least 1, got {args.limit}")
    if args.judge == "protocol":
        from ecgr1.evaluate.protocol_judge import ProtocolJudge

        return ProtocolJudge(ecg_root=args.ecg_root or os.path.dirname(os.path.abspath(args.pred)))
    if not args.judge_model:
        raise InvalidInputError("--judge URL needs --judge-model NAME")
    if args.concurrency < 1:
        raise InvalidInputError(f"--concurrency must be at least 1, got {args.concurrency}")
    from ecgr1.evaluate.judge import LLMJudge

    cache = args.cache or (os.path.join(args.out, "judge-cache") if args.out else None)
    return LLMJudge(
        url=args.judge, model=args.judge_model, concurrency=args.concurrency, cache_dir=cache,
        timeout_s=args.timeout, template_path=args.judge_prompt,
    )  # fmt: skip
