"""Uploaded files: checked by their content, saved under names of our own, in a folder per
request.

What a request may carry (``POST /v1/interpret`` and friends): in ``files`` one record, either a
WFDB header with its data file (``.hea`` + ``.dat``), a Challenge header with its MATLAB file
(``.hea`` + ``.mat``), or one array (``.csv`` / ``.npy``, which need ``fs``); in ``image`` one
PNG or JPEG picture of an ECG. Each file is recognised by its bytes: a header must parse as a
WFDB header, a ``.mat`` must start like a MATLAB file, an image must decode. The name a client
sent is only shown back (and never used as a path): the header is saved under the record name
it declares and its data file under the name the header gives it, both checked to be plain
names. A name with a folder in it (``../../x.hea``) is refused outright.

Every problem is an :class:`UploadError` with the HTTP status to answer (400, 413, 415, 422).

>>> kind_of(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(20))
'png'
>>> kind_of(b"100 2 360 650000\\n100.dat 212 200 11 1024 995 -22131 0 MLII\\n"
...         b"100.dat 212 200 11 1024 1011 20052 0 V5\\n")
'header'
>>> kind_of(bytes(range(256)))
'binary'
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgr1.errors import ECGR1Error

PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MAX_NAME_CHARS = 255
MAX_IMAGE_PIXELS = 40_000_000  # a 600 dpi A4 scan is about 35 Mpx
ARRAY_UNITS = ("mV", "uV", "V")
MAX_LEADS = 15
_CSV_CHARS = set(b"0123456789+-.eE,; \t\r\nnaNAinfIF")


class UploadError(ECGR1Error):
    """An upload that cannot be accepted; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """One uploaded file as received: the client's name (display only) and its bytes."""

    name: str
    data: bytes


@dataclass
class WfdbHeader:
    """What the server needs from a WFDB header: the record name and its data files."""

    record: str
    n_signals: int
    n_samples: int | None
    files: list[str]


@dataclass
class SavedInput:
    """A request's inputs, saved in ``folder``: the record to read (with the reading options
    for arrays) and/or the image; ``names`` are the client's file names, for messages."""

    folder: Path
    record_path: Path | None = None
    read_options: dict[str, Any] = field(default_factory=dict)
    image_path: Path | None = None
    kind: str | None = None  # "wfdb", "mat", "csv", "npy" or None (image only)
    names: list[str] = field(default_factory=list)

    def to_spec(self) -> dict[str, Any]:
        """What a worker process needs to read the inputs (plain, picklable values)."""
        return {
            "record_path": str(self.record_path) if self.record_path else None,
            "read_options": dict(self.read_options),
            "image_path": str(self.image_path) if self.image_path else None,
            "kind": self.kind,
        }


def display_name(name: str | None) -> str:
    """The client's file name as shown in messages (printable, at most 80 characters)."""
    text = "".join(c if c.isprintable() else "?" for c in (name or "unnamed"))
    return text[:80] or "unnamed"


def check_name(name: str | None) -> str:
    """Refuse a file name that names a folder or holds control characters; return its
    lower-case suffix (``.hea``), which is only ever a hint.

    >>> check_name("A0001.hea")
    '.hea'
    >>> check_name("../../x.hea")
    Traceback (most recent call last):
    ...
    ecgr1.serve.uploads.UploadError: file name '../../x.hea' holds a folder; send plain file names
    """
    name = name or ""
    if len(name) > MAX_NAME_CHARS or any(not c.isprintable() for c in name):
        raise UploadError(f"file name {display_name(name)!r} is too long or not printable", 400)
    if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
        raise UploadError(
            f"file name {display_name(name)!r} holds a folder; send plain file names", 400
        )
    return Path(name).suffix.lower()


def parse_header(data: bytes) -> WfdbHeader | None:
    """The record line and signal files of a WFDB header, or None when ``data`` is not one."""
    if b"\x00" in data[:4096]:
        return None
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        return None
    first = lines[0].split()
    if len(first) < 2 or not first[1].isdigit():
        return None
    record, n_signals = first[0].split("/")[0], int(first[1])
    n_samples = int(first[3]) if len(first) > 3 and first[3].isdigit() else None
    if not 1 <= n_signals <= 64 or len(lines) < 1 + n_signals:
        return None
    files: list[str] = []
    for line in lines[1 : 1 + n_signals]:
        parts = line.split()
        if len(parts) < 2 or not re.match(r"^\d+", parts[1]):
            return None
        if parts[0] not in files:
            files.append(parts[0])
    return WfdbHeader(record, n_signals, n_samples, files)


