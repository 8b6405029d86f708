"""Seeded mutations of real ECG files and the oracle that judges what ecgr1 makes of them.

Shared by ``tests/test_fuzz.py`` (hypothesis, bounded) and ``benchmarks/fuzz.py`` (long run).

Seed records
------------
Every record under the shared data folder in :data:`SOURCES` (LUDB, CPSC 2018, the Challenge
``extra/cinc_*`` sources, PTB-XL 500 and 100 Hz, QTDB, MIT-BIH 100 and CPSC 2021), cut to its
first :data:`MAX_SIGNAL_S` seconds and written back in its own layout: WFDB ``.hea`` + ``.dat``
(format 16 or 212) or Challenge ``.hea`` + MATLAB v4 ``.mat`` (``16+24``), with the header's own
fields, checksums (signed or unsigned as in the source) and initial values made right for the
excerpt. The *unmutated* copy written this way is the reference ("baseline") of every mutation of
that record; float inputs (``variant`` ``npy``/``csv``) are exports of that copy
(:func:`ecgr1.io.write_npy`, and a CSV with a ``time`` column, 10 s) with their own baseline.

Mutations
---------
:data:`OPERATORS` maps a name to an operator of one *family*:

``header``
    field edits of the record line and signal lines (signal count, sample count, odd sampling
    rates, extreme/zero/negative/non-numeric gains, baselines, units, storage format, byte
    offset, lead names, checksums, ADC fields, file names), whole-line edits (a line deleted,
    duplicated, swapped with its checksum, comments between lines), header bytes (flips,
    truncation, NUL and non-UTF-8 bytes) and implausible age/sex comments;
``data``
    the data file: bit flips, bursts of garbage, truncation, extension, WFDB "no data" runs,
    saturation, flat (disconnected) leads, spikes, heavy noise, baseline steps, mains hum and a
    corrupt MATLAB header;
``partial``
    consistent but unusual input (header, data and checksums agree): lead subsets (one lead,
    three leads, limb or chest leads only, ...), records under 5 s, an extra duplicated or
    non-standard lead;
``equivalent``
    meaning-preserving rewrites: leads reordered, resampled to an odd rate, a few samples
    shorter (odd lengths), another lossless storage format or the ``.dat`` layout, alias lead
    names, CRLF/tab/blank-line header syntax;
``float``
    ``.npy`` (+ ``.json`` sidecar) and ``.csv`` exports: NaN/inf runs, extreme values, odd
    shapes and dtypes, byte flips and truncation, sidecar and CSV field edits.

Operators whose mutation changes the samples that the header describes (``data`` family, and
the header edits that change decoding: signal or sample count, format, byte offset) recompute
the header checksums (the WFDB checksum: sum of a signal's digital samples mod 2^16) for half of
the inputs, so that a checksum comparison cannot flag them all; ``partial`` and ``equivalent``
inputs always carry right checksums. Values that are *plausible but wrong* are never drawn
(a 500 Hz record declared 250 Hz, a gain doubled, two standard lead names swapped along with
their data): no reader can tell them from a correct file, so they are not damage it could flag.

Oracle
------
Each input is read with :func:`ecgr1.io.read_record` and interpreted with
:func:`ecgr1.pipeline.interpret_record` (defaults), under a wall-clock limit of
:data:`TIME_LIMIT_S` seconds. Its outcome is one of

``error``
    a clear error: an :class:`ecgr1.errors.ECGR1Error` (any subclass) or an :class:`OSError`
    with a message. Grouped by *kind*: the class name and the message with numbers, quoted
    names and paths masked (:func:`error_kind`);
``traceback`` (FAIL)
    any other exception (a bug), or a worker that died;
``timeout`` (FAIL)
    more than :data:`TIME_LIMIT_S` seconds;
``answer``
    an interpretation, then judged against the baseline's.

An answer is compared with the baseline answer of its record and variant by its *statements*
(the set of statement ids). It FAILS as

``unusable_lead_finding``
    when a statement (or an exclusion) cites evidence from a lead that the quality report marks
    unusable (``quality.leads[lead].usable`` False), whatever the statements;
``unflagged_corrupted_answer``
    when its statements differ from the baseline's while no *damage flag* is raised. The damage
    flags of an answer are (:func:`summarise`): each warning in ``warnings`` of the
    interpretation (reader warnings included) and of the measurements; ``quality.overall`` if
    not ``good``; each quality reason; each lead in ``poor_leads``; each per-lead quality flag
    (``lead:flag``); ``amplitude_normalised``; each statement of category ``technical``
    (``poor_quality``, ``limb_lead_reversal``); each statement listed ``not_assessable``; and
    each non-empty field of the input ``limits`` (missing, no-signal, derived or uncalibrated
    leads, amplitude normalisation, short record, summary) in the interpretation's JSON
    (:data:`LIMIT_KEYS`, :func:`_limits`). An answer is *flagged* when it raises a damage flag
    that its baseline does not raise (texts compared with numbers and paths masked,
    :func:`normalise`) or has a worse ``quality.overall`` (good < acceptable < poor < unusable).

For the ``equivalent`` family an unflagged difference is not a corrupted answer (nothing is
damaged) but an *unstable* one, counted for information only.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import signal as _signal
import traceback as _traceback
import warnings as _warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

#: Longest excerpt of a seed record (seconds of signal at its own rate).
MAX_SIGNAL_S = 60.0
#: Length of the CSV exports (seconds): CSV parsing is slow, 10 s is what most records hold.
CSV_SIGNAL_S = 10.0
#: Wall-clock limit per input (reading and interpreting), seconds.
TIME_LIMIT_S = 30.0

#: Seed records: source group -> glob patterns of ``.hea`` files under the data folder.
#: Source groups whose records are Challenge ``.hea`` + ``.mat`` (the others are ``.dat``).
MAT_SOURCES = ("cpsc2018", "cinc")
SOURCES: dict[str, tuple[str, ...]] = {
    "ludb": ("ludb/data/*.hea",),
    "cpsc2018": ("cpsc2018/*.hea",),
    "cinc": ("extra/cinc_*/*.hea",),
    "ptbxl": ("extra/ptbxl/records500/*/*.hea", "extra/ptbxl/records100/*/*.hea"),
    "qtdb": ("qtdb/*.hea",),
    "holter": ("mitdb/*.hea", "cpsc2021/*.hea"),
}

#: Keys of the interpretation's JSON that say what the input could not support.
LIMIT_KEYS = ("not_assessable", "limits")
QUALITY_RANK = {"good": 0, "acceptable": 1, "poor": 2, "unusable": 3}
FAIL_CLASSES = ("traceback", "timeout", "unusable_lead_finding", "unflagged_corrupted_answer")

# Signal-line fields (WFDB header): file, format, gain, ADC resolution, ADC zero, initial value,
# checksum, block size, description.
FILE, FMT, GAIN, RES, ZERO, INIT, CHECKSUM, BLOCK, DESC = range(9)
_FMT_RE = re.compile(r"^(\d+)(?:x(\d+))?(?::(-?\d+))?(?:\+(\d+))?$")
_GAIN_RE = re.compile(r"^(?P<gain>[^()/]*)(?P<baseline>\([^()]*\))?(?P<units>/.*)?$")
#: Digital range and "no data" value of the storage formats written here.
FORMAT_RANGE = {16: (-32767, 32767), 61: (-32767, 32767), 160: (-32767, 32767),
                80: (-127, 127), 212: (-2047, 2047), 24: (-(2**23) + 1, 2**23 - 1),
                32: (-(2**31) + 1, 2**31 - 1)}  # fmt: skip
NODATA = {16: -32768, 61: -32768, 160: -32768, 80: -128, 212: -2048, 24: -(2**23), 32: -(2**31)}


# --------------------------------------------------------------------------- headers


@dataclass
class Header:
    """A WFDB header as tokens, so that a mutation can put anything in any field."""

    record: list[str]
    signals: list[list[str]]
    comments: list[str]

    @classmethod
    def parse(cls, text: str) -> Header:
        record: list[str] | None = None
        signals: list[list[str]] = []
        comments: list[str] = []
        for line in text.splitlines():
            s = line.strip()
            if not s:
                continue
            if s.startswith("#"):
                comments.append(s[1:])
            elif record is None:
                record = s.split()
            else:
                signals.append(s.split(None, 8))
        return cls(record or [], signals, comments)

    def copy(self) -> Header:
        return Header(list(self.record), [list(s) for s in self.signals], list(self.comments))

    def lines(self) -> list[str]:
        out = [" ".join(t for t in self.record if t != "")]
        out += [" ".join(t for t in sig if t != "") for sig in self.signals]
        out += ["#" + c for c in self.comments]
        return out

    def text(self) -> str:
        return "\n".join(self.lines()) + "\n"

    def gain(self, k: int) -> float:
        """ADC gain of signal ``k`` (adu per unit; 200 when absent or zero)."""
        try:
            value = float(_GAIN_RE.match(self.signals[k][GAIN])["gain"])  # type: ignore[index]
        except (IndexError, TypeError, ValueError):
            return 200.0
        return value if value > 0 else 200.0

    def name(self, k: int) -> str:
        sig = self.signals[k]
        return sig[DESC] if len(sig) > DESC else f"signal {k + 1}"


def _set_field(sig: list[str], index: int, value: str) -> None:
    while len(sig) <= index:
        sig.append("0" if len(sig) < DESC else "")
    sig[index] = value


def _gain_parts(token: str) -> tuple[str, str, str]:
    m = _GAIN_RE.match(token)
    if not m:
        return token, "", ""
    return m["gain"], m["baseline"] or "", m["units"] or ""


# --------------------------------------------------------------------------- storage formats


def encode(digital: np.ndarray, fmt: int) -> bytes:
    """Frame-interleaved bytes of integer samples (signals, n) in a WFDB storage format."""
    frames = np.asarray(digital, dtype=np.int64).T.ravel()
    if fmt == 16:
        return frames.astype("<i2").tobytes()
    if fmt == 61:
        return frames.astype(">i2").tobytes()
    if fmt == 160:
        return (frames + 32768).astype("<u2").tobytes()
    if fmt == 80:
        return (frames + 128).astype(np.uint8).tobytes()
    if fmt == 32:
        return frames.astype("<i4").tobytes()
    if fmt == 24:
        v = frames & 0xFFFFFF
        return np.stack([v & 0xFF, (v >> 8) & 0xFF, v >> 16], axis=1).astype(np.uint8).tobytes()
    if fmt == 212:
        v = frames & 0xFFF
        if v.size % 2:
            v = np.append(v, 0)
        a, b = v[0::2], v[1::2]
        out = np.stack([a & 0xFF, ((a >> 8) & 0x0F) | ((b >> 4) & 0xF0), b & 0xFF], axis=1)
        raw = out.astype(np.uint8).tobytes()
        return raw[:-1] if frames.size % 2 else raw
    raise ValueError(f"cannot encode format {fmt}")


def decode(raw: bytes, fmt: int) -> np.ndarray | None:
    """Integer samples (frame-interleaved) of bytes in a storage format; None if unknown."""
    b = np.frombuffer(raw, dtype=np.uint8)
    if fmt in (16, 61, 160):
        v = b[: b.size // 2 * 2].view(">i2" if fmt == 61 else "<i2").astype(np.int64)
        return v - 32768 if fmt == 160 else v
    if fmt == 80:
        return b.astype(np.int64) - 128
    if fmt == 32:
        return b[: b.size // 4 * 4].view("<i4").astype(np.int64)
    if fmt == 24:
        t = b[: b.size // 3 * 3].reshape(-1, 3).astype(np.int64)
        v = t[:, 0] | (t[:, 1] << 8) | (t[:, 2] << 16)
        return np.where(v >= 2**23, v - 2**24, v)
    if fmt == 212:
        t = b[: b.size // 3 * 3].reshape(-1, 3).astype(np.int64)
        out = np.empty(2 * len(t), dtype=np.int64)
        out[0::2] = t[:, 0] | ((t[:, 1] & 0x0F) << 8)
        out[1::2] = t[:, 2] | ((t[:, 1] & 0xF0) << 4)
        if b.size % 3 == 2:
            out = np.append(out, int(b[-2]) | ((int(b[-1]) & 0x0F) << 8))
        return np.where(out >= 2048, out - 4096, out)
    return None


def mat_v4(digital: np.ndarray) -> bytes:
    """A MATLAB v4 file holding ``val`` (int16, signals x samples), as the Challenge ships."""
    k, n = digital.shape
    head = np.array([30, k, n, 0, 4], dtype="<i4").tobytes() + b"val\x00"
    return head + np.asarray(digital, dtype=np.int64).T.astype("<i2").tobytes()


def _checksum(values: np.ndarray, unsigned: bool) -> int:
    c = int(np.asarray(values, dtype=np.int64).sum()) & 0xFFFF
    return c if unsigned or c < 0x8000 else c - 0x10000


def recompute_checksums(header: Header, files: dict[str, bytes], unsigned: bool) -> bool:
    """Set each signal's checksum (and initial value) to what its file holds under ``header``.

    Decodes as a reader would: the signals of one file are interleaved frame by frame from the
    byte offset, the record line's sample count (or all frames) per signal. Returns False when a
    group cannot be decoded (unknown format, samples per frame, missing file): those are left.
    """
    try:
        n = int(header.record[3])
    except (IndexError, ValueError):
        n = None
    groups: dict[str, list[int]] = {}
    for k, sig in enumerate(header.signals):
        if len(sig) > FMT:
            groups.setdefault(sig[FILE], []).append(k)
    ok = True
    for name, idx in groups.items():
        m = _FMT_RE.match(header.signals[idx[0]][FMT])
        raw = files.get(name)
        if raw is None or not m or m[2] or m[3]:
            ok = False
            continue
        offset = int(m[4] or 0)
        if name.lower().endswith(".mat") and offset == 0 and raw[20:24] == b"val\x00":
            offset = 24
        values = decode(raw[offset:], int(m[1]))
        if values is None or values.size < len(idx):
            ok = False
            continue
        frames = values[: values.size // len(idx) * len(idx)].reshape(-1, len(idx))
        if n is not None and n >= 0:
            frames = frames[:n]
        for j, k in enumerate(idx):
            _set_field(header.signals[k], CHECKSUM, str(_checksum(frames[:, j], unsigned)))
            if len(frames):
                _set_field(header.signals[k], INIT, str(int(frames[0, j])))
    return ok


# --------------------------------------------------------------------------- seed records


@dataclass
class BaseRecord:
    """A real record cut to :data:`MAX_SIGNAL_S`, ready to be written back (and mutated)."""

    key: str  # path of the .hea under the data folder, without the suffix
    source: str
    name: str
    header: Header
    digital: np.ndarray  # int64 (signals, samples)
    fs: float
    layout: str  # "dat" or "mat"
    fmt: int
    unsigned_checksums: bool

    @property
    def data_name(self) -> str:
        return f"{self.name}.{self.layout}"


def load_base(root: Path, key: str, source: str = "") -> BaseRecord:
    """Read one seed record (digital samples) and normalise its header for the excerpt."""
    hea = root / f"{key}.hea"
    header = Header.parse(hea.read_text(errors="replace"))
    fs = float(header.record[2].split("/")[0].split("(")[0])
    n = int(header.record[3])
    cap = min(n, int(MAX_SIGNAL_S * fs))
    data_file = header.signals[0][FILE]
    fmt = int(_FMT_RE.match(header.signals[0][FMT])[1])  # type: ignore[index]
    if data_file.lower().endswith(".mat"):
        from scipy.io import loadmat

        digital = np.asarray(loadmat(str(hea.parent / data_file))["val"])[:, :cap]
        layout = "mat"
    else:
        import wfdb

        rec = wfdb.rdrecord(str(hea.with_suffix("")), sampto=cap, physical=False)
        digital = np.asarray(rec.d_signal).T
        layout = "dat"
    digital = np.ascontiguousarray(digital, dtype=np.int64)
    unsigned = any(
        len(s) > CHECKSUM and s[CHECKSUM].lstrip("-").isdigit() and int(s[CHECKSUM]) > 32767
        for s in header.signals
    )
    name = hea.stem
    header.record[0] = name
    header.record[3] = str(digital.shape[1])
    for k, sig in enumerate(header.signals):
        sig[FILE] = f"{name}.{layout}"
        _set_field(sig, INIT, str(int(digital[k, 0])))
        _set_field(sig, CHECKSUM, str(_checksum(digital[k], unsigned)))
    return BaseRecord(key, source, name, header, digital, fs, layout, fmt, unsigned)


def list_seed_keys(root: Path) -> dict[str, list[str]]:
    """Source group -> sorted record keys (``.hea`` paths without suffix, relative to root)."""
    out: dict[str, list[str]] = {}
    for source, patterns in SOURCES.items():
        keys = sorted(
            str(p.relative_to(root).with_suffix("")) for pat in patterns for p in root.glob(pat)
        )
        if keys:
            out[source] = keys
    return out


# --------------------------------------------------------------------------- mutations


@dataclass
class Mutation:
    """One fuzz input: the files to write, the one to read, and how they were made."""

    key: str
    op: str
    family: str
    variant: str  # "wfdb", "npy" or "csv": the baseline it is compared with
    files: dict[str, bytes]
    entry: str
    desc: str
    checksum: str = "n/a"  # "recomputed", "kept" or "n/a"

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in self.files.items():
            (folder / name).write_bytes(content)
        return folder / self.entry

    @property
    def label(self) -> str:
        return f"{self.key} [{self.variant}] {self.op}: {self.desc} (checksum {self.checksum})"


@dataclass
class Work:
    """A record being mutated: header tokens, digital samples and edits applied when written."""

    base: BaseRecord
    rng: np.random.Generator
    header: Header
    digital: np.ndarray
    layout: str
    fmt: int
    data_name: str
    byte_edits: list[Callable[[bytes], bytes]] = field(default_factory=list)
    header_edits: list[Callable[[bytes], bytes]] = field(default_factory=list)
    extra_files: dict[str, bytes] = field(default_factory=dict)
    desc: list[str] = field(default_factory=list)
    decoding_changed: bool = False  # a header edit that changes what the samples decode to

    # ---- helpers for operators
    def pick(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def signals(self) -> list[int]:
        """Signals to edit: one (half the time), all, or a random subset."""
        n = len(self.header.signals)
        r = self.rng.random()
        if r < 0.5 or n == 1:
            return [int(self.rng.integers(n))]
        if r < 0.75:
            return list(range(n))
        k = int(self.rng.integers(1, n + 1))
        return sorted(int(i) for i in self.rng.choice(n, size=k, replace=False))

    def note(self, text: str) -> None:
        self.desc.append(text)

    def mv_to_adu(self, k: int, mv: float) -> float:
        return mv * self.header.gain(k)

    def clip(self) -> None:
        lo, hi = FORMAT_RANGE.get(self.fmt, (-32767, 32767))
        self.digital = np.clip(self.digital, lo, hi)

    def render(self, recompute: bool) -> tuple[dict[str, bytes], bool]:
        data = mat_v4(self.digital) if self.layout == "mat" else encode(self.digital, self.fmt)
        for edit in self.byte_edits:
            data = edit(data)
        files = {self.data_name: data, **self.extra_files}
        done = recompute and recompute_checksums(self.header, files, self.base.unsigned_checksums)
        text = self.header.text().encode("utf-8", errors="surrogateescape")
        for edit in self.header_edits:
            text = edit(text)
        files[f"{self.base.name}.hea"] = text
        return files, done


@dataclass
class Operator:
    name: str
    family: str
    fn: Callable[[Work], None]
    recompute: str  # "half", "always" or "never"
    weight: float
    variant: str = "wfdb"
    layout: str | None = None  # "mat": only Challenge records


OPERATORS: dict[str, Operator] = {}


def operator(family: str, recompute: str = "never", weight: float = 1.0, layout: str | None = None):
    def deco(fn: Callable[[Work], None]) -> Callable[[Work], None]:
        op = Operator(fn.__name__, family, fn, recompute, weight, "wfdb", layout)
        OPERATORS[fn.__name__] = op
        return fn

    return deco


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


# ---- header: record line


@operator("header", recompute="half")
def hdr_signal_count(w: Work) -> None:
    n = len(w.header.signals)
    value = w.pick([n - 1, n + 1, 0, 1, 2 * n, 4097, -1, "x", f"{n}.5", n - 2 if n > 2 else 13])
    w.note(f"record line signal count {w.header.record[1]} -> {value}")
    w.header.record[1] = str(value)
    w.decoding_changed = True


@operator("header", recompute="half")
def hdr_sample_count(w: Work) -> None:
    n = w.digital.shape[1]
    value = w.pick([n // 2, n - 1, n + 1, 2 * n, 0, 1, 10**12, -5, f"{n}.5", "abc", n // 7, None])
    if value is None:
        w.header.record = w.header.record[:3]
        w.note("sample count (and base time/date) removed from the record line")
    else:
        w.note(f"sample count {n} -> {value}")
        w.header.record[3] = str(value)
    w.decoding_changed = True


@operator("header")
def hdr_odd_rate(w: Work) -> None:
    fs = w.base.fs
    value = w.pick(["0", _num(-fs), "1", "10", "25", "49", "100000", "1e7", "nan", "inf",
                    "abc", "0.001", f"{_num(fs)}e0", f"{_num(fs)}/{_num(2 * fs)}(7)", None])  # fmt: skip
    if value is None:
        w.header.record = w.header.record[:2]
        w.note("sampling rate (and what follows) removed from the record line")
    else:
        w.note(f"sampling rate {w.header.record[2]} -> {value}")
        w.header.record[2] = value


@operator("header")
def hdr_record_line(w: Work) -> None:
    rec = w.header.record
    kind = w.pick(["other_name", "extension", "multi_segment", "garbage_time", "extra_fields",
                   "empty_name", "counter"])  # fmt: skip
    if kind == "other_name":
        rec[0] = "someotherrecord"
    elif kind == "extension":
        rec[0] = f"{rec[0]}.{w.layout}"
    elif kind == "multi_segment":
        rec[0] = f"{rec[0]}/2"
    elif kind == "garbage_time":
        rec[4:] = ["25:61:99", "99/99/9999"]
    elif kind == "extra_fields":
        rec[4:] = ["12:00:00", "01/01/2000", "junk", "more"]
    elif kind == "empty_name":
        w.header.record = rec[1:]
    else:
        rec[2] = f"{rec[2]}/1000(12)"
    w.note(f"record line edit: {kind}")


# ---- header: signal-line fields


def _each_signal(w: Work, what: str, change: Callable[[list[str], int], str]) -> None:
    edits = []
    for k in w.signals():
        sig = w.header.signals[k]
        old = " ".join(sig[FMT : GAIN + 1])
        edits.append(f"{w.header.name(k)} {old!r} -> {change(sig, k)!r}")
    w.note(f"{what}: {', '.join(edits)}")


@operator("header", weight=2.0)
def hdr_extreme_gain(w: Work) -> None:
    value = w.pick(["0", "NEG", "1e9", "1e-9", "1", "x1000", "/1000", "abc", "nan", "inf",
                    "1e400", "-0", ""])  # fmt: skip

    def change(sig: list[str], k: int) -> str:
        gain, baseline, units = _gain_parts(sig[GAIN])
        g = {"NEG": f"-{gain}", "x1000": _num(w.header.gain(k) * 1000),
             "/1000": _num(w.header.gain(k) / 1000)}.get(value, value)  # fmt: skip
        sig[GAIN] = f"{g}{baseline}{units}"
        return sig[GAIN]

    _each_signal(w, "gain field", change)


@operator("header")
def hdr_baseline(w: Work) -> None:
    value = w.pick(["+1", "+1000", "-1000000", str(2**31), str(2**40), "abc", "1.5", "", "-0"])

    def change(sig: list[str], k: int) -> str:
        gain, baseline, units = _gain_parts(sig[GAIN])
        old = int(baseline.strip("()") or 0) if baseline.strip("()").lstrip("-").isdigit() else 0
        b = str(old + int(value)) if value.startswith("+") else value
        sig[GAIN] = f"{gain}({b}){units}" if value else f"{gain}{units}"
        return sig[GAIN]

    _each_signal(w, "baseline", change)


@operator("header")
def hdr_units(w: Work) -> None:
    value = w.pick(["uV", "V", "nV", "bpm", "", "mmHg", "µV", "MV", "mV?", "degC"])

    def change(sig: list[str], k: int) -> str:
        gain, baseline, _ = _gain_parts(sig[GAIN])
        sig[GAIN] = f"{gain}{baseline}/{value}" if value else f"{gain}{baseline}"
        return sig[GAIN]

    _each_signal(w, "units", change)


@operator("header", recompute="half")
def hdr_format(w: Work) -> None:
    value = w.pick(["212", "80", "24", "32", "61", "160", "310", "311", "8", "0", "999", "abc",
                    "16x2", "16:5", "-16", "16" if w.fmt != 16 else "212"])  # fmt: skip

    def change(sig: list[str], k: int) -> str:
        m = _FMT_RE.match(sig[FMT])
        offset = f"+{m[4]}" if m and m[4] else ""
        sig[FMT] = f"{value}{offset}"
        return sig[FMT]

    _each_signal(w, "storage format", change)
    w.decoding_changed = True


@operator("header", recompute="half")
def hdr_byte_offset(w: Work) -> None:
    options = ["", "+0", "+23", "+25", "+1", "+1000000000", "+2"] if w.layout == "mat" else [
        "+1", "+2", "+3", "+100", "+1000000000"]  # fmt: skip
    value = w.pick(options)
    # All signals of a file share one offset; a different one on a single line is an edit too.
    targets = range(len(w.header.signals)) if w.rng.random() < 0.7 else w.signals()
    for k in targets:
        sig = w.header.signals[k]
        sig[FMT] = sig[FMT].split("+")[0] + value
    w.note(f"byte offset -> {value or 'none'} on {len(list(targets))} signal(s)")
    w.decoding_changed = True


_ALIASES = {
    "I": ["DI", "D1", "lead_1", "i", "Lead I", "ECG I", "MLI"],
    "II": ["DII", "D2", "MLII", "ii", "lead_2", "ML2"],
    "III": ["DIII", "D3", "iii", "lead_3"],
    "aVR": ["AVR", "avr", "-aVR", "lead_4"],
    "aVL": ["AVL", "avl", "lead_5"],
    "aVF": ["AVF", "avf", "lead_6"],
}
for _k in range(1, 7):
    _ALIASES[f"V{_k}"] = [f"v{_k}", f"lead V{_k}", f"MV{_k}", f"lead_{_k + 6}", f"C{_k}"]


@operator("header", weight=1.5)
def hdr_lead_names(w: Work) -> None:
    kind = w.pick(["alias", "unknown", "empty", "duplicate", "non_ascii", "long", "minus"])
    from ecgr1.io.leads import canonical_lead_name

    edits = []
    names = [w.header.name(k) for k in range(len(w.header.signals))]
    for k in w.signals():
        sig = w.header.signals[k]
        canon = canonical_lead_name(names[k])
        if kind == "alias":
            new = w.pick(_ALIASES.get(canon, [names[k].lower()]))
        elif kind == "unknown":
            new = w.pick(["X", "foo bar", "ECG", "chan 3", "Pleth", "RESP"])
        elif kind == "empty":
            new = ""
        elif kind == "duplicate":
            new = names[int(w.rng.integers(len(names)))]
        elif kind == "non_ascii":
            new = w.pick(["Ⅱ", "V１", "aVRé", "\u200bI", "Ι"])
        elif kind == "long":
            new = "V" * 300
        else:
            new = f"-{names[k]}"
        _set_field(sig, DESC, new)
        edits.append(f"{names[k]}->{new!r}")
    w.note(f"lead names ({kind}): {', '.join(edits)}")


@operator("header")
def hdr_checksum(w: Work) -> None:
    value = w.pick(["random", "abc", "1.5", "+1", "99999999"])
    for k in w.signals():
        sig = w.header.signals[k]
        if value == "random":
            v = str(int(w.rng.integers(-40000, 70000)))
        elif value == "+1":
            v = str(int(sig[CHECKSUM]) + 1)
        else:
            v = value
        sig[CHECKSUM] = v
    w.note(f"checksum field -> {value}")


@operator("header")
def hdr_adc_fields(w: Work) -> None:
    index, what, options = w.pick([
        (INIT, "initial value", ["12345", "-99999", "abc", "1.5"]),
        (RES, "ADC resolution", ["0", "8", "12", "32", "64", "-1", "abc"]),
        (ZERO, "ADC zero", ["1024", "-5000", "2147483647", "abc", "0.5"]),
        (BLOCK, "block size", ["512", "1", "-1", "abc", "1024"]),
    ])  # fmt: skip
    value = w.pick(options)
    for k in w.signals():
        w.header.signals[k][index] = value
    w.note(f"{what} -> {value}")


@operator("header")
def hdr_file_name(w: Work) -> None:
    kind = w.pick(["missing", "other_extension", "parent_dir", "garbage_file", "split"])
    targets = w.signals()
    name = w.data_name
    if kind == "missing":
        new = "missing_file.dat"
    elif kind == "other_extension":
        new = f"{w.base.name}.{'dat' if w.layout == 'mat' else 'mat'}"
    elif kind == "parent_dir":
        new = f"../{name}"
    elif kind == "garbage_file":
        new = "garbage.dat"
        w.extra_files[new] = bytes(w.rng.integers(0, 256, size=len(w.digital.T.ravel()) * 2,
                                                  dtype=np.uint8))  # fmt: skip
    else:  # split: some signals in a second file holding the same bytes
        new = f"second_{name}"
        w.byte_edits.append(lambda b, new=new: _also(w, new, b))
    for k in targets:
        w.header.signals[k][FILE] = new
    w.note(f"file name of {len(targets)} signal(s) -> {new!r} ({kind})")


def _also(w: Work, name: str, data: bytes) -> bytes:
    w.extra_files[name] = data
    return data


# ---- header: whole lines and bytes


@operator("header", recompute="half")
def hdr_signal_lines(w: Work) -> None:
    sigs = w.header.signals
    n = len(sigs)
    kind = w.pick(["delete", "duplicate", "swap", "comment_between", "extra_declared"])
    k = int(w.rng.integers(n))
    if kind == "delete":
        del sigs[k]
    elif kind == "duplicate":
        sigs.insert(k, list(sigs[k]))
    elif kind == "swap" and n > 1:
        j = (k + 1 + int(w.rng.integers(n - 1))) % n
        sigs[k], sigs[j] = sigs[j], sigs[k]
        kind = f"swap with line of {w.header.name(k)}"
    elif kind == "comment_between":
        w.header_edits.append(lambda t: t.replace(b"\n", b"\n# a comment\n", 2))
    else:  # the case: one fewer declared than listed, data as before
        w.header.record[1] = str(n - 1)
        sigs.append(list(sigs[k]))
    w.note(f"signal line {k + 1} ({w.header.name(min(k, len(sigs) - 1))}): {kind}")
    # A swap keeps each line's checksum (a recomputed one would make it a plain relabelling,
    # which no reader can detect); lines deleted or added change what the data decode to.
    w.decoding_changed = kind in ("delete", "duplicate", "extra_declared")


@operator("header")
def hdr_bytes(w: Work) -> None:
    kind = w.pick(["flip", "truncate", "nul", "latin1", "empty", "comments_only", "binary"])
    rng = w.rng

    def edit(text: bytes) -> bytes:
        b = bytearray(text)
        if kind == "flip":
            for _ in range(int(rng.integers(1, 9))):
                i = int(rng.integers(len(b)))
                b[i] ^= 1 << int(rng.integers(8))
            return bytes(b)
        if kind == "truncate":
            return bytes(b[: int(rng.integers(1, len(b)))])
        if kind == "nul":
            i = int(rng.integers(len(b)))
            return bytes(b[:i]) + b"\x00" + bytes(b[i:])
        if kind == "latin1":
            i = int(rng.integers(len(b)))
            return bytes(b[:i]) + b"\xe9\xff" + bytes(b[i:])
        if kind == "empty":
            return b""
        if kind == "comments_only":
            return b"# nothing but a comment\n"
        return bytes(rng.integers(0, 256, size=len(b), dtype=np.uint8))

    w.header_edits.append(edit)
    w.note(f"header bytes: {kind}")


@operator("header")
def hdr_comments(w: Work) -> None:
    """An unreadable or implausible age and/or sex in the header comments; the other field
    keeps its value (a plausible other value, e.g. F -> M, is no damage a reader could see)."""
    which = w.pick(["age", "sex", "both"])
    # Implausible or unreadable values only: an absent age or sex is no damage.
    value = {
        "age": w.pick(["-5", "999", "abc", "1e9", "200", "-0.5", "sixty"]),
        "sex": w.pick(["X", "?", "Male Female", "42", "MF"]),
    }
    done = set()
    out = []
    for c in w.header.comments:
        m = re.match(r"^(\s*<?\s*(age|sex)\s*>?\s*:\s*)(.*)$", c, re.IGNORECASE)
        field_ = m.group(2).lower() if m else None
        if field_ and which in (field_, "both"):
            out.append(f"{m.group(1)}{value[field_]}")  # type: ignore[union-attr]
            done.add(field_)
        else:
            out.append(c)
    for field_ in ("age", "sex"):
        if which in (field_, "both") and field_ not in done:
            out.insert(0, f"{field_.capitalize()}: {value[field_]}")
    w.header.comments = out
    w.note(
        ", ".join(f"{f.capitalize()}: {value[f]!r}" for f in ("age", "sex") if which in (f, "both"))
    )


# ---- data file


def _data_edit(w: Work, fn: Callable[[bytearray], bytearray], text: str) -> None:
    w.byte_edits.append(lambda b: bytes(fn(bytearray(b))))
    w.note(text)


@operator("data", recompute="half", weight=2.0)
def data_bit_flips(w: Work) -> None:
    count = w.pick([1, 2, 8, 64, 512])
    whole = w.rng.random() < 0.3
    rng = w.rng

    def fn(b: bytearray) -> bytearray:
        for _ in range(count):
            i = int(rng.integers(len(b)))
            b[i] ^= 0xFF if whole else 1 << int(rng.integers(8))
        return b

    _data_edit(w, fn, f"{count} {'byte' if whole else 'bit'} flip(s) in the data file")


@operator("data", recompute="half")
def data_burst(w: Work) -> None:
    kind = w.pick(["random", "zeros", "ones", "pattern"])
    frac = w.pick([0.001, 0.01, 0.05, 0.2])
    rng = w.rng

    def fn(b: bytearray) -> bytearray:
        n = max(1, int(len(b) * frac))
        i = int(rng.integers(max(1, len(b) - n)))
        fill = {"random": bytes(rng.integers(0, 256, size=n, dtype=np.uint8)),
                "zeros": bytes(n), "ones": b"\xff" * n,
                "pattern": (b"\x7f\x80" * n)[:n]}[kind]  # fmt: skip
        b[i : i + n] = fill
        return b

    _data_edit(w, fn, f"burst of {kind} bytes over {frac:.1%} of the data file")


@operator("data", recompute="half", weight=1.5)
def data_truncate(w: Work) -> None:
    kind = w.pick(["random", "minus_one", "minus_frame", "half", "header_only", "one_byte"])
    n_sig = w.digital.shape[0]
    rng = w.rng

    def fn(b: bytearray) -> bytearray:
        frame = max(1, int(n_sig * {16: 2, 212: 1.5}.get(w.fmt, 2)))
        size = {"random": int(rng.integers(1, len(b))), "minus_one": len(b) - 1,
                "minus_frame": len(b) - frame, "half": len(b) // 2,
                "header_only": 24 if w.layout == "mat" else 3, "one_byte": 1}[kind]  # fmt: skip
        return b[: max(1, size)]

    _data_edit(w, fn, f"data file truncated ({kind})")


@operator("data", recompute="half")
def data_extend(w: Work) -> None:
    kind = w.pick(["one_byte", "one_frame", "frame_plus_byte", "random_1000", "copy"])
    n_sig = w.digital.shape[0]
    rng = w.rng

    def fn(b: bytearray) -> bytearray:
        frame = max(1, int(n_sig * {16: 2, 212: 1.5}.get(w.fmt, 2)))
        extra = {"one_byte": b"\x01", "one_frame": bytes(frame), "frame_plus_byte": bytes(frame + 1),
                 "random_1000": bytes(rng.integers(0, 256, 1000, dtype=np.uint8)),
                 "copy": bytes(b)}[kind]  # fmt: skip
        return b + extra

    _data_edit(w, fn, f"data file extended ({kind})")


def _run(w: Work, min_s: float = 0.02, max_frac: float = 1.0) -> slice:
    n = w.digital.shape[1]
    length = int(np.clip(w.rng.uniform(min_s * w.base.fs, max_frac * n), 1, n))
    if w.rng.random() < 0.15:
        length = n
    start = int(w.rng.integers(0, n - length + 1))
    return slice(start, start + length)


@operator("data", recompute="half")
def data_nodata(w: Work) -> None:
    span = _run(w)
    rows = w.signals()
    w.digital[rows, span] = NODATA.get(w.fmt, -32768)
    w.note(f"'no data' value in {len(rows)} signal(s), samples {span.start}-{span.stop}")


@operator("data", recompute="half")
def data_saturate(w: Work) -> None:
    lo, hi = FORMAT_RANGE.get(w.fmt, (-32767, 32767))
    rows = w.signals()
    if w.rng.random() < 0.5:
        span = _run(w)
        w.digital[rows, span] = w.pick([lo, hi])
        w.note(f"{len(rows)} signal(s) pinned at the ADC limit, samples {span.start}-{span.stop}")
    else:
        level = w.pick([0.05, 0.2, 0.5])
        for k in rows:
            c = w.mv_to_adu(k, level)
            w.digital[k] = np.clip(w.digital[k], np.median(w.digital[k]) - c,
                                   np.median(w.digital[k]) + c)  # fmt: skip
        w.note(f"{len(rows)} signal(s) clipped at ±{level} mV (amplifier saturation)")


@operator("data", recompute="half", weight=1.5)
def data_flat(w: Work) -> None:
    rows = list(range(w.digital.shape[0])) if w.rng.random() < 0.2 else w.signals()
    span = _run(w, min_s=1.0) if w.rng.random() < 0.4 else slice(None)
    value = w.pick(["zero", "median", "max"])
    for k in rows:
        v = {"zero": 0, "median": int(np.median(w.digital[k])), "max": int(w.digital[k].max())}
        w.digital[k, span] = v[value]
    w.note(f"{len(rows)} signal(s) flat ({value}) over {span.start}-{span.stop}")


@operator("data", recompute="half")
def data_spikes(w: Work) -> None:
    rows = w.signals()
    count = w.pick([1, 5, 50, 500])
    amp = w.pick([2.0, 5.0, 30.0])
    n = w.digital.shape[1]
    for k in rows:
        idx = w.rng.integers(0, n, size=count)
        w.digital[k, idx] += (w.rng.choice([-1, 1], size=count) * w.mv_to_adu(k, amp)).astype(int)
    w.clip()
    w.note(f"{count} spike(s) of {amp} mV in {len(rows)} signal(s)")


@operator("data", recompute="half")
def data_noise(w: Work) -> None:
    rows = w.signals()
    sd = w.pick([0.2, 1.0, 5.0])
    span = _run(w, min_s=0.5)
    for k in rows:
        seg = w.digital[k, span]
        w.digital[k, span] = seg + np.round(w.rng.normal(0, w.mv_to_adu(k, sd), seg.size))
    w.clip()
    w.note(f"white noise SD {sd} mV in {len(rows)} signal(s), samples {span.start}-{span.stop}")


@operator("data", recompute="half")
def data_baseline(w: Work) -> None:
    rows = w.signals()
    kind = w.pick(["step", "drift", "mains"])
    amp = w.pick([2.0, 10.0, 30.0]) if kind != "mains" else w.pick([0.3, 1.0, 3.0])
    n = w.digital.shape[1]
    t = np.arange(n) / w.base.fs
    for k in rows:
        if kind == "step":
            shape = (np.arange(n) >= int(w.rng.integers(n))).astype(float)
        elif kind == "drift":
            shape = np.sin(2 * np.pi * 0.3 * t)
        else:
            shape = np.sin(2 * np.pi * w.pick([50.0, 60.0]) * t)
        w.digital[k] = w.digital[k] + np.round(shape * w.mv_to_adu(k, amp)).astype(np.int64)
    w.clip()
    w.note(f"{kind} of {amp} mV in {len(rows)} signal(s)")


@operator("data", recompute="half", layout="mat")
def data_mat_header(w: Work) -> None:
    kind = w.pick(["rows", "cols", "type", "name", "no_offset_rows", "no_offset_type"])
    k, n = w.digital.shape

    def fn(b: bytearray) -> bytearray:
        words = {"rows": (1, k + 1), "cols": (2, n // 2), "type": (0, 0),
                 "name": (4, 5), "no_offset_rows": (1, k - 1), "no_offset_type": (0, 20)}  # fmt: skip
        i, v = words[kind]
        b[4 * i : 4 * i + 4] = int(v).to_bytes(4, "little", signed=True)
        return b

    if kind.startswith("no_offset"):
        for sig in w.header.signals:
            sig[FMT] = sig[FMT].split("+")[0]
    _data_edit(w, fn, f"MATLAB header field edited ({kind})")


# ---- partial input (consistent)


def _keep_signals(w: Work, keep: list[int]) -> None:
    w.header.signals = [w.header.signals[k] for k in keep]
    w.header.record[1] = str(len(keep))
    w.digital = w.digital[keep]


@operator("partial", recompute="always", weight=2.0)
def lead_subset(w: Work) -> None:
    from ecgr1.io.leads import canonical_lead_name

    names = [canonical_lead_name(w.header.name(k)) for k in range(len(w.header.signals))]
    n = len(names)
    sets = {
        "one lead": [int(w.rng.integers(n))],
        "I+II": [names.index(x) for x in ("I", "II") if x in names],
        "limb leads": [
            k for k, x in enumerate(names) if x in ("I", "II", "III", "aVR", "aVL", "aVF")
        ],
        "chest leads": [k for k, x in enumerate(names) if x.startswith("V")],
        "II+V1+V5": [names.index(x) for x in ("II", "V1", "V5") if x in names],
        "random subset": sorted(
            int(i)
            for i in w.rng.choice(n, size=int(w.rng.integers(1, n)) if n > 1 else 1, replace=False)
        ),  # fmt: skip
        "all but one": sorted(set(range(n)) - {int(w.rng.integers(n))}) if n > 1 else [0],
    }
    kind = w.pick(sorted(sets))
    keep = sets[kind] or [0]
    _keep_signals(w, keep)
    w.note(f"lead subset ({kind}): {', '.join(names[k] for k in keep)}")


@operator("partial", recompute="always", weight=1.5)
def short_record(w: Work) -> None:
    """A record under 5 s, which must say that it is short. Longer cuts are left out: a 7 s
    window of a 60 s record may rightly lose a finding that lies outside it."""
    fs = w.base.fs
    n = w.digital.shape[1]
    options = [1, 2, 5, int(0.5 * fs), int(fs), int(2 * fs), int(3 * fs), int(4 * fs),
               int(4.9 * fs)]  # fmt: skip
    length = max(1, min(n, w.pick(options)))
    start = int(w.rng.integers(0, n - length + 1)) if w.rng.random() < 0.3 else 0
    w.digital = w.digital[:, start : start + length]
    w.header.record[3] = str(length)
    w.note(f"record cut to {length} samples ({length / fs:g} s) from sample {start}")


@operator("partial", recompute="always")
def lead_extra(w: Work) -> None:
    n = len(w.header.signals)
    k = int(w.rng.integers(n))
    kind = w.pick(["same name", "X", "aux zeros", "noise"])
    sig = list(w.header.signals[k])
    row = w.digital[k].copy()
    if kind == "same name":
        pass
    elif kind == "X":
        _set_field(sig, DESC, "X")
    elif kind == "aux zeros":
        _set_field(sig, DESC, "AUX")
        row[:] = 0
    else:
        _set_field(sig, DESC, "EXT")
        row = np.round(w.rng.normal(0, w.mv_to_adu(k, 0.5), row.size)).astype(np.int64)
    w.header.signals.append(sig)
    w.header.record[1] = str(n + 1)
    w.digital = np.vstack([w.digital, row[None, :]])
    w.clip()
    w.note(f"extra signal copied from {w.header.name(k)} ({kind})")


# ---- equivalent rewrites


@operator("equivalent", recompute="always")
def odd_length(w: Work) -> None:
    """The excerpt a few samples short (an odd number of samples, a partial 212 byte pair)."""
    n = w.digital.shape[1]
    length = n - w.pick([1, 3, 7])
    w.digital = w.digital[:, :length]
    w.header.record[3] = str(length)
    w.note(f"record cut to {length} of {n} samples")


@operator("equivalent", recompute="always")
def reorder_leads(w: Work) -> None:
    order = [int(i) for i in w.rng.permutation(len(w.header.signals))]
    _keep_signals(w, order)
    w.note(f"signals reordered: {order}")


@operator("equivalent", recompute="always")
def resample_rate(w: Work) -> None:
    from scipy.signal import resample_poly

    target = w.pick([128, 200, 257, 360, 499, 501, 977, 1000, 1024, 1234])
    ratio = Fraction(target / w.base.fs).limit_denominator(1000)
    fs = w.base.fs * ratio.numerator / ratio.denominator
    n_max = int(MAX_SIGNAL_S * fs)
    x = resample_poly(w.digital.astype(float), ratio.numerator, ratio.denominator, axis=1)
    w.digital = np.round(x[:, :n_max]).astype(np.int64)
    w.clip()
    w.header.record[2] = _num(fs) if float(fs).is_integer() else repr(float(fs))
    w.header.record[3] = str(w.digital.shape[1])
    w.note(f"resampled {w.base.fs:g} -> {fs:g} Hz")


@operator("equivalent", recompute="always")
def rewrite_format(w: Work) -> None:
    if w.layout == "mat" and w.rng.random() < 0.5:
        w.layout = "dat"
        w.data_name = f"{w.base.name}.dat"
        for sig in w.header.signals:
            sig[FILE] = w.data_name
            sig[FMT] = "16"
        w.note("Challenge .mat rewritten as a format 16 .dat")
        return
    target = 16 if w.fmt == 212 else w.pick([61, 160, 24, 32])
    if w.layout == "mat":
        w.layout = "dat"
        w.data_name = f"{w.base.name}.dat"
    for sig in w.header.signals:
        sig[FILE] = w.data_name
        sig[FMT] = str(target)
    w.fmt = target
    w.note(f"data rewritten in storage format {target}")


@operator("equivalent", recompute="always")
def alias_names(w: Work) -> None:
    from ecgr1.io.leads import canonical_lead_name

    scheme = w.pick(["lower", "upper", "D-roman", "lead_prefix"])
    for k, sig in enumerate(w.header.signals):
        name = canonical_lead_name(w.header.name(k))
        new = {"lower": name.lower(), "upper": name.upper(),
               "D-roman": {"I": "DI", "II": "DII", "III": "DIII"}.get(name, name),
               "lead_prefix": f"Lead {name}" if name in ("I", "II", "III") or
               name.startswith("V") else name}[scheme]  # fmt: skip
        _set_field(sig, DESC, new)
    w.note(f"lead names spelled {scheme}")


@operator("equivalent")
def header_syntax(w: Work) -> None:
    kind = w.pick(["crlf", "tabs", "blank_lines", "trailing_spaces", "no_final_newline"])
    edit = {"crlf": lambda t: t.replace(b"\n", b"\r\n"),
            "tabs": lambda t: t.replace(b" ", b"\t"),
            "blank_lines": lambda t: t.replace(b"\n", b"\n\n"),
            "trailing_spaces": lambda t: t.replace(b"\n", b"   \n"),
            "no_final_newline": lambda t: t.rstrip(b"\n")}[kind]  # fmt: skip
    w.header_edits.append(edit)
    w.note(f"header syntax: {kind}")


# --------------------------------------------------------------------------- float exports


@dataclass
class FloatWork:
    """An exported record (mV, float) being mutated: the array, its sidecar and edits."""

    key: str
    rng: np.random.Generator
    array: np.ndarray  # float32 (leads, samples)
    sidecar: dict[str, Any]
    variant: str  # "npy" or "csv"
    name: str
    desc: list[str] = field(default_factory=list)
    byte_edits: list[Callable[[bytes], bytes]] = field(default_factory=list)
    text_edits: list[Callable[[str], str]] = field(default_factory=list)
    sidecar_text: str | None = None
    no_sidecar: bool = False

    def pick(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def rows(self) -> list[int]:
        n = self.array.shape[0]
        if self.rng.random() < 0.6 or n == 1:
            return [int(self.rng.integers(n))]
        return list(range(n))

    def span(self) -> slice:
        n = self.array.shape[1]
        length = int(self.rng.integers(1, n + 1)) if self.rng.random() < 0.85 else n
        start = int(self.rng.integers(0, n - length + 1))
        return slice(start, start + length)

    def render(self) -> dict[str, bytes]:
        if self.variant == "npy":
            buf = io.BytesIO()
            np.save(buf, self.array, allow_pickle=self.array.dtype == object)
            data = buf.getvalue()
            for edit in self.byte_edits:
                data = edit(data)
            files = {f"{self.name}.npy": data}
            if not self.no_sidecar:
                text = self.sidecar_text or json.dumps(self.sidecar, indent=1)
                files[f"{self.name}.json"] = text.encode()
            return files
        return {f"{self.name}.csv": csv_text(self, self.text_edits).encode()}


def csv_text(fw: FloatWork, edits: list[Callable[[str], str]] = ()) -> str:
    fs = float(fw.sidecar.get("fs") or 500)
    leads = list(fw.sidecar.get("leads") or [])
    arr = np.atleast_2d(fw.array)
    lines = [",".join(["time"] + leads)]
    times = np.arange(arr.shape[1]) / fs
    body = np.column_stack([times, arr.T.astype(np.float64)])
    lines += [",".join(f"{v:.6g}" for v in row) for row in body]
    text = "\n".join(lines) + "\n"
    for edit in edits:
        text = edit(text)
    return text


FLOAT_OPERATORS: dict[str, Operator] = {}


def float_operator(variant: str, weight: float = 1.0):
    def deco(fn: Callable[[FloatWork], None]) -> Callable[[FloatWork], None]:
        op = Operator(fn.__name__, "float", fn, "never", weight, variant)  # type: ignore[arg-type]
        OPERATORS[fn.__name__] = FLOAT_OPERATORS[fn.__name__] = op
        return fn

    return deco


@float_operator("npy", weight=2.0)
def npy_nonfinite(fw: FloatWork) -> None:
    value = fw.pick([np.nan, np.inf, -np.inf, "mixed"])
    rows, span = fw.rows(), fw.span()
    if value == "mixed":
        fw.array[np.ix_(rows, np.arange(fw.array.shape[1])[span])] = fw.rng.choice(
            [np.nan, np.inf, -np.inf], size=(len(rows), span.stop - span.start)
        )
    else:
        fw.array[rows, span] = value
    fw.desc.append(f"{value} in {len(rows)} lead(s), samples {span.start}-{span.stop}")


@float_operator("npy")
def npy_extreme(fw: FloatWork) -> None:
    value = fw.pick([1e30, -3.4e38, 1e-30, 1e6, "scale1e6", "scale1e-6", "zeros", "denormal"])
    rows, span = fw.rows(), fw.span()
    if value == "scale1e6":
        fw.array[rows] *= 1e6
    elif value == "scale1e-6":
        fw.array[rows] *= 1e-6
    elif value == "zeros":
        fw.array[rows] = 0
    elif value == "denormal":
        fw.array[rows, span] = 1e-42
    else:
        fw.array[rows, span] = value
    fw.desc.append(f"extreme value {value} in {len(rows)} lead(s)")


@float_operator("npy")
def npy_shape_dtype(fw: FloatWork) -> None:
    kind = fw.pick(["transpose", "1d", "3d", "empty_samples", "no_leads", "one_sample",
                    "int16", "float16", "float64", "complex", "bool", "object", "two_samples"])  # fmt: skip
    a = fw.array
    fw.array = {
        "transpose": lambda: a.T.copy(),
        "1d": lambda: a[0].copy(),
        "3d": lambda: a[None],
        "empty_samples": lambda: a[:, :0],
        "no_leads": lambda: a[:0],
        "one_sample": lambda: a[:, :1],
        "two_samples": lambda: a[:, :2],
        "int16": lambda: np.round(a * 1000).astype(np.int16),
        "float16": lambda: a.astype(np.float16),
        "float64": lambda: a.astype(np.float64),
        "complex": lambda: a.astype(np.complex64),
        "bool": lambda: a > 0,
        "object": lambda: a.astype(object),
    }[kind]()
    fw.desc.append(f"array {kind}, shape {fw.array.shape}, dtype {fw.array.dtype}")


@float_operator("npy")
def npy_bytes(fw: FloatWork) -> None:
    kind = fw.pick(["flip_header", "flip_data", "truncate", "extend"])
    rng = fw.rng

    def edit(data: bytes) -> bytes:
        b = bytearray(data)
        if kind == "flip_header":
            i = int(rng.integers(min(128, len(b))))
            b[i] ^= 1 << int(rng.integers(8))
        elif kind == "flip_data":
            for _ in range(int(rng.integers(1, 64))):
                i = int(rng.integers(128, len(b)))
                b[i] ^= 1 << int(rng.integers(8))
        elif kind == "truncate":
            b = b[: int(rng.integers(1, len(b)))]
        else:
            b += bytes(rng.integers(0, 256, int(rng.integers(1, 100)), dtype=np.uint8))
        return bytes(b)

    fw.byte_edits.append(edit)
    fw.desc.append(f".npy bytes: {kind}")


@float_operator("npy", weight=1.5)
def npy_sidecar(fw: FloatWork) -> None:
    kind = fw.pick(["fs", "leads", "units", "not_json", "missing", "not_object"])
    side = fw.sidecar
    if kind == "fs":
        value = fw.pick([0, -500, "abc", None, 1e9, 1, 0.5, "nan", float("inf"), [500]])
        side["fs"] = value
        fw.desc.append(f"sidecar fs -> {value!r}")
    elif kind == "leads":
        leads = list(side.get("leads") or [])
        value = fw.pick(["drop_one", "add_one", "duplicate", "unknown", "string", "number"])
        if value == "drop_one":
            side["leads"] = leads[:-1]
        elif value == "add_one":
            side["leads"] = leads + ["X"]
        elif value == "duplicate" and len(leads) > 1:
            side["leads"] = [leads[1]] + leads[1:]
        elif value == "unknown":
            side["leads"] = [f"ch{k}" for k in range(len(leads))]
        elif value == "string":
            side["leads"] = ",".join(leads)
        else:
            side["leads"] = 12
        fw.desc.append(f"sidecar leads ({value}) -> {side['leads']!r}")
    elif kind == "units":
        value = fw.pick(["V", "uV", "bpm", "", None, 5])
        side["units"] = value
        fw.desc.append(f"sidecar units -> {value!r}")
    elif kind == "not_json":
        fw.sidecar_text = '{"fs": 500, "leads": ['
        fw.desc.append("sidecar is not JSON")
    elif kind == "missing":
        fw.no_sidecar = True
        fw.desc.append("sidecar missing")
    else:
        fw.sidecar_text = "[500, 12]"
        fw.desc.append("sidecar is a JSON list")


@float_operator("csv", weight=1.5)
def csv_cells(fw: FloatWork) -> None:
    kind = fw.pick(["nan", "inf", "blank", "text", "huge", "comma_decimal"])
    rows = fw.rows()
    span = fw.span()
    n = fw.array.shape[1]
    lo, hi = span.start, min(span.stop, n)
    cells = {"nan": "nan", "inf": "inf", "blank": "", "text": "abc", "huge": "1e300"}
    if kind == "comma_decimal":
        fw.text_edits.append(lambda t: t.replace(".", ",", 50))
    else:
        value = cells[kind]

        def edit(text: str) -> str:
            lines = text.split("\n")
            for i in range(lo + 1, hi + 1):
                parts = lines[i].split(",")
                for r in rows:
                    parts[r + 1] = value
                lines[i] = ",".join(parts)
            return "\n".join(lines)

        fw.text_edits.append(edit)
    fw.desc.append(f"CSV cells {kind} in {len(rows)} lead(s), rows {lo}-{hi}")


@float_operator("csv")
def csv_structure(fw: FloatWork) -> None:
    kind = fw.pick(["ragged", "no_header", "time_reversed", "time_duplicated", "semicolon",
                    "header_only", "one_column", "time_units_ms", "extra_column"])  # fmt: skip
    rng = fw.rng

    def edit(text: str) -> str:
        lines = text.rstrip("\n").split("\n")
        if kind == "ragged":
            for _ in range(5):
                i = int(rng.integers(1, len(lines)))
                lines[i] = lines[i].rsplit(",", 1)[0]
        elif kind == "no_header":
            lines = lines[1:]
        elif kind == "time_reversed":
            i = int(rng.integers(2, len(lines)))
            lines[i - 1], lines[i] = lines[i], lines[i - 1]
        elif kind == "time_duplicated":
            lines = [lines[0]] + [ln for ln in lines[1:] for _ in (0, 1)]
        elif kind == "semicolon":
            lines = [ln.replace(",", ";") for ln in lines]
        elif kind == "header_only":
            lines = lines[:1]
        elif kind == "one_column":
            lines = [ln.split(",")[1] for ln in lines]
        elif kind == "time_units_ms":
            lines[0] = lines[0].replace("time", "time_ms", 1)
        else:
            lines = [lines[0] + ",note"] + [ln + ",x" for ln in lines[1:]]
        return "\n".join(lines) + "\n"

    fw.text_edits.append(edit)
    fw.desc.append(f"CSV structure: {kind}")


# --------------------------------------------------------------------------- the corpus


class Corpus:
    """The seed records of a data folder and the mutations drawn from them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.by_source = list_seed_keys(self.root)
        self.keys = [k for keys in self.by_source.values() for k in keys]
        self.source_of = {k: s for s, keys in self.by_source.items() for k in keys}
        self._bases: dict[str, BaseRecord] = {}
        self._exports: dict[str, tuple[np.ndarray, dict[str, Any]]] = {}

    def base(self, key: str) -> BaseRecord:
        if key not in self._bases:
            self._bases[key] = load_base(self.root, key, self.source_of.get(key, ""))
        return self._bases[key]

    def export(self, key: str) -> tuple[np.ndarray, dict[str, Any]]:
        """The unmutated copy read by ecgr1, as a float array and a ``write_npy`` sidecar."""
        if key not in self._exports:
            import tempfile

            from ecgr1.io import read_record, write_npy

            with tempfile.TemporaryDirectory(prefix="ecgr1-fuzz-export-") as tmp:
                hea = self.unmutated(key, "wfdb").write(Path(tmp) / "in")
                npy = write_npy(read_record(hea), Path(tmp) / "out")
                array = np.load(npy)
                side = json.loads(npy.with_suffix(".json").read_text())
            side["source_path"] = None
            side["warnings"] = []
            self._exports[key] = (array, side)
        array, side = self._exports[key]
        return array.copy(), json.loads(json.dumps(side))

    def sources_for(self, op: str) -> list[str]:
        """Source groups an operator applies to."""
        layout = OPERATORS[op].layout
        return [s for s in sorted(self.by_source) if layout != "mat" or s in MAT_SOURCES]

    def draw(self, index: int, seed: int) -> Mutation:
        """The ``index``-th input of a run with ``seed``: an operator (by weight), a source
        group (uniformly), a record of it (uniformly), and the operator's own random stream."""
        rng = np.random.default_rng([seed, index])
        names = sorted(OPERATORS)
        weights = np.array([OPERATORS[n].weight for n in names])
        op = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        sources = self.sources_for(op)
        keys = self.by_source[sources[int(rng.integers(len(sources)))]]
        key = keys[int(rng.integers(len(keys)))]
        return self.mutate(op, key, int(rng.integers(2**63)))

    def mutate(self, op: str, key: str, seed: int) -> Mutation:
        """Apply operator ``op`` to record ``key`` with its own random stream ``seed``."""
        spec = OPERATORS[op]
        rng = np.random.default_rng(seed)
        if spec.family == "float":
            return self._mutate_float(spec, key, rng)
        base = self.base(key)
        w = Work(base, rng, base.header.copy(), base.digital.copy(), base.layout, base.fmt,
                 base.data_name)  # fmt: skip
        spec.fn(w)
        if spec.recompute == "always":
            recompute = True
        elif spec.recompute == "half" and (spec.family == "data" or w.decoding_changed):
            recompute = bool(rng.random() < 0.5)
        else:
            recompute = False
        files, done = w.render(recompute)
        checksum = "recomputed" if done else ("kept" if spec.recompute == "half" else "n/a")
        return Mutation(key, op, spec.family, "wfdb", files, f"{base.name}.hea",
                        "; ".join(w.desc), checksum)  # fmt: skip

    def _mutate_float(self, spec: Operator, key: str, rng: np.random.Generator) -> Mutation:
        fw = self._float_work(key, spec.variant, rng)
        spec.fn(fw)  # type: ignore[arg-type]
        files = fw.render()
        entry = f"{fw.name}.{spec.variant}"
        return Mutation(key, spec.name, "float", spec.variant, files, entry, "; ".join(fw.desc))

    def _float_work(self, key: str, variant: str, rng: np.random.Generator) -> FloatWork:
        array, side = self.export(key)
        if variant == "csv":
            array = array[:, : int(CSV_SIGNAL_S * float(side["fs"]))]
        name = self.base(key).name
        return FloatWork(key, rng, array, side, variant, name)

    def unmutated(self, key: str, variant: str) -> Mutation:
        """The reference input of a record: the excerpt (or its export) as written, unchanged."""
        if variant == "wfdb":
            base = self.base(key)
            w = Work(base, np.random.default_rng(0), base.header.copy(), base.digital.copy(),
                     base.layout, base.fmt, base.data_name)  # fmt: skip
            files, _ = w.render(False)
            return Mutation(key, "none", "none", variant, files, f"{base.name}.hea", "unmutated")
        fw = self._float_work(key, variant, np.random.default_rng(0))
        return Mutation(key, "none", "none", variant, fw.render(), f"{fw.name}.{variant}",
                        "unmutated")  # fmt: skip


