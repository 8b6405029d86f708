"""Batch plumbing shared by subcommands: progress bar, per-input error capture, exit status,
and the reading options every record-consuming subcommand offers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
        except OSError as exc:  # unreadable input or unwritable output: the user's to fix
            if debug:
                raise
            failures += 1
            tqdm.write(f"{command}: error: {item}: {os_error_text(exc)}", file=sys.stderr)
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


def os_error_text(exc: OSError) -> str:
    """``Permission denied: 'out/x.dat'`` from an OSError (no class name, no errno)."""
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename!r}" if exc.filename else what


@contextmanager
def output_errors() -> Iterator[None]:
    """Turn an OSError raised while writing outputs into a one-line :class:`ECGR1Error`
    (exit status 2) instead of a traceback.

    >>> try:
    ...     with output_errors():
    ...         open("/nonexistent-dir/x", "w")
    ... except ECGR1Error as exc:
    ...     print(exc)
    cannot write output: No such file or directory: '/nonexistent-dir/x'
    """
    try:
        yield
    except OSError as exc:
        raise ECGR1Error(f"cannot write output: {os_error_text(exc)}") from exc


def add_debug_option(parser: argparse.ArgumentParser) -> None:
    """Accept ``--debug`` after the subcommand too (``ecgr1 info --debug x``), as users type it.

    The default is suppressed so the top-level ``ecgr1 --debug`` keeps working.
    """
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show full tracebacks instead of one-line errors (same as ecgr1 --debug)",
    )


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
