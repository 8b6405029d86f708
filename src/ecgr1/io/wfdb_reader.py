"""WFDB records (``.hea`` with ``.dat``/``.mat``), PhysioNet/CinC Challenge records included.

The header is always parsed by ecgr1's tolerant parser first, so that missing or truncated data
files and inconsistent sample counts are reported with a precise message before any sample is
read. Samples then come from ``wfdb.rdrecord``; when wfdb rejects the header (for example a
Challenge record line ``E00666.mat 12 500 5000``) ecgr1 decodes the common storage formats
itself (16, 61, 80, 160, 24, 32, 212, and Challenge ``.mat``) and records a warning.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError, MissingFileError, UnsupportedFormatError
from ecgr1.io.finalize import finalize_record
from ecgr1.io.header import (
    BYTES_PER_SAMPLE,
    HeaderInfo,
    SignalSpec,
    metadata_from_comments,
    parse_header,
    read_header_text,
)
from ecgr1.io.record import ECGRecord

#: The sample value each format uses for "no data" (read back as NaN).
_INVALID: dict[int, int] = {16: -32768, 61: -32768, 160: -32768, 80: -128, 212: -2048,
                            24: -(2**23), 32: -(2**31)}  # fmt: skip


def record_base(path: str | Path) -> Path:
    """The record path without extension (``.hea``, ``.dat`` or ``.mat`` removed)."""
    p = Path(path)
    return p.with_suffix("") if p.suffix.lower() in {".hea", ".dat", ".mat"} else p


def _file_samples(info: HeaderInfo, hea: Path) -> tuple[dict[str, int | None], list[str]]:
    """Check that every data file exists; return samples-per-signal each file holds."""
    groups: OrderedDict[str, list[SignalSpec]] = OrderedDict()
    for spec in info.signals:
        if spec.file_name == "~":
            continue  # WFDB null signal
        groups.setdefault(spec.file_name, []).append(spec)
    held: dict[str, int | None] = {}
    warnings: list[str] = []
    for name, specs in groups.items():
        data = hea.parent / name
        if not data.is_file():
            raise MissingFileError(
                f"header refers to data file {name!r}, which does not exist", str(hea)
            )
        size = data.stat().st_size
        if size == 0:
            raise InvalidInputError(f"data file {name!r} is empty", str(hea))
        fmts = {s.fmt for s in specs}
        if len(fmts) != 1 or next(iter(fmts)) not in BYTES_PER_SAMPLE:
            held[name] = None
            continue
        if name.lower().endswith(".mat") and specs[0].byte_offset == 0:
            held[name] = None  # a .mat without a declared offset: leave it to the .mat loader
            continue
        frame_bytes = BYTES_PER_SAMPLE[specs[0].fmt] * sum(s.samples_per_frame for s in specs)
        offset = specs[0].byte_offset
        held[name] = int((size - offset) // frame_bytes) if size > offset else 0
    return held, warnings


def _check_lengths(info: HeaderInfo, held: dict[str, int | None], hea: Path) -> list[str]:
    warnings: list[str] = []
    if info.n_samples is None:
        return warnings
    for name, n in held.items():
        if n is None:
            continue
        if n < info.n_samples:
            raise InvalidInputError(
                f"data file {name!r} holds {n} samples per signal but the header declares "
                f"{info.n_samples} (truncated file or wrong sample count in the header)",
                str(hea),
            )
        if n > info.n_samples:
            warnings.append(
                f"data file {name!r} holds {n} samples per signal, the header declares "
                f"{info.n_samples}; only the first {info.n_samples} were read"
            )
    return warnings


def _decode(raw: np.ndarray, fmt: int) -> np.ndarray:
    """Decode a byte array of one storage format into integer samples (frame-interleaved)."""
    if fmt in (16, 61, 160):
        dtype = ">i2" if fmt == 61 else "<i2"
        out = raw[: raw.size // 2 * 2].view(dtype).astype(np.int64)
        return out - 32768 if fmt == 160 else out
    if fmt == 80:
        return raw.astype(np.int64) - 128
    if fmt == 32:
        return raw[: raw.size // 4 * 4].view("<i4").astype(np.int64)
    if fmt == 24:
        b = raw[: raw.size // 3 * 3].reshape(-1, 3).astype(np.int64)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        return np.where(v >= 2**23, v - 2**24, v)
    if fmt == 212:
        b = raw[: raw.size // 3 * 3].reshape(-1, 3).astype(np.int64)
        s0 = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
        s1 = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
        out = np.stack([s0, s1], axis=1).ravel()
        return np.where(out >= 2048, out - 4096, out)
    raise UnsupportedFormatError(f"WFDB storage format {fmt} needs wfdb, which rejected the header")


def _read_group(data: Path, specs: list[SignalSpec], n_samples: int | None) -> np.ndarray:
    """Digital samples (n_specs, n) of the signals stored in one file."""
    if any(s.samples_per_frame != 1 for s in specs):
        raise UnsupportedFormatError("multi-frequency signals need wfdb, which rejected the header")
    n_sig = len(specs)
    if data.suffix.lower() == ".mat":
        try:
            from scipy.io import loadmat

            val = loadmat(str(data)).get("val")
        except Exception:  # noqa: BLE001 - fall through to the raw byte reading below
            val = None
        if val is not None and val.ndim == 2 and val.shape[0] == n_sig:
            digital = val.astype(np.int64)
            return digital[:, :n_samples] if n_samples is not None else digital
    fmt = specs[0].fmt
    raw = np.fromfile(data, dtype=np.uint8)[specs[0].byte_offset :]
    values = _decode(raw, fmt)
    n = values.size // n_sig
    digital = values[: n * n_sig].reshape(n, n_sig).T
    return digital[:, :n_samples] if n_samples is not None else digital


def _read_without_wfdb(info: HeaderInfo, hea: Path) -> tuple[np.ndarray, list[str], list[str]]:
    """Physical samples, names and units decoded by ecgr1 alone."""
    groups: OrderedDict[str, list[int]] = OrderedDict()
    for k, spec in enumerate(info.signals):
        groups.setdefault(spec.file_name, []).append(k)
    rows: dict[int, np.ndarray] = {}
    for name, idx in groups.items():
        specs = [info.signals[k] for k in idx]
        if len({s.fmt for s in specs}) != 1:
            raise UnsupportedFormatError(f"mixed storage formats in {name!r}", str(hea))
        digital = _read_group(hea.parent / name, specs, info.n_samples)
        for j, k in enumerate(idx):
            d = digital[j].astype(np.float64)
            invalid = _INVALID.get(specs[j].fmt)
            if invalid is not None:
                d[digital[j] == invalid] = np.nan
            rows[k] = (d - specs[j].baseline) / specs[j].adc_gain
    n = min(r.size for r in rows.values())
    signal = np.stack([rows[k][:n] for k in range(len(info.signals))])
    names = [s.description or f"lead{k + 1}" for k, s in enumerate(info.signals)]
    units = [s.units for s in info.signals]
    return signal, names, units


def read_wfdb(
    path: str | Path,
    *,
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
    extra_metadata: dict[str, Any] | None = None,
) -> ECGRecord:
    """Read a WFDB record (any ``.hea`` wfdb accepts, plus Challenge headers it rejects).

    Parameters
    ----------
    path : the record with or without ``.hea``/``.dat``/``.mat``.
    nan_policy : how missing samples are repaired (see :func:`ecgr1.io.finalize.repair_nonfinite`).
    derive_leads : derive missing limb leads from I and II.
    extra_metadata : merged over what the header comments give (dataset tables use this).

    Raises
    ------
    MissingFileError
        The header or a data file it names is absent.
    InvalidInputError
        Unparseable header, empty/truncated data file, sample count larger than the data.

    Example
    -------
    >>> from ecgr1.paths import shared_data_dir
    >>> rec = read_wfdb(shared_data_dir() / "mitdb" / "100")  # doctest: +SKIP
    >>> rec.fs, rec.leads  # doctest: +SKIP
    (360.0, ['II', 'V5'])
    """
    base = record_base(path)
    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise MissingFileError("no such WFDB record (header .hea not found)", str(path))
    info = parse_header(read_header_text(hea), str(hea))
    warnings: list[str] = []
    if not info.multi_segment:
        held, w = _file_samples(info, hea)
        warnings += w + _check_lengths(info, held, hea)
        uncalibrated = [
            s.description or str(k + 1) for k, s in enumerate(info.signals) if not s.gain_given
        ]
        if uncalibrated:
            warnings.append(
                f"no ADC gain for signal(s) {', '.join(uncalibrated)}: uncalibrated, WFDB nominal "
                "200 adu/mV used"
            )
    signal = names = units = None
    wfdb_error: Exception | None = None
    if not info.notes:
        try:
            import wfdb

            rec = wfdb.rdrecord(str(base), physical=True, sampto=info.n_samples or None)
            if rec.p_signal is None:
                raise ValueError("wfdb returned no physical signal")
            signal = np.asarray(rec.p_signal, dtype=np.float64).T
            names = list(rec.sig_name)
            units = list(rec.units or ["mV"] * len(names))
        except Exception as exc:  # noqa: BLE001 - any wfdb failure falls back to our decoder
            wfdb_error = exc
    if signal is None:
        if info.multi_segment:
            raise InvalidInputError(
                f"multi-segment record unreadable by wfdb: {wfdb_error}", str(hea)
            )
        if not info.signals:
            raise InvalidInputError("header declares no signals", str(hea))
        try:
            signal, names, units = _read_without_wfdb(info, hea)
        except (InvalidInputError, UnsupportedFormatError):
            raise
        except Exception as exc:  # noqa: BLE001 - corrupt content: report, never crash
            raise InvalidInputError(f"unreadable WFDB data: {exc}", str(hea)) from None
        why = "; ".join(info.notes) if info.notes else f"wfdb: {wfdb_error}"
        warnings.append(f"header not accepted by wfdb ({why}); read with ecgr1's tolerant parser")
    meta = metadata_from_comments(info.comments)
    meta["format"] = "wfdb"
    if info.base_date or info.base_time:
        meta["recorded_at"] = " ".join(x for x in (info.base_date, info.base_time) if x)
    if extra_metadata:
        meta.update(extra_metadata)
    return finalize_record(
        signal,
        info.fs,
        names,
        units=units,
        record_id=base.name,
        metadata=meta,
        source_path=str(hea),
        warnings=warnings,
        nan_policy=nan_policy,
        derive_leads=derive_leads,
    )
