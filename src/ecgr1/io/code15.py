"""CODE-15% HDF5 (Ribeiro et al. 2021, zenodo 4916206).

Each ``exams_partN.hdf5`` holds ``tracings`` (N x 4096 x 12, float32, 400 Hz, leads in the
standard order I..V6) and ``exam_id`` (N). Tracings shorter than 4096 samples (about 7 s or
10 s) are zero-padded symmetrically; by default the padding is removed (rows where all 12 leads
are exactly 0 at either end) and recorded in ``metadata["code15_padding"]``. Amplitudes are
taken as millivolts, as the PhysioNet Challenge 2025 conversion of CODE-15% does. Labels come
from ``exams.csv`` beside the HDF5 file (or ``exams_csv=``): the true ones among ``1dAVb``,
``RBBB``, ``LBBB``, ``SB``, ``ST``, ``AF`` and ``normal_ecg``; ``age`` and ``is_male`` give
age and sex.

Address one exam as ``exams_part0.hdf5#<exam_id>`` in :func:`ecgr1.io.read_record`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError, MissingFileError, UnsupportedFormatError
from ecgr1.io.finalize import finalize_record
from ecgr1.io.header import parse_age
from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.io.record import ECGRecord

CODE15_FS = 400.0
CODE15_LABEL_COLUMNS: tuple[str, ...] = ("1dAVb", "RBBB", "LBBB", "SB", "ST", "AF", "normal_ecg")


def _open(path: Path):
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise UnsupportedFormatError(f"not a readable HDF5 file ({exc})", str(path)) from None


@functools.lru_cache(maxsize=16)
def _exam_ids(path: str, mtime: float) -> tuple[int, ...] | None:
    with _open(Path(path)) as f:
        if "tracings" not in f:
            raise UnsupportedFormatError(
                f"HDF5 file without a 'tracings' dataset (found {sorted(f.keys())}); "
                "not CODE-15 layout",
                path,
            )
        if "exam_id" not in f:
            return None
        return tuple(int(x) for x in np.asarray(f["exam_id"][:]).ravel())


@functools.lru_cache(maxsize=16)
def _exam_rows(path: str, mtime: float) -> dict[int, int]:
    """exam id -> row (first occurrence), for O(1) look-ups in files of ~20k exams."""
    rows: dict[int, int] = {}
    for row, exam in enumerate(_exam_ids(path, mtime) or ()):
        rows.setdefault(exam, row)
    return rows


def exam_ids(path: str | Path) -> list[int] | None:
    """Exam ids stored in a CODE-15 HDF5 file (None when the file has no ``exam_id``).

    Rows with exam id 0 (padding rows at the end of each part) are left out.
    """
    p = Path(path)
    ids = _exam_ids(str(p.resolve()), p.stat().st_mtime)
    return None if ids is None else [i for i in ids if i != 0]


@functools.lru_cache(maxsize=4)
def _labels_table(csv_path: str, mtime: float) -> Any:
    import pandas as pd

    df = pd.read_csv(csv_path)
    if "exam_id" not in df.columns:
        return None
    return df.drop_duplicates(subset=["exam_id"]).set_index("exam_id")


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "t"}
    try:
        return bool(value) and not np.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _csv_metadata(csv_path: Path | None, exam_id: int) -> dict[str, Any]:
    if csv_path is None or not csv_path.is_file():
        return {}
    table = _labels_table(str(csv_path.resolve()), csv_path.stat().st_mtime)
    if table is None or int(exam_id) not in table.index:
        return {"labels_note": f"exam {exam_id} not in {csv_path.name}"}
    row = table.loc[int(exam_id)].to_dict()
    meta: dict[str, Any] = {
        "age": parse_age(row.get("age")),
        "labels": [c for c in CODE15_LABEL_COLUMNS if c in row and _truthy(row[c])],
    }
    if "is_male" in row:
        meta["sex"] = "M" if _truthy(row["is_male"]) else "F"
    for key in ("patient_id", "trace_file", "nn_predicted_age", "death", "timey"):
        if key in row and row[key] == row[key]:  # skip NaN
            value = row[key]
            meta[key] = value.item() if hasattr(value, "item") else value
    return meta


def _trim_padding(sig: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Remove leading/trailing samples where every lead is exactly zero."""
    nonzero = np.flatnonzero(np.any(sig != 0, axis=1))
    if nonzero.size == 0:
        return sig[:0], sig.shape[0], 0
    start, stop = int(nonzero[0]), int(nonzero[-1]) + 1
    return sig[start:stop], start, sig.shape[0] - stop


