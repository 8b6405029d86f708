"""Writing an evaluation's results: one JSON with every number, a Markdown summary and the same
summary as a self-contained HTML page (no scripts, no external resources)."""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any


def _finite(value: Any) -> Any:
    """NaN/inf become None: JSON has no NaN, and a reader must not mistake one for a score."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def markdown_to_html(markdown: str, title: str) -> str:
    """A small, safe rendering of the summaries we write: headings, pipe tables, paragraphs.
    Every cell and line is escaped."""
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(set(c) <= set("-: ") for c in cells):
                    rows.append(cells)
                i += 1
            head, *rest = rows or [[]]
            body.append("<table><thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                        + "</tr></thead><tbody>")  # fmt: skip
            body += [
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rest
            ]
            body.append("</tbody></table>")
            continue
        level = len(line) - len(line.lstrip("#"))
        if 0 < level <= 6 and line[level : level + 1] == " ":
            body.append(f"<h{level}>{html.escape(line[level + 1 :])}</h{level}>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
        i += 1
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:.25em .6em;"
        "text-align:left}th{background:#eee}"
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_results(
    out_dir: str | Path, name: str, result: dict[str, Any], markdown: str
) -> dict[str, Path]:
    """``<out>/<name>.json`` (every number), ``<name>.md`` and ``<name>.html``; returns paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {ext: out / f"{name}.{ext}" for ext in ("json", "md", "html")}
    _atomic_text(
        paths["json"],
        json.dumps(_finite(result), indent=1, sort_keys=True, ensure_ascii=False) + "\n",
    )
    _atomic_text(paths["md"], markdown.rstrip() + "\n")
    _atomic_text(paths["html"], markdown_to_html(markdown, f"ecgr1 evaluate {name}"))
    return paths
