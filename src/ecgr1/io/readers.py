"""One entry point that detects the format (:func:`read_record`) and input expansion
(:func:`find_records`).

Detection, in order: ``file.hdf5#<exam_id>`` (CODE-15); a directory holding exactly one record;
by extension (``.hea``; ``.dat``/``.mat`` with a ``.hea`` beside it -> WFDB; ``.mat`` alone ->
MATLAB conventions; ``.hdf5``/``.h5`` -> CODE-15; ``.npy``/``.npz``/``.csv``); a path without
extension whose ``.hea`` exists -> WFDB; otherwise the file's first bytes (HDF5, NumPy, zip,
MATLAB, WFDB header text). Anything else is :class:`UnsupportedFormatError`.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ecgr1.errors import InvalidInputError, MissingFileError, UnsupportedFormatError
from ecgr1.io.arrays import MAT_CONVENTIONS, SIGNAL_KEYS, read_array, read_mat
from ecgr1.io.code15 import code15_entries, read_code15
from ecgr1.io.layouts import layout_metadata
from ecgr1.io.leads import LEAD_MAPS
from ecgr1.io.record import ECGRecord
from ecgr1.io.wfdb_reader import read_wfdb

HDF5_SUFFIXES = {".hdf5", ".h5", ".hdf"}
ARRAY_SUFFIXES = {".npy", ".npz"}
TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}
FORMATS = ("wfdb", "mat", "array", "code15")

_COMMON = {"nan_policy", "derive_leads"}
_ACCEPTED: dict[str, set[str]] = {
    "wfdb": _COMMON | {"lead_map"},
    "mat": _COMMON | {"fs", "leads", "units", "lead_map"},
    "array": _COMMON | {"fs", "leads", "units", "lead_map"},
    "code15": _COMMON | {"exam_id", "index", "exams_csv", "trim_padding", "units"},
}
_ALL_OPTIONS = set().union(*_ACCEPTED.values()) | {"format"}


def _split_fragment(text: str) -> tuple[str, str | None]:
    """``exams.hdf5#123`` -> (``exams.hdf5``, ``123``) when the part before ``#`` is a file."""
    if "#" in text:
        head, frag = text.rsplit("#", 1)
        if Path(head).suffix.lower() in HDF5_SUFFIXES:
            return head, frag
    return text, None


def _sniff(p: Path) -> str | None:
    with open(p, "rb") as fh:
        head = fh.read(512)
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "code15"
    if head.startswith(b"\x93NUMPY") or head.startswith(b"PK\x03\x04"):
        return "array"
    if head.startswith(b"MATLAB") or head[:4] in {b"\x00\x00\x00\x00", b"\x00\x00\x00\x01"}:
        return "mat"
    try:
        first = head.decode("ascii").splitlines()[0].split()
    except (UnicodeDecodeError, IndexError):
        return None
    if len(first) >= 2 and first[1].isdigit():
        return "wfdb-header"
    return None


def _detect(p: Path) -> tuple[str, Path]:
    """Return (format, path to hand to its reader)."""
    suffix = p.suffix.lower()
    if suffix == ".hea":
        return "wfdb", p
    if suffix in {".dat", ".mat"} and p.with_suffix(".hea").is_file():
        return "wfdb", p.with_suffix(".hea")
    if suffix == ".mat":
        return "mat", p
    if suffix in HDF5_SUFFIXES:
        return "code15", p
    if suffix in ARRAY_SUFFIXES | TABLE_SUFFIXES:
        return "array", p
    if p.with_name(p.name + ".hea").is_file():
        return "wfdb", p.with_name(p.name + ".hea")
    sniffed = _sniff(p)
    if sniffed == "wfdb-header":
        raise UnsupportedFormatError(
            "looks like a WFDB header but is not named .hea; rename it <record>.hea", str(p)
        )
    if sniffed:
        return sniffed, p
    if suffix == ".dat":
        raise MissingFileError("WFDB data file without its .hea header", str(p))
    raise UnsupportedFormatError(
        "not a recognised ECG format (expected WFDB .hea/.dat/.mat, MATLAB .mat, CODE-15 "
        ".hdf5, .npy/.npz/.csv)",
        str(p),
    )


