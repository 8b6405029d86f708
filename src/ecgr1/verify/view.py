"""How a :class:`~ecgr1.verify.result.VerificationResult` is shown: terminal text and HTML.

* :func:`to_text`: the text with every claim marked by its verdict (``[✓ …]`` supported,
  ``[✗ …]`` contradicted, ``[? …]`` not checkable; ANSI colours with ``color=True``), then a
  table of the contradicted and not-checkable claims (measured value, tolerance, reason), then
  the summary and the per-category counts.
* :func:`to_html`: one self-contained page (no script, no external resource; a
  Content-Security-Policy forbids both) with the claims highlighted by verdict, the measured
  value, tolerance and reason in each highlight's hover text, a legend and the per-category
  table. :func:`batch_html` puts many results on one page with the counts over all of them.

The text being verified is hostile input (a model's output, a pasted report): every piece of
it is HTML-escaped in the page, and control characters (escape sequences, bidirectional
overrides) are shown escaped on the terminal, never passed through.

>>> from ecgr1.verify.claims import Claim, ClaimVerdict
>>> text = "QRS 150 ms."
>>> c = Claim("QRS 150 ms", 0, 10, "numeric", "interval", "qrs_duration_ms", value=150.0, unit="ms")
>>> r = VerificationResult("rec", text, [ClaimVerdict(c, "contradicted", "exceeds tolerance", 88, 10, "ms")])
>>> print(to_text(r).splitlines()[1])
[✗ QRS 150 ms].
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ecgr1.verify.claims import ClaimVerdict
from ecgr1.verify.result import VerificationResult, summarise

__all__ = [
    "batch_html",
    "batch_summary",
    "format_measured",
    "terminal_safe",
    "to_html",
    "to_text",
    "verdict_counts",
]

SYMBOLS = {"supported": "✓", "contradicted": "✗", "not_checkable": "?"}
LABELS = {
    "supported": "supported",
    "contradicted": "contradicted",
    "not_checkable": "not checkable",
}
# Severity when claims overlap: the worst verdict colours the shared characters.
_RANK = {"supported": 0, "not_checkable": 1, "contradicted": 2}
_ANSI = {"supported": "\x1b[32m", "contradicted": "\x1b[1;31m", "not_checkable": "\x1b[33m"}
_ANSI_DIM, _ANSI_BOLD, _ANSI_RESET = "\x1b[2m", "\x1b[1m", "\x1b[0m"

# C0 controls except tab/newline, DEL, C1 controls, bidirectional marks, embeddings, overrides
# and isolates, and the Unicode line/paragraph separators.
UNSAFE_CHARS = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")


# --------------------------------------------------------------------------- shared helpers


def terminal_safe(text: str) -> str:
    """``text`` with characters that could drive a terminal shown as ``\\xNN`` escapes.

    >>> terminal_safe("QRS\\x1b[2J 120 ms")
    'QRS\\\\x1b[2J 120 ms'
    """
    text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_escape_char, text)


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def _one_line(text: str, width: int | None = None) -> str:
    """Whitespace collapsed; cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    if width is not None and len(text) > width:
        text = text[: max(1, width - 1)] + "…"
    return text


def _number(x: float) -> str:
    if isinstance(x, bool):
        return "yes" if x else "no"
    if not math.isfinite(x):
        return str(x)
    if float(x).is_integer() or abs(x) >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}"


def format_measured(value: Any, unit: str | None = None, limit: int = 6) -> str:
    """A measured value for people: ``88 ms``, ``V1 0.12, V2 0.31 mV``, a short text, ``-``.

    >>> format_measured(88.0, "ms"), format_measured({"V1": 0.123, "V2": 0.3}, "mV")
    ('88 ms', 'V1 0.123, V2 0.3 mV')
    >>> format_measured(None), format_measured("no P waves")
    ('-', 'no P waves')
    """
    suffix = f" {unit}" if unit else ""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return _number(value) + suffix
    if isinstance(value, dict):
        items = list(value.items())
        parts = [
            f"{k} {_number(v) if isinstance(v, (int, float)) else _one_line(str(v), 20)}"
            if v is not None
            else f"{k} -"
            for k, v in items[:limit]
        ]
        if len(items) > limit:
            parts.append(f"+{len(items) - limit} more")
        return ", ".join(parts) + (suffix if parts else "")
    if isinstance(value, (list, tuple)):
        shown = [_number(v) if isinstance(v, (int, float)) else str(v) for v in value[:limit]]
        return ", ".join(shown) + ("…" if len(value) > limit else "") + suffix
    return _one_line(str(value), 60)


