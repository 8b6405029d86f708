"""Headerless sources: MATLAB ``.mat`` files and ``.npy``/``.npz``/``.csv`` arrays.

A bare array does not say its sampling rate, units or lead names. ecgr1 never guesses the rate:
``fs`` must be given (or stored beside the array, as :func:`ecgr1.io.write_npy` does), except
for the dataset conventions listed in :data:`MAT_CONVENTIONS`. Units default to mV and lead
names to the standard 12-lead order (12 leads) or ``lead1..leadN``, each with a warning.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError, UnsupportedFormatError
from ecgr1.io.finalize import finalize_record
from ecgr1.io.header import parse_age, parse_sex
from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.io.record import ECGRecord

#: Known ``.mat`` layouts without a header: variable -> (dataset, fs Hz, units, lead names).
#: ``None`` lead names mean "as many as rows, standard order when 12".
MAT_CONVENTIONS: dict[str, dict[str, Any]] = {
    "ECG": {"dataset": "CPSC 2018 (raw)", "fs": 500.0, "units": "mV", "leads": STANDARD_LEADS},
    "ecg": {"dataset": "CPSC 2019", "fs": 500.0, "units": "mV", "leads": ("ECG",)},
}

#: Array variable names tried, in order, in ``.npz``/``.mat`` files holding several arrays.
SIGNAL_KEYS = ("signal", "signals", "ecg", "ECG", "data", "x", "X", "tracing", "tracings", "sig")
_TIME_COLUMNS = {"time", "t", "time_s", "seconds", "sec", "s", "sample", "samples", "index", "idx"}


def _as_leads(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v).strip() for v in np.asarray(value).ravel().tolist()]


def _orient(arr: np.ndarray, n_leads: int | None, path: str) -> np.ndarray:
    """Return (leads, samples); a (samples, leads) array is transposed."""
    arr = np.asarray(arr)
    if arr.ndim == 1:
        return arr[None, :]
    if arr.ndim != 2:
        raise InvalidInputError(
            f"array of shape {arr.shape} is not one record (expected leads x samples)", path
        )
    if n_leads is not None:
        if arr.shape[0] == n_leads:
            return arr
        if arr.shape[1] == n_leads:
            return arr.T
        raise InvalidInputError(f"{n_leads} lead names for an array of shape {arr.shape}", path)
    # The shorter axis holds the leads (an ECG has far more samples than leads).
    return arr if arr.shape[0] <= arr.shape[1] else arr.T


def _default_leads(n: int) -> tuple[list[str], str | None]:
    if n == 12:
        return list(STANDARD_LEADS), "lead names not given; standard order I..V6 assumed"
    return [f"lead{k + 1}" for k in range(n)], f"lead names not given; named lead1..lead{n}"


def array_record(
    array: np.ndarray,
    *,
    fs: float | None,
    leads: Sequence[str] | str | None = None,
    units: str | Sequence[str] | None = None,
    record_id: str = "record",
    metadata: dict[str, Any] | None = None,
    source_path: str | None = None,
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
    warnings: Sequence[str] = (),
    lead_map: str | None = None,
) -> ECGRecord:
    """Build a checked record from an in-memory array (either orientation).

    ``lead_map="standard-order"`` reads numbered lead names ``lead_1`` ... ``lead_12`` as
    I ... V6 (:func:`ecgr1.io.leads.map_lead_names`; a warning says so).

    Raises :class:`InvalidInputError` when ``fs`` is missing (the rate is never guessed), when
    the array is not numeric or is complex, or when ``units`` is not a unit name.

    >>> rec = array_record(np.zeros((1000, 2)), fs=250, leads="I,II", units="uV")
    >>> rec.n_leads, rec.n_samples, rec.fs
    (6, 1000, 250.0)
    """
    path = source_path or record_id
    if fs is None:
        raise InvalidInputError(
            "sampling rate unknown: pass fs (CLI: --fs HZ); ecgr1 never guesses it", path
        )
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise InvalidInputError(f"sampling rate {fs!r} is not a number", path) from None
    names = _as_leads(leads)
    if np.iscomplexobj(array):
        raise InvalidInputError(
            "array holds complex numbers: ECG samples are real (casting would drop the "
            "imaginary part)",
            path,
        )
    try:
        arr = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("array is not numeric", path) from None
    sig = _orient(arr, len(names) if names else None, path)
    warns = list(warnings)
    if names is None:
        names, note = _default_leads(sig.shape[0])
        warns.append(note)
    if units is None:
        units = "mV"
        warns.append("units not given; millivolts assumed")
    return finalize_record(
        sig,
        fs,
        names,
        units=units,
        record_id=record_id,
        metadata=metadata,
        source_path=source_path,
        warnings=warns,
        nan_policy=nan_policy,
        derive_leads=derive_leads,
        lead_map=lead_map,
    )


def _sidecar(path: Path) -> dict[str, Any]:
    side = path.with_suffix(".json")
    if not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_array(
    path: str | Path,
    *,
    fs: float | None = None,
    leads: Sequence[str] | str | None = None,
    units: str | Sequence[str] | None = None,
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
    lead_map: str | None = None,
) -> ECGRecord:
    """Read ``.npy``, ``.npz`` or ``.csv`` samples.

    ``fs``, ``leads`` and ``units`` given here win over those stored in the file: ``.npz``
    entries ``fs``/``leads``/``units``, a ``<stem>.json`` sidecar beside a ``.npy`` (written by
    :func:`ecgr1.io.write_npy`), a CSV header row of lead names, or a CSV time column in
    seconds (from which ``fs`` is derived).

    Raises
    ------
    InvalidInputError
        Missing ``fs``, non-numeric content, a stack of several records, a lead-count mismatch.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    meta: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    warns: list[str] = []
    record_id = p.stem
    try:
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            stored = _sidecar(p)
        elif suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                keys = list(z.files)
                key = next((k for k in SIGNAL_KEYS if k in keys), None)
                numeric = [k for k in keys if z[k].ndim >= 1 and z[k].dtype.kind in "fiu"]
                if key is None and len(numeric) == 1:
                    key = numeric[0]
                if key is None:
                    raise InvalidInputError(f"no signal array found among {keys}", str(p))
                arr = z[key]
                for name in ("fs", "leads", "units", "record_id"):
                    if name in keys:
                        v = z[name]
                        stored[name] = v.item() if v.ndim == 0 else v.tolist()
        elif suffix in {".csv", ".txt", ".tsv"}:
            arr, csv_leads, csv_fs = _read_csv(p)
            if csv_leads:
                stored["leads"] = csv_leads
            if csv_fs:
                stored["fs"] = csv_fs
                warns.append(f"sampling rate {csv_fs:g} Hz derived from the time column")
        else:
            raise UnsupportedFormatError(f"not an array file ({suffix or 'no extension'})", str(p))
    except (InvalidInputError, UnsupportedFormatError):
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt array files must give one clear error
        raise InvalidInputError(f"unreadable {suffix} file: {exc}", str(p)) from None
    if "metadata" in stored and isinstance(stored["metadata"], dict):
        meta.update(stored["metadata"])
    record_id = str(stored.get("record_id") or record_id)
    return array_record(
        arr,
        fs=fs if fs is not None else stored.get("fs"),
        leads=leads if leads is not None else stored.get("leads"),
        units=units if units is not None else stored.get("units"),
        record_id=record_id,
        metadata=meta,
        source_path=str(p),
        nan_policy=nan_policy,
        derive_leads=derive_leads,
        warnings=warns,
        lead_map=lead_map,
    )


