"""``ecgr1 measure``: measure records, write JSON results and WFDB annotation files."""

from __future__ import annotations

import argparse
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ecgr1.cli._batch import (
    BATCH_EXIT_STATUS,
    add_command,
    add_read_options,
    add_workers_option,
    batch_exit_status,
    emit,
    find_inputs,
    output_errors,
    output_folder,
    read_options,
    run_batch,
)

DESCRIPTION = (
    """\
Measure every record: heart rate, PR, QRS, QT/QTc, axes, per-lead amplitudes and ST, beat
classes, rhythm regularity and signal quality (schema: docs/measurements.md). Without
--json-dir the JSON result of a single record is printed on stdout, and a one-line summary per
record otherwise. The JSON keeps every warning raised while reading the record ("warnings",
"quality.amplitude_normalised"). PATH may be records, folders (searched recursively) or globs;
arrays (.npy/.csv) need --fs.

Examples:
  ecgr1 measure ../shared/data/cpsc2018/A0001.hea              JSON result on stdout
  ecgr1 measure ../shared/data/ludb/data --json-dir out/       one <id>.json per record
  ecgr1 measure rec.hea --annotations ann/                     WFDB annotations (see below)
  ecgr1 measure signal.npy --fs 500 --leads I,II,V1            a bare array
  ecgr1 measure ../shared/data/ludb/data --json-dir out/ --workers 0   on every core

--annotations DIR writes, per record, one WFDB annotation file per lead (<id>.i, <id>.ii, ...:
P/QRS/T onsets, peaks and offsets) and the record-level beat file <id>.beats (one mark per beat
with its class: N normal, V ventricular, S supraventricular premature, / paced, Q unclassified);
read them with wfdb.rdann("DIR/<id>", "ii") or wfdb.rdann("DIR/<id>", "beats").

A record that cannot be measured (too noisy, flat) gives a result of quality "unusable" and a
warning: that is a result, not a failure. A progress bar is shown on stderr when it is a
terminal.

"""
    + BATCH_EXIT_STATUS
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``measure`` subcommand."""
    p = add_command(
        subparsers,
        "measure",
        run,
        help="measure ECG records (intervals, axes, amplitudes, ST, quality)",
        description=DESCRIPTION,
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="record files, folders or glob patterns (any format ecgr1 reads)",
    )
    p.add_argument("--json-dir", type=Path, help="write <id>.json per record here")
    p.add_argument(
        "--annotations",
        type=Path,
        metavar="DIR",
        help="write WFDB annotations: one file per lead (wave boundaries) and <id>.beats (beat "
        "classes)",
    )
    add_workers_option(p)
    add_read_options(p)


def _summary(res) -> str:  # noqa: ANN001 - MeasurementResult
    g = res.global_

    def f(v: float | None, unit: str = "") -> str:
        return "-" if v is None else f"{v:.0f}{unit}"

    return (
        f"{res.id}: HR {f(g.heart_rate_bpm)} bpm, PR {f(g.pr_interval_ms)} ms, "
        f"QRS {f(g.qrs_duration_ms)} ms, QT/QTcB {f(g.qt_interval_ms)}/{f(g.qtc_bazett_ms)} ms, "
        f"axis {f(g.qrs_axis_deg)}, P {'yes' if g.p_wave_present else 'no'}, "
        f"quality {res.quality.overall}"
    )


@dataclass
class _Measured:
    """What measuring one record gives the terminal: its warnings, and its JSON (a single
    record on stdout) or its one-line summary."""

    warnings: list[str]
    stdout: str


def _measure_one(
    path: str,
    read: dict[str, Any],
    json_dir: Path | None,
    ann_dir: Path | None,
    single: bool,
) -> _Measured:
    """Read, measure and write the files of one record (in a worker process with --workers):
    nothing is printed here, the caller prints in the order of the inputs."""
    from ecgr1.cli._allocator import tune_allocator
    from ecgr1.cli._json_text import dumps_indent1
    from ecgr1.io import read_record
    from ecgr1.measure.annotations import write_annotations, write_beat_annotations
    from ecgr1.pipeline import measure_record

    tune_allocator()  # once per process: temporaries reuse heap pages (no result changes)

    # A signal that cannot be measured gives an "unusable" result: a result, not a failure.
    res, warnings = measure_record(read_record(path, **read))
    text = None
    with output_errors():
        if json_dir or single:
            text = dumps_indent1(res.to_dict())  # json.dumps(..., indent=1), the same text
        if json_dir:
            (json_dir / f"{res.id}.json").write_text(text)
        if ann_dir:
            write_annotations(res, ann_dir)
            write_beat_annotations(res, ann_dir)
    return _Measured(list(warnings), text if single else _summary(res))


def run(args: argparse.Namespace) -> int:
    """Measure each path; returns the exit status of docs/cli.md."""
    read = read_options(args)  # --fs/--leads/--units for array inputs
    paths = find_inputs(args.paths)
    json_dir = output_folder(args.json_dir, "--json-dir") if args.json_dir else None
    ann_dir = output_folder(args.annotations, "--annotations") if args.annotations else None
    single = len(paths) == 1 and not json_dir

    def show(path: str, measured: _Measured) -> None:
        for warning in measured.warnings:
            emit(f"ecgr1 measure: warning: {path}: {warning}", file=sys.stderr)
        print(measured.stdout)

    outcome = run_batch(
        paths,
        functools.partial(
            _measure_one, read=read, json_dir=json_dir, ann_dir=ann_dir, single=single
        ),
        desc="measure",
        debug=getattr(args, "debug", False),
        command="ecgr1 measure",
        workers=getattr(args, "workers", 1),
        consume=show,
    )
    return batch_exit_status(outcome)
