"""LUDB, the Lobachevsky University ECG database (Kalyakulina et al., IEEE Access 2020).

``<root>/ludb.csv`` (``ID, Sex, Age, Rhythms, Electric axis of the heart, Conduction
abnormalities, Extrasystolies, Hypertrophies, Cardiac pacing, Ischemia, Non-specific
repolarization abnormalities, Other states``; a cell holds one item a line, and Sex/Age end
with a newline) and ``<root>/data/<id>.hea/.dat`` (12 leads, 500 Hz, 10 s).

An entry per ID (sorted numerically): labels are the items of the diagnostic columns in the
order above, each stripped (vocabulary ``ludb``); age and sex from the csv (an age written
``>89`` is read as 90 with ``extra["age_note"]``); every record is its own patient (200
records from 200 subjects), so ``patient_id`` is the record id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecgr1.corpus.sources._common import (
    SEX_WORD,
    clean,
    int_text,
    read_table,
    read_wfdb_entry,
    require_columns,
    require_file,
    tree_root,
)
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import InvalidInputError
from ecgr1.io.header import parse_age, parse_sex
from ecgr1.io.record import ECGRecord

#: The diagnostic columns of ludb.csv, in label order.
DIAGNOSTIC_COLUMNS: tuple[str, ...] = (
    "Rhythms",
    "Electric axis of the heart",
    "Conduction abnormalities",
    "Extrasystolies",
    "Hypertrophies",
    "Cardiac pacing",
    "Ischemia",
    "Non-specific repolarization abnormalities",
    "Other states",
)
_WHAT = "LUDB"


def cell_items(value: Any) -> list[str]:
    """The items of a ludb.csv cell (one a line), stripped, empty ones dropped.

    >>> cell_items("Left ventricular overload\\nLeft ventricular hypertrophy\\n")
    ['Left ventricular overload', 'Left ventricular hypertrophy']
    """
    v = clean(value)
    if v is None:
        return []
    return [item.strip() for item in str(v).splitlines() if item.strip()]


def _age(value: Any) -> tuple[float | None, str | None]:
    text = str(clean(value) or "").strip()
    m = re.match(r"^>\s*(\d+)$", text)
    if m:
        return int(m.group(1)) + 1, f"LUDB age {text!r} taken as {int(m.group(1)) + 1}"
    return parse_age(text or None), None


class LudbSource:
    """A LUDB tree (``ludb.csv`` + ``data/``)."""

    kind = "ludb"

    def __init__(self, root: str | Path) -> None:
        r = tree_root(root, _WHAT)
        self._csv = require_file(r, "ludb.csv", _WHAT)
        if not (r / "data").is_dir():
            raise InvalidInputError(f"no data/ folder in {r}: not a {_WHAT} tree")
        self.root = str(r)
        self.name = "ludb"

    def __repr__(self) -> str:
        return f"LudbSource({self.root!r})"

    def entries(self) -> Iterator[SourceEntry]:
        """One entry per ID of ludb.csv, sorted numerically."""
        df = read_table(self._csv, dtype=str, keep_default_na=False)
        require_columns(df, ("ID", "Sex", "Age", *DIAGNOSTIC_COLUMNS), self._csv)
        rows = [row for row in df.to_dict("records") if int_text(row["ID"]) is not None]
        rows.sort(key=lambda row: int(float(row["ID"])))
        for row in rows:
            yield self._entry(row)

    def _entry(self, row: dict[str, Any]) -> SourceEntry:
        record_id = int_text(row["ID"]) or ""
        labels = [item for column in DIAGNOSTIC_COLUMNS for item in cell_items(row.get(column))]
        age, note = _age(row.get("Age"))
        extra: dict[str, Any] = {
            "diagnoses": {column: cell_items(row.get(column)) for column in DIAGNOSTIC_COLUMNS}
        }
        if note:
            extra["age_note"] = note
        sex = parse_sex(str(clean(row.get("Sex")) or "").strip() or None)
        relpath = f"data/{record_id}"
        return SourceEntry(
            source=self.name,
            record_id=record_id,
            path=str(Path(self.root) / relpath),
            labels=tuple(labels),
            vocabulary="ludb",
            ecg_relpath=relpath,
            patient_id=record_id,
            age=age,
            sex=SEX_WORD.get(sex or ""),
            extra=extra,
        )

    def read(self, entry: SourceEntry) -> ECGRecord:
        """The record (12 leads at 500 Hz; lead names canonicalised from i..v6)."""
        record = read_wfdb_entry(entry, _WHAT)
        record.metadata["dataset"] = "LUDB"
        return record