def _read_csv(p: Path) -> tuple[np.ndarray, list[str] | None, float | None]:
    import pandas as pd

    first = p.read_text(errors="replace").splitlines()[:1]
    if not first:
        raise InvalidInputError("empty file", str(p))
    # The delimiter is chosen from the first line (pandas' sniffer mistakes '.' in one-column
    # files for a delimiter).
    sep = next((d for d in ("\t", ";", ",") if d in first[0]), r"\s+")
    cells = [c.strip() for c in re.split(sep, first[0].strip())]
    has_header = any(_not_number(c) for c in cells if c)
    df = pd.read_csv(p, sep=sep, engine="python", header=0 if has_header else None)
    fs = None
    if has_header:
        time_cols = [c for c in df.columns if str(c).strip().lower() in _TIME_COLUMNS]
        for col in time_cols:
            values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            name = str(col).strip().lower()
            if name in {"time", "t", "time_s", "seconds", "sec", "s"} and values.size > 1:
                step = float(np.nanmedian(np.diff(values)))
                if step > 0:
                    fs = round(1.0 / step, 6)
        df = df.drop(columns=time_cols)
    try:
        arr = df.apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError):
        raise InvalidInputError("CSV holds non-numeric samples", str(p)) from None
    leads = [str(c).strip() for c in df.columns] if has_header else None
    # CSV columns are leads; transpose so _orient sees (leads, samples).
    return arr.T, leads, fs


