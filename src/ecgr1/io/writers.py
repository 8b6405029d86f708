"""Writers: WFDB (format 16) and NumPy (``.npy`` + ``.json`` sidecar).

WFDB output uses format 16 with an ADC gain of 1000 adu/mV, i.e. 1 µV resolution and a range of
±32.767 mV. A lead that exceeds that range gets the largest integer gain that fits (coarser
resolution, reported in the record's warnings and the header comments). NaN samples are written
as the WFDB "no data" value (-32768) and read back as NaN. Age, sex and labels go into the
header comments in the Challenge convention (``Age:``, ``Sex:``, ``Dx:``), which
:func:`ecgr1.io.read_record` reads back.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError
from ecgr1.io.record import ECGRecord

#: Default WFDB ADC gain (adu per mV): 1 µV per step.
WFDB_GAIN_ADU_PER_MV = 1000.0
_FMT16_MAX = 32767
_FMT16_NODATA = -32768


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of ``value`` (NumPy scalars/arrays -> Python, NaN/inf -> None).

    >>> jsonable({"a": np.float32(1.5), "b": [np.nan, (1, 2)]})
    {'a': 1.5, 'b': [None, [1, 2]]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _num(value: float) -> str:
    """A number as WFDB headers write it: integers without a decimal point."""
    value = float(value)
    return str(int(value)) if value == int(value) else repr(value)


def safe_record_name(name: str) -> str:
    """A WFDB-legal record name (letters, digits, ``_`` and ``-``).

    >>> safe_record_name("exams_part0.hdf5#12 3")
    'exams_part0_hdf5_12_3'
    """
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_")
    return cleaned or "record"


def _comments(record: ECGRecord, notes: list[str]) -> list[str]:
    meta = record.metadata
    out: list[str] = []
    if meta.get("age") is not None:
        out.append(f"Age: {meta['age']}")
    sex = {"M": "Male", "F": "Female"}.get(meta.get("sex") or "")
    if sex:
        out.append(f"Sex: {sex}")
    if meta.get("report"):
        out.append("Report: " + " ".join(str(meta["report"]).split()))
    out.append(f"ecgr1 source: {record.source_path or record.record_id}")
    # Provenance: what the reader repaired or derived travels with the converted record.
    out.extend(f"ecgr1 warning: {w}" for w in record.warnings)
    out.extend(f"ecgr1 note: {n}" for n in notes)
    labels = [str(x) for x in (meta.get("labels") or [])]
    if labels and not any("," in x for x in labels):
        out.append(f"Dx: {','.join(labels)}")
    elif labels:  # labels with commas: one a line after a LUDB-style <diagnoses> key, last
        out.append("<diagnoses>:")
        out.extend(labels)
    return [" ".join(line.split()) for line in out]  # a header comment is one line


def write_wfdb(
    record: ECGRecord,
    out_dir: str | Path,
    record_name: str | None = None,
    gain: float = WFDB_GAIN_ADU_PER_MV,
) -> Path:
    """Write ``record`` as a WFDB record (``<name>.hea`` + ``<name>.dat``, format 16).

    Parameters
    ----------
    record : the record to write (millivolts).
    out_dir : output folder (created if needed).
    record_name : defaults to the record id made WFDB-legal.
    gain : ADC gain in adu/mV (1000: 1 µV steps).

    Returns
    -------
    Path of the written ``.hea`` file.

    Example
    -------
    >>> import tempfile
    >>> rec = ECGRecord(np.array([[0.0, 1.0, -0.5]]), 500, ["II"], record_id="r1")
    >>> hea = write_wfdb(rec, tempfile.mkdtemp())
    >>> from ecgr1.io import read_record
    >>> read_record(hea).signal.tolist()
    [[0.0, 1.0, -0.5]]
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = safe_record_name(record_name or record.record_id)
    sig = np.asarray(record.signal, dtype=np.float64)
    if sig.shape[1] == 0:
        raise InvalidInputError("cannot write a record without samples", record.source_path)
    gains: list[float] = []
    notes: list[str] = []
    for k, lead in enumerate(record.leads):
        finite = sig[k][np.isfinite(sig[k])]
        peak = float(np.abs(finite).max()) if finite.size else 0.0
        g = float(gain)
        if peak * g > _FMT16_MAX:
            g = float(max(1, math.floor(_FMT16_MAX / peak)))
            notes.append(
                f"lead {lead}: peak {peak:.3f} mV exceeds the 16-bit range at gain {gain:g}; "
                f"written with gain {g:g} adu/mV"
            )
        gains.append(g)
    digital = np.clip(np.round(sig * np.asarray(gains)[:, None]), -_FMT16_MAX, _FMT16_MAX)
    digital[~np.isfinite(digital)] = _FMT16_NODATA  # -32768 is reserved for "no data"
    digital = digital.astype(np.int64)
    # The WFDB format is simple enough to write directly (wfdb.wrsamp costs ~0.2 s a record,
    # too slow for a CODE-15 part of 20,000 exams): interleaved little-endian int16 frames and a
    # text header whose checksums are the 16-bit sums of each signal.
    (out / f"{name}.dat").write_bytes(digital.T.astype("<i2").tobytes())
    n_sig, n = digital.shape
    lines = [f"{name} {n_sig} {_num(record.fs)} {n}"]
    for k, lead in enumerate(record.leads):
        checksum = int(digital[k].sum()) & 0xFFFF
        checksum = checksum - 0x10000 if checksum >= 0x8000 else checksum
        lines.append(
            f"{name}.dat 16 {_num(gains[k])}(0)/mV 16 0 {int(digital[k, 0])} {checksum} 0 {lead}"
        )
    lines += [f"# {c}" for c in _comments(record, notes)]
    (out / f"{name}.hea").write_text("\n".join(lines) + "\n")
    record.warnings.extend(notes)
    return out / f"{name}.hea"


def write_npy(record: ECGRecord, out_dir: str | Path, record_name: str | None = None) -> Path:
    """Write ``<name>.npy`` (float32, leads x samples, mV) and a ``<name>.json`` sidecar.

    The sidecar holds ``record_id``, ``fs``, ``leads``, ``units`` (``"mV"``), ``metadata``,
    ``warnings`` and ``source_path``; :func:`ecgr1.io.read_record` uses it to read the array
    back without options. Returns the ``.npy`` path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = safe_record_name(record_name or record.record_id)
    path = out / f"{name}.npy"
    np.save(path, np.asarray(record.signal, dtype=np.float32))
    sidecar = {
        "record_id": record.record_id,
        "fs": record.fs,
        "leads": list(record.leads),
        "units": "mV",
        "metadata": jsonable(record.metadata),
        "warnings": list(record.warnings),
        "source_path": record.source_path,
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
    return path
