"""MIMIC-IV-ECG (Gow et al., PhysioNet 2023) in its published layout.

``<root>/record_list.csv`` (``subject_id, study_id, file_name, ecg_time, path``; ``path`` is
``files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN``, the WFDB record without extension) and
``<root>/machine_measurements.csv`` (one row per ``study_id``: ``report_0`` .. ``report_17``
machine statements, ``bandwidth``, ``filtering``, ``rr_interval``, ``p_onset``, ``p_end``,
``qrs_onset``, ``qrs_end``, ``t_end`` in ms and ``p_axis``, ``qrs_axis``, ``t_axis`` in
degrees). Both tables are read once with pandas (about 800,000 rows each) and joined on
``study_id``.

An entry per study, sorted by ``study_id``: ``record_id`` is the study id, ``patient_id`` the
subject id; labels are the non-empty ``report_k`` statements in column order (vocabulary
``mimic``). The dataset gives no age or sex (they live in MIMIC-IV's ``patients`` table), so
both are None.

Machine measurements. The data dictionary describes ``p_onset`` .. ``t_end`` as times (ms) of
the wave boundaries within the machine's representative beat, and ``rr_interval`` as the time
between successive R waves. It does not document a missing-value code, but the released table
uses 29999 where the machine found no such wave (no P wave in atrial fibrillation, for
instance) and leaves some cells empty; both (any value >= 29999, or empty) are taken as missing.
``extra["machine"]`` holds what the numbers mean: ``rr_ms``, ``hr_bpm`` (60000 / RR),
``p_ms`` (p_end - p_onset), ``pr_ms`` (qrs_onset - p_onset), ``qrs_ms`` (qrs_end -
qrs_onset), ``qt_ms`` (t_end - qrs_onset), ``qtc_bazett_ms`` (QT / sqrt(RR in s)),
``p_axis_deg``, ``qrs_axis_deg``, ``t_axis_deg``; a value is None when an operand is missing or
the difference is not positive. ``extra["machine_raw"]`` keeps the table's numbers as given
(empty cells None, 29999 kept).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ecgr1.corpus.sources._common import (
    clean,
    int_text,
    read_table,
    read_wfdb_entry,
    require_columns,
    require_file,
    tree_root,
    truthy,
)
from ecgr1.corpus.types import SourceEntry
from ecgr1.io.record import ECGRecord

#: The value machine_measurements.csv uses for "not measured" (e.g. no P wave).
MACHINE_MISSING = 29999
REPORT_COLUMNS: tuple[str, ...] = tuple(f"report_{k}" for k in range(18))
MACHINE_COLUMNS: tuple[str, ...] = (
    "rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end",
    "p_axis", "qrs_axis", "t_axis",
)  # fmt: skip
_OTHER_COLUMNS = ("ecg_time", "cart_id", "bandwidth", "filtering")
_WHAT = "MIMIC-IV-ECG"


def _number(value: Any) -> float | None:
    v = clean(value)
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or f >= MACHINE_MISSING:
        return None
    return f


def _plain(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 1)


def machine_intervals(raw: dict[str, Any]) -> dict[str, float | int | None]:
    """The machine's numbers converted to intervals, rate and axes (see the module docstring).

    >>> m = machine_intervals({"rr_interval": 659, "p_onset": 40, "p_end": 128,
    ...                        "qrs_onset": 170, "qrs_end": 258, "t_end": 518,
    ...                        "p_axis": 81, "qrs_axis": 77, "t_axis": 79})
    >>> m["pr_ms"], m["qrs_ms"], m["qt_ms"], m["rr_ms"], m["hr_bpm"], m["p_axis_deg"]
    (130, 88, 348, 659, 91.0, 81)
    >>> machine_intervals({"rr_interval": 700, "p_onset": 29999, "qrs_onset": 180})["pr_ms"]
    """
    v = {k: _number(raw.get(k)) for k in MACHINE_COLUMNS}

    def diff(end: str, start: str) -> float | None:
        if v[end] is None or v[start] is None or v[end] - v[start] <= 0:
            return None
        return v[end] - v[start]

    rr = v["rr_interval"] if v["rr_interval"] is not None and v["rr_interval"] > 0 else None
    qt = diff("t_end", "qrs_onset")
    return {
        "rr_ms": _plain(rr),
        "hr_bpm": round(60000.0 / rr, 1) if rr else None,
        "p_ms": _plain(diff("p_end", "p_onset")),
        "pr_ms": _plain(diff("qrs_onset", "p_onset")),
        "qrs_ms": _plain(diff("qrs_end", "qrs_onset")),
        "qt_ms": _plain(qt),
        "qtc_bazett_ms": round(qt / math.sqrt(rr / 1000.0), 1) if qt and rr else None,
        "p_axis_deg": _plain(v["p_axis"]),
        "qrs_axis_deg": _plain(v["qrs_axis"]),
        "t_axis_deg": _plain(v["t_axis"]),
    }


class MimicSource:
    """A MIMIC-IV-ECG tree (``record_list.csv`` + ``machine_measurements.csv`` + ``files/``)."""

    kind = "mimic"

    def __init__(self, root: str | Path) -> None:
        r = tree_root(root, _WHAT)
        self._records = require_file(r, "record_list.csv", _WHAT)
        self._measurements = require_file(r, "machine_measurements.csv", _WHAT)
        self.root = str(r)
        self.name = "mimic"

    def __repr__(self) -> str:
        return f"MimicSource({self.root!r})"

    def entries(self) -> Iterator[SourceEntry]:
        """One entry per study of record_list.csv, sorted by study_id."""
        records = read_table(self._records)
        require_columns(records, ("subject_id", "study_id", "path"), self._records)
        table = read_table(self._measurements)
        require_columns(table, ("study_id",), self._measurements)
        reports = [c for c in REPORT_COLUMNS if c in table.columns]
        keep = reports + [c for c in (*MACHINE_COLUMNS, *_OTHER_COLUMNS) if c in table.columns]
        table = table.drop_duplicates(subset=["study_id"])[["study_id", *keep]]
        table["_measured"] = True
        own = [c for c in ("subject_id", "study_id", "path", "ecg_time") if c in records.columns]
        records = records.drop_duplicates(subset=["study_id"])[own]
        merged = records.merge(table, on="study_id", how="left", suffixes=("", "_machine"))
        merged = merged.sort_values("study_id", kind="stable")
        del records, table
        # One row at a time from column arrays: 800,000 row dicts at once would cost gigabytes.
        columns = {c: merged[c].tolist() for c in merged.columns}
        for i in range(len(merged)):
            row = {c: values[i] for c, values in columns.items()}
            yield self._entry(row, row if truthy(row["_measured"]) else None, reports)

    def _entry(
        self, row: dict[str, Any], measured: dict[str, Any] | None, reports: list[str]
    ) -> SourceEntry:
        study = int(row["study_id"])
        relpath = str(row["path"]).strip().removesuffix(".hea")
        extra: dict[str, Any] = {"subject_id": int(row["subject_id"]), "study_id": study}
        if clean(row.get("ecg_time")) is not None:
            extra["ecg_time"] = str(row["ecg_time"])
        labels: list[str] = []
        if measured is None:
            extra["labels_note"] = f"study {study} not in machine_measurements.csv"
        else:
            for column in reports:
                text = clean(measured.get(column))
                if text is not None and str(text).strip():
                    labels.append(" ".join(str(text).split()))
            raw = {k: clean(measured.get(k)) for k in MACHINE_COLUMNS if k in measured}
            extra["machine"] = machine_intervals(raw)
            extra["machine_raw"] = {k: _plain(v) if v is not None else None for k, v in raw.items()}
            extra["report"] = "; ".join(labels) if labels else None
            for key in _OTHER_COLUMNS:
                value = clean(measured.get(key))
                if value is not None:
                    extra.setdefault(key, int_text(value) if key == "cart_id" else str(value))
        return SourceEntry(
            source=self.name,
            record_id=str(study),
            path=os.path.join(self.root, relpath),
            labels=tuple(labels),
            vocabulary="mimic",
            ecg_relpath=relpath,
            patient_id=int_text(row["subject_id"]),
            extra=extra,
        )

    def read(self, entry: SourceEntry) -> ECGRecord:
        """The study's 10-s 500 Hz record, leads put in the standard order I..V6."""
        record = read_wfdb_entry(entry, _WHAT)
        record.metadata.update(
            dataset=_WHAT,
            subject_id=entry.extra.get("subject_id"),
            study_id=entry.extra.get("study_id"),
            report=entry.extra.get("report"),
            machine_measurements=dict(entry.extra.get("machine_raw") or {}),
        )
        return record
