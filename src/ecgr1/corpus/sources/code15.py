"""CODE-15% (Ribeiro et al., zenodo 4916206) in its published layout.

``<root>/exams.csv`` (``exam_id, age, is_male, nn_predicted_age, 1dAVb, RBBB, LBBB, SB, ST,
AF, patient_id, death, timey, normal_ecg, trace_file``) and the HDF5 parts it names in
``trace_file`` (``exams_part0.hdf5`` ...: ``tracings`` (N, 4096, 12) float at 400 Hz in the
standard lead order, and ``exam_id``).

An entry per exam of exams.csv, sorted by ``exam_id``: labels are the names of the true label
columns (``1dAVb, RBBB, LBBB, SB, ST, AF``, then ``normal_ecg`` when true), vocabulary
``code15``; ``path`` is ``<hdf5 path>#<exam_id>``; ``ecg_relpath`` is None because the
signal must first be exported (:func:`export_wfdb`). An exam whose trace_file is absent keeps
its entry; ``read`` raises :class:`~ecgr1.errors.MissingFileError` (the build logs it).

Padding policy. CODE-15 stores every tracing in 4096 samples and pads shorter ones (about 7 s,
2800 samples, and 10 s, 4000 samples) with zeros symmetrically. Both ``read`` and
:func:`export_wfdb` trim that padding: leading and trailing samples where all 12 leads are
exactly zero are removed (``ecgr1.io.code15._trim_padding``); the samples removed at each end
are in ``record.metadata["code15_padding"]`` and the exported header's comments. The signal is
kept at its native 400 Hz, amplitudes taken as millivolts. :data:`PADDING_POLICY` states this
in each entry's ``extra["padding_policy"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.corpus.sources._common import (
    clean,
    entry_metadata,
    int_text,
    read_table,
    require_columns,
    require_file,
    tree_root,
    truthy,
)
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import InvalidInputError, MissingFileError
from ecgr1.io.code15 import _trim_padding, read_code15
from ecgr1.io.header import parse_age
from ecgr1.io.record import ECGRecord
from ecgr1.io.writers import write_wfdb

#: The label columns of exams.csv, in the order labels are listed.
LABEL_COLUMNS: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF", "normal_ecg")
PADDING_POLICY = (
    "trimmed: the zero samples CODE-15 pads around tracings shorter than 4096 samples are "
    "removed (samples where all 12 leads are exactly 0 at either end); native 400 Hz kept"
)
EXPORT_FOLDER = "code15"
_WHAT = "CODE-15%"


def split_path(path: str) -> tuple[Path, int]:
    """``file.hdf5#exam_id`` -> (file, exam_id)."""
    file, sep, exam = str(path).rpartition("#")
    if not sep or not exam.lstrip("-").isdigit():
        raise InvalidInputError(f"not a CODE-15 exam address (FILE#EXAM_ID): {path!r}")
    return Path(file), int(exam)


class Code15Source:
    """A CODE-15% tree (``exams.csv`` + ``exams_partN.hdf5``)."""

    kind = "code15"

    def __init__(self, root: str | Path) -> None:
        r = tree_root(root, _WHAT)
        self._exams = require_file(r, "exams.csv", _WHAT)
        self.root = str(r)
        self.name = "code15"

    def __repr__(self) -> str:
        return f"Code15Source({self.root!r})"

    def entries(self) -> Iterator[SourceEntry]:
        """One entry per exam of exams.csv, sorted by exam_id."""
        df = read_table(self._exams)
        require_columns(df, ("exam_id", "trace_file", *LABEL_COLUMNS), self._exams)
        rows = df.drop_duplicates(subset=["exam_id"]).to_dict("records")
        rows.sort(key=lambda row: int(row["exam_id"]))
        for row in rows:
            yield self._entry(row)

    def _entry(self, row: dict[str, Any]) -> SourceEntry:
        exam = int(row["exam_id"])
        trace = clean(row.get("trace_file"))
        trace_file = str(trace).strip() if trace is not None else ""
        extra: dict[str, Any] = {
            "exam_id": exam,
            "trace_file": trace_file or None,
            "padding_policy": PADDING_POLICY,
        }
        for key in ("nn_predicted_age", "timey"):
            value = clean(row.get(key))
            if value is not None:
                try:
                    extra[key] = float(value)
                except (TypeError, ValueError):
                    pass
        if clean(row.get("death")) is not None:
            extra["death"] = truthy(row["death"])
        sex = None
        if clean(row.get("is_male")) is not None:
            sex = "male" if truthy(row["is_male"]) else "female"
        return SourceEntry(
            source=self.name,
            record_id=str(exam),
            path=f"{Path(self.root) / trace_file}#{exam}" if trace_file else f"#{exam}",
            labels=tuple(c for c in LABEL_COLUMNS if truthy(row.get(c))),
            vocabulary="code15",
            ecg_relpath=None,
            patient_id=int_text(row.get("patient_id")),
            age=parse_age(clean(row.get("age"))),
            sex=sex,
            extra=extra,
        )

    def read(self, entry: SourceEntry) -> ECGRecord:
        """The exam at 400 Hz with its zero padding trimmed (see the module docstring)."""
        file, exam = split_path(entry.path)
        if not str(file) or not file.is_file():
            trace = entry.extra.get("trace_file")
            raise MissingFileError(
                f"CODE-15 exam {exam}: trace_file {trace!r} listed in exams.csv is missing",
                str(file) if str(file) else self.root,
            )
        record = read_code15(file, exam, exams_csv=self._exams, trim_padding=True)
        record.metadata.update(entry_metadata(entry))
        record.metadata["padding_policy"] = PADDING_POLICY
        return record

    def export_wfdb(self, entry: SourceEntry, record: ECGRecord, dest_root: str | Path) -> str:
        """:func:`export_wfdb` (the build exports the records of sources that have this)."""
        return export_wfdb(entry, record, dest_root)


def export_wfdb(entry: SourceEntry, record: ECGRecord, dest_root: str | Path) -> str:
    """Write ``record`` (an exam read from ``entry``) as WFDB format 16 at its native rate to
    ``dest_root/code15/<exam_id>.hea/.dat``; returns that path relative to ``dest_root``
    without extension (``code15/<exam_id>``).

    The padding is trimmed here too (a no-op on a record from :meth:`Code15Source.read`), and
    the samples removed are stated in the header comments.
    """
    exam = str(entry.extra.get("exam_id", entry.record_id))
    sig = np.asarray(record.signal, dtype=np.float64)
    trimmed, before, after = _trim_padding(sig.T)
    if trimmed.shape[0] == 0:
        raise InvalidInputError(f"CODE-15 exam {exam}: tracing is all zeros", entry.path)
    padding = list(record.metadata.get("code15_padding") or [0, 0])
    padding = [int(padding[0]) + before, int(padding[1]) + after]
    meta = dict(record.metadata)
    meta.update(entry_metadata(entry))
    meta["code15_padding"] = padding
    out = replace(record, signal=trimmed.T, metadata=meta, source_path=entry.path)
    hea = write_wfdb(out, Path(dest_root) / EXPORT_FOLDER, record_name=exam)
    with hea.open("a") as f:
        f.write(
            f"# CODE-15 exam_id: {exam}\n"
            f"# CODE-15 padding: {padding[0]} zero samples trimmed before, {padding[1]} after; "
            f"native {record.fs:g} Hz kept\n"
        )
    return f"{EXPORT_FOLDER}/{exam}"