def read_record(path: str | os.PathLike[str], **options: Any) -> ECGRecord:
    """Read one ECG record of any supported format into an :class:`ECGRecord` (mV).

    Parameters
    ----------
    path : a WFDB record (``.hea``, ``.dat``, ``.mat`` or no extension), a headerless ``.mat``,
        ``exams.hdf5#<exam_id>``, ``.npy``/``.npz``/``.csv``, or a folder holding one record.
    **options :
        ``fs``, ``leads``, ``units`` (arrays and headerless ``.mat``; for self-describing
        formats a different ``fs`` is reported in the warnings, never applied),
        ``nan_policy`` (``"interpolate"`` default, or ``"zero"``), ``derive_leads`` (True),
        ``lead_map`` (WFDB, arrays and headerless ``.mat``: ``"standard-order"`` reads lead names
        ``lead_1`` ... ``lead_12`` as I, II, III, aVR, aVL, aVF, V1-V6; without it they are
        kept, with a warning; CODE-15 leads are I ... V6 already),
        ``exam_id``/``index``/``exams_csv``/``trim_padding`` (CODE-15), ``format`` (force one of
        ``wfdb``, ``mat``, ``array``, ``code15``).

    Raises
    ------
    MissingFileError, InvalidInputError, UnsupportedFormatError

    Example
    -------
    >>> import numpy as np, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "x.npy"); np.save(f, np.zeros((12, 1000)))
    >>> rec = read_record(f, fs=500, units="mV")
    >>> rec.fs, rec.n_leads, rec.warnings[0]
    (500.0, 12, 'lead names not given; standard order I..V6 assumed')
    """
    unknown = set(options) - _ALL_OPTIONS
    if unknown:
        raise TypeError(f"unknown read_record option(s): {sorted(unknown)}")
    text, fragment = _split_fragment(os.fspath(path))
    p = Path(text)
    if fragment is not None:
        if fragment.startswith("row") and fragment[3:].isdigit():
            options.setdefault("index", int(fragment[3:]))
        elif fragment.lstrip("-").isdigit():
            options.setdefault("exam_id", int(fragment))
        else:
            raise InvalidInputError(f"invalid exam address #{fragment} (expected #<exam_id>)", text)
    if not p.exists():
        if p.with_name(p.name + ".hea").is_file():
            p = p.with_name(p.name + ".hea")
        else:
            raise MissingFileError("no such file or record", os.fspath(path))
    if p.is_dir():
        found = find_records([p])
        if len(found) != 1:
            raise InvalidInputError(
                f"is a directory holding {len(found)} records; name one record "
                "(or use find_records / the CLI, which take directories)",
                str(p),
            )
        return read_record(found[0], **options)
    if p.stat().st_size == 0:
        raise InvalidInputError("empty file", str(p))

    lead_map = options.get("lead_map")
    if lead_map is not None and lead_map not in LEAD_MAPS:
        raise ValueError(f"lead_map must be one of {LEAD_MAPS} or None, got {lead_map!r}")
    fmt = options.pop("format", None)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    target = p
    if fmt is None:
        fmt, target = _detect(p)
    kwargs = {k: v for k, v in options.items() if k in _ACCEPTED[fmt]}
    ignored = {k: v for k, v in options.items() if k not in _ACCEPTED[fmt] and v is not None}
    if fmt == "wfdb":
        record = read_wfdb(target, extra_metadata=layout_metadata(target), **kwargs)
    elif fmt == "mat":
        record = read_mat(target, **kwargs)
    elif fmt == "array":
        record = read_array(target, **kwargs)
    else:
        record = read_code15(target, **kwargs)
    if ignored.get("lead_map") is not None and fmt != "code15":  # CODE-15 leads: I..V6 already
        record.warnings.append(
            f"lead_map={ignored['lead_map']!r} ignored: it applies to WFDB records, and this is a "
            f"{fmt} input (name its leads with leads= / --leads)"
        )
    fs = ignored.get("fs")
    if fs is not None and float(fs) != record.fs:
        record.warnings.append(
            f"fs={float(fs):g} ignored: the source declares {record.fs:g} Hz "
            "(use ecgr1.io.standardize to resample)"
        )
    return record


# --------------------------------------------------------------------------- discovery

_GLOB_CHARS = set("*?[")


def _mat_holds_signal(path: Path) -> bool:
    """Whether a headerless ``.mat`` has a variable named like an ECG (annotation files such as
    CPSC 2019 ``R_*.mat`` with ``R_peak`` are left out of folder walks)."""
    try:
        from scipy.io import whosmat

        names = {name for name, _shape, _cls in whosmat(str(path))}
    except Exception:  # noqa: BLE001 - unreadable: include it so reading reports the problem
        return True
    return bool(names & (set(SIGNAL_KEYS) | set(MAT_CONVENTIONS) | {"val"}))


