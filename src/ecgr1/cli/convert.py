"""``ecgr1 convert IN... --out DIR [--fs 500] [--seconds 10] [--format wfdb|npy]``."""

from __future__ import annotations

import argparse
import sys

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
from ecgr1.errors import InvalidInputError
from ecgr1.io import STANDARD_LEADS, read_record, standardize
from ecgr1.io.writers import safe_record_name, write_npy, write_wfdb

DESCRIPTION = (
    """\
Convert ECG records of any supported format to WFDB (format 16, 1 uV resolution, Challenge-style
Age/Sex/Dx comments) or NumPy (.npy float32 leads x samples in mV + .json sidecar).

By default the native rate, length and leads are kept. --fs resamples (polyphase), --seconds
crops or zero-pads to a window (--window first|center|last|<start s>), --twelve-lead reorders to
I..V6 with missing leads zero-filled; --model-input is --fs 500 --seconds 10 --twelve-lead (the
ECG-R1 model input). Outputs are named after the record id (CODE-15: the exam id) and overwrite
files of the same name; two inputs of one run with the same id are an error for the second.

Examples:
  ecgr1 convert exams_part0.hdf5 --out code15_wfdb/
  ecgr1 convert cpsc2018/ --out out/ --fs 500 --seconds 10 --format npy
  ecgr1 convert 'ptbxl/records500/*/*.hea' --out model_in/ --model-input --format npy

A progress bar is shown on stderr when it is a terminal.
"""
    + BATCH_EXIT_STATUS
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` subcommand."""
    parser = add_command(
        subparsers,
        "convert",
        run,
        help="convert records to WFDB or NumPy, optionally resampled/cropped",
        description=DESCRIPTION,
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="records, folders or globs")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--fs", type=float, metavar="HZ", help="output rate (default: native)")
    parser.add_argument(
        "--seconds", type=float, metavar="S", help="output length: crop or zero-pad (default: all)"
    )
    parser.add_argument(
        "--window", default="first", help="which part to keep: first, center, last or a start in s"
    )
    parser.add_argument(
        "--twelve-lead", action="store_true", help="output the 12 standard leads in order"
    )
    parser.add_argument(
        "--model-input", action="store_true", help="same as --fs 500 --seconds 10 --twelve-lead"
    )
    parser.add_argument("--format", choices=("wfdb", "npy"), default="wfdb", help="output format")
    parser.add_argument("--quiet", action="store_true", help="do not print reader warnings")
    add_read_options(parser, prefix="input-")
    add_debug_option(parser)


def _window(text: str) -> str | float:
    if text in ("first", "center", "last"):
        return text
    try:
        return float(text)
    except ValueError:
        raise InvalidInputError(
            f"--window must be first, center, last or seconds, got {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Run ``ecgr1 convert``; returns the exit status."""
    if args.model_input:
        args.fs = args.fs or 500.0
        args.seconds = args.seconds or 10.0
        args.twelve_lead = True
    window = _window(args.window)
    inputs = find_inputs(args.inputs)
    out_dir = output_folder(args.out, "--out")
    options = read_options(args)
    reshape = args.fs is not None or args.seconds is not None or args.twelve_lead
    written: dict[str, str] = {}

    def one(address: str) -> None:
        record = read_record(address, **options)
        if reshape:
            record = standardize(
                record,
                fs=args.fs,
                seconds=args.seconds,
                leads=STANDARD_LEADS if args.twelve_lead else None,
                window=window,
            )
        name = safe_record_name(record.record_id)
        if name in written:
            raise InvalidInputError(
                f"output name {name!r} already written for {written[name]} in this run", address
            )
        written[name] = address
        write = write_wfdb if args.format == "wfdb" else write_npy
        with output_errors():
            path = write(record, out_dir, record_name=name)
        emit(f"{address} -> {path}")
        if not args.quiet:
            for w in record.warnings:
                emit(f"ecgr1 convert: warning: {address}: {w}", file=sys.stderr)

    outcome = run_batch(inputs, one, desc="convert", debug=args.debug, command="ecgr1 convert")
    return batch_exit_status(outcome)
