"""``ecgr1 measure``: measure records, write JSON results and WFDB annotation files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgr1.cli._batch import run_batch


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``measure`` subcommand."""
    p = subparsers.add_parser(
        "measure",
        help="measure ECG records (intervals, axes, amplitudes, ST, quality)",
        description=(
            "Measure every record (one process, progress bar). Without --json-dir the JSON "
            "result of a single record is printed on stdout and a one-line summary per record "
            "otherwise. Schema: docs/measurements.md."
        ),
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="record files, folders or glob patterns (any format ecgr1 reads)",
    )
    p.add_argument("--json-dir", type=Path, help="write <id>.json per record here")
    p.add_argument(
        "--annotations", type=Path, metavar="DIR", help="write WFDB annotations, one file per lead"
    )
    p.set_defaults(func=run)


def _summary(res) -> str:  # noqa: ANN001 - MeasurementResult
    g = res.global_

    def f(v: float | None, unit: str = "") -> str:
        return "-" if v is None else f"{v:.0f}{unit}"

    return (
        f"{res.record_id}: HR {f(g.heart_rate_bpm)} bpm, PR {f(g.pr_interval_ms)} ms, "
        f"QRS {f(g.qrs_duration_ms)} ms, QT/QTcB {f(g.qt_interval_ms)}/{f(g.qtc_bazett_ms)} ms, "
        f"axis {f(g.qrs_axis_deg)}, P {'yes' if g.p_wave_present else 'no'}, "
        f"quality {res.quality.overall}"
    )


def run(args: argparse.Namespace) -> int:
    """Measure each path; returns 0, or 1 when some records failed."""
    from ecgr1.io import read_record
    from ecgr1.io.readers import find_records
    from ecgr1.measure.annotations import write_annotations
    from ecgr1.measure.engine import measure

    paths = find_records(args.paths)
    if args.json_dir:
        args.json_dir.mkdir(parents=True, exist_ok=True)
    single = len(paths) == 1 and not args.json_dir

    def one(path: str) -> None:
        record = read_record(path)
        res = measure(record)
        if args.json_dir:
            (args.json_dir / f"{res.record_id}.json").write_text(
                json.dumps(res.to_dict(), indent=1)
            )
        if args.annotations:
            write_annotations(res, args.annotations)
        if single:
            print(json.dumps(res.to_dict(), indent=1))
        else:
            print(_summary(res), file=sys.stdout)

    failures = run_batch(
        paths, one, desc="measure", debug=getattr(args, "debug", False), command="ecgr1 measure"
    )
    return 1 if failures else 0
