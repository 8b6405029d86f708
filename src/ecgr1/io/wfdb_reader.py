"""WFDB records (``.hea`` with ``.dat``/``.mat``), PhysioNet/CinC Challenge records included.

The header is always parsed by ecgr1's tolerant parser first and checked against the data files
(:func:`_check_data_files`), so that missing or truncated files and any disagreement in signal
count, sample count, byte count or storage format are reported with a precise message before
any sample is read; no reader ever guesses an interleaving. Samples then come from, in this
order:

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
the two), ``engine="fast"`` insists on it. Whichever reads the samples, each signal's checksum
is compared with the header's (modulo 2**16); a mismatch is a warning.
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


#: Formats whose byte count for a number of samples is exact, so that a size can be checked and
#: other layouts that fit it named (61 and 160 have the sizes of 16; 310/311 are checked loosely).
_EXACT_SIZE_FORMATS: frozenset[int] = frozenset({16, 61, 160, 80, 212, 24, 32})
#: Formats named as alternatives when a data file's size fits another layout exactly.
_ALTERNATIVE_FORMATS = (16, 80, 212, 24, 32)
#: MATLAB v4 precision digit -> class of the matrix.
_MAT4_TYPES = {0: "double", 1: "single", 2: "int32", 3: "int16", 4: "uint16", 5: "uint8"}


def _bytes_for(fmt: int, count: int) -> int:
    """Bytes that ``count`` samples take in format ``fmt`` (212: an odd last sample takes 2)."""
    if fmt == 212:
        return 3 * (count // 2) + 2 * (count % 2)
    return int(count * BYTES_PER_SAMPLE[fmt])


def _samples_in(fmt: int, n_bytes: int) -> tuple[int, bool]:
    """Samples that ``n_bytes`` of format ``fmt`` hold, and whether no byte is left over."""
    if fmt == 212:
        count = 2 * (n_bytes // 3) + (1 if n_bytes % 3 == 2 else 0)
        return count, n_bytes % 3 != 1
    bps = BYTES_PER_SAMPLE[fmt]
    count = int(n_bytes // bps)
    return count, fmt not in _EXACT_SIZE_FORMATS or count * bps == n_bytes


def _other_layouts(fmt: int, n_slots: int, n: int, n_bytes: int) -> list[str]:
    """Other layouts that ``n_bytes`` fit exactly with ``n`` samples per signal: another signal
    count in the declared format, or the declared signal count in another format."""
    if fmt not in _EXACT_SIZE_FORMATS or n <= 0:
        return []
    out: list[str] = []
    count, whole = _samples_in(fmt, n_bytes)
    if whole and count % n == 0 and count // n not in (0, n_slots):
        out.append(f"{n} samples of {count // n} signals in format {fmt}")
    same = {fmt if fmt not in (61, 160) else 16}
    for other in _ALTERNATIVE_FORMATS:
        if other not in same and _bytes_for(other, n * n_slots) == n_bytes:
            out.append(f"{n} samples of {n_slots} signal(s) in format {other}")
    return out


def _matlab_val(path: Path, hea: Path) -> tuple[int, int, str | None] | None:
    """``(rows, columns, class)`` of the ``val`` matrix of a MATLAB file, or None when the file
    is not a MATLAB file (then its bytes are samples, as WFDB reads them).

    Raises :class:`InvalidInputError` for a MATLAB file without ``val``.
    """
    head = np.fromfile(path, dtype="<i4", count=5)
    v4 = False
    if head.size == 5:
        mopt, rows, cols, imag, namlen = (int(x) for x in head)
        v4 = 0 <= mopt < 60 and mopt % 10 == 0 and imag in (0, 1) and 0 < namlen < 64
        if v4 and rows >= 0 and cols >= 0:
            name = np.fromfile(path, dtype=np.uint8, count=namlen, offset=20).tobytes()
            if name == b"val\x00":
                return rows, cols, None if imag else _MAT4_TYPES[mopt // 10]
    with open(path, "rb") as fh:
        v5 = fh.read(10) == b"MATLAB 5.0"
    if not (v4 or v5):
        return None
    try:
        from scipy.io import whosmat

        found = {name: (shape, cls) for name, shape, cls in whosmat(str(path))}
    except Exception:  # noqa: BLE001 - not a MATLAB file after all: its bytes are samples
        return None
    if "val" not in found:
        raise InvalidInputError(
            f"{path.name!r} is a MATLAB file without a 'val' matrix (it holds "
            f"{', '.join(sorted(found)) or 'nothing'}), and the header gives no byte offset to "
            "read it as raw samples",
            str(hea),
        )
    shape, cls = found["val"]
    if len(shape) != 2:
        raise InvalidInputError(f"{path.name!r}: 'val' is not a 2-D matrix {shape}", str(hea))
    return int(shape[0]), int(shape[1]), cls if v5 else None


def _check_data_files(info: HeaderInfo, hea: Path) -> list[str]:
    """Check every data file against the header: present, not empty, one storage format, and a
    size that holds exactly the declared signals and samples.

    Errors (:class:`InvalidInputError`) where the header and the data disagree in a way that
    leaves the samples ambiguous (fewer samples than declared, a byte count that is no whole
    number of frames, a size that fits another signal count or format exactly, a ``.mat`` whose
    ``val`` matrix has another number of signals or is not int16); a warning where the data
    hold more samples than declared and nothing else fits (the first ones are read).
    """
    groups: OrderedDict[str, list[SignalSpec]] = OrderedDict()
    for spec in info.signals:
        if spec.file_name == "~" or spec.fmt == 0:
            continue  # WFDB null signal
        groups.setdefault(spec.file_name, []).append(spec)
    n = info.n_samples or None  # 0 means "not given" in WFDB
    warnings: list[str] = []
    held_by_file: dict[str, int] = {}
    for name, specs in groups.items():
        data = hea.parent / name
        if not data.is_file():
            raise MissingFileError(
                f"header refers to data file {name!r}, which does not exist", str(hea)
            )
        size = data.stat().st_size
        if size == 0:
            raise InvalidInputError(f"data file {name!r} is empty", str(hea))
        fmts = sorted({s.fmt for s in specs})
        if len(fmts) != 1:
            raise InvalidInputError(
                f"the signals stored in {name!r} declare different storage formats "
                f"({', '.join(map(str, fmts))}); one file holds one format",
                str(hea),
            )
        fmt = fmts[0]
        k = len(specs)
        slots = sum(s.samples_per_frame for s in specs)
        if name.lower().endswith(".mat") and specs[0].byte_offset == 0:
            val = _matlab_val(data, hea)
            if val is not None:
                rows, cols, cls = val
                if rows != k:
                    raise InvalidInputError(
                        f"{name!r} holds a 'val' matrix of {rows} signals x {cols} samples but "
                        f"the header lists {k} signals stored in it",
                        str(hea),
                    )
                if cls is not None and cls != "int16":
                    raise InvalidInputError(
                        f"{name!r}: 'val' holds {cls} values but the header declares format "
                        f"{fmt} (int16)",
                        str(hea),
                    )
                held_by_file[name] = cols
                continue
        if fmt not in BYTES_PER_SAMPLE:
            continue  # FLAC (5xx) and first differences (8): read by wfdb, not size-checked
        n_bytes = max(size - specs[0].byte_offset, 0)
        count, whole = _samples_in(fmt, n_bytes)
        held = count // slots
        whole = whole and count % slots == 0
        what = f"{k} signal(s) in format {fmt}"
        if n is not None and held < n:
            others = _other_layouts(fmt, slots, n, n_bytes) if slots == k else []
            hint = f"; its size fits exactly {' or '.join(others)}" if others else ""
            raise InvalidInputError(
                f"data file {name!r} holds {held} samples per signal but the header declares "
                f"{n} (truncated file or wrong sample count in the header){hint}",
                str(hea),
            )
        if n is not None and (
            n_bytes == _bytes_for(fmt, n * slots) or (fmt not in _EXACT_SIZE_FORMATS and held == n)
        ):
            held_by_file[name] = n
            continue
        others = _other_layouts(fmt, slots, n, n_bytes) if n is not None and slots == k else []
        if others:
            raise InvalidInputError(
                f"data file {name!r} ({n_bytes} bytes) does not hold the {n} samples of {what} "
                f"that the header declares, but its size fits exactly {' or '.join(others)}: the "
                "header's signal count, format or sample count is wrong (ecgr1 does not guess "
                "which)",
                str(hea),
            )
        if not whole and fmt in _EXACT_SIZE_FORMATS:
            raise InvalidInputError(
                f"data file {name!r} ({n_bytes} bytes) is not a whole number of frames of "
                f"{what}: the header's signal count or storage format does not match the data",
                str(hea),
            )
        held_by_file[name] = held
        if n is not None and held > n:  # more samples than declared, nothing else fits
            warnings.append(
                f"data file {name!r} holds {held} samples per signal, the header declares "
                f"{n}; only the first {n} were read"
            )
    if n is not None:
        for name, held in held_by_file.items():
            if held < n:  # a .mat 'val' matrix (raw files were checked above)
                raise InvalidInputError(
                    f"data file {name!r} holds {held} samples per signal but the header declares "
                    f"{n} (truncated file or wrong sample count in the header)",
                    str(hea),
                )
            if held > n and name.lower().endswith(".mat"):
                warnings.append(
                    f"data file {name!r} holds {held} samples per signal, the header declares "
                    f"{n}; only the first {n} were read"
                )
    elif len(set(held_by_file.values())) > 1:
        counts = ", ".join(f"{name} {held}" for name, held in held_by_file.items())
        raise InvalidInputError(
            f"the header gives no sample count and its data files hold different numbers of "
            f"samples per signal ({counts})",
            str(hea),
        )
    return warnings


def _checksum_warning(info: HeaderInfo, sums: list[int | None]) -> list[str]:
    """A warning naming the signals whose sample sum differs from the header's checksum.

    WFDB checksums are the 16-bit sum of a signal's samples, written signed by wfdb and
    unsigned by others (PTB-XL, CPSC 2021): compared modulo 2**16.
    """
    bad = []
    for k, (spec, total) in enumerate(zip(info.signals, sums)):
        if spec.checksum is None or total is None:
            continue
        if (total - spec.checksum) % 65536:
            name = spec.description or f"signal {k + 1}"
            got = (total + 32768) % 65536 - 32768
            bad.append(f"{name} (header {spec.checksum}, data {got})")
    if not bad:
        return []
    return [
        f"checksum mismatch in {len(bad)} of {len(info.signals)} signal(s): "
        f"{', '.join(bad[:4])}{', ...' if len(bad) > 4 else ''}; the data file may be damaged "
        "or not belong to this header"
    ]


def _digital_sums(info: HeaderInfo, signal: np.ndarray) -> list[int | None]:
    """Sums of the stored (digital) samples, recovered from physical ones as
    ``round(value * gain + baseline)`` (exact: the physical values are ``(d - baseline) / gain``
    in float64), the "no data" value where NaN. None where that cannot be done (several
    samples per frame, skew, a format without a known "no data" value holding NaN)."""
    sums: list[int | None] = []
    for k, spec in enumerate(info.signals):
        if (
            spec.checksum is None
            or spec.samples_per_frame != 1
            or spec.skew
            or k >= signal.shape[0]
            or signal.shape[1] != info.n_samples
        ):
            sums.append(None)
            continue
        row = signal[k]
        nan = np.isnan(row)
        invalid = _INVALID.get(spec.fmt)
        if nan.any() and invalid is None:
            sums.append(None)
            continue
        with np.errstate(over="ignore", invalid="ignore"):
            digital = np.rint(row * spec.adc_gain + spec.baseline)
        if nan.any():
            digital[nan] = invalid
        # Stored samples are at most 32-bit: anything beyond 2**53 (or inf) was not recovered
        # exactly, and would not fit int64 either, so that checksum is not compared.
        if not np.all(np.abs(digital) < 2.0**53):
            sums.append(None)
            continue
        # Summed modulo 2**16 (all the checksum keeps), so that no sum overflows int64.
        sums.append(int((digital.astype(np.int64) % 65536).sum()))
    return sums


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
        if specs[0].byte_offset == 0 and _matlab_val(data, data) is not None:
            # A MATLAB file read from byte 0 would take its header for samples: never.
            raise InvalidInputError(f"cannot read the 'val' matrix of {data.name!r}", str(data))
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
        digital = _read_group(hea.parent / name, specs, info.n_samples or None)
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


def _read_fast(groups: list[_FastGroup], info: HeaderInfo) -> tuple[np.ndarray, list[int | None]]:
    """Physical samples (signals, n) float64, computed as wfdb does: the digital value minus
    the baseline, divided by the gain, in float64; the format's "no data" value becomes NaN.
    Also the sum of each signal's stored samples (for the checksums)."""
    n = int(info.n_samples or 0)
    signal = np.empty((len(info.signals), n), dtype=np.float64)
    sums: list[int | None] = [None] * len(info.signals)
    for group in groups:
        digital = _read_fast_group(group, n).T  # (signals in the file, n)
        lo, hi = group.indices[0], group.indices[-1] + 1  # a file's signals are consecutive
        specs = info.signals[lo:hi]
        out = signal[lo:hi]
        np.copyto(out, digital)
        # The stored sums, for the checksums: row sums of the digital values while ``out``
        # still holds them (float64 sums of integers are exact below 2**53).
        sums[lo:hi] = [int(x) for x in out.sum(axis=1)]
        out -= np.array([[s.baseline] for s in specs], dtype=np.float64)
        out /= np.array([[s.adc_gain] for s in specs], dtype=np.float64)
        invalid = digital == _INVALID[group.fmt]
        if invalid.any():
            out[invalid] = np.nan
    return signal, sums


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
        warnings += _check_data_files(info, hea)
        uncalibrated = [
            s.description or str(k + 1) for k, s in enumerate(info.signals) if not s.gain_given
        ]
        if uncalibrated:
            warnings.append(
                f"no ADC gain for signal(s) {', '.join(uncalibrated)}: uncalibrated, WFDB nominal "
                "200 adu/mV used"
            )
        inverted = [
            s.description or str(k + 1)
            for k, s in enumerate(info.signals)
            if s.gain_given and s.adc_gain < 0
        ]
        if inverted:
            warnings.append(
                f"negative ADC gain for signal(s) {', '.join(inverted)}: read as given, so these "
                "leads are inverted (upside down); check the header"
            )
    if engine != "wfdb":
        try:
            signal, sums = _read_fast(_fast_plan(text, info, hea), info)
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
            warnings += _checksum_warning(info, sums)
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
        if not info.multi_segment:
            warnings += _checksum_warning(info, _digital_sums(info, signal))
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
    warnings += _checksum_warning(info, _digital_sums(info, signal))
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
    lead_map: str | None = None,
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
    lead_map : ``"standard-order"``: lead names ``lead_1`` ... ``lead_12`` are I ... V6 (see
        :func:`ecgr1.io.leads.map_lead_names`); None (default) keeps them, with a warning.

    Raises
    ------
    MissingFileError
        The header or a data file it names is absent.
    InvalidInputError
        Unparseable header, or a header and data files that disagree: signal lines other than
        the declared signal count, an unknown storage format, several formats in one file, an
        empty or truncated data file, a size that is no whole number of frames or that fits
        another signal count or format exactly, a ``.mat`` whose ``val`` matrix does not match
        (docs/io.md, "Header checks"). A checksum mismatch is a warning.

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
    warnings = list(samples.warnings)
    meta = metadata_from_comments(info.comments, warnings)
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
        warnings=warnings,
        nan_policy=nan_policy,
        derive_leads=derive_leads,
        lead_map=lead_map,
    )