def format_tolerance(verdict: ClaimVerdict) -> str:
    """``±10 ms`` or ``-``."""
    if verdict.tolerance is None:
        return "-"
    unit = f" {verdict.unit}" if verdict.unit else ""
    return f"±{_number(verdict.tolerance)}{unit}"


def _valid_span(v: ClaimVerdict, n: int) -> tuple[int, int] | None:
    """The claim's span clipped to the text, or None when it lies outside (never trusted)."""
    start, end = int(v.claim.start), int(v.claim.end)
    start, end = max(0, min(start, n)), max(0, min(end, n))
    return (start, end) if end > start else None


def _segments(text: str, verdicts: Sequence[ClaimVerdict]) -> list[tuple[str, list[int]]]:
    """``text`` cut at every claim boundary: ``(piece, indices of the claims covering it)``.

    Overlapping and nested claims are handled: each piece knows every claim over it."""
    spans = [(i, _valid_span(v, len(text))) for i, v in enumerate(verdicts)]
    spans = [(i, s) for i, s in spans if s is not None]
    cuts = sorted({0, len(text)} | {p for _, s in spans for p in s})
    out: list[tuple[str, list[int]]] = []
    for a, b in zip(cuts, cuts[1:]):
        covering = [i for i, (s, e) in spans if s <= a and b <= e]
        out.append((text[a:b], covering))
    return out


def _clusters(text: str, verdicts: Sequence[ClaimVerdict]) -> list[tuple[str, list[int]]]:
    """``text`` cut into plain pieces and maximal runs of overlapping claims."""
    spans = sorted(
        ((s, i) for i, v in enumerate(verdicts) if (s := _valid_span(v, len(text)))),
        key=lambda t: (t[0][0], -t[0][1]),
    )
    out: list[tuple[str, list[int]]] = []
    pos = 0
    k = 0
    while k < len(spans):
        (start, end), i = spans[k]
        members = [i]
        k += 1
        while k < len(spans) and spans[k][0][0] < end:
            end = max(end, spans[k][0][1])
            members.append(spans[k][1])
            k += 1
        if start > pos:
            out.append((text[pos:start], []))
        out.append((text[start:end], members))
        pos = end
    if pos < len(text):
        out.append((text[pos:], []))
    return out


def _worst(verdicts: Sequence[ClaimVerdict], members: Iterable[int]) -> str:
    return max((verdicts[i].verdict for i in members), key=_RANK.__getitem__)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def batch_summary(results: Iterable[VerificationResult]) -> dict[str, Any]:
    """Counts over many results (every claim counted once, so the hallucination rate is
    contradicted / checkable over all claims): ``results``, ``summary``, ``by_category``.

    >>> batch_summary([])["summary"]["claims"]
    0
    """
    results = list(results)
    out = verdict_counts(v for r in results for v in r.verdicts)
    return {"results": len(results), **out}


def verdict_counts(verdicts: Iterable[ClaimVerdict]) -> dict[str, Any]:
    """``summary`` and ``by_category`` (see :func:`~ecgr1.verify.result.summarise`) of any
    collection of verdicts, e.g. those of many texts."""
    verdicts = list(verdicts)
    groups: dict[str, list[ClaimVerdict]] = {}
    for v in verdicts:
        groups.setdefault(v.claim.category, []).append(v)
    return {
        "summary": summarise(verdicts),
        "by_category": {k: summarise(groups[k]) for k in sorted(groups)},
    }


def summary_line(summary: dict[str, Any]) -> str:
    """``12 claims, 9 checkable (7 supported, 2 contradicted), 3 not checkable; hallucination
    rate 22.2%``."""
    plural = "" if summary["claims"] == 1 else "s"
    return (
        f"{summary['claims']} claim{plural}, {summary['checkable']} checkable "
        f"({summary['supported']} supported, {summary['contradicted']} contradicted), "
        f"{summary['not_checkable']} not checkable; "
        f"hallucination rate {_rate(summary['hallucination_rate'])}"
    )


_CATEGORY_COLUMNS = ("claims", "supported", "contradicted", "not_checkable")


def category_table(by_category: dict[str, dict[str, Any]], total: dict[str, Any]) -> list[str]:
    """The per-category counts as aligned text lines (with a total row)."""
    head = ["category", "claims", "supported", "contradicted", "not checkable", "hallucination"]
    rows = [
        [name] + [str(s[c]) for c in _CATEGORY_COLUMNS] + [_rate(s["hallucination_rate"])]
        for name, s in by_category.items()
    ]
    rows.append(
        ["all"] + [str(total[c]) for c in _CATEGORY_COLUMNS] + [_rate(total["hallucination_rate"])]
    )
    return _align([head, *rows], right_from=1)


