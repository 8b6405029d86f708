"""Dataset adapters: public ECG datasets in their published layouts as :class:`Source` objects.

=========== ======================================= ===========================================
kind        layout                                  module
=========== ======================================= ===========================================
ptbxl       ptbxl_database.csv + records500/100     :mod:`ecgr1.corpus.sources.ptbxl`
mimic       record_list.csv + machine_measurements  :mod:`ecgr1.corpus.sources.mimic`
code15      exams.csv + exams_partN.hdf5            :mod:`ecgr1.corpus.sources.code15`
challenge   PhysioNet/CinC 2020/2021 *.hea + .mat   :mod:`ecgr1.corpus.sources.challenge`
ludb        ludb.csv + data/                        :mod:`ecgr1.corpus.sources.ludb`
=========== ======================================= ===========================================

Adapters yield each dataset's raw labels (no mapping; see ``ecgr1.corpus.labels``). A source is
picklable (its state is its root and options) and ``read`` needs only the entry.

>>> open_source("ptbxl", "/nonexistent")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
ecgr1.errors.MissingFileError: /nonexistent: no such folder: not a PTB-XL tree
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecgr1.corpus.sources.challenge import ChallengeSource
from ecgr1.corpus.sources.code15 import Code15Source, export_wfdb
from ecgr1.corpus.sources.ludb import LudbSource
from ecgr1.corpus.sources.mimic import MimicSource
from ecgr1.corpus.sources.ptbxl import PtbxlSource
from ecgr1.corpus.types import Source
from ecgr1.errors import InvalidInputError

SOURCE_KINDS: tuple[str, ...] = ("ptbxl", "mimic", "code15", "challenge", "ludb")

_CLASSES: dict[str, type] = {
    "ptbxl": PtbxlSource,
    "mimic": MimicSource,
    "code15": Code15Source,
    "challenge": ChallengeSource,
    "ludb": LudbSource,
}
#: The options each kind accepts.
SOURCE_OPTIONS: dict[str, tuple[str, ...]] = {
    "ptbxl": ("rate",),
    "mimic": (),
    "code15": (),
    "challenge": (),
    "ludb": (),
}

__all__ = [
    "SOURCE_KINDS",
    "SOURCE_OPTIONS",
    "ChallengeSource",
    "Code15Source",
    "LudbSource",
    "MimicSource",
    "PtbxlSource",
    "export_wfdb",
    "open_source",
    "open_sources",
]


def open_source(kind: str, path: str | Path, **options: Any) -> Source:
    """The adapter of ``kind`` on the tree at ``path``.

    Raises
    ------
    InvalidInputError
        Unknown kind or option, or a tree whose tables lack what the layout needs.
    MissingFileError
        ``path`` absent, or without the file that marks the layout (one-line message, e.g.
        ``no ptbxl_database.csv in PATH: not a PTB-XL tree``).
    """
    key = str(kind).strip().lower()
    if key not in _CLASSES:
        raise InvalidInputError(
            f"unknown source kind {kind!r} (expected one of {', '.join(SOURCE_KINDS)})"
        )
    unknown = sorted(set(options) - set(SOURCE_OPTIONS[key]))
    if unknown:
        allowed = ", ".join(SOURCE_OPTIONS[key]) or "none"
        raise InvalidInputError(f"unknown option(s) {unknown} for {key} (accepted: {allowed})")
    return _CLASSES[key](path, **options)


def open_sources(
    specs: list[str], options: dict[str, dict[str, Any]] | None = None
) -> list[Source]:
    """Sources from ``KIND:PATH`` strings (``ptbxl:/data/ptb-xl``), in the order given;
    ``options`` gives adapter options per kind (``{"ptbxl": {"rate": 100}}``).

    A missing colon, an empty path or an unknown kind is a usage error
    (:class:`~ecgr1.errors.InvalidInputError` with a one-line message).
    """
    if isinstance(specs, str):
        specs = [specs]
    sources: list[Source] = []
    for spec in specs:
        kind, sep, path = str(spec).partition(":")
        if not sep:
            raise InvalidInputError(
                f"source {spec!r} must be KIND:PATH with KIND one of {', '.join(SOURCE_KINDS)}"
            )
        if kind.strip().lower() not in _CLASSES:
            raise InvalidInputError(
                f"source {spec!r}: unknown kind {kind!r} "
                f"(expected one of {', '.join(SOURCE_KINDS)})"
            )
        if not path.strip():
            raise InvalidInputError(f"source {spec!r}: no path after {kind}:")
        key = kind.strip().lower()
        sources.append(open_source(key, path.strip(), **(options or {}).get(key, {})))
    return sources
