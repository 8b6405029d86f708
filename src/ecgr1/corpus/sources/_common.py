"""Helpers shared by the dataset adapters (layout checks, table values, reading a record)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import InvalidInputError, MissingFileError
from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.io.record import ECGRecord
from ecgr1.io.wfdb_reader import read_wfdb

#: SourceEntry.sex from the record metadata's "M"/"F".
SEX_WORD = {"M": "male", "F": "female"}
#: Record metadata "M"/"F" from SourceEntry.sex.
SEX_LETTER = {"male": "M", "female": "F"}


def tree_root(path: str | Path, what: str) -> Path:
    """The absolute tree root; a one-line error when it is absent or not a folder."""
    p = Path(path).expanduser()
    if not p.exists():
        raise MissingFileError(f"no such folder: not a {what} tree", str(p))
    if not p.is_dir():
        raise InvalidInputError(f"not a folder: a {what} tree is a folder", str(p))
    return p.resolve()


def require_file(root: Path, name: str, what: str) -> Path:
    """``root/name``; MissingFileError "no NAME in ROOT: not a WHAT tree" when absent."""
    f = root / name
    if not f.is_file():
        raise MissingFileError(f"no {name} in {root}: not a {what} tree")
    return f


def require_columns(df: Any, columns: tuple[str, ...] | list[str], path: Path) -> None:
    """InvalidInputError naming the columns a table lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidInputError(f"{path.name} lacks column(s) {missing}", str(path))


def read_table(path: Path, **kwargs: Any) -> Any:
    """A CSV as a pandas DataFrame; unreadable -> InvalidInputError."""
    import pandas as pd

    try:
        return pd.read_csv(path, low_memory=False, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidInputError(f"unreadable CSV ({first})", str(path)) from None


def clean(value: Any) -> Any:
    """A table value as plain Python: NaN/NA/empty string -> None, NumPy scalars -> Python."""
    kind = type(value)
    if value is None:
        return None
    if kind is float:
        return None if value != value else value
    if kind is str:
        return value if value.strip() else None
    if kind is int or kind is bool:
        return value
    if isinstance(value, np.generic):
        return clean(value.item())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def int_text(value: Any) -> str | None:
    """An id from a table as text (``15709.0`` -> ``"15709"``); None when missing."""
    v = clean(value)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v).strip()
    try:
        f = float(text)
    except ValueError:
        return text
    return str(int(f)) if f.is_integer() else text


def truthy(value: Any) -> bool:
    """A boolean cell (``True``/``False``, 1/0, yes/no); missing is False."""
    v = clean(value)
    if v is None:
        return False
    if isinstance(v, str):
        return v.strip().lower() in {"true", "1", "yes", "t", "1.0"}
    return bool(v)


def standard_order(record: ECGRecord) -> ECGRecord:
    """The record with its leads in the standard order I..V6 when it holds exactly those 12
    (MIMIC-IV-ECG stores aVF before aVL); otherwise unchanged."""
    if list(record.leads) == list(STANDARD_LEADS) or sorted(record.leads) != sorted(STANDARD_LEADS):
        return record
    rows = [record.leads.index(lead) for lead in STANDARD_LEADS]
    return replace(record, signal=record.signal[rows], leads=list(STANDARD_LEADS))


def entry_metadata(entry: SourceEntry) -> dict[str, Any]:
    """What an adapter puts over the reader's metadata: the entry's age, sex ("M"/"F"), raw
    labels and their vocabulary, so that the protocol uses the dataset's values."""
    return {
        "age": entry.age,
        "sex": SEX_LETTER.get(entry.sex or ""),
        "labels": list(entry.labels),
        "label_vocabulary": entry.vocabulary,
        "source": entry.source,
        "source_record_id": entry.record_id,
        "patient_id": entry.patient_id,
    }


def read_wfdb_entry(entry: SourceEntry, what: str) -> ECGRecord:
    """Read a WFDB entry (``entry.path`` is the record base path) with the entry's metadata."""
    base = Path(entry.path)
    if not base.with_name(base.name + ".hea").is_file():
        raise MissingFileError(
            f"{what} record {entry.record_id}: header {base.name}.hea not found", str(base)
        )
    record = read_wfdb(base, extra_metadata=entry_metadata(entry))
    return standard_order(record)