def _not_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.lower() not in {"nan", "inf", "-inf"}
    return False


def read_mat(
    path: str | Path,
    *,
    fs: float | None = None,
    leads: Sequence[str] | str | None = None,
    units: str | Sequence[str] | None = None,
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
    lead_map: str | None = None,
) -> ECGRecord:
    """Read a MATLAB ``.mat`` file that has no WFDB header.

    Recognised layouts (:data:`MAT_CONVENTIONS`): raw CPSC 2018 (struct ``ECG`` with ``sex``,
    ``age`` and ``data`` 12 x N in mV at 500 Hz) and CPSC 2019 (``ecg`` N x 1 in mV at 500 Hz,
    lead name unknown: kept as ``ECG``). Any other file with one numeric array is read like
    ``.npy`` and needs ``fs``. A Challenge ``val`` array without its ``.hea`` is refused: its
    gain is unknown.

    Example
    -------
    >>> rec = read_mat("data_00014.mat")  # doctest: +SKIP
    >>> rec.fs, rec.leads  # doctest: +SKIP
    (500.0, ['ECG'])
    """
    p = Path(path)
    try:
        from scipy.io import loadmat

        mat = loadmat(str(p), struct_as_record=True)
    except NotImplementedError:
        raise UnsupportedFormatError(
            "MATLAB v7.3 (HDF5) .mat files are not supported; save with -v7 or export to .npy",
            str(p),
        ) from None
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for junk
        raise UnsupportedFormatError(f"not a readable MATLAB file ({exc})", str(p)) from None
    keys = [k for k in mat if not k.startswith("__")]
    meta: dict[str, Any] = {}
    warns: list[str] = []
    if "ECG" in keys and mat["ECG"].dtype.names and "data" in mat["ECG"].dtype.names:
        conv = MAT_CONVENTIONS["ECG"]
        st = mat["ECG"].ravel()[0]
        arr = np.asarray(st["data"], dtype=np.float64)
        for field in ("age", "sex"):
            if field in st.dtype.names:
                value = np.asarray(st[field]).ravel()
                raw = value[0] if value.size else None
                meta[field] = parse_age(raw) if field == "age" else parse_sex(raw)
    elif "ecg" in keys:
        conv = MAT_CONVENTIONS["ecg"]
        arr = np.asarray(mat["ecg"], dtype=np.float64)
    elif "val" in keys:
        raise InvalidInputError(
            "Challenge-style 'val' array without its .hea header: gain, rate and leads unknown",
            str(p),
        )
    else:
        key = next((k for k in SIGNAL_KEYS if k in keys), None)
        numeric = [k for k in keys if isinstance(mat[k], np.ndarray) and mat[k].dtype.kind in "fiu"]
        if key is None and len(numeric) == 1:
            key = numeric[0]
        if key is None:
            raise UnsupportedFormatError(f"no ECG array recognised among variables {keys}", str(p))
        return array_record(
            mat[key], fs=fs, leads=leads, units=units, record_id=p.stem, source_path=str(p),
            metadata={"format": "mat"}, nan_policy=nan_policy, derive_leads=derive_leads,
            lead_map=lead_map,
        )  # fmt: skip
    meta["format"] = "mat"
    meta["dataset"] = conv["dataset"]
    if fs is None:
        fs = conv["fs"]
        meta["fs_from_convention"] = True
    names = _as_leads(leads) or list(conv["leads"])
    if arr.ndim == 2 and len(names) not in arr.shape and conv["leads"] == STANDARD_LEADS:
        names = None  # an unusual lead count: let array_record name them
    return array_record(
        arr,
        fs=fs,
        leads=names,
        units=units or conv["units"],
        record_id=p.stem,
        metadata=meta,
        source_path=str(p),
        nan_policy=nan_policy,
        derive_leads=derive_leads,
        warnings=warns,
        lead_map=lead_map,
    )
