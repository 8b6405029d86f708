"""Helpers shared by the benchmark scripts: the data folder and markdown tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ecgr1.paths import shared_data_dir


def data_root() -> Path | None:
    """The shared data folder (``../shared/data`` or ``$ECGR1_DATA``), or None after saying on
    stderr that it is missing."""
    root = shared_data_dir()
    if not root.is_dir():
        print(f"data folder not found: {root}", file=sys.stderr)
        return None
    return root


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; cells are written with ``str``.

    >>> print(markdown_table(["a", "b"], [[1, "x"]]))
    | a | b |
    |---|---|
    | 1 | x |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
