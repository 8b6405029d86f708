"""``ecgr1 corpus``: build protocol-guided instruction data from public ECG datasets, check rows,
print label and agreement tables. See docs/corpus.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ecgr1.cli._batch import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    add_command,
    add_debug_option,
    output_errors,
    output_folder,
    positive_seconds,
)
from ecgr1.errors import InvalidInputError

BUILD_DESCRIPTION = """\
Turn dataset trees, in their published layouts, into SFT, RL and test rows (interchange
format): each record is read, measured, interpreted by the protocol, written up in six steps
whose answer is the dataset's labels, and rendered as an image.

  ecgr1 corpus build --source ptbxl:/data/ptb-xl --source ludb:/data/ludb --out corpus/
  ecgr1 corpus build --source challenge:/data/challenge2021 --out corpus/ --workers 16
  ecgr1 corpus build --config corpus.yaml --engine ray --address auto     (a Ray cluster)
  ecgr1 corpus build --source mimic:/data/mimic-iv-ecg --out corpus/ --resume   (after a kill)

Kinds: ptbxl, mimic, code15, challenge (PhysioNet/CinC 2020/2021 trees), ludb.

Exit status (docs/cli.md): 0 every record written; 1 some records could not be read or
measured (each logged with its reason in manifest.json, the first few on stderr), or an
internal error; 2 usage error (bad option, a path that is not a dataset tree, an output
folder holding another run without --resume), or no record could be written.
"""

CHECK_DESCRIPTION = """\
Validate interchange rows (ours or the published ECG-R1 ones): JSON, tags against the image
and ECG lists, files present, the six-step answer format, the RL solution format and that each
key-evidence phrase occurs in its step.

  ecgr1 corpus check corpus/sft_train.jsonl corpus/rl_train.jsonl --ecg-root corpus/ecg --image-root corpus
  ecgr1 corpus check ecg-grounding-test.jsonl --no-files
  ecgr1 corpus check rows.jsonl --path-map /mnt/old/images=/data/images