def _is_mat(data: bytes) -> bool:
    """A MATLAB level 5 file, or a level 4 matrix header (as the Challenge ``.mat`` files)."""
    if data.startswith(b"MATLAB 5.0 MAT-file"):
        return True
    if len(data) < 21:
        return False
    import struct

    mopt, rows, cols, imag, namelen = struct.unpack("<5i", data[:20])
    return (
        0 <= mopt <= 52
        and mopt % 10 <= 2
        and rows > 0
        and cols > 0
        and imag in (0, 1)
        and 1 <= namelen <= 64
        and data[20 : 19 + namelen].isascii()
        and data[19 + namelen : 20 + namelen] == b"\x00"
    )


def _is_csv(data: bytes) -> bool:
    """Numbers separated by commas (an optional first line of lead names)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return False
    body = lines[1:] if re.search(r"[A-Za-z]{2}", lines[0]) else lines
    sample = "\n".join(body[:200]).encode()
    return bool(body) and set(sample) <= _CSV_CHARS and any(ch.isdigit() for ch in body[0])


def kind_of(data: bytes) -> str:
    """What ``data`` is by its content: ``png``, ``jpeg``, ``npy``, ``mat``, ``header``,
    ``csv``, ``zip`` or ``binary`` (anything else: a WFDB data file can be any bytes)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x93NUMPY"):
        return "npy"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    if _is_mat(data):
        return "mat"
    if parse_header(data) is not None:
        return "header"
    if _is_csv(data):
        return "csv"
    return "binary"


def _check_image(upload: Upload) -> str:
    kind = kind_of(upload.data)
    if kind not in ("png", "jpeg"):
        raise UploadError(
            f"{display_name(upload.name)}: the image must be a PNG or JPEG picture", 415
        )
    from PIL import Image

    try:
        with Image.open(io.BytesIO(upload.data)) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise UploadError(
                    f"{display_name(upload.name)}: {img.width}x{img.height} pixels is above "
                    f"the limit of {MAX_IMAGE_PIXELS:,}",
                    413,
                )
            img.verify()
    except UploadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means a broken picture
        raise UploadError(
            f"{display_name(upload.name)}: not a readable {kind.upper()} picture ({exc})", 415
        ) from None
    return ".png" if kind == "png" else ".jpg"


def _array_options(fs: str | None, units: str | None, leads: str | None) -> dict[str, Any]:
    if fs is None or not str(fs).strip():
        raise UploadError("a CSV or NPY upload needs its sampling rate in the field fs (Hz)")
    try:
        rate = float(fs)
    except ValueError:
        raise UploadError(f"fs must be a sampling rate in Hz, not {display_name(fs)!r}") from None
    if not 50 <= rate <= 20_000:
        raise UploadError(f"fs must be from 50 to 20000 Hz, not {rate:g}")
    options: dict[str, Any] = {"fs": rate}
    if units:
        if units not in ARRAY_UNITS:
            raise UploadError(f"units must be one of {', '.join(ARRAY_UNITS)}, not {units!r}")
        options["units"] = units
    if leads:
        names = [n.strip() for n in leads.split(",") if n.strip()]
        if not names or len(names) > MAX_LEADS or any(len(n) > 16 for n in names):
            raise UploadError(f"leads must be up to {MAX_LEADS} comma-separated lead names")
        options["leads"] = names
    return options


