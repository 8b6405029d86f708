"""Batch plumbing shared by subcommands: progress bar, per-input error capture."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TypeVar

from ecgr1.errors import ECGR1Error

T = TypeVar("T")


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
        except Exception as exc:  # noqa: BLE001 - a bug on one record must not stop a batch
            if debug:
                raise
            failures += 1
            tqdm.write(
                f"{command}: error: {item}: unexpected {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
    return failures
