"""Reading prediction and reference rows, pairing them by id, and taking a text apart.

Every evaluation pairs rows **by id**, never by line order (the reference scripts pair by line
index, so one dropped row shifts every later pair). A prediction row (spec §4) holds the model's
text in ``response``, else in its last assistant turn; a reference row holds the truth in its
assistant turn, its ``labels`` or its RL ``solution``.

>>> pairs = pair_by_id([{"id": "a", "response": "x"}], [{"id": "a"}, {"id": "b"}])
>>> [p.id for p in pairs.pairs], pairs.missing_pred, pairs.missing_ref
(['a'], ['b'], [])
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecgr1.errors import InvalidInputError
from ecgr1.report.solution import split_labels

_ANSWER_RE = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_THINK_RE = re.compile(r"<think>(.*?)</think>", re.DOTALL | re.IGNORECASE)
_SOLUTION_ANSWER_RE = re.compile(r"<\|answer\|>(.*?)<\|/?\\?answer\|>", re.DOTALL)
#: Rows longer than this are refused (a hostile or corrupt file must not exhaust memory).
MAX_ROW_CHARS = 2_000_000


def iter_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a JSONL file; a bad line is an :class:`InvalidInputError` naming
    the file and line (evaluation refuses a corrupt file rather than scoring part of it)."""
    p = Path(path)
    with p.open(encoding="utf-8") as fh:
        for no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_ROW_CHARS:
                raise InvalidInputError(f"line {no}: row over {MAX_ROW_CHARS} characters", str(p))
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"line {no}: not JSON ({exc.msg})", str(p)) from None
            if not isinstance(row, dict):
                raise InvalidInputError(f"line {no}: a row must be a JSON object", str(p))
            yield no, row


def read_rows(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of a JSONL file (the first ``limit``)."""
    out = []
    for _, row in iter_rows(path):
        if limit is not None and len(out) >= limit:
            break
        out.append(row)
    return out


def row_id(row: dict[str, Any]) -> str | None:
    """The row's id as a string (ids may be numbers in published files)."""
    value = row.get("id")
    return None if value is None else str(value)


@dataclass
class Pair:
    """A prediction and its reference, with the id they share."""

    id: str
    pred: dict[str, Any]
    ref: dict[str, Any]


@dataclass
class Pairing:
    """Rows paired by id, and what could not be paired (reported, never silently dropped)."""

    pairs: list[Pair] = field(default_factory=list)
    missing_pred: list[str] = field(default_factory=list)  # reference ids with no prediction
    missing_ref: list[str] = field(default_factory=list)  # prediction ids with no reference
    duplicate_ids: list[str] = field(default_factory=list)  # ids seen twice in one file
    no_id: int = 0  # rows without an id (cannot be paired)

    def summary(self) -> dict[str, int]:
        """Counts for a report."""
        return {
            "pairs": len(self.pairs),
            "missing_pred": len(self.missing_pred),
            "missing_ref": len(self.missing_ref),
            "duplicate_ids": len(self.duplicate_ids),
            "no_id": self.no_id,
        }


def pair_by_id(preds: Iterable[dict[str, Any]], refs: Iterable[dict[str, Any]]) -> Pairing:
    """Pair rows by ``id`` in reference order. A duplicated id keeps its first row (and is
    listed); rows without an id are counted."""
    out = Pairing()

    def index(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for row in rows:
            rid = row_id(row)
            if rid is None:
                out.no_id += 1
            elif rid in seen:
                out.duplicate_ids.append(rid)
            else:
                seen[rid] = row
        return seen

    by_pred, by_ref = index(preds), index(refs)
    for rid, ref in by_ref.items():
        if rid in by_pred:
            out.pairs.append(Pair(rid, by_pred[rid], ref))
        else:
            out.missing_pred.append(rid)
    out.missing_ref = [rid for rid in by_pred if rid not in by_ref]
    return out


def _last_assistant(row: dict[str, Any]) -> str | None:
    for message in reversed(row.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


def response_text(row: dict[str, Any]) -> str:
    """A prediction row's generated text: ``response``, else its last assistant turn ("")."""
    value = row.get("response")
    if isinstance(value, str):
        return value
    return _last_assistant(row) or ""


def reference_text(row: dict[str, Any]) -> str:
    """A reference row's text: its last assistant turn ("")."""
    return _last_assistant(row) or ""


def answer_block(text: str) -> str | None:
    """The content of the last ``<answer>…</answer>`` block (the final answer), or None."""
    found = _ANSWER_RE.findall(text or "")
    return found[-1].strip() if found else None


def answer_labels(text: str) -> list[str] | None:
    """The labels of the answer block (split on ``;`` and newlines), or None without one."""
    block = answer_block(text)
    return None if block is None else split_labels(block)


def think_text(text: str) -> str:
    """The ``<think>`` block's content ("" when absent)."""
    m = _THINK_RE.search(text or "")
    return m.group(1).strip() if m else ""


def final_text(text: str) -> str:
    """What follows the reasoning: the narrative and the answer (the whole text when there is
    no ``<think>`` block)."""
    text = text or ""
    end = text.lower().rfind("</think>")
    return (text[end + len("</think>") :] if end >= 0 else text).strip()


def reference_labels(row: dict[str, Any]) -> list[str] | None:
    """A reference row's truth labels: ``labels``, else its assistant ``<answer>``, else its
    RL solution's answer; None when the row has none of them."""
    labels = row.get("labels")
    if isinstance(labels, list):
        return [str(x) for x in labels]
    found = answer_labels(reference_text(row))
    if found is not None:
        return found
    solution = row.get("solution")
    if isinstance(solution, str):
        m = _SOLUTION_ANSWER_RE.search(solution)
        if m:
            return split_labels(m.group(1))
    return None