def _save_record(
    uploads: list[Upload], folder: Path, array_options: dict[str, Any] | None
) -> tuple[Path, str, dict[str, Any]]:
    """Save the record files of ``uploads``; returns (path to read, kind, reading options)."""
    headers: list[tuple[Upload, WfdbHeader]] = []
    data_files: list[tuple[Upload, str]] = []
    arrays: list[tuple[Upload, str]] = []
    for up in uploads:
        suffix = check_name(up.name)
        if not up.data:
            raise UploadError(f"{display_name(up.name)} is empty", 400)
        kind = kind_of(up.data)
        if kind == "header":
            headers.append((up, parse_header(up.data)))  # type: ignore[arg-type]
        elif kind in ("npy", "csv") and suffix != ".dat":
            arrays.append((up, kind))
        elif kind in ("mat", "binary") or (kind in ("npy", "csv") and suffix == ".dat"):
            if kind == "binary" and suffix != ".dat":
                raise UploadError(
                    f"{display_name(up.name)}: not a recognised ECG file by its content (expected "
                    "a WFDB header, a WFDB .dat or Challenge .mat with its header, or a CSV/NPY "
                    "array)",
                    415,
                )
            data_files.append((up, kind))
        elif kind in ("png", "jpeg"):
            raise UploadError(f"{display_name(up.name)} is a picture: send it in the field image")
        else:
            raise UploadError(f"{display_name(up.name)}: {kind} files are not supported", 415)
    if arrays:
        if headers or data_files or len(arrays) > 1:
            raise UploadError("send one record per request: one CSV/NPY array, or a header pair")
        up, kind = arrays[0]
        given = array_options or {}
        options = _array_options(given.get("fs"), given.get("units"), given.get("leads"))
        path = folder / f"record.{kind}"
        path.write_bytes(up.data)
        return path, kind, options
    if not headers:
        names = ", ".join(display_name(u.name) for u, _ in data_files)
        raise UploadError(f"{names}: a WFDB data file needs its .hea header in the same request")
    if len(headers) > 1:
        raise UploadError("send one record per request (several headers were uploaded)")
    up, header = headers[0]
    if not PLAIN_NAME.match(header.record) or ".." in header.record:
        raise UploadError(f"the header's record name {display_name(header.record)!r} is not plain")
    if len(header.files) != 1:
        raise UploadError(
            f"the header names {len(header.files)} data files; one data file per record is "
            "supported"
        )
    data_name = header.files[0]
    if not PLAIN_NAME.match(data_name) or ".." in data_name:
        raise UploadError(f"the header's data file name {display_name(data_name)!r} is not plain")
    if not data_files:
        raise UploadError(
            f"{display_name(up.name)}: the header names the data file {data_name}; upload it too "
            "(in the field files)"
        )
    if len(data_files) > 1:
        raise UploadError("send one data file with the header")
    data_up, data_kind = data_files[0]
    wants_mat = data_name.lower().endswith(".mat")
    if wants_mat and data_kind != "mat":
        raise UploadError(
            f"{display_name(data_up.name)}: the header names a MATLAB file ({data_name}) but this "
            "is not one",
            415,
        )
    header_path = folder / f"{header.record}.hea"
    header_path.write_bytes(up.data)
    (folder / data_name).write_bytes(data_up.data)
    return header_path, "mat" if wants_mat else "wfdb", {}


def save_inputs(
    folder: Path,
    files: list[Upload],
    image: Upload | None,
    *,
    fs: str | None = None,
    units: str | None = None,
    leads: str | None = None,
) -> SavedInput:
    """Check the uploads and save them in ``folder`` (see the module docstring)."""
    saved = SavedInput(folder, names=[display_name(u.name) for u in files])
    if image is not None:
        check_name(image.name)
        if not image.data:
            raise UploadError(f"{display_name(image.name)} is empty", 400)
        suffix = _check_image(image)
        saved.image_path = folder / f"image{suffix}"
        saved.image_path.write_bytes(image.data)
        saved.names.append(display_name(image.name))
    if files:
        options = {"fs": fs, "units": units, "leads": leads}
        saved.record_path, saved.kind, saved.read_options = _save_record(files, folder, options)
    elif image is None:
        raise UploadError("no file uploaded: send a record in the field files, an image, or both")
    return saved


def request_folder() -> Path:
    """A new private temporary folder for one request's uploads."""
    return Path(tempfile.mkdtemp(prefix="ecgr1-serve-"))


def dispose_folder(folder: Path, keep: str | None, request_id: str) -> None:
    """Delete a request's folder, or move it to ``keep/<request_id>`` (``--keep-uploads``)."""
    if keep:
        target = Path(keep) / request_id
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), str(target))
            return
        except OSError:
            pass  # keeping failed: never leave the folder behind in the temporary directory
    shutil.rmtree(folder, ignore_errors=True)
