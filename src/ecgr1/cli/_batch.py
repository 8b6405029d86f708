"""What every subcommand shares: registration, the exit-status contract, per-input error
capture with a progress bar, output folders, and the reading options of record-consuming
subcommands.

The contract (docs/cli.md): exit status 0 when every input was processed (an "unusable"
measurement is a result); 1 when some inputs failed (could not be read, or an internal error)
and the rest were processed; 2 for a usage error (an output that cannot be written included)
or when no input could be read. An internal error gives 1 even for a single input: it is a bug
in ecgr1, not bad input. Each failure is one line ``ecgr1 CMD: error: PATH: problem`` on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ecgr1.errors import ECGR1Error, OutputError

T = TypeVar("T")

EXIT_OK = 0
EXIT_SOME_FAILED = 1  # some inputs failed, or any internal error
EXIT_USAGE = 2  # usage error, unwritable output, or no input could be read

# The end of the --help text of every command that reads records.
BATCH_EXIT_STATUS = """\
Exit status (docs/cli.md): 0 every input processed; 1 some inputs failed (unreadable, or an
internal error) and the rest were processed; 2 usage error, or no input could be read. Each
failure is one line on stderr naming the file.
"""


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int] | None,
    *,
    help: str,
    description: str | None = None,
    **parser_options: Any,
) -> argparse.ArgumentParser:
    """Add the subcommand ``name``; ``run(args)`` returns its exit status.

    The description is printed as written (line breaks, examples) unless ``formatter_class``
    says otherwise. ``run`` is None for a group whose actions are subcommands of their own.
    """
    parser_options.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    parser = subparsers.add_parser(name, help=help, description=description, **parser_options)
    if run is not None:
        parser.set_defaults(func=run)
    return parser


@dataclass
class BatchOutcome:
    """What became of the inputs of one run: the counts the exit status is made of."""

    n_inputs: int
    # ECGR1Error or OSError: the input could not be read (or was refused), the user's to fix.
    unreadable: int = 0
    # Any other exception: a bug in ecgr1, never a property of the input.
    internal_errors: int = 0
    problems: list[str] = field(default_factory=list)  # the texts reported, in order


def batch_exit_status(outcome: BatchOutcome) -> int:
    """The exit status of a run (docs/cli.md).

    >>> batch_exit_status(BatchOutcome(5)), batch_exit_status(BatchOutcome(5, unreadable=2))
    (0, 1)
    >>> batch_exit_status(BatchOutcome(1, unreadable=1))  # nothing could be read
    2
    >>> batch_exit_status(BatchOutcome(1, internal_errors=1))  # a bug, not bad input
    1
    """
    if outcome.internal_errors:
        return EXIT_SOME_FAILED
    if outcome.unreadable and outcome.unreadable >= outcome.n_inputs:
        return EXIT_USAGE
    return EXIT_SOME_FAILED if outcome.unreadable else EXIT_OK


def find_inputs(paths: Sequence[str]) -> list[str]:
    """The record addresses in ``paths``; none at all is a usage error (exit status 2).

    >>> import tempfile
    >>> find_inputs([tempfile.mkdtemp()])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ecgr1.errors.ECGR1Error: no records found in ...
    """
    from ecgr1.io import find_records

    records = find_records(paths)
    if not records:
        raise ECGR1Error(f"no records found in {' '.join(str(p) for p in paths)}")
    return records


def internal_error_text(exc: BaseException) -> str:
    """How a bug is reported: never as a finding, always with the way to learn more."""
    return (
        f"internal error: {type(exc).__name__}: {exc} "
        "(please report it; --debug shows the traceback)"
    )


def failure_text(item: object, exc: BaseException) -> str:
    """``PATH: problem`` for an input that failed with ``exc``, on one line.

    >>> failure_text("a.hea", FileNotFoundError(2, "No such file or directory", "a.dat"))
    "a.hea: No such file or directory: 'a.dat'"
    >>> failure_text("a.hea", ValueError("bad\\nshape"))
    'a.hea: internal error: ValueError: bad shape (please report it; --debug shows the traceback)'
    """
    if isinstance(exc, ECGR1Error):
        text = str(exc) if exc.path else f"{item}: {exc}"
    elif isinstance(exc, OSError):
        text = f"{item}: {os_error_text(exc)}"
    else:
        text = f"{item}: {internal_error_text(exc)}"
    return " ".join(text.splitlines())  # one line per failure, whatever the message holds


@contextmanager
def reported_failures(
    outcome: BatchOutcome, item: object, *, command: str, debug: bool = False
) -> Iterator[None]:
    """Count a failure of ``item`` in ``outcome`` and report it on stderr; the run goes on.

    An output that cannot be written (:class:`OutputError`) and a reader of our output that
    went away (BrokenPipeError, e.g. ``| head``) stop the run instead: every later input would
    fail the same way. With ``debug`` the exception propagates with its traceback.
    """
    from tqdm import tqdm

    try:
        yield
    except (OutputError, BrokenPipeError):
        raise
    except Exception as exc:  # noqa: BLE001 - one input, even a bug, must not stop a batch
        if debug:
            raise
        if isinstance(exc, _ReportedFailure):  # from a worker process: already classified
            unreadable, text = exc.kind == "unreadable", exc.text
        else:
            unreadable, text = isinstance(exc, (ECGR1Error, OSError)), failure_text(item, exc)
        if unreadable:
            outcome.unreadable += 1
        else:
            outcome.internal_errors += 1
        outcome.problems.append(text)
        tqdm.write(f"{command}: error: {text}", file=sys.stderr)


def run_batch(
    items: Iterable[T],
    fn: Callable[[T], Any],
    *,
    desc: str = "records",
    debug: bool = False,
    command: str = "ecgr1",
    workers: int = 1,
    consume: Callable[[T, Any], None] | None = None,
) -> BatchOutcome:
    """Call ``fn`` on every item, reporting each failure in one line on stderr and going on.

    ``consume(item, fn(item))``, when given, handles each result in this process, in the
    order of ``items`` (printing, say). With ``workers`` > 1 ``fn`` runs in that many spawned
    processes (it must be picklable: a module-level function or a ``functools.partial`` of
    one), so it must not print; failures are counted and reported exactly as in one process.
    ``debug`` runs in this process whatever ``workers`` says, so that a traceback is whole.
    A progress bar is shown on stderr when it is a terminal and there is more than one item.
    """
    from tqdm import tqdm

    items = list(items)
    outcome = BatchOutcome(len(items))
    quiet = not sys.stderr.isatty() or len(items) < 2
    workers = max(1, min(int(workers), len(items)))
    with tqdm(total=len(items), desc=desc, unit="rec", disable=quiet) as bar:
        if workers == 1 or debug:
            for item in items:
                with reported_failures(outcome, item, command=command, debug=debug):
                    result = fn(item)
                    if consume is not None:
                        consume(item, result)
                bar.update()
        else:
            for item, (failed, result) in zip(
                items, _map_in_processes(fn, items, workers), strict=True
            ):
                with reported_failures(outcome, item, command=command):
                    if failed:
                        result.reraise()
                    if consume is not None:
                        consume(item, result)
                bar.update()
    return outcome


def _whole_number(text: str, minimum: int, what: str = "1 or more") -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text}")
    return value


def positive_int(text: str) -> int:
    """An ``argparse`` type: a whole number of 1 or more (counts, token budgets, limits)."""
    return _whole_number(text, 1)


def default_workers() -> int:
    """The cores this process may use (``--workers 0``)."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    """``--workers N``: records processed in N processes (0: one per core), results in order."""

    def count(text: str) -> int:
        return _whole_number(text, 0, "0 (one per core) or more") or default_workers()

    parser.add_argument(
        "--workers",
        type=count,
        default=1,
        metavar="N",
        help="process the records in N processes (0: one per core; default 1); the output "
        "keeps the order of the inputs",
    )


@dataclass
class _WorkerFailure:
    """An input that failed in a worker process: the class of failure and its one-line text,
    computed there (an exception's attributes do not all survive pickling)."""

    kind: str  # "unreadable" (ECGR1Error, OSError), "output" (OutputError), "internal"
    text: str

    def reraise(self) -> None:
        if self.kind == "output":
            raise OutputError(self.text)
        raise _ReportedFailure(self.kind, self.text)


class _ReportedFailure(Exception):
    """A worker's failure raised again in the parent, counted as its ``kind`` says."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind, self.text = kind, text


def _call_in_worker(fn: Callable[[T], Any], item: T) -> tuple[bool, Any]:
    """(failed, result or :class:`_WorkerFailure`) of ``fn(item)`` in a worker process."""
    try:
        return False, fn(item)
    except OutputError as exc:
        return True, _WorkerFailure("output", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported in the parent, as in one process
        kind = "unreadable" if isinstance(exc, (ECGR1Error, OSError)) else "internal"
        return True, _WorkerFailure(kind, failure_text(item, exc))


def _map_in_processes(
    fn: Callable[[T], Any], items: list[T], workers: int
) -> Iterator[tuple[bool, Any]]:
    """``_call_in_worker(fn, item)`` for every item in a spawned process pool, in order."""
    import functools
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(8, len(items) // (4 * workers)))
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield from pool.map(functools.partial(_call_in_worker, fn), items, chunksize=chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def os_error_text(exc: OSError) -> str:
    """``Permission denied: 'out/x.dat'`` from an OSError (no class name, no errno)."""
    what = exc.strerror or str(exc)
    return f"{what}: {exc.filename!r}" if exc.filename else what


@contextmanager
def output_errors() -> Iterator[None]:
    """Turn an OSError raised while writing outputs into a one-line :class:`OutputError`
    (exit status 2) instead of a traceback or an "internal error".

    >>> try:
    ...     with output_errors():
    ...         open("/nonexistent-dir/x", "w")
    ... except ECGR1Error as exc:
    ...     print(exc)
    cannot write output: No such file or directory: '/nonexistent-dir/x'
    """
    try:
        yield
    except BrokenPipeError:
        raise  # stdout closed by its reader: not an output file of ours
    except OSError as exc:
        raise OutputError(f"cannot write output: {os_error_text(exc)}") from exc


def output_folder(path: str | Path, option: str) -> Path:
    """Create the output folder given by ``option`` (e.g. ``--out``) before any input is read,
    so that a mistyped option is a usage error at once (exit status 2), not after the batch.

    >>> import tempfile
    >>> output_folder(tempfile.mkstemp()[1], "--json-dir")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ecgr1.errors.OutputError: ...: --json-dir names a file, not a folder
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option} names a file, not a folder", str(folder))
    with output_errors():
        folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def positive_seconds(text: str) -> float:
    """``--seconds``: a finite duration above zero (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a duration above 0 s, not {text}")
    return value


def age_years(text: str) -> float:
    """``--age``: years from 0 to 130 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an age in years: {text!r}") from None
    if not 0 <= value < 130:
        raise argparse.ArgumentTypeError(f"an age in years is 0 to 130, not {text}")
    return value


def sex_value(text: str) -> str:
    """``--sex``: M, F, male or female in any case, as "M" or "F" (argparse type).

    >>> sex_value("female"), sex_value("m")
    ('F', 'M')
    >>> sex_value("x")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: a sex is M, F, male or female, not 'x'
    """
    value = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(text.strip().lower())
    if value is None:
        raise argparse.ArgumentTypeError(f"a sex is M, F, male or female, not {text!r}")
    return value


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
    group.add_argument(
        "--lead-map",
        choices=("standard-order",),
        default=None,
        help="records or arrays whose leads are named lead_1..lead_12: standard-order reads them as "
        "I, II, III, aVR, aVL, aVF, V1-V6 (default: kept as named, with a warning)",
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
    if getattr(args, "lead_map", None) is not None:
        opts["lead_map"] = args.lead_map
    return opts
