"""Interchange JSONL rows (interchange.md section 1) and the media they point to.

ECGs become the section-3 tensor (12 x 5000 float32 mV, NaN/inf -> 0) under one of two input
conventions, a setting of the model folder (:data:`ECG_CONVENTIONS`, docs/model.md):

``"reference"`` (default; what the published ECG-R1 checkpoint saw)
    The record's leads **in the file's own order**, raw samples, **no resampling**: cropped to
    the first ``seq_length`` samples or zero-padded at the end, exactly as ``load_ecg`` in
    ECG-R1's ``ecg_r1/register.py`` does with ``wfdb.rdsamp``. Non-finite samples become 0 (not
    interpolated) and no limb lead is derived. A record with other than 12 leads is refused
    (the tower has 12 input channels). Amplitudes are millivolts (the reference feeds the
    header's physical unit, which is mV for MIMIC-IV-ECG, PTB-XL and CODE-15 exports).
``"standard"``
    :func:`ecgr1.io.to_model_tensor`: I, II, III, aVR, aVL, aVF, V1-V6, resampled to 500 Hz,
    first 10 s, zero-padded. Other lead counts: missing limb leads are derived from two of
    I/II/III (Einthoven/Goldberger), other missing leads are zero rows, extra leads dropped.

Images are opened with PIL as RGB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError, MissingFileError

__all__ = [
    "DEFAULT_ECG_CONVENTION",
    "ECG_CONVENTIONS",
    "answer_from_text",
    "check_convention",
    "iter_jsonl",
    "load_ecg",
    "load_image",
    "load_row_media",
    "read_jsonl",
    "record_tensor",
    "reference_answer",
    "resolve_path",
]

#: ECG input conventions a model folder can record (``ecg_input_convention``).
ECG_CONVENTIONS = ("reference", "standard")
#: The convention of a folder that records none: the published ECG-R1 checkpoint's.
DEFAULT_ECG_CONVENTION = "reference"

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_SOLUTION_ANSWER_RE = re.compile(r"<\|answer\|>(.*?)<\|[/\\]answer\|>", re.DOTALL)


def check_convention(convention: str | None) -> str:
    """``convention`` validated (None -> :data:`DEFAULT_ECG_CONVENTION`).

    >>> check_convention(None), check_convention("standard")
    ('reference', 'standard')
    """
    if convention is None:
        return DEFAULT_ECG_CONVENTION
    if convention not in ECG_CONVENTIONS:
        raise InvalidInputError(
            f"unknown ECG input convention {convention!r}; use one of {list(ECG_CONVENTIONS)}"
        )
    return convention


def iter_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the rows of a JSONL file (blank lines skipped; bad lines raise with line no.)."""
    from ecgr1.evaluate.rows import iter_rows

    if not Path(path).exists():
        raise MissingFileError("no such JSONL file", str(path))
    for _, row in iter_rows(path):
        yield row


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a JSONL file."""
    return list(iter_jsonl(path))


def resolve_path(path: str | Path, root: str | Path | None) -> Path:
    """``path`` itself when absolute or without root, else ``root / path``."""
    p = Path(path)
    if p.is_absolute() or root is None:
        return p
    return Path(root) / p


def _crop_or_pad(x: np.ndarray, seq_length: int) -> np.ndarray:
    """First ``seq_length`` samples of each row, zero-padded at the end when shorter."""
    out = np.zeros((x.shape[0], seq_length), np.float32)
    n = min(seq_length, x.shape[1])
    out[:, :n] = x[:, :n]
    return out


def _reference_tensor(record: Any, seq_length: int, leads: int) -> np.ndarray:
    if record.n_leads != leads:
        raise InvalidInputError(
            f"the reference ECG input convention takes exactly {leads} leads in file order "
            f"(the ECG-R1 tower has {leads} input channels); this record has "
            f"{record.n_leads} ({', '.join(record.leads)}). Use a model folder with "
            "ecg_input_convention 'standard' (ecgr1 infer --ecg-input standard) to map other "
            "lead sets to the standard 12",
            record.source_path,
        )
    x = np.nan_to_num(np.asarray(record.signal, np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    return _crop_or_pad(x, seq_length)


def record_tensor(
    record: Any,
    convention: str | None = DEFAULT_ECG_CONVENTION,
    seq_length: int = 5000,
    leads: int = 12,
) -> np.ndarray:
    """An :class:`ecgr1.io.ECGRecord` as the model tensor ``(leads, seq_length)`` float32 mV.

    ``convention`` is ``"reference"`` (rows in the record's order, no resampling, crop/pad;
    other than ``leads`` leads refused) or ``"standard"`` (module docstring). A record read with
    ``read_record``'s defaults may already have interpolated NaN runs and derived limb leads;
    :func:`load_ecg` reads files the way each convention needs.

    Example
    -------
    >>> from ecgr1.io import ECGRecord
    >>> rec = ECGRecord(np.arange(24, dtype=np.float32).reshape(12, 2), 400.0,
    ...                 ["I", "II", "III", "aVR", "aVF", "aVL"] + [f"V{i}" for i in range(1, 7)])
    >>> record_tensor(rec, "reference", seq_length=3)[4:6].tolist()  # aVF stays before aVL
    [[8.0, 9.0, 0.0], [10.0, 11.0, 0.0]]
    """
    if check_convention(convention) == "reference":
        return _reference_tensor(record, seq_length, leads)
    from ecgr1.io import to_model_tensor

    x = to_model_tensor(record)
    if seq_length != x.shape[1]:
        x = _crop_or_pad(x, seq_length)
    return np.ascontiguousarray(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float32)


def load_ecg(
    path: str | Path,
    seq_length: int = 5000,
    root: str | Path | None = None,
    *,
    convention: str | None = DEFAULT_ECG_CONVENTION,
) -> np.ndarray:
    """Read an ECG record as the model tensor ``(12, seq_length)`` float32 mV.

    ``path`` is a record path with or without extension (anything ``ecgr1.io.read_record``
    reads), relative to ``root`` when given. ``convention``: ``"reference"`` (default; the
    published ECG-R1 input: file order, raw samples, crop/pad, non-finite -> 0, no derived
    leads) or ``"standard"`` (standard order, 500 Hz); see the module docstring.

    Example
    -------
    >>> from ecgr1.paths import shared_data_dir
    >>> rec = shared_data_dir() / "ludb" / "1"
    >>> load_ecg(rec).shape if rec.with_suffix(".hea").exists() else (12, 5000)
    (12, 5000)
    """
    from ecgr1.io import read_record

    p = resolve_path(path, root)
    if check_convention(convention) == "reference":
        # as wfdb.rdsamp gives them: no interpolation of NaN runs, no derived leads
        record = read_record(p, nan_policy="zero", derive_leads=False)
    else:
        record = read_record(p)
    return record_tensor(record, convention, seq_length)


def load_image(path: str | Path, root: str | Path | None = None) -> Any:
    """Open an image as RGB PIL image."""
    from PIL import Image

    p = resolve_path(path, root)
    if not p.exists():
        raise MissingFileError("no such image", str(p))
    with Image.open(p) as img:
        return img.convert("RGB")


def load_row_media(
    row: dict[str, Any],
    *,
    ecg_root: str | Path | None = None,
    image_root: str | Path | None = None,
    seq_length: int = 5000,
    convention: str | None = DEFAULT_ECG_CONVENTION,
) -> tuple[list[Any], list[Any]]:
    """(ECGs, images) of a row: paths are resolved and loaded, loaded objects pass through.

    ``convention``: the model folder's ECG input convention (``processor.ecg_convention``);
    see :func:`load_ecg`."""
    ecgs = [
        load_ecg(e, seq_length=seq_length, root=ecg_root, convention=convention)
        if isinstance(e, (str, Path))
        else e
        for e in ((row.get("objects") or {}).get("ecg") or [])
    ]
    images = [
        load_image(i, root=image_root) if isinstance(i, (str, Path)) else i
        for i in (row.get("images") or [])
    ]
    return ecgs, images


def answer_from_text(text: str | None) -> str | None:
    """Content of the first ``<answer>...</answer>`` block, stripped (None if absent)."""
    if not text:
        return None
    m = _ANSWER_RE.search(text)
    return m.group(1).strip() if m else None


def reference_answer(row: dict[str, Any]) -> str | None:
    """Reference labels of a row: the assistant turn's ``<answer>``, else the RL solution's
    ``<|answer|>`` block, else None."""
    for m in reversed(row.get("messages") or []):
        if m.get("role") == "assistant":
            ans = answer_from_text(m.get("content") if isinstance(m.get("content"), str) else None)
            if ans is not None:
                return ans
            break
    sol = row.get("solution")
    if isinstance(sol, str):
        m = _SOLUTION_ANSWER_RE.search(sol)
        if m:
            return m.group(1).strip()
    return None
