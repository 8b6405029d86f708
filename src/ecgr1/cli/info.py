"""``ecgr1 info PATH... [--json]``: one summary per record."""

from __future__ import annotations

import argparse
import json

from ecgr1.cli._batch import (
    BATCH_EXIT_STATUS,
    add_command,
    add_debug_option,
    add_read_options,
    batch_exit_status,
    emit,
    find_inputs,
    read_options,
    run_batch,
)
from ecgr1.io import ECGRecord, read_record
from ecgr1.io.writers import jsonable

DESCRIPTION = (
    """\
Summarise ECG records: rate, length, leads, age, sex, labels and the warnings raised while
reading. PATH may be a record (.hea/.dat/.mat, .npy/.npz/.csv, exams.hdf5#<exam_id>), a folder
(searched recursively) or a glob. With --json, one JSON object per line with keys id, fs,
n_samples, duration_s, leads, units, age, sex, labels, report, source_path, warnings.
A progress bar is shown on stderr when it is a terminal.

Examples:
  ecgr1 info ../shared/data/cpsc2018/A0001.hea
  ecgr1 info --json ../shared/data/ludb/ > ludb.jsonl
  ecgr1 info 'exams_part0.hdf5#1169160'
  ecgr1 info --fs 500 --leads I,II,V1 --units uV my_array.npy

"""
    + BATCH_EXIT_STATUS
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``info`` subcommand."""
    parser = add_command(
        subparsers,
        "info",
        run,
        help="summarise ECG records (one line or one JSON object each)",
        description=DESCRIPTION,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="records, folders or globs")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_read_options(parser)
    add_debug_option(parser)


def format_summary(record: ECGRecord) -> list[str]:
    """Human-readable lines for one record: a summary line, then one line per warning."""
    meta = record.metadata
    parts = [
        record.record_id,
        f"{record.fs:g} Hz",
        f"{record.n_samples} samples ({record.duration_s:.2f} s)",
        f"{record.n_leads} leads: {' '.join(record.leads)}",
    ]
    if meta.get("age") is not None:
        parts.append(f"age {meta['age']}")
    if meta.get("sex"):
        parts.append(f"sex {meta['sex']}")
    labels = meta.get("labels") or []
    if labels:
        parts.append("labels: " + "; ".join(str(x) for x in labels))
    lines = ["  ".join(parts)]
    lines += [f"  warning: {w}" for w in record.warnings]
    return lines


def run(args: argparse.Namespace) -> int:
    """Run ``ecgr1 info``; returns the exit status."""
    records = find_inputs(args.paths)
    options = read_options(args)

    def one(address: str) -> None:
        record = read_record(address, **options)
        if args.json:
            summary = record.summary()
            summary["path"] = address
            emit(json.dumps(jsonable(summary), ensure_ascii=False))
        else:
            for line in format_summary(record):
                emit(line)

    outcome = run_batch(records, one, desc="info", debug=args.debug, command="ecgr1 info")
    return batch_exit_status(outcome)
