"""A tolerant WFDB header parser and the reading of header comments into metadata.

``wfdb`` rejects some headers found in the wild (for example a PhysioNet/CinC Challenge record
line ``E00666.mat 12 500 5000 ...`` that carries the file extension on the record name). This
parser accepts them, checks every field it needs, and raises :class:`InvalidInputError` naming
the line and field when a header is unusable. It also reads the comment conventions of the
Challenge (``#Age:``, ``#Sex:``, ``#Dx:``), LUDB (``#<age>:``, ``#<sex>:``, ``#<diagnoses>:``
followed by one diagnosis a line) and MIT-BIH (``# 69 M ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgr1.errors import InvalidInputError, UnsupportedFormatError

#: Bytes per sample of the fixed-width WFDB storage formats (212: two 12-bit samples in 3
#: bytes; 310/311: three 10-bit samples in 4 bytes). Formats absent here (FLAC 5xx, 8
#: first-difference) are read by wfdb only and not size-checked.
BYTES_PER_SAMPLE: dict[int, float] = {
    16: 2, 61: 2, 160: 2, 80: 1, 212: 1.5, 24: 3, 32: 4, 310: 4 / 3, 311: 4 / 3,
}  # fmt: skip

#: Every storage format the WFDB specification defines (0: null signal, 8: first differences,
#: 5xx: FLAC). Any other number in a signal line is an error.
WFDB_FORMATS: frozenset[int] = frozenset(
    {0, 8, 16, 24, 32, 61, 80, 160, 212, 310, 311, 508, 516, 524}
)

_GAIN_RE = re.compile(r"^(?P<gain>[^()/]+)(?:\((?P<baseline>[^()]*)\))?(?:/(?P<units>.*))?$")
_FORMAT_RE = re.compile(
    r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>-?\d+))?(?:\+(?P<offset>\d+))?$"
)


@dataclass
class SignalSpec:
    """One signal line of a WFDB header."""

    file_name: str
    fmt: int
    samples_per_frame: int = 1
    skew: int = 0
    byte_offset: int = 0
    adc_gain: float = 200.0
    baseline: int = 0
    units: str = "mV"
    adc_res: int = 0
    adc_zero: int = 0
    init_value: int | None = None
    checksum: int | None = None
    block_size: int = 0
    description: str = ""
    gain_given: bool = True


@dataclass
class HeaderInfo:
    """The fields of a WFDB header that the readers use."""

    record_name: str
    n_sig: int
    fs: float
    n_samples: int | None
    signals: list[SignalSpec] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    base_time: str | None = None
    base_date: str | None = None
    multi_segment: bool = False
    notes: list[str] = field(default_factory=list)


def _number(text: str, what: str, line_no: int, path: str, kind: type = float) -> Any:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInputError(
            f"header line {line_no}: non-numeric {what} {text!r}", path
        ) from None
    if kind is int:
        if value != int(value):
            raise InvalidInputError(
                f"header line {line_no}: {what} {text!r} is not an integer", path
            )
        return int(value)
    return value


def read_header_text(path: str | Path) -> str:
    """Return the text of a header file, raising a clear error for binary content."""
    p = Path(path)
    raw = p.read_bytes()
    if not raw.strip():
        raise InvalidInputError("empty header file", str(p))
    if b"\x00" in raw[:4096]:
        raise UnsupportedFormatError("binary content where a WFDB text header was expected", str(p))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_header(text: str, path: str = "<header>") -> HeaderInfo:
    """Parse WFDB header text tolerantly.

    Parameters
    ----------
    text : the header file's content.
    path : used in error messages only.

    Returns
    -------
    HeaderInfo

    Raises
    ------
    InvalidInputError
        When a field needed to read the samples is missing or not a number.

    Example
    -------
    >>> h = parse_header("E00666.mat 1 500 5000\\nE00666.mat 16+24 1000/mV 16 0 0 0 0 I\\n#Age: 70")
    >>> h.record_name, h.fs, h.n_samples, h.signals[0].adc_gain, h.comments
    ('E00666', 500.0, 5000, 1000.0, ['Age: 70'])
    """
    lines = text.splitlines()
    comments: list[str] = []
    content: list[tuple[int, str]] = []
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            comments.append(stripped[1:].strip())
            continue
        content.append((no, stripped))  # '#' inside a description is part of the name
    if not content:
        raise InvalidInputError("no record line in header", path)

    no, record_line = content[0]
    fields = record_line.split()
    if len(fields) < 2:
        raise InvalidInputError(f"header line {no}: record line {record_line!r} is too short", path)
    name_field = fields[0]
    notes: list[str] = []
    multi = "/" in name_field
    record_name = name_field.split("/", 1)[0]
    for ext in (".mat", ".dat", ".hea"):
        if record_name.lower().endswith(ext):
            record_name = record_name[: -len(ext)]
            notes.append(f"record line names {name_field!r} with a file extension")
            break
    n_sig = _number(fields[1], "number of signals", no, path, int)
    if n_sig < 0 or n_sig > 4096:
        raise InvalidInputError(f"header line {no}: implausible number of signals {n_sig}", path)
    fs = 250.0  # WFDB default when the field is absent
    if len(fields) > 2:
        fs_text = fields[2].split("/", 1)[0].split("(", 1)[0]
        fs = _number(fs_text, "sampling frequency", no, path)
    else:
        notes.append("no sampling frequency in header; WFDB default 250 Hz assumed")
    if not fs > 0:
        raise InvalidInputError(f"header line {no}: sampling frequency {fs} is not positive", path)
    n_samples = _number(fields[3], "number of samples", no, path, int) if len(fields) > 3 else None
    if n_samples is not None and n_samples < 0:
        raise InvalidInputError(f"header line {no}: negative number of samples", path)
    base_time = fields[4] if len(fields) > 4 else None
    base_date = fields[5] if len(fields) > 5 else None

    info = HeaderInfo(
        record_name=record_name,
        n_sig=n_sig,
        fs=fs,
        n_samples=n_samples,
        comments=comments,
        base_time=base_time,
        base_date=base_date,
        multi_segment=multi,
        notes=notes,
    )
    if multi:
        return info  # segment lines follow; samples are read by wfdb
    sig_lines = content[1:]
    if len(sig_lines) != n_sig:
        # Never guessed: with one signal too many or too few, every signal of a shared data
        # file would be read from the wrong interleaving.
        raise InvalidInputError(
            f"header declares {n_sig} signals but has {len(sig_lines)} signal lines", path
        )
    for no, line in sig_lines:
        info.signals.append(_parse_signal_line(line, no, path))
    return info


def _parse_signal_line(line: str, no: int, path: str) -> SignalSpec:
    parts = line.split(None, 8)
    if len(parts) < 2:
        raise InvalidInputError(f"header line {no}: signal line {line!r} lacks a format", path)
    m = _FORMAT_RE.match(parts[1])
    if not m:
        raise InvalidInputError(f"header line {no}: invalid storage format {parts[1]!r}", path)
    if int(m["fmt"]) not in WFDB_FORMATS:
        raise InvalidInputError(
            f"header line {no}: unknown WFDB storage format {parts[1]!r} (known: "
            f"{', '.join(map(str, sorted(WFDB_FORMATS)))})",
            path,
        )
    spec = SignalSpec(
        file_name=parts[0],
        fmt=int(m["fmt"]),
        samples_per_frame=int(m["spf"] or 1),
        skew=int(m["skew"] or 0),
        byte_offset=int(m["offset"] or 0),
    )
    g = None
    if len(parts) > 2:
        g = _GAIN_RE.match(parts[2])
        if not g:
            raise InvalidInputError(f"header line {no}: invalid ADC gain field {parts[2]!r}", path)
        spec.adc_gain = _number(g["gain"], "ADC gain", no, path)
        if g["baseline"] is not None:
            spec.baseline = _number(g["baseline"], "baseline", no, path, int)
        if g["units"] is not None:
            spec.units = g["units"].strip() or "mV"
        if spec.adc_gain == 0:
            spec.adc_gain = 200.0  # WFDB: gain 0 means uncalibrated, nominal 200 adu/unit
            spec.gain_given = False
    else:
        spec.gain_given = False
    if len(parts) > 3:
        spec.adc_res = _number(parts[3], "ADC resolution", no, path, int)
    if len(parts) > 4:
        spec.adc_zero = _number(parts[4], "ADC zero", no, path, int)
        if g is None or g["baseline"] is None:
            spec.baseline = spec.adc_zero  # WFDB: baseline defaults to ADC zero
    if len(parts) > 5:
        spec.init_value = _number(parts[5], "initial value", no, path, int)
    if len(parts) > 6:
        spec.checksum = _number(parts[6], "checksum", no, path, int)
    if len(parts) > 7:
        spec.block_size = _number(parts[7], "block size", no, path, int)
    if len(parts) > 8:
        spec.description = parts[8].strip()
    return spec


# --------------------------------------------------------------------------- comments

_KEY_RE = re.compile(r"^<?\s*([A-Za-z][A-Za-z0-9 _/-]*?)\s*>?\s*:\s*(.*)$")
_MITDB_RE = re.compile(r"^(\d{1,3})\s+([MF])\b")
_UNKNOWN = {"", "unknown", "unknows", "nan", "none", "n/a", "na", "?", "-"}


#: Ages outside this range (years) are not plausible and read as unknown.
AGE_RANGE = (0.0, 130.0)

_PLAIN_NUMBER_RE = re.compile(r"^\+?(\d+(?:\.\d*)?|\.\d+)$")


def parse_age(value: Any) -> float | None:
    """Age in years from a header or table value, or None when unknown or unreadable.

    Only a plain non-negative number within :data:`AGE_RANGE` (0-130 years) is an age: text
    such as ``"abc"``, ``"1e9"`` or ``"74 years"`` gives None (:func:`age_warning` says why).
    Dataset conventions for ages beyond the range (PTB-XL's 300 for "over 89", LUDB's ``>89``)
    are resolved by the dataset readers before this is called.

    >>> parse_age("74"), parse_age(61.0), parse_age("1e9"), parse_age("abc"), parse_age("NaN")
    (74, 61, None, None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lower()
    if text in _UNKNOWN:
        return None
    if not _PLAIN_NUMBER_RE.match(text):
        return None
    age = float(text)
    if not AGE_RANGE[0] <= age <= AGE_RANGE[1]:
        return None
    return int(age) if age == int(age) else age


def age_warning(value: Any) -> str | None:
    """The reader warning for an age value that is given but unreadable (not a plain number
    of years within :data:`AGE_RANGE`), None otherwise.

    >>> age_warning("abc")
    "unreadable age 'abc' in the header: ignored"
    >>> age_warning("61") is None, age_warning("unknown") is None
    (True, True)
    """
    if value is None or str(value).strip().lower() in _UNKNOWN or parse_age(value) is not None:
        return None
    return f"unreadable age {str(value).strip()!r} in the header: ignored"


def parse_sex(value: Any) -> str | None:
    """``"M"``, ``"F"`` or None from the spellings found in ECG databases."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in {"m", "male", "man", "masculine"}:
        return "M"
    if text in {"f", "female", "woman", "feminine"}:
        return "F"
    return None


def sex_warning(value: Any) -> str | None:
    """The reader warning for a sex value that is given but unreadable, None otherwise.

    >>> sex_warning("MF")
    "unreadable sex 'MF' in the header: ignored"
    """
    if value is None or str(value).strip().lower() in _UNKNOWN or parse_sex(value) is not None:
        return None
    return f"unreadable sex {str(value).strip()!r} in the header: ignored"


# "Age: 65  Sex: M" (QTDB): a further "key: value" after two or more spaces.
_MORE_KEYS_RE = re.compile(r"\s{2,}[A-Za-z][A-Za-z ]*:.*$")
# Where a second age/sex/dx field starts on the same comment line ("Age: 65  Sex: M", QTDB).
_NEXT_FIELD_RE = re.compile(r"\s+(?=<?\s*(?:age|sex|gender|dx)\s*>?\s*:)", re.IGNORECASE)


def _fields(comment: str) -> list[str]:
    """One comment line as its ``key: value`` fields: ``"Age: 65  Sex: M"`` gives
    ``["Age: 65", "Sex: M"]``; a line that does not start with a key stays whole."""
    text = comment.strip()
    if not _KEY_RE.match(text):
        return [text]
    return [part for part in _NEXT_FIELD_RE.split(text) if part]


def metadata_from_comments(
    comments: list[str], warnings: list[str] | None = None
) -> dict[str, Any]:
    """Read age, sex and labels from WFDB header comments.

    An age or sex that is given but unreadable (``Age: abc``, ``Sex: MF``, an age outside
    0-130) is left out of the metadata; when ``warnings`` is a list, a line saying so is
    appended to it (:func:`age_warning`, :func:`sex_warning`).

    Recognised conventions: Challenge (``Age: 74``, ``Sex: Male``, ``Dx: RBBB,AF`` or SNOMED
    codes), LUDB (``<age>: 51``, ``<sex>: F``, ``<diagnoses>:`` then one diagnosis a line) and
    MIT-BIH (``69 M 1085 1629 x1``). Other ``key: value`` comments are kept under their
    lower-cased key; free text goes to ``comments``.

    >>> m = metadata_from_comments(["<age>: 51", "<sex>: F", "<diagnoses>:", "Rhythm: Sinus rhythm."])
    >>> m["age"], m["sex"], m["labels"]
    (51, 'F', ['Rhythm: Sinus rhythm.'])
    >>> metadata_from_comments(["Age: 74", "Sex: Male", "Dx: RBBB,AF"])["labels"]
    ['RBBB', 'AF']
    >>> m = metadata_from_comments(["Age: 65  Sex: M"])
    >>> m["age"], m["sex"]
    (65, 'M')
    """
    meta: dict[str, Any] = {"labels": [], "comments": list(comments)}
    in_diagnoses = False
    for text in (part for comment in comments for part in _fields(comment)):
        if not text:
            continue
        if in_diagnoses:
            m = _KEY_RE.match(text)
            if text.startswith("<") and m:
                in_diagnoses = False  # another LUDB <key> ends the diagnosis block
            else:
                meta["labels"].append(text.rstrip())
                continue
        m = _KEY_RE.match(text)
        if m:
            key = m.group(1).strip().lower()
            value = m.group(2).strip()
            if key == "age":
                value = _MORE_KEYS_RE.sub("", value)
                meta["age"] = parse_age(value)
                note = age_warning(value)
                if note and warnings is not None:
                    warnings.append(note)
            elif key in {"sex", "gender"}:
                meta["sex"] = parse_sex(value)
                note = sex_warning(value)
                if note and warnings is not None:
                    warnings.append(note)
            elif key in {"dx", "diagnosis", "diagnoses"}:
                if key == "diagnoses" and not value:
                    in_diagnoses = True
                else:
                    meta["labels"].extend(v.strip() for v in value.split(",") if v.strip())
            elif key in {"ecgr1 warning", "ecgr1 note"} and value:
                meta.setdefault("source_warnings", []).append(value)
            elif key == "report" and value:
                meta["report"] = value
            elif value and value.lower() not in _UNKNOWN:
                meta.setdefault(key, value)
            continue
        mm = _MITDB_RE.match(text)
        if mm and "age" not in meta:
            meta["age"] = parse_age(mm.group(1))
            meta["sex"] = parse_sex(mm.group(2))
    return meta
