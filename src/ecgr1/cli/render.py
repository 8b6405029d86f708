"""``ecgr1 render``: paper-ECG images (PNG/SVG/PDF) with a JSON sidecar per image."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecgr1.cli._batch import (
    BATCH_EXIT_STATUS,
    add_command,
    add_debug_option,
    add_read_options,
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
Render each record as a standard paper ECG (1 mm / 5 mm grid, calibration pulse, lead labels;
25 mm/s and 10 mm/mV unless --speed/--gain say otherwise). Every image gets <name>.json beside
it: layout, lead boxes in pixels and the pixel <-> (time, mV) mapping (with the homography of
any augmentation) and the warnings raised while reading the record (amplitudes normalised,
uncalibrated leads, repaired samples, ...). PATH may be records, folders (searched recursively) or globs. At most 10 s
are shown per page (from --start). See docs/render.md.

Examples:
  ecgr1 render ../shared/data/cpsc2018/A0001.hea --out img/ --header
  ecgr1 render ../shared/data/ludb/ --out img/ --layout 6x2 --format svg
  ecgr1 render rec.hea --out train/ --augment --seed 7 --copies 10
  ecgr1 render rec.hea --out img/ --measurements --highlight II,III,aVF
  ecgr1 render rec.hea --out img/ --interpret --header

A progress bar is shown on stderr when it is a terminal.
"""
    + BATCH_EXIT_STATUS
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand."""
    from ecgr1.render.augment import AUGMENTATIONS
    from ecgr1.render.page import LAYOUT_NAMES

    p = add_command(
        subparsers,
        "render",
        run,
        help="render records as paper ECGs (exact 25 mm/s, 10 mm/mV), optionally augmented",
        description=DESCRIPTION,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="records, folders or globs")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--layout",
        default="auto",
        choices=LAYOUT_NAMES,
        help="lead layout; auto (default) = 3x4+II for 12-lead records, one row per lead otherwise",
    )
    p.add_argument("--start", type=float, default=0.0, metavar="S", help="first second shown (0)")
    p.add_argument("--format", default="png", choices=("png", "jpg", "svg", "pdf"))
    p.add_argument("--dpi", type=float, default=100.0, help="raster resolution (100)")
    p.add_argument("--speed", type=float, default=25.0, help="paper speed in mm/s (25)")
    p.add_argument("--gain", type=float, default=10.0, help="gain in mm/mV (10)")
    p.add_argument("--header", action="store_true", help="print id, age/sex and measurements")
    p.add_argument(
        "--measurements",
        action="store_true",
        help="measure each record (ecgr1.measure) for the header and fiducial overlay",
    )
    p.add_argument(
        "--interpret",
        action="store_true",
        help="measure and apply the protocol (ecgr1.protocol): fiducial overlay, and the leads "
        "cited as evidence of each finding outlined (adds to --highlight)",
    )
    p.add_argument(
        "--measurement-json",
        type=Path,
        metavar="DIR",
        help="read <id>.json MeasurementResults from DIR for the header and fiducial overlay",
    )
    p.add_argument(
        "--highlight",
        default="",
        metavar="LEADS",
        help="comma list of leads to outline, e.g. II,III,aVF",
    )
    p.add_argument(
        "--augment",
        nargs="?",
        type=int,
        const=-1,
        metavar="SEED",
        help="apply training augmentation (seed: SEED if given, else --seed)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="augmentation seed when --augment has none (0)"
    )
    p.add_argument(
        "--augment-ops",
        default=",".join(AUGMENTATIONS),
        metavar="OPS",
        help=f"comma list of effects (default all: {','.join(AUGMENTATIONS)})",
    )
    p.add_argument(
        "--copies", type=int, default=1, help="with --augment: images per record (seeds SEED..)"
    )
    add_read_options(p)
    add_debug_option(p)


def run(args: argparse.Namespace) -> int:
    """Render every path; returns the exit status of docs/cli.md."""
    from ecgr1.errors import InvalidInputError
    from ecgr1.io import read_record
    from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
    from ecgr1.render import AugmentConfig, render_record
    from ecgr1.render.augment import AUGMENTATIONS

    ops = tuple(o.strip() for o in args.augment_ops.split(",") if o.strip())
    unknown = [o for o in ops if o not in AUGMENTATIONS]
    if unknown:
        raise InvalidInputError(f"unknown augmentation(s) {unknown}; choose from {AUGMENTATIONS}")
    if args.copies < 1:
        raise InvalidInputError(f"--copies must be at least 1, got {args.copies}")
    if args.augment is not None and args.format in ("svg", "pdf"):
        raise InvalidInputError("--augment applies to raster images (--format png or jpg) only")
    config = AugmentConfig(ops=ops)
    # Canonical names so that "avf" or "V 1" outline the same cells as "aVF" and "V1".
    highlight = [canonical_lead_name(h.strip()) for h in args.highlight.split(",") if h.strip()]
    unknown = [h for h in highlight if h not in STANDARD_LEADS]
    if unknown:
        raise InvalidInputError(
            f"--highlight: unknown lead(s) {', '.join(unknown)}; use {', '.join(STANDARD_LEADS)}"
        )
    first_seed = None if args.augment is None else (args.seed if args.augment < 0 else args.augment)
    records = find_inputs(args.paths)
    out_dir = output_folder(args.out, "--out")
    options = read_options(args)

    def one(path: str) -> None:
        record = read_record(path, **options)
        measurements = None
        if args.measurement_json:
            from ecgr1.measure.result import MeasurementResult

            src = args.measurement_json / f"{record.record_id}.json"
            if src.exists():
                try:
                    measurements = MeasurementResult.from_dict(json.loads(src.read_text()))
                except (ValueError, KeyError, TypeError) as exc:
                    msg = f"unreadable MeasurementResult JSON ({exc})"
                    raise InvalidInputError(msg, str(src)) from exc
            else:
                emit(f"ecgr1 render: warning: {path}: no {src}; rendered without measurements",
                     file=sys.stderr)  # fmt: skip
        leads_to_outline = list(highlight)
        extra_warnings: list[str] = []  # besides the record's and the measurements' own
        if args.interpret:
            from ecgr1.cli.demo import highlighted_leads
            from ecgr1.pipeline import interpret_record

            result = interpret_record(record)
            measurements = result.measurements
            extra_warnings = list(result.warnings)
            cited = highlighted_leads(result.interpretation)
            leads_to_outline += [lead for lead in cited if lead not in leads_to_outline]
        elif args.measurements:
            from ecgr1.pipeline import measure_record

            # As in `ecgr1 measure`: a signal that cannot be measured is drawn as "unusable".
            measurements, extra_warnings = measure_record(record)
        seeds = [None] if first_seed is None else [first_seed + k for k in range(args.copies)]
        for seed in seeds:
            rendering = render_record(
                record,
                layout=args.layout,
                fmt=args.format,
                dpi=args.dpi,
                speed_mm_per_s=args.speed,
                gain_mm_per_mv=args.gain,
                header=args.header,
                measurements=measurements,
                highlight_leads=leads_to_outline,
                augment_seed=seed,
                augment_config=config,
                start_s=args.start,
                warnings=extra_warnings,
            )
            stem = record.record_id if seed is None else f"{record.record_id}_aug{seed}"
            with output_errors():
                rendering.save(out_dir / f"{stem}.{args.format}")

    outcome = run_batch(records, one, desc="render", debug=args.debug, command="ecgr1 render")
    return batch_exit_status(outcome)
