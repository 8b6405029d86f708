"""``ecgr1 simulate``: write a simulated 12-lead ECG (WFDB), its true fiducials and parameters."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ecgr1.cli._batch import add_command, add_debug_option, output_errors

DESCRIPTION = """\
Simulate a 12-lead ECG from a cardiac-dipole model (docs/simulator.md). Writes <name>.hea/.dat,
one WFDB annotation file per lead with the true P/QRS/T onsets, peaks and offsets (LUDB
convention: '(' 'p'/'N'/'t' ')'), and <name>.json with the true parameters. Unset options take
the pattern's defaults; values outside physiological ranges are refused with a message.

Examples:
  ecgr1 simulate --list
  ecgr1 simulate --out sim/ --pattern atrial_fibrillation --seed 3
  ecgr1 simulate --out sim/ --hr 55 --pr-ms 220 --qt-ms 440 --noise baseline,muscle
  ecgr1 simulate --out sim/ --pattern rbbb --fs 250 --seconds 30 --name rbbb_long

Exit status: 0 written; 2 bad parameters or unwritable output.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``simulate`` subcommand."""
    p = add_command(
        subparsers,
        "simulate",
        run,
        help="simulate a 12-lead ECG with known ground truth (WFDB + annotations + JSON)",
        description=DESCRIPTION,
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="output folder (required unless --list)")
    p.add_argument("--pattern", default="normal", help="pattern name (see --list); default normal")
    p.add_argument("--list", action="store_true", help="list the patterns and exit")
    p.add_argument("--seconds", type=float, default=10.0, help="length in seconds (10)")
    p.add_argument("--fs", type=float, default=500.0, help="sampling rate in Hz (500)")
    p.add_argument("--hr", type=float, help="heart rate in beats/min (72 for normal sinus)")
    p.add_argument("--pr-ms", type=float, help="PR interval in ms (160)")
    p.add_argument("--qrs-ms", type=float, help="QRS duration in ms (90; BBB patterns wider)")
    p.add_argument(
        "--qt-ms", type=float, help="QT at --hr in ms (380 at 72/min, Fridericia-corrected)"
    )
    p.add_argument("--axis-deg", type=float, help="frontal QRS axis in degrees (60)")
    p.add_argument(
        "--noise",
        default="",
        help="comma list of baseline, muscle, powerline, or 'all' (default: none)",
    )
    p.add_argument("--noise-level", type=float, default=1.0, help="noise amplitude multiplier")
    p.add_argument("--powerline-hz", type=float, default=50.0, help="mains frequency (50)")
    p.add_argument(
        "--noise-floor-uv", type=float, default=3.0, help="instrument noise RMS in uV (3; 0 = none)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument("--name", help="record name (default sim_<pattern>_<seed>)")
    add_debug_option(p)


def run(args: argparse.Namespace) -> int:
    """Simulate and write one record; returns the exit status."""
    from ecgr1.errors import InvalidInputError
    from ecgr1.simulate import PATTERNS, simulate
    from ecgr1.simulate.output import write_simulation

    if args.list:
        width = max(len(k) for k in PATTERNS)
        for key, spec in PATTERNS.items():
            print(f"{key:<{width}}  {spec.description}")
        return 0
    if args.out is None:
        raise InvalidInputError("--out DIR is required")
    sim = simulate(
        args.pattern,
        seconds=args.seconds,
        fs=args.fs,
        hr=args.hr,
        pr_ms=args.pr_ms,
        qrs_ms=args.qrs_ms,
        qt_ms=args.qt_ms,
        axis_deg=args.axis_deg,
        noise=args.noise,
        noise_level=args.noise_level,
        powerline_hz=args.powerline_hz,
        noise_floor_uv=args.noise_floor_uv,
        seed=args.seed,
        record_id=args.name,
    )
    with output_errors():
        paths = write_simulation(sim, args.out)
    print(
        f"{sim.record.record_id}: {sim.params['description']}; {sim.params['n_beats']} beats, "
        f"{sim.params['seconds']:g} s at {sim.params['fs']:g} Hz -> {paths['header']}",
        file=sys.stdout,
    )
    return 0