def _record_keys(path: Path, explicit: bool) -> list[str]:
    """Record addresses for one file (``[]`` when a folder walk should skip it)."""
    suffix = path.suffix.lower()
    if suffix == ".hea":
        return [str(path)]
    if suffix in {".dat", ".mat"}:
        hea = path.with_suffix(".hea")
        if hea.is_file():
            return [str(hea)]
        if explicit or (suffix == ".mat" and _mat_holds_signal(path)):
            return [str(path)]
        return []
    if suffix in HDF5_SUFFIXES:
        try:
            return code15_entries(path)
        except Exception:  # noqa: BLE001 - unreadable: let read_record report it
            return [str(path)]
    if suffix in ARRAY_SUFFIXES:
        return [str(path)]
    if explicit:
        if not path.exists() and path.with_name(path.name + ".hea").is_file():
            return [str(path.with_name(path.name + ".hea"))]
        return [str(path)]
    return []  # folder walk: annotations, CSV tables, sidecars, anything else


def find_records(paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> list[str]:
    """Expand files, folders (recursively) and glob patterns into record addresses.

    One address per record, in input order then sorted, without duplicates: a WFDB record is
    its ``.hea`` path (its ``.dat``/``.mat`` map to it); a CODE-15 HDF5 file gives one
    ``file.hdf5#<exam_id>`` per exam. In folders, CSV/TXT files are skipped (they are usually
    tables such as ``ptbxl_database.csv``; name CSV signal files explicitly), and so are WFDB
    annotation files and headerless ``.mat`` files without a signal-like variable (e.g. CPSC
    2019 ``R_*.mat`` R-peak references). A path or pattern that matches nothing is returned unchanged, so that
    reading it reports the problem.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()); (d / "a.hea").write_text("a 0"); (d / "a.dat").write_bytes(b"")
    3
    0
    >>> [pathlib.Path(p).name for p in find_records([d, d / "a.dat"])]
    ['a.hea']
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[str] = []
    seen: set[str] = set()

    def add(items: list[str]) -> None:
        for item in items:
            key = os.path.normpath(os.path.abspath(item.split("#", 1)[0])) + (
                "#" + item.split("#", 1)[1] if "#" in item else ""
            )
            if key not in seen:
                seen.add(key)
                out.append(item)

    for raw in paths:
        text = os.fspath(raw)
        head, fragment = _split_fragment(text)
        if fragment is not None:
            add([text])
            continue
        if not Path(text).exists() and _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                add([text])
                continue
        else:
            matches = [text]
        for match in matches:
            p = Path(match)
            if p.is_dir():
                for root, dirs, files in os.walk(p):
                    dirs.sort()
                    for name in sorted(files):
                        add(_record_keys(Path(root) / name, explicit=False))
            else:
                add(_record_keys(p, explicit=True))
    return out


def as_record(
    data: ECGRecord | str | os.PathLike[str] | Any,
    *,
    fs: float | None = None,
    leads: Any = None,
    units: str | None = None,
    **read_options: Any,
) -> ECGRecord:
    """An :class:`ECGRecord` from a record, a path, or an array with ``fs``.

    Every stage that takes a record accepts these three, so a user can go from a file or a
    NumPy array to a result in one call. ``fs``, ``leads`` and ``units`` describe an array
    (for a path they are the reader's options); an ``ECGRecord`` is returned as it is and takes
    none of them.

    >>> import numpy as np
    >>> rec = as_record(np.zeros((12, 1000)), fs=500)
    >>> rec.n_leads, rec.fs, rec.leads[-1]
    (12, 500.0, 'V6')
    >>> as_record(rec) is rec
    True
    >>> as_record(np.zeros((12, 1000)))
    Traceback (most recent call last):
    ...
    ecgr1.errors.InvalidInputError: record: sampling rate unknown: pass fs (CLI: --fs HZ); ecgr1 never guesses it
    """
    if isinstance(data, ECGRecord):
        given = {"fs": fs, "leads": leads, "units": units, **read_options}
        extra = sorted(k for k, v in given.items() if v is not None)
        if extra:
            raise TypeError(f"{', '.join(extra)} cannot be applied to an ECGRecord")
        return data
    if isinstance(data, (str, os.PathLike)):
        options = {"fs": fs, "leads": leads, "units": units, **read_options}
        return read_record(data, **{k: v for k, v in options.items() if v is not None})
    if isinstance(data, (bytes, dict)) or not hasattr(data, "__len__"):
        raise TypeError(
            f"expected an ECGRecord, a path or an array (leads x samples), got {type(data).__name__}"
        )
    from ecgr1.io.arrays import array_record

    return array_record(data, fs=fs, leads=leads, units=units, **read_options)
