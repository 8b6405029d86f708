"""Interchange JSONL rows (interchange.md section 1) and the media they point to.

ECGs become the section-3 tensor (12 x 5000 float32 mV, standard lead order, 500 Hz, first
10 s, zero-padded, NaN -> 0) through :func:`ecgr1.io.read_record` and
:func:`ecgr1.io.to_model_tensor`; images are opened with PIL as RGB.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError, MissingFileError

__all__ = [
    "answer_from_text",
    "iter_jsonl",
    "load_ecg",
    "load_image",
    "load_row_media",
    "read_jsonl",
    "reference_answer",
    "resolve_path",
]

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_SOLUTION_ANSWER_RE = re.compile(r"<\|answer\|>(.*?)<\|[/\\]answer\|>", re.DOTALL)


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


def _fallback_tensor(record: Any, seq_length: int) -> np.ndarray:
    # Used only if ecgr1.io.to_model_tensor is unavailable: reorder, pad/crop, NaN -> 0.
    from ecgr1.io.leads import STANDARD_LEADS

    if abs(record.fs - 500.0) > 1e-6:
        raise InvalidInputError(f"record at {record.fs} Hz needs resampling (ecgr1.io missing)")
    out = np.zeros((len(STANDARD_LEADS), seq_length), np.float32)
    for i, name in enumerate(STANDARD_LEADS):
        if record.has_lead(name):
            sig = record.lead(name)[:seq_length]
            out[i, : sig.shape[0]] = sig
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def load_ecg(
    path: str | Path, seq_length: int = 5000, root: str | Path | None = None
) -> np.ndarray:
    """Read an ECG record as the model tensor ``(12, seq_length)`` float32 mV.

    ``path`` is a record path with or without extension (anything ``ecgr1.io.read_record``
    reads). Only the standard 10 s / 500 Hz layout (seq_length 5000) goes through
    ``to_model_tensor``; other lengths crop/pad the 500 Hz tensor.

    Example
    -------
    >>> from ecgr1.paths import shared_data_dir
    >>> rec = shared_data_dir() / "ludb" / "1"
    >>> load_ecg(rec).shape if rec.with_suffix(".hea").exists() else (12, 5000)
    (12, 5000)
    """
    from ecgr1.io import read_record

    p = resolve_path(path, root)
    record = read_record(p)
    try:
        from ecgr1.io import to_model_tensor
    except ImportError:  # pragma: no cover - io under construction
        x = _fallback_tensor(record, 5000)
    else:
        x = to_model_tensor(record)
    if seq_length != x.shape[1]:
        y = np.zeros((x.shape[0], seq_length), np.float32)
        n = min(seq_length, x.shape[1])
        y[:, :n] = x[:, :n]
        x = y
    return np.ascontiguousarray(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), dtype=np.float32)


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
) -> tuple[list[Any], list[Any]]:
    """(ECGs, images) of a row: paths are resolved and loaded, loaded objects pass through."""
    ecgs = [
        load_ecg(e, seq_length=seq_length, root=ecg_root) if isinstance(e, (str, Path)) else e
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
