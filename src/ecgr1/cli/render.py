"""``ecgr1 render``: paper-ECG images (PNG/SVG/PDF) with a JSON sidecar per image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ecgr1.cli._batch import run_batch


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand."""
    from ecgr1.render.augment import AUGMENTATIONS
    from ecgr1.render.page import LAYOUT_NAMES

    p = subparsers.add_parser(
        "render",
        help="render records as paper ECGs (exact 25 mm/s, 10 mm/mV), optionally augmented",
        description=(
            "Render each record as a standard paper ECG (1 mm / 5 mm grid, calibration pulse, "
            "lead labels). Every image gets <name>.json beside it: layout, lead boxes in pixels "
            "and the pixel <-> (time, mV) mapping (with the homography of any augmentation). "
            "See docs/render.md."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="record files (any readable format)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--layout",
        default="auto",
        choices=LAYOUT_NAMES,
        help="lead layout; auto (default) = 3x4+II for 12-lead records, one row per lead otherwise",
    )
    p.add_argument(
        "--start", type=float, default=0.0, help="first second shown (0); pages show 10 s"
    )
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
        "--measurement-json",
        type=Path,
        metavar="DIR",
        help="read <id>.json MeasurementResults from DIR for the header and fiducial overlay",
    )
    p.add_argument(
        "--highlight", default="", help="comma list of leads to outline, e.g. II,III,aVF"
    )
    p.add_argument(
        "--augment", type=int, metavar="SEED", help="apply training augmentation with this seed"
    )
    p.add_argument(
        "--augment-ops",
        default=",".join(AUGMENTATIONS),
        help=f"comma list of effects (default all: {','.join(AUGMENTATIONS)})",
    )
    p.add_argument(
        "--copies", type=int, default=1, help="with --augment: images per record (seeds SEED..)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render every path; returns 0, or 1 when some records failed."""
    from ecgr1.errors import InvalidInputError
    from ecgr1.io import read_record
    from ecgr1.io.readers import find_records
    from ecgr1.render import AugmentConfig, render_record
    from ecgr1.render.augment import AUGMENTATIONS

    ops = tuple(o.strip() for o in args.augment_ops.split(",") if o.strip())
    unknown = [o for o in ops if o not in AUGMENTATIONS]
    if unknown:
        raise InvalidInputError(f"unknown augmentation(s) {unknown}; choose from {AUGMENTATIONS}")
    config = AugmentConfig(ops=ops)
    highlight = [h.strip() for h in args.highlight.split(",") if h.strip()]
    args.out.mkdir(parents=True, exist_ok=True)

    def one(path: str) -> None:
        record = read_record(path)
        measurements = None
        if args.measurement_json:
            from ecgr1.measure.result import MeasurementResult

            src = args.measurement_json / f"{record.record_id}.json"
            if src.exists():
                measurements = MeasurementResult.from_dict(json.loads(src.read_text()))
        elif args.measurements:
            from ecgr1.measure.engine import measure

            measurements = measure(record)
        seeds = (
            [None]
            if args.augment is None
            else [args.augment + k for k in range(max(args.copies, 1))]
        )
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
                highlight_leads=highlight,
                augment_seed=seed,
                augment_config=config,
                start_s=args.start,
            )
            stem = record.record_id if seed is None else f"{record.record_id}_aug{seed}"
            rendering.save(args.out / f"{stem}.{args.format}")

    failures = run_batch(find_records(args.paths), one, desc="render", debug=args.debug,
                         command="ecgr1 render")  # fmt: skip
    return 1 if failures else 0
