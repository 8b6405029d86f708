"""``ecgr1 interpret``: measure, apply the clinical protocol, write the ECG-R1 report.

Examples
--------
``ecgr1 interpret ../shared/data/cpsc2018/A0001.hea`` prints the six-step report;
``ecgr1 interpret ../shared/data/ludb/data --format json --out out/`` writes one JSON file per
record with statements (SNOMED CT code, label, category, certainty, evidence), excluded
differentials, measurements, quality, report, answer labels and the RL solution string.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ecgr1.cli._batch import (
    BATCH_EXIT_STATUS,
    add_command,
    add_read_options,
    age_years,
    batch_exit_status,
    find_inputs,
    output_errors,
    output_folder,
    positive_seconds,
    read_options,
    run_batch,
    sex_value,
)

DESCRIPTION = (
    """\
Measure each record, apply the clinical protocol (criteria table) and write the ECG-R1 six-step
interpretation. Age and sex come from the record unless --age/--sex are given (they set the
age- and sex-specific thresholds). PATH may be records, folders (searched recursively) or
globs; arrays (.npy/.csv) need --fs. --format json gives one object per record: statements
(SNOMED CT code, label, category, certainty, evidence), excluded differentials, measurements,
quality, report, answer labels, the RL solution string, and every warning raised while reading
the record ("warnings"). The protocol: docs/protocol.md.

Examples:
  ecgr1 interpret ../shared/data/cpsc2018/A0001.hea            six-step report on stdout
  ecgr1 interpret ../shared/data/ludb/data --format json --out out/   one <id>.json each
  ecgr1 interpret rec.hea --age 67 --sex female --seconds 10
  ecgr1 interpret rec.hea --style varied --seed 3              reworded, same facts
  ecgr1 interpret signal.npy --fs 500                          a bare 12-lead array (mV)
  ecgr1 interpret rec.hea --model runs/ecgr1-sft/              an ECG-R1 model's text

A record that cannot be measured (too noisy, flat) is interpreted as "poor quality / artifact":
that is a result, not a failure. A progress bar is shown on stderr when it is a terminal.

"""
    + BATCH_EXIT_STATUS
)


def register(subparsers: Any) -> None:
    """Add the ``interpret`` subcommand."""
    p = add_command(
        subparsers,
        "interpret",
        run,
        help="interpret ECG records: statements with evidence and the 6-step report",
        description=DESCRIPTION,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="record files, folders or globs")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--out", metavar="DIR", help="write one file per record here (else stdout)")
    p.add_argument("--age", type=age_years, help="patient age in years (overrides the record)")
    p.add_argument(
        "--sex",
        type=sex_value,
        metavar="M|F",
        help="patient sex: M, F, male or female (overrides the record)",
    )
    p.add_argument(
        "--style",
        choices=("deterministic", "varied"),
        default="deterministic",
        help="report phrasing; 'varied' changes wording (not facts) with --seed",
    )
    p.add_argument("--seed", type=int, default=None, help="seed for --style varied")
    p.add_argument(
        "--seconds",
        type=positive_seconds,
        default=None,
        help="analyse only the first N seconds of each record (default: the whole record)",
    )
    p.add_argument(
        "--engine",
        default="protocol",
        help="interpretation engine (default: protocol; others register themselves)",
    )
    p.add_argument(
        "--model",
        metavar="DIR",
        default=None,
        help="interpret with an ECG-R1 model folder instead of the protocol engine (prints the "
        "model's text; same as --engine model --engine-option model_dir=DIR)",
    )
    p.add_argument(
        "--engine-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option passed to the engine (repeatable), e.g. model_dir=/path for a model engine",
    )
    add_read_options(p)


def _safe_name(record_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(record_id)) or "record"


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; returns the exit status of docs/cli.md."""
    from ecgr1.errors import ECGR1Error
    from ecgr1.io.readers import read_record
    from ecgr1.io.standardize import first_seconds
    from ecgr1.pipeline import interpret_record

    options = {}
    for item in args.engine_option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ECGR1Error(f"--engine-option expects KEY=VALUE, got {item!r}")
        options[key.strip()] = value
    if args.model:
        if args.engine not in ("protocol", "model"):
            raise ECGR1Error(f"--model cannot be combined with --engine {args.engine}")
        if not Path(args.model).is_dir():
            raise ECGR1Error(f"model folder not found: {args.model}")
        args.engine = "model"
        options["model_dir"] = args.model
    read = read_options(args)  # --fs/--leads/--units for array inputs
    items = find_inputs(args.paths)
    out_dir = output_folder(args.out, "--out") if args.out else None
    multiple = len(items) > 1

    def one(item: str) -> None:
        record = first_seconds(read_record(item, **read), args.seconds)
        result = interpret_record(
            record,
            engine=args.engine,
            age=args.age,
            sex=args.sex,
            style=args.style,
            seed=args.seed,
            **options,
        )
        if args.format == "json":
            text = json.dumps(result.to_dict(), ensure_ascii=False)
            suffix = ".json"
        else:
            text = result.report
            suffix = ".txt"
        if out_dir:
            with output_errors():
                (out_dir / f"{_safe_name(result.id)}{suffix}").write_text(
                    text + "\n", encoding="utf-8"
                )
        else:
            if multiple and args.format == "text":
                sys.stdout.write(f"=== {result.id} ===\n")
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    outcome = run_batch(
        items, one, desc="interpret", debug=getattr(args, "debug", False), command="ecgr1 interpret"
    )
    return batch_exit_status(outcome)
