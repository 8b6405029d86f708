"""Batch plumbing shared by subcommands: progress bar, per-input error capture, exit status,
and the reading options every record-consuming subcommand offers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ecgr1.errors import ECGR1Error

T = TypeVar("T")

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_BAD_INPUT = 2


def run_batch(
    items: Iterable[T],
    fn: Callable[[T], object],
    *,
    desc: str = "records",
    debug: bool = False,
    command: str = "ecgr1",
) -> int:
    """Call ``fn`` on every item; report bad items on stderr, keep going.

    Returns the number of failed items. A progress bar is shown when stderr is a terminal.
    Each failure is one line ``<command>: error: <path>: <problem>``; with ``debug`` the first
    failure is raised with its traceback instead.
    """
    from tqdm import tqdm

    items = list(items)
    failures = 0
    bar = tqdm(items, desc=desc, unit="rec", disable=not sys.stderr.isatty() or len(items) < 2)
    for item in bar:
        try:
            fn(item)
        except ECGR1Error as exc:
            if debug:
                raise
            failures += 1
            msg = str(exc) if exc.path else f"{item}: {exc}"
            tqdm.write(f"{command}: error: {msg}", file=sys.stderr)
        except BrokenPipeError:
            raise  # the reader of our output went away (e.g. `| head`): stop quietly
        except Exception as exc:  # noqa: BLE001 - a bug on one record must not stop a batch
            if debug:
                raise
            failures += 1
            tqdm.write(
                f"{command}: error: {item}: unexpected {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
    return failures


def batch_exit_status(n_items: int, failures: int) -> int:
    """Exit status of a batch: 0 all good, 2 when every input failed (a single bad input
    included), 1 when only some failed.

    >>> batch_exit_status(1, 1), batch_exit_status(5, 2), batch_exit_status(5, 0)
    (2, 1, 0)
    """
    if failures == 0:
        return EXIT_OK
    return EXIT_BAD_INPUT if failures >= n_items else EXIT_SOME_FAILED


def emit(line: str, file: Any = None) -> None:
    """Print a line without breaking a progress bar that may be on screen."""
    from tqdm import tqdm

    tqdm.write(line, file=file or sys.stdout)


def add_read_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Add the options that tell readers what a bare array cannot (rate, leads, units).

    ``prefix`` (e.g. ``"input-"``) avoids clashes with output options of the same name.
    """
    group = parser.add_argument_group("reading (for .npy/.npz/.csv and headerless .mat inputs)")
    group.add_argument(
        f"--{prefix}fs",
        dest="read_fs",
        type=float,
        metavar="HZ",
        help="sampling rate of array inputs (required for them: never guessed)",
    )
    group.add_argument(
        f"--{prefix}leads",
        dest="read_leads",
        metavar="NAMES",
        help="comma-separated lead names of array inputs (default: I..V6 for 12 leads)",
    )
    group.add_argument(
        f"--{prefix}units",
        dest="read_units",
        metavar="UNIT",
        help="units of array inputs: mV (default), uV or V",
    )
    group.add_argument(
        "--nan-policy",
        choices=("interpolate", "zero"),
        default="interpolate",
        help="how NaN/inf samples are repaired (default: linear interpolation)",
    )
    group.add_argument(
        "--no-derive-leads",
        dest="derive_leads",
        action="store_false",
        help="do not derive missing III/aVR/aVL/aVF from I and II",
    )


def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``read_record`` keyword arguments chosen on the command line."""
    opts: dict[str, Any] = {
        "nan_policy": getattr(args, "nan_policy", "interpolate"),
        "derive_leads": getattr(args, "derive_leads", True),
    }
    for name in ("fs", "leads", "units"):
        value = getattr(args, f"read_{name}", None)
        if value is not None:
            opts[name] = value
    return opts