def read_code15(
    path: str | Path,
    exam_id: int | None = None,
    *,
    index: int | None = None,
    exams_csv: str | Path | None = None,
    trim_padding: bool = True,
    units: str = "mV",
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
) -> ECGRecord:
    """Read one CODE-15 exam, by ``exam_id`` or by row ``index``.

    With neither, the file must hold exactly one exam. ``exams_csv`` defaults to
    ``exams.csv`` beside the HDF5 file.

    Raises
    ------
    InvalidInputError
        Unknown exam id, row out of range, wrong tracing shape, an all-zero tracing.
    UnsupportedFormatError
        Not HDF5, or HDF5 without ``tracings``.

    Example
    -------
    >>> rec = read_code15("exams_part0.hdf5", 1169160)  # doctest: +SKIP
    >>> rec.fs, rec.leads[:3]  # doctest: +SKIP
    (400.0, ['I', 'II', 'III'])
    """
    p = Path(path)
    if not p.is_file():
        raise MissingFileError("no such file", str(p))
    ids = _exam_ids(str(p.resolve()), p.stat().st_mtime)
    where = f"{p}#{exam_id}" if exam_id is not None else str(p)
    with _open(p) as f:
        tracings = f["tracings"]
        if tracings.ndim != 3 or tracings.shape[2] != 12:
            raise InvalidInputError(
                f"'tracings' has shape {tracings.shape}, expected (N, samples, 12)", str(p)
            )
        n = tracings.shape[0]
        if exam_id is not None:
            if ids is None:
                raise InvalidInputError(
                    "file has no 'exam_id' dataset; address rows by index", str(p)
                )
            index = _exam_rows(str(p.resolve()), p.stat().st_mtime).get(int(exam_id))
            if index is None:
                raise InvalidInputError(f"exam id {exam_id} not in this file", str(p))
        elif index is None:
            if n != 1:
                raise InvalidInputError(
                    f"file holds {n} exams: address one as '{p.name}#<exam_id>' "
                    "or iterate with ecgr1.io.iter_code15",
                    str(p),
                )
            index = 0
        if not 0 <= index < n:
            raise InvalidInputError(f"row {index} out of range (file holds {n} exams)", str(p))
        sig = np.asarray(tracings[index], dtype=np.float64)  # (samples, 12)
        if ids is not None:
            exam_id = ids[index]
    meta: dict[str, Any] = {"format": "code15-hdf5", "dataset": "CODE-15%", "row": int(index)}
    if exam_id is not None:
        meta["exam_id"] = int(exam_id)
    if trim_padding:
        sig, before, after = _trim_padding(sig)
        if sig.shape[0] == 0:
            raise InvalidInputError("tracing is all zeros (no signal)", where)
        meta["code15_padding"] = [before, after]
    csv_path = Path(exams_csv) if exams_csv is not None else p.parent / "exams.csv"
    if exam_id is not None:
        meta.update(_csv_metadata(csv_path, int(exam_id)))
    record_id = str(exam_id) if exam_id is not None else f"{p.stem}_{index}"
    return finalize_record(
        sig.T,
        CODE15_FS,
        list(STANDARD_LEADS),
        units=units,
        record_id=record_id,
        metadata=meta,
        source_path=f"{p}#{exam_id}" if exam_id is not None else str(p),
        nan_policy=nan_policy,
        derive_leads=derive_leads,
    )


def iter_code15(
    path: str | Path, *, exams_csv: str | Path | None = None, **options: Any
) -> Iterator[ECGRecord]:
    """Yield every exam of a CODE-15 HDF5 file as an :class:`ECGRecord`, in file order.

    Padding rows (exam id 0) are skipped. ``options`` go to :func:`read_code15`.
    """
    p = Path(path)
    ids = exam_ids(p)
    if ids is None:
        import h5py

        with h5py.File(p, "r") as f:
            n = f["tracings"].shape[0]
        for i in range(n):
            yield read_code15(p, index=i, exams_csv=exams_csv, **options)
        return
    for exam in ids:
        yield read_code15(p, exam, exams_csv=exams_csv, **options)


def code15_entries(path: str | Path) -> list[str]:
    """``path#exam_id`` strings for every exam in the file (used by ``find_records``)."""
    ids = exam_ids(path)
    if ids is None:
        import h5py

        with h5py.File(path, "r") as f:
            n = f["tracings"].shape[0]
        return [str(path)] if n == 1 else [f"{path}#row{i}" for i in range(n)]
    return [f"{path}#{i}" for i in ids]