def _align(rows: list[list[str]], right_from: int = 99) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [
            cell.rjust(w) if k >= right_from else cell.ljust(w)
            for k, (cell, w) in enumerate(zip(r, widths))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


# --------------------------------------------------------------------------- terminal


def to_text(result: VerificationResult, *, color: bool = False) -> str:
    """The result for a terminal: header, the marked text, problem claims, summary.

    ``color`` adds ANSI colours (green supported, red contradicted, yellow not checkable); the
    ``✓ ✗ ?`` marks stay so the view also reads without colour.
    """
    verdicts = result.verdicts
    paint = (lambda code, s: f"{code}{s}{_ANSI_RESET}") if color else (lambda code, s: s)
    lines: list[str] = []
    record = terminal_safe(_one_line(str(result.id))) if result.id is not None else "(no record)"
    quality = f", quality {result.quality}" if result.quality else ""
    lines.append(paint(_ANSI_BOLD, f"Verification of the text against {record}{quality}"))
    for note in result.notes:
        lines.append(paint(_ANSI_DIM, f"note: {terminal_safe(_one_line(note))}"))
    # The marked text.
    pieces = []
    for piece, members in _clusters(result.text, verdicts):
        piece = terminal_safe(piece)
        if not members:
            pieces.append(piece)
            continue
        marks = "".join(SYMBOLS[verdicts[i].verdict] for i in members)
        pieces.append(paint(_ANSI[_worst(verdicts, members)], f"[{marks} {piece}]"))
    body = "".join(pieces).strip("\n")
    lines.append(body if body.strip() else paint(_ANSI_DIM, "(empty text)"))
    # The claims that are not supported.
    problems = [v for v in verdicts if v.verdict != "supported"]
    problems.sort(key=lambda v: (v.verdict != "contradicted", v.claim.start))
    if problems:
        lines.append("")
        lines.append(paint(_ANSI_BOLD, "Contradicted and not checkable claims"))
        rows = [["", "claim", "category", "measured", "tolerance", "reason"]]
        for v in problems:
            rows.append(
                [
                    SYMBOLS[v.verdict],
                    terminal_safe(_one_line(v.claim.text, 40)),
                    v.claim.category,
                    terminal_safe(format_measured(v.measured, v.unit)),
                    format_tolerance(v),
                    terminal_safe(_one_line(v.reason)) or "-",
                ]
            )
        table = _align(rows)
        lines.append(paint(_ANSI_DIM, table[0]))
        for v, line in zip(problems, table[1:]):
            lines.append(paint(_ANSI[v.verdict], line))
    # The summary.
    summary = result.summary()
    lines.append("")
    lines.append(paint(_ANSI_BOLD, "Summary: " + summary_line(summary)))
    if verdicts:
        lines.extend(category_table(result.by_category(), summary))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
 padding:0 1rem;color:#1d1d1f;line-height:1.45}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2.2rem;border-top:1px solid #ddd;
 padding-top:1rem}h3{font-size:1rem}
