"""WFDB records (``.hea`` with ``.dat``/``.mat``), PhysioNet/CinC Challenge records included.

The header is always parsed by ecgr1's tolerant parser first, so that missing or truncated data
files and inconsistent sample counts are reported with a precise message before any sample is
read. Samples then come from, in this order:

1. ecgr1's fast decoder (``np.fromfile``) for single-segment records in storage formats 16, 212
   and 80, one sample per frame, no skew, one or more data files, Challenge ``.mat`` included,
   when every signal line is in the plain form whose meaning is certain (see
   :func:`fast_path_reason`). It gives exactly what ``wfdb.rdrecord`` gives (float64
   ``(digital - baseline) / gain``, the format's "no data" value as NaN, the same names and
   units) in a tenth of the time;
2. ``wfdb.rdrecord`` for everything else (other formats, multi-segment, multi-frequency, skew,
   unusual header syntax);
3. when wfdb rejects the header (for example a Challenge record line ``E00666.mat 12 500 5000``)
   ecgr1 decodes the common storage formats itself (16, 61, 80, 160, 24, 32, 212, and Challenge
   ``.mat``) and records a warning.

``engine="wfdb"`` skips step 1 (the behaviour before the fast decoder existed; the tests compare
the two), ``engine="fast"`` insists on it.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

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


def _unpack_212(raw: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` 12-bit samples of format 212 bytes, as int16.

    Two samples share three bytes: the first is byte 0 plus the low nibble of byte 1 as its high
    bits, the second is byte 2 plus the high nibble of byte 1. An odd last sample takes two bytes.
    Each pair is read as two overlapping little-endian 16-bit words (bytes 0-1 and 1-2).
    """
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    pairs = count // 2
    out = np.empty(count, dtype=np.int16)
    if pairs:
        lo = np.ndarray((pairs,), dtype="<u2", buffer=raw, offset=0, strides=(3,))
        hi = np.ndarray((pairs,), dtype="<u2", buffer=raw, offset=1, strides=(3,))
        frames = out[: 2 * pairs].reshape(pairs, 2)
        np.bitwise_and(lo, 0x0FFF, out=frames[:, 0], casting="unsafe")
        second = hi >> 8
        second |= (hi & 0x00F0) << 4
        frames[:, 1] = second
    if count % 2:
        out[-1] = int(raw[3 * pairs]) | ((int(raw[3 * pairs + 1]) & 0x0F) << 8)
    # 12-bit two's complement: move bit 11 to the int16 sign bit and shift back arithmetically.
    np.left_shift(out, 4, out=out)
    np.right_shift(out, 4, out=out)
    return out


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
        return _unpack_212(raw, raw.size * 2 // 3).astype(np.int64)
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


# --------------------------------------------------------------------------- fast path

#: Storage formats the fast decoder reads (one sample per frame, no skew).
FAST_FORMATS: frozenset[int] = frozenset({16, 80, 212})
#: ``engine`` values of :func:`read_wfdb` / :func:`read_wfdb_samples`.
ENGINES = ("auto", "fast", "wfdb")

_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
# A signal line in the plain WFDB form whose fields wfdb and ecgr1's parser read identically:
# file, format[+offset], gain[(baseline)][/units], ADC resolution, ADC zero, initial value,
# checksum, block size 0 and a printable description. Anything else (samples per frame, skew,
# exponents in capitals, tabs or non-ASCII text in a name) goes to wfdb.
_PLAIN_SIGNAL_RE = re.compile(
    r"[-\w]+(?:\.\w+)?[ \t]+\d+(?:\+\d+)?"
    rf"[ \t]+-?{_NUMBER}(?:e[-+]?\d+)?(?:\(-?\d+\))?(?:/[\w^?%/-]+)?"
    r"[ \t]+\d+(?:[ \t]+-?\d+){3}[ \t]+0[ \t]+[!-~][ -~]*",
    re.ASCII,
)
_RECORD_NAME_RE = re.compile(r"[-\w]+", re.ASCII)
_FS_RE = re.compile(rf"{_NUMBER}(?:/{_NUMBER}(?:\(-?{_NUMBER}\))?)?", re.ASCII)
#: MATLAB v4 matrix type code of a little-endian int16 real matrix (what Challenge files hold).
_MAT4_INT16_LE = 30


class _NotSure(Exception):
    """The fast decoder cannot vouch for this record; wfdb reads it instead."""


@dataclass
class _FastGroup:
    """Signals stored together in one data file, read in one call."""

    path: Path
    fmt: int
    offset: int
    indices: list[int]
    matlab: bool = False  # a .mat whose header gives no byte offset: locate ``val`` ourselves


def _fast_plan(text: str, info: HeaderInfo, hea: Path) -> list[_FastGroup]:
    """How the fast decoder reads this record; raises :class:`_NotSure` with the reason if not."""
    if info.multi_segment:
        raise _NotSure("multi-segment record")
    if info.notes:
        raise _NotSure("header needs the tolerant parser: " + "; ".join(info.notes))
    if not info.signals or len(info.signals) != info.n_sig:
        raise _NotSure("no signals")
    if not info.n_samples:
        raise _NotSure("header gives no number of samples")
    content = [ln for ln in (line.strip() for line in text.splitlines()) if ln and ln[0] != "#"]
    if not all(ln.isascii() for ln in content):
        raise _NotSure("non-ASCII characters in a record or signal line (wfdb drops them)")
    if len(content) != 1 + info.n_sig:
        raise _NotSure(f"{len(content) - 1} signal lines for {info.n_sig} signals")
    fields = content[0].split()
    if not (
        _RECORD_NAME_RE.fullmatch(fields[0])
        and fields[1].isdigit()
        and _FS_RE.fullmatch(fields[2])
        and fields[3].isdigit()
    ):
        raise _NotSure("unusual record line")
    groups: list[_FastGroup] = []
    seen: set[str] = set()
    for k, (line, spec) in enumerate(zip(content[1:], info.signals)):
        if not _PLAIN_SIGNAL_RE.fullmatch(line):
            raise _NotSure(f"signal line {k + 1} is not in the plain form")
        if spec.fmt not in FAST_FORMATS:
            raise _NotSure(f"storage format {spec.fmt}")
        if spec.samples_per_frame != 1 or spec.skew or spec.block_size:
            raise _NotSure("samples per frame, skew or block size")
        last = groups[-1] if groups else None
        if last is not None and spec.file_name == last.path.name:
            if spec.fmt != last.fmt or spec.byte_offset != last.offset:
                raise _NotSure(f"mixed formats or offsets in {spec.file_name!r}")
            last.indices.append(k)
            continue
        if spec.file_name in seen:
            raise _NotSure(f"signals of {spec.file_name!r} are not consecutive")
        seen.add(spec.file_name)
        matlab = spec.file_name.lower().endswith(".mat") and spec.byte_offset == 0
        if matlab and spec.fmt != 16:
            raise _NotSure(f"{spec.file_name!r} without a byte offset in format {spec.fmt}")
        groups.append(
            _FastGroup(hea.parent / spec.file_name, spec.fmt, spec.byte_offset, [k], matlab)
        )
    return groups


def _read_matlab_val(group: _FastGroup, n: int) -> np.ndarray:
    """Digital frames (n, signals) of a Challenge ``.mat`` whose header gives no byte offset.

    A MATLAB v4 file starts with five little-endian int32 (type, rows, columns, imaginary flag,
    name length) and the name; ``val`` is stored column by column, i.e. frame after frame.
    Other files (v5, big-endian) go through ``scipy.io.loadmat``.
    """
    k = len(group.indices)
    head = np.fromfile(group.path, dtype="<i4", count=5)
    if head.size == 5:
        mopt, rows, cols, imag, namlen = (int(x) for x in head)
        if (mopt, rows, imag, namlen) == (_MAT4_INT16_LE, k, 0, 4) and cols >= n:
            name = np.fromfile(group.path, dtype=np.uint8, count=4, offset=20).tobytes()
            if name == b"val\x00":
                data = np.fromfile(group.path, dtype="<i2", count=n * k, offset=24)
                if data.size == n * k:
                    return data.reshape(n, k)
    try:
        from scipy.io import loadmat

        val = loadmat(str(group.path)).get("val")
    except Exception as exc:  # noqa: BLE001 - not a MATLAB file we can read: wfdb decides
        raise _NotSure(f"{group.path.name}: {exc}") from None
    if not isinstance(val, np.ndarray) or val.ndim != 2 or val.shape[0] != k or val.shape[1] < n:
        raise _NotSure(f"{group.path.name} has no 'val' matrix of {k} signals x {n} samples")
    if val.dtype.kind not in "iu":
        raise _NotSure(f"{group.path.name}: 'val' is not integer")
    return val[:, :n].T


def _read_fast_group(group: _FastGroup, n: int) -> np.ndarray:
    """Digital frames (n, signals in the file), exactly as stored."""
    if group.matlab:
        return _read_matlab_val(group, n)
    count = n * len(group.indices)
    if group.fmt == 16:
        values = np.fromfile(group.path, dtype="<i2", count=count, offset=group.offset)
    elif group.fmt == 80:
        raw = np.fromfile(group.path, dtype=np.uint8, count=count, offset=group.offset)
        values = raw.astype(np.int16) - 128
    else:  # 212
        n_bytes = (3 * count + 1) // 2
        raw = np.fromfile(group.path, dtype=np.uint8, count=n_bytes, offset=group.offset)
        if raw.size < n_bytes:
            raise _NotSure(f"{group.path.name} is shorter than the header says")
        values = _unpack_212(raw, count)
    if values.size < count:
        raise _NotSure(f"{group.path.name} is shorter than the header says")
    return values.reshape(n, len(group.indices))


def _read_fast(groups: list[_FastGroup], info: HeaderInfo) -> np.ndarray:
    """Physical samples (signals, n) float64, computed as wfdb does: the digital value minus
    the baseline, divided by the gain, in float64; the format's "no data" value becomes NaN."""
    n = int(info.n_samples or 0)
    signal = np.empty((len(info.signals), n), dtype=np.float64)
    for group in groups:
        digital = _read_fast_group(group, n).T  # (signals in the file, n)
        lo, hi = group.indices[0], group.indices[-1] + 1  # a file's signals are consecutive
        specs = info.signals[lo:hi]
        out = signal[lo:hi]
        np.copyto(out, digital)
        out -= np.array([[s.baseline] for s in specs], dtype=np.float64)
        out /= np.array([[s.adc_gain] for s in specs], dtype=np.float64)
        invalid = digital == _INVALID[group.fmt]
        if invalid.any():
            out[invalid] = np.nan
    return signal


def fast_path_reason(path: str | Path) -> str | None:
    """Why the fast decoder does not read this record, or None when it does.

    Only the header is read. For a ``.mat`` without a byte offset the MATLAB header is checked
    when the samples are read (a file that holds no Challenge ``val`` matrix then goes to wfdb).

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "r.hea").write_text("r 1 500 2\\nr.dat 24 200/mV 24 0 0 0 0 I\\n")
    >>> fast_path_reason(d / "r")
    'storage format 24'
    """
    base = record_base(path)
    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise MissingFileError("no such WFDB record (header .hea not found)", str(path))
    text = read_header_text(hea)
    try:
        _fast_plan(text, parse_header(text, str(hea)), hea)
    except _NotSure as exc:
        return str(exc)
    return None


# --------------------------------------------------------------------------- reading


class WfdbSamples(NamedTuple):
    """What a WFDB record holds before :func:`~ecgr1.io.finalize.finalize_record` (no unit
    conversion, lead renaming or NaN repair)."""

    signal: np.ndarray  #: float64 (signals, samples) in the header's units, NaN = no data
    names: list[str]  #: signal descriptions as in the header
    units: list[str]  #: units as in the header
    fs: float
    reader: str  #: ``"fast"``, ``"wfdb"`` or ``"ecgr1"`` (tolerant decoder after wfdb failed)
    warnings: list[str]
    header: HeaderInfo


def read_wfdb_samples(path: str | Path, *, engine: str = "auto") -> WfdbSamples:
    """Read the samples of a WFDB record in physical units as ``wfdb.rdrecord`` gives them.

    Parameters
    ----------
    path : the record with or without ``.hea``/``.dat``/``.mat``.
    engine : ``"auto"`` (fast decoder for formats 16, 212, 80 and Challenge ``.mat`` when the
        header is plain, wfdb otherwise), ``"wfdb"`` (``wfdb.rdrecord`` first, as before the fast
        decoder existed; for comparisons and benchmarks) or ``"fast"`` (fast decoder only; raises
        :class:`UnsupportedFormatError` naming the reason when it cannot read the record). Every
        engine falls back to ecgr1's tolerant decoder when wfdb rejects the header.

    Raises
    ------
    MissingFileError, InvalidInputError, UnsupportedFormatError
        As :func:`read_wfdb`.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    base = record_base(path)
    hea = base.with_name(base.name + ".hea")
    if not hea.is_file():
        raise MissingFileError("no such WFDB record (header .hea not found)", str(path))
    text = read_header_text(hea)
    info = parse_header(text, str(hea))
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
    if engine != "wfdb":
        try:
            signal = _read_fast(_fast_plan(text, info, hea), info)
        except Exception as exc:  # noqa: BLE001 - whatever the fast decoder doubts, wfdb reads
            if engine == "fast":
                if isinstance(exc, _NotSure):
                    raise UnsupportedFormatError(
                        f"not read by the fast WFDB decoder: {exc}", str(hea)
                    ) from None
                raise
        else:
            names = [s.description for s in info.signals]
            units = [s.units for s in info.signals]
            return WfdbSamples(signal, names, units, info.fs, "fast", warnings, info)

    signal = names = units = None
    wfdb_error: Exception | None = None
    if not info.notes:
        try:
            import wfdb

            rec = wfdb.rdrecord(str(base), physical=True, sampto=info.n_samples or None)
            if rec.p_signal is None:
                raise ValueError("wfdb returned no physical signal")
            # (signals, samples) in C order: finalize works lead by lead, and on the transposed
            # view every lead would be a strided walk (several times slower on long records).
            signal = np.ascontiguousarray(np.asarray(rec.p_signal, dtype=np.float64).T)
            names = list(rec.sig_name)
            units = list(rec.units or ["mV"] * len(names))
        except Exception as exc:  # noqa: BLE001 - any wfdb failure falls back to our decoder
            wfdb_error = exc
    if signal is not None:
        return WfdbSamples(signal, names, units, info.fs, "wfdb", warnings, info)
    if info.multi_segment:
        raise InvalidInputError(f"multi-segment record unreadable by wfdb: {wfdb_error}", str(hea))
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
    return WfdbSamples(signal, names, units, info.fs, "ecgr1", warnings, info)


def read_wfdb(
    path: str | Path,
    *,
    nan_policy: str = "interpolate",
    derive_leads: bool = True,
    extra_metadata: dict[str, Any] | None = None,
    engine: str = "auto",
) -> ECGRecord:
    """Read a WFDB record (any ``.hea`` wfdb accepts, plus Challenge headers it rejects).

    Parameters
    ----------
    path : the record with or without ``.hea``/``.dat``/``.mat``.
    nan_policy : how missing samples are repaired (see :func:`ecgr1.io.finalize.repair_nonfinite`).
    derive_leads : derive missing limb leads from I and II.
    extra_metadata : merged over what the header comments give (dataset tables use this).
    engine : ``"auto"`` (default: ecgr1's fast decoder where it applies, else wfdb), ``"wfdb"``
        or ``"fast"``; see :func:`read_wfdb_samples`. All give the same record where they apply.

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
    samples = read_wfdb_samples(path, engine=engine)
    info = samples.header
    meta = metadata_from_comments(info.comments)
    meta["format"] = "wfdb"
    if info.base_date or info.base_time:
        meta["recorded_at"] = " ".join(x for x in (info.base_date, info.base_time) if x)
    if extra_metadata:
        meta.update(extra_metadata)
    return finalize_record(
        samples.signal,
        info.fs,
        samples.names,
        units=samples.units,
        record_id=base.name,
        metadata=meta,
        source_path=str(base.with_name(base.name + ".hea")),
        warnings=samples.warnings,
        nan_policy=nan_policy,
        derive_leads=derive_leads,
    )