# --------------------------------------------------------------------------- the oracle


class FuzzTimeout(BaseException):
    """Raised by the alarm; a BaseException so that ``except Exception`` cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`FuzzTimeout` after ``seconds`` of wall time (main thread, Unix)."""

    def handler(signum: int, frame: Any) -> None:
        raise FuzzTimeout()

    old = _signal.signal(_signal.SIGALRM, handler)
    _signal.setitimer(_signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        _signal.signal(_signal.SIGALRM, old)


_NUMBER_RE = re.compile(r"(?<![A-Za-z_#\d])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_QUOTED_RE = re.compile(r"'[^']*'|\"[^\"]*\"")
_PATH_RE = re.compile(r"(?<![\w.])(?:/[\w.+-]+){2,}/?")


def normalise(text: str) -> str:
    """A message with paths and numbers masked (lead names such as V3 kept)."""
    text = _PATH_RE.sub("<path>", str(text))
    return _NUMBER_RE.sub("<n>", text)


def error_kind(exc: BaseException) -> str:
    """``Class: message`` with numbers, quoted names and paths masked."""
    message = getattr(exc, "message", None) or str(exc)
    message = _QUOTED_RE.sub("'…'", _PATH_RE.sub("<path>", message))
    return f"{type(exc).__name__}: {_NUMBER_RE.sub('<n>', message)}"[:200]


def _limits(out: Any) -> list[str]:
    """The interpretation's "not assessable" entries and input limits, as flags.

    ``not_assessable``: one flag per statement the input could not assess; ``limits``: one per
    non-empty field that says what the input lacks (missing, no-signal, derived or uncalibrated
    leads, amplitude normalisation, short record, the summary sentence). The descriptive fields
    ``leads``, ``duration_s`` and ``n_beats`` are not flags.
    """
    try:
        data = out.interpretation.to_dict()
    except Exception:  # noqa: BLE001 - an interpretation without these lists
        return []
    found: list[str] = []
    for key in LIMIT_KEYS:
        value = data.get(key)
        if not value:
            continue
        if isinstance(value, dict):
            for k, v in sorted(value.items()):
                if v and k not in ("leads", "duration_s", "n_beats"):
                    found.append(f"{key} {k}: {json.dumps(v, default=str, ensure_ascii=False)}")
        elif isinstance(value, list):
            for item in value:
                name = item.get("statement", item) if isinstance(item, dict) else item
                found.append(f"{key}: {json.dumps(name, default=str, ensure_ascii=False)}")
        else:
            found.append(f"{key}: {value}")
    return sorted(set(found))


def summarise(out: Any) -> dict[str, Any]:
    """What the oracle compares: statements, damage flags, unusable-lead evidence.

    ``out`` is the :class:`~ecgr1.report.record.RecordInterpretation` of
    :func:`ecgr1.pipeline.interpret_record`. Plain JSON-ready values.
    """
    m = out.measurements
    q = m.quality
    poor = sorted(q.poor_leads)
    statements = out.interpretation.statements
    flags: set[str] = set()
    flags.update(f"warning: {normalise(w)}" for w in list(out.warnings) + list(m.warnings))
    flags.update(f"quality reason: {normalise(r)}" for r in q.reasons)
    flags.update(f"unusable lead: {ld}" for ld in poor)
    flags.update(f"lead flag: {ld}:{f}" for ld, lq in q.leads.items() for f in lq.flags)
    if q.amplitude_normalised:
        flags.add("amplitude normalised")
    flags.update(f"technical statement: {s.id}" for s in statements if s.category == "technical")
    flags.update(normalise(x) for x in _limits(out))
    unusable = set(poor)
    bad: list[str] = []
    for s in statements:
        for e in s.evidence:
            hit = sorted(unusable & set(e.leads))
            if hit:
                bad.append(f"statement {s.id} cites {e.quantity} in unusable lead(s) {hit}")
    for x in out.interpretation.excluded:
        for e in x.evidence:
            hit = sorted(unusable & set(e.leads))
            if hit:
                bad.append(f"exclusion by {x.criterion} cites unusable lead(s) {hit}")
    return {
        "statements": sorted({s.id for s in statements}),
        "quality": q.overall,
        "flags": sorted(flags),
        "unusable_evidence": sorted(set(bad)),
    }


def new_flags(answer: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Damage flags of ``answer`` that ``baseline`` does not raise (see the module docstring)."""
    out = sorted(set(answer["flags"]) - set(baseline["flags"]))
    if QUALITY_RANK.get(answer["quality"], 3) > QUALITY_RANK.get(baseline["quality"], 3):
        out.insert(0, f"quality {baseline['quality']} -> {answer['quality']}")
    return out


def run_one(path: Path, limit: float = TIME_LIMIT_S) -> dict[str, Any]:
    """Read and interpret one input: ``{"outcome": "error"|"answer"|"traceback"|"timeout"}``."""
    from ecgr1.errors import ECGR1Error
    from ecgr1.io import read_record
    from ecgr1.pipeline import interpret_record

    result: dict[str, Any] = {}
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            with time_limit(limit):
                record = read_record(path)
                out = interpret_record(record)
        except FuzzTimeout:
            result = {"outcome": "timeout", "kind": f"timeout after {limit:g} s"}
        except ECGR1Error as exc:
            result = {"outcome": "error", "kind": error_kind(exc), "message": str(exc)}
        except OSError as exc:
            if str(exc):
                result = {"outcome": "error", "kind": error_kind(exc), "message": str(exc)}
            else:
                result = _traceback_result(exc)
        except Exception as exc:  # noqa: BLE001 - the oracle's business: any other is a bug
            result = _traceback_result(exc)
        else:
            result = {"outcome": "answer", **summarise(out)}
    result["python_warnings"] = sorted(
        {
            f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})"
            for w in caught
        }  # fmt: skip
    )
    return result


def _traceback_result(exc: BaseException) -> dict[str, Any]:
    tb = exc.__traceback__
    frames = _traceback.extract_tb(tb)
    ours = [f for f in frames if "ecgr1" in f.filename and "_fuzz" not in f.filename]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    at = f" at {Path(where.filename).name}:{where.lineno} ({where.name})" if where else ""
    return {
        "outcome": "traceback",
        "kind": f"{type(exc).__name__}{at}",
        "message": str(exc)[:500],
        "traceback": "".join(_traceback.format_exception(type(exc), exc, tb)),
    }


def judge(mutation: Mutation, result: dict[str, Any], baseline: dict[str, Any] | None) -> dict:
    """Add ``verdict`` ("pass" or a :data:`FAIL_CLASSES` name, or "unstable") and details."""
    verdict = "pass"
    detail: dict[str, Any] = {}
    if result["outcome"] in ("traceback", "timeout"):
        verdict = result["outcome"]
    elif result["outcome"] == "answer":
        if result["unusable_evidence"]:
            verdict = "unusable_lead_finding"
        elif baseline is not None and baseline.get("outcome") == "answer":
            changed = result["statements"] != baseline["statements"]
            flags = new_flags(result, baseline)
            detail = {"changed": changed, "new_flags": flags[:8]}
            if changed:
                detail["baseline_statements"] = baseline["statements"]
            if changed and not flags:
                verdict = "unstable" if mutation.family == "equivalent" else (
                    "unflagged_corrupted_answer")  # fmt: skip
    return {**result, **detail, "verdict": verdict}


class Oracle:
    """Runs inputs in a private folder and judges them against cached baselines."""

    def __init__(self, corpus: Corpus, workdir: Path, limit: float = TIME_LIMIT_S) -> None:
        self.corpus = corpus
        self.workdir = Path(workdir)
        self.limit = limit
        self._baselines: dict[tuple[str, str], dict[str, Any]] = {}

    def _run_in(self, mutation: Mutation, sub: str) -> dict[str, Any]:
        folder = self.workdir / sub
        shutil.rmtree(folder, ignore_errors=True)
        try:
            return run_one(mutation.write(folder), self.limit)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def baseline(self, key: str, variant: str) -> dict[str, Any]:
        if (key, variant) not in self._baselines:
            try:
                ref = self.corpus.unmutated(key, variant)
            except Exception as exc:  # noqa: BLE001 - an unreadable seed: no baseline
                self._baselines[key, variant] = {"outcome": "error", "kind": error_kind(exc)}
            else:
                self._baselines[key, variant] = self._run_in(ref, "baseline")
        return self._baselines[key, variant]

    def check(self, mutation: Mutation) -> dict[str, Any]:
        baseline = self.baseline(mutation.key, mutation.variant)
        result = self._run_in(mutation, "input")
        out = judge(mutation, result, baseline)
        out.update(key=mutation.key, op=mutation.op, family=mutation.family,
                   variant=mutation.variant, label=mutation.label, checksum=mutation.checksum)  # fmt: skip
        if baseline.get("outcome") != "answer":
            out["baseline_problem"] = baseline.get("kind", baseline.get("outcome"))
        return out


def explain(outcome: dict[str, Any]) -> str:
    """A few lines that say what went wrong with one input."""
    lines = [f"{outcome['verdict']}: {outcome['label']}"]
    if outcome["verdict"] in ("traceback", "timeout"):
        lines.append(outcome.get("traceback") or outcome.get("kind", ""))
    elif outcome["verdict"] == "unusable_lead_finding":
        lines += outcome["unusable_evidence"][:5]
    elif outcome.get("changed"):
        lines.append(f"  baseline statements: {outcome.get('baseline_statements')}")
        lines.append(
            f"  mutated statements:  {outcome['statements']} (quality {outcome['quality']})"
        )
        lines.append(f"  new damage flags: {outcome.get('new_flags')}")
    return "\n".join(lines)