.text{white-space:pre-wrap;word-wrap:break-word;font-family:ui-monospace,Menlo,Consolas,monospace;
 font-size:.9rem;background:#fafafa;border:1px solid #e2e2e2;border-radius:6px;padding:1rem}
mark{border-radius:3px;padding:0 1px;cursor:help;color:inherit}
.v-supported{background:#d5f5dc;border-bottom:2px solid #1e8e3e}
.v-contradicted{background:#fdd8d8;border-bottom:2px solid #c5221f;font-weight:600}
.v-not_checkable{background:#fff1c2;border-bottom:2px dashed #b08800}
.legend span{display:inline-block;margin-right:1.2rem}
.legend mark{padding:0 .4rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td.n{text-align:right;font-variant-numeric:tabular-nums}
.notes{color:#555}.muted{color:#777}
"""

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"


def _e(value: Any) -> str:
    """HTML-escaped text of anything (quotes included: safe in attributes too; control
    characters and bidirectional overrides shown as escapes)."""
    return html.escape(terminal_safe(str(value)), quote=True)


def _hover(v: ClaimVerdict) -> str:
    """What a highlight's hover text says about one claim."""
    parts = [f"{LABELS[v.verdict]}: {_one_line(v.claim.text, 80)}"]
    parts.append(f"measured: {format_measured(v.measured, v.unit)}")
    if v.tolerance is not None:
        parts.append(f"tolerance: {format_tolerance(v)}")
    if v.reason:
        parts.append(f"reason: {_one_line(v.reason)}")
    parts.append(f"category: {v.claim.category} ({v.claim.concept})")
    return " | ".join(parts)


def _legend() -> str:
    items = "".join(
        f'<span><mark class="v-{k}">{SYMBOLS[k]} {LABELS[k]}</mark></span>' for k in SYMBOLS
    )
    return (
        f'<p class="legend">{items}<span class="muted">hover a highlight for the measured '
        "value, tolerance and reason</span></p>"
    )


def _summary_html(summary: dict[str, Any], by_category: dict[str, dict[str, Any]]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "category",
            "claims",
            "supported",
            "contradicted",
            "not checkable",
            "hallucination rate",
        )
    )
    rows = []
    for name, s in [*by_category.items(), ("all", summary)]:
        cells = "".join(f'<td class="n">{s[c]}</td>' for c in _CATEGORY_COLUMNS)
        rows.append(
            f"<tr><td>{_e(name)}</td>{cells}"
            f'<td class="n">{_rate(s["hallucination_rate"])}</td></tr>'
        )
    return (
        f"<p><strong>{_e(summary_line(summary))}</strong></p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _marked_text_html(result: VerificationResult) -> str:
    verdicts = result.verdicts
    out = []
    for piece, members in _segments(result.text, verdicts):
        if not members:
            out.append(_e(piece))
            continue
        title = "\n".join(_hover(verdicts[i]) for i in members)
        worst = _worst(verdicts, members)
        out.append(f'<mark class="v-{worst}" title="{_e(title)}">{_e(piece)}</mark>')
    body = "".join(out)
    if not result.text.strip():
        body = '<span class="muted">(empty text)</span>'
    return f'<div class="text">{body}</div>'


def _claims_table_html(result: VerificationResult) -> str:
    if not result.verdicts:
        return ""
    head = "".join(
        f"<th>{h}</th>"
        for h in ("", "claim", "category", "concept", "measured", "tolerance", "reason")
    )
    rows = []
    order = sorted(result.verdicts, key=lambda v: (-_RANK[v.verdict], v.claim.start))
    for v in order:
        rows.append(
            f'<tr><td><mark class="v-{v.verdict}" title="{LABELS[v.verdict]}">'
            f"{SYMBOLS[v.verdict]}</mark></td>"
            f"<td>{_e(_one_line(v.claim.text, 120))}</td><td>{_e(v.claim.category)}</td>"
            f"<td>{_e(v.claim.concept)}</td><td>{_e(format_measured(v.measured, v.unit))}</td>"
            f"<td>{_e(format_tolerance(v))}</td><td>{_e(v.reason or '-')}</td></tr>"
        )
    return (
        "<h3>Claims</h3>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _section_html(result: VerificationResult, heading: str | None = None) -> str:
    parts = []
    if heading is not None:
        parts.append(f"<h2>{_e(heading)}</h2>")
    record = "no record" if result.id is None else f"record {result.id}"
    quality = f", quality {result.quality}" if result.quality else ""
    parts.append(f'<p class="muted">{_e(record + quality)}</p>')
    if result.notes:
        notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
        parts.append(f'<ul class="notes">{notes}</ul>')
    parts.append(_marked_text_html(result))
    parts.append(_claims_table_html(result))
    parts.append("<h3>Summary</h3>")
    parts.append(_summary_html(result.summary(), result.by_category()))
    return "\n".join(p for p in parts if p)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style></head>\n<body>\n"
        f"<h1>{_e(title)}</h1>\n{_legend()}\n{body}\n"
        '<p class="muted">Made by ecgr1 verify: each claim of the text checked against the '
        "record's measured signal.</p>\n</body></html>\n"
    )


def to_html(result: VerificationResult) -> str:
    """One self-contained HTML page for one result (every input text escaped)."""
    title = "ECG text verification" + (f": {result.id}" if result.id is not None else "")
    return _page(title, _section_html(result))


def batch_html(results: Sequence[VerificationResult], headings: Sequence[str] | None = None) -> str:
    """One page for many results: the counts over all of them, then one section per result
    (``headings[i]`` names result ``i``; default ``Text i+1``)."""
    headings = list(headings) if headings is not None else []
    total = batch_summary(results)
    body = [
        f"<h2>All texts ({len(results)})</h2>",
        _summary_html(total["summary"], total["by_category"]),
    ]
    for i, r in enumerate(results):
        heading = headings[i] if i < len(headings) else f"Text {i + 1}"
        body.append(_section_html(r, heading))
    return _page("ECG text verification", "\n".join(body))