Exit status: 0 every row valid; 1 some problems (a per-problem summary on stdout); 2 usage
error (unreadable file).
"""


def register(subparsers: Any) -> None:
    """Add ``corpus build``, ``corpus check`` and ``corpus stats``."""
    group = add_command(
        subparsers, "corpus", None, help="build and check instruction corpora from ECG datasets"
    )
    # A missing ACTION is a usage error (exit status 2), reported by argparse.
    sub = group.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    _register_build(sub)
    _register_check(sub)
    _register_stats(sub)


def _layouts(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, share = part.partition("=")
        try:
            out[name.strip()] = float(share) if sep else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a layout share: {part!r}") from None
    total = sum(out.values())
    return {k: v / total for k, v in out.items()} if total > 0 else out


def _percents(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of percents: {text!r}") from None


def _register_build(sub: Any) -> None:
    p = add_command(sub, "build", _run_build, help="build a corpus", description=BUILD_DESCRIPTION)
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="KIND:PATH",
        help="a dataset tree (repeatable)",
    )
    p.add_argument(
        "--config",
        metavar="FILE.yaml",
        help="sources, out and settings in a file (options given here win)",
    )
    p.add_argument("--out", metavar="DIR", help="output folder")
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default=None,
        help="local process pool (default) or Ray",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="Ray cluster address (default: start a local Ray for the run)",
    )
    p.add_argument(
        "--workers", type=int, metavar="N", help="worker processes (default: the CPU count)"
    )
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument("--seed", type=int, help="seed of every random choice (default 0)")
    p.add_argument(
        "--seconds", type=positive_seconds, help="window analysed and rendered (default 10 s)"
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        help="patients held out where there is no official test fold (default 0.1)",
    )
    p.add_argument(
        "--no-images", dest="images", action="store_false", default=None, help="rows without images"
    )
    p.add_argument("--dpi", type=float, help="image resolution (default 100)")
    p.add_argument(
        "--layouts",
        type=_layouts,
        metavar="NAME=SHARE,...",
        help="layout mix (default 3x4+II=0.55,3x4=0.15,6x2=0.15,12x1=0.15)",
    )
    p.add_argument("--augment-share", type=float, help="share of images augmented (default 0.1)")
    p.add_argument(
        "--style", choices=("varied", "deterministic"), help="report phrasing (default varied)"
    )
    p.add_argument(
        "--disagreement",
        choices=("keep", "flag", "drop"),
        help="rows with source labels the measurements do not support (default flag)",
    )
    p.add_argument(
        "--missing-percents",
        type=_percents,
        metavar="25,50,100",
        help="modality-missing variants of the test files",
    )
    p.add_argument(
        "--no-ecgbench",
        dest="ecgbench",
        action="store_false",
        default=None,
        help="skip the ECGBench-style test files",
    )
    p.add_argument("--shard-size", type=int, metavar="N", help="records per shard (default 64)")
    p.add_argument(
        "--ptbxl-rate",
        type=int,
        choices=(100, 500),
        help="PTB-XL records100 or records500 (default 500)",
    )
    p.add_argument(
        "--rephrase",
        metavar="URL",
        help="OpenAI-compatible endpoint that rewrites each report (verified; rejected on any contradiction)",
    )
    p.add_argument("--rephrase-model", metavar="NAME", help="model name for --rephrase")
    p.add_argument(
        "--limit", type=int, metavar="N", help="only the first N records (by id), for a trial run"
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar (default: when stderr is a terminal)",
    )
    add_debug_option(p)


CONFIG_FIELDS = (
    "seed",
    "seconds",
    "test_fraction",
    "images",
    "dpi",
    "layouts",
    "augment_share",
    "style",
    "disagreement",
    "missing_percents",
    "ecgbench",
    "shard_size",
)
RUN_FIELDS = (
    "sources",
    "out",
    "engine",
    "address",
    "workers",
    "ptbxl_rate",
    "rephrase",
    "rephrase_model",
    "limit",
)


def build_settings(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """(run settings, CorpusConfig) from ``--config`` and the options (options win)."""
    from ecgr1.corpus.config import CorpusConfig, load_build_file

    data: dict[str, Any] = load_build_file(args.config) if args.config else {}
    run = {k: data.pop(k) for k in RUN_FIELDS if k in data}
    for key in CONFIG_FIELDS:
        value = getattr(args, key, None)
        if value is not None:
            data[key] = value
    config = CorpusConfig.from_mapping(data, where=args.config or "options")
    if args.source:
        run["sources"] = list(args.source)
    for key in RUN_FIELDS[1:]:
        value = getattr(args, key, None)
        if value is not None:
            run[key] = value
    if not run.get("sources"):
        raise InvalidInputError("no --source KIND:PATH given (nor sources: in --config)")
    if not isinstance(run["sources"], list) or not all(isinstance(x, str) for x in run["sources"]):
        raise InvalidInputError("sources: in --config must be a list of KIND:PATH strings")
    if not run.get("out"):
        raise InvalidInputError("no --out DIR given (nor out: in --config)")
    for key in ("workers", "limit", "ptbxl_rate"):
        value = run.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise InvalidInputError(f"{key} must be a whole number of at least 1, got {value!r}")
    if bool(run.get("rephrase")) != bool(run.get("rephrase_model")):
        raise InvalidInputError("--rephrase and --rephrase-model go together")
    return run, config


def _run_build(args: argparse.Namespace) -> int:
    from ecgr1.corpus.build import build_corpus

    run, config = build_settings(args)
    out = output_folder(run["out"], "--out")
    rephrase = None
    if run.get("rephrase"):
        from ecgr1.corpus.rephrase import RephraseConfig

        # Six-step reports run to ~8,000 characters: a rewrite cut at max_tokens is rejected.
        rephrase = RephraseConfig(
            url=run["rephrase"], model=run["rephrase_model"], max_tokens=4096, seed=config.seed
        )
    options = {"ptbxl": {"rate": int(run["ptbxl_rate"])}} if run.get("ptbxl_rate") else None
    with output_errors():
        manifest = build_corpus(
            run["sources"],
            out,
            config,
            engine=run.get("engine") or "local",
            workers=int(run.get("workers") or os.cpu_count() or 1),
            address=run.get("address"),
            resume=args.resume,
            progress=args.progress,
            source_options=options,
            rephrase=rephrase,
            limit=run.get("limit"),
        )
    return _report_build(manifest, out)


#: Failures printed on stderr; all of them are in manifest.json.
SHOWN_FAILURES = 10


def _report_build(manifest: dict[str, Any], out: Any) -> int:
    failures = manifest["run"]["failures"]
    for failure in failures[:SHOWN_FAILURES]:
        reason = " ".join(str(failure.get("reason", "")).splitlines())
        print(f"ecgr1 corpus build: error: {failure.get('uid')}: {reason}", file=sys.stderr)
    if len(failures) > SHOWN_FAILURES:
        print(
            f"ecgr1 corpus build: {len(failures) - SHOWN_FAILURES} more failures in {out}/manifest.json",
            file=sys.stderr,
        )
    files = manifest.get("files", {})
    for name, n in files.items():
        print(f"{out}/{name}: {n} rows")
    written = sum(
        n for name, n in files.items() if name.startswith("sft_") and "missing" not in name
    )
    print(f"{written} records written, {len(failures)} failed; manifest: {out}/manifest.json")
    internal = any(f.get("internal") for f in failures)
    if not written and not internal:
        print("ecgr1 corpus build: error: no row written (see manifest.json)", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_SOME_FAILED if failures else EXIT_OK


def _path_map(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old:
        raise argparse.ArgumentTypeError(f"--path-map is OLD=NEW, got {text!r}")
    return old, new


def _register_check(sub: Any) -> None:
    p = add_command(
        sub, "check", _run_check, help="validate interchange rows", description=CHECK_DESCRIPTION
    )
    p.add_argument("rows", nargs="+", metavar="ROWS.jsonl")
    p.add_argument("--ecg-root", metavar="DIR", help="root of relative objects.ecg paths")
    p.add_argument("--image-root", metavar="DIR", help="root of relative image paths")
    p.add_argument(
        "--path-map",
        type=_path_map,
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="rewrite absolute path prefixes (repeatable)",
    )
    p.add_argument(
        "--no-files", dest="check_files", action="store_false", help="skip the file checks"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_debug_option(p)


def _require_files(paths: list[str]) -> None:
    """A rows file that does not exist is a usage error (exit status 2)."""
    for path in paths:
        if not os.path.isfile(path):
            raise InvalidInputError("no such rows file", path)


def _run_check(args: argparse.Namespace) -> int:
    from ecgr1.corpus.check import check_rows

    _require_files(args.rows)
    report = check_rows(
        args.rows,
        ecg_root=args.ecg_root,
        image_root=args.image_root,
        path_map=dict(args.path_map) or None,
        check_files=args.check_files,
    )
    if args.format == "json":
        print(
            json.dumps(
                {"ok": report.ok, "rows": report.rows, "problems": report.counts_by_kind()},
                sort_keys=True,
            )
        )
    else:
        print(report.summary_text())
    return EXIT_OK if report.ok else EXIT_SOME_FAILED


def _register_stats(sub: Any) -> None:
    p = add_command(sub, "stats", _run_stats, help="label and agreement tables of corpus rows")
    p.add_argument("rows", nargs="+", metavar="ROWS.jsonl")
    p.add_argument("--format", choices=("markdown", "json"), default="markdown")
    add_debug_option(p)


def _run_stats(args: argparse.Namespace) -> int:
    from ecgr1.corpus.stats import corpus_stats, stats_markdown

    _require_files(args.rows)
    stats = corpus_stats(args.rows)
    print(
        json.dumps(stats, indent=1, sort_keys=True)
        if args.format == "json"
        else stats_markdown(stats)
    )
    return EXIT_OK
