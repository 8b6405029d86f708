"""The terminal and HTML views of a verification result: every claim marked by its verdict,
the problem claims explained, the summary shown, and hostile text never passed through."""

from __future__ import annotations

import doctest
import re
from html.parser import HTMLParser

import pytest

from ecgr1.verify import view
from ecgr1.verify.claims import Claim, ClaimVerdict
from ecgr1.verify.result import VerificationResult
from ecgr1.verify.view import batch_html, batch_summary, format_measured, to_html, to_text

HOSTILE = '<script>alert("x")</script>\x1b[2J\u202e'


def _claim(text: str, source: str, kind: str, category: str, concept: str, **kw) -> Claim:
    start = source.index(text)
    return Claim(text, start, start + len(text), kind, category, concept, **kw)


@pytest.fixture
def result() -> VerificationResult:
    """Sinus rhythm (supported) at 72 bpm (supported, nested in a vague rhythm claim), QRS
    160 ms (contradicted), ST elevation in V1-V3 (not checkable), around hostile text."""
    text = f"Sinus rhythm at 72 bpm. {HOSTILE} QRS duration 160 ms. Possible ST elevation in V1-V3."
    verdicts = [
        ClaimVerdict(
            _claim("Sinus rhythm", text, "categorical", "rhythm", "sinus_rhythm"),
            "supported",
            "the protocol's criteria are met",
            measured="criteria met",
        ),
        ClaimVerdict(
            _claim("Sinus rhythm at 72 bpm", text, "categorical", "rhythm", "regular_rhythm"),
            "not_checkable",
            "vague",
        ),
        ClaimVerdict(
            _claim("72 bpm", text, "numeric", "rate", "heart_rate_bpm", value=72.0, unit="bpm"),
            "supported",
            "within tolerance of the measurement",
            measured=71.9,
            tolerance=5.0,
            unit="bpm",
        ),
        ClaimVerdict(
            _claim(
                "QRS duration 160 ms",
                text,
                "numeric",
                "interval",
                "qrs_duration_ms",
                value=160.0,
                unit="ms",
            ),
            "contradicted",
            "differs from the measurement by more than the tolerance",
            measured=88.0,
            tolerance=12.0,
            unit="ms",
        ),
        ClaimVerdict(
            _claim(
                "ST elevation in V1-V3",
                text,
                "categorical",
                "ischemia",
                "st_elevation",
                leads=("V1", "V2", "V3"),
                hedged=True,
            ),
            "not_checkable",
            "within tolerance or not measured in enough of the named leads",
            measured={"V1": 0.051, "V2": 0.08, "V3": None},
        ),
    ]
    return VerificationResult("rec<1>", text, verdicts, notes=[f"note {HOSTILE}"], quality="good")


# --------------------------------------------------------------------------- terminal


def test_text_marks_every_claim(result) -> None:
    out = to_text(result)
    assert "[✗ QRS duration 160 ms]" in out
    assert "[?✓✓ Sinus rhythm at 72 bpm]" in out  # overlapping claims: one mark, each verdict
    assert "[? ST elevation in V1-V3]" in out
    assert out.index("QRS duration 160 ms") < out.index("Contradicted and not checkable claims")


def test_text_table_of_problems_and_summary(result) -> None:
    lines = to_text(result).splitlines()
    start = lines.index("Contradicted and not checkable claims")
    header, first, second, third = lines[start + 1 : start + 5]
    assert header.split() == ["claim", "category", "measured", "tolerance", "reason"]
    assert first.startswith("✗") and "88 ms" in first and "±12 ms" in first
    assert "differs from the measurement" in first
    assert second.startswith("?") and third.startswith("?")  # contradictions first
    assert "V1 0.051, V2 0.08, V3 -" in third  # a lead without a value shows "-"
    summary = next(line for line in lines if line.startswith("Summary: "))
    assert "5 claims, 3 checkable (2 supported, 1 contradicted), 2 not checkable" in summary
    assert "hallucination rate 33.3%" in summary
    interval = next(line for line in lines if line.startswith("interval"))
    assert interval.split() == ["interval", "1", "0", "1", "0", "100.0%"]
    assert lines[-1].split() == ["all", "5", "2", "1", "2", "33.3%"]


def test_text_escapes_control_characters(result) -> None:
    for color in (False, True):
        out = to_text(result, color=color)
        assert "\\x1b[2J" in out and "\\u202e" in out
        without_our_colours = re.sub(r"\x1b\[[0-9;]*m", "", out)
        assert "\x1b" not in without_our_colours and "\u202e" not in out


def test_colour_only_when_asked(result) -> None:
    assert "\x1b[" not in to_text(result).replace("\\x1b[", "")
    coloured = to_text(result, color=True)
    assert "\x1b[1;31m[✗ QRS duration 160 ms]\x1b[0m" in coloured
    assert "\x1b[33m[?✓✓ Sinus rhythm at 72 bpm]\x1b[0m" in coloured  # the worst verdict
    ok = ClaimVerdict(
        Claim("PR 160 ms", 0, 9, "numeric", "interval", "pr_interval_ms"), "supported"
    )
    assert "\x1b[32m[✓ PR 160 ms]\x1b[0m" in to_text(
        VerificationResult("r", "PR 160 ms", [ok]), color=True
    )


def test_text_of_an_empty_result() -> None:
    empty = VerificationResult(None, "", [], notes=["the text is empty"])
    out = to_text(empty)
    assert "(no record)" in out and "note: the text is empty" in out and "(empty text)" in out
    assert "0 claims, 0 checkable" in out and "hallucination rate -" in out


# --------------------------------------------------------------------------- HTML


class _Tags(HTMLParser):
    """Every start tag, and whether <mark> elements are balanced."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.depth = 0

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        self.tags.append((tag, dict(attrs)))
        if tag == "mark":
            self.depth += 1

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "mark":
            self.depth -= 1
            assert self.depth >= 0


def test_html_escapes_everything(result) -> None:
    page = to_html(result)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "rec&lt;1&gt;" in page  # the record id too
    assert "\x1b" not in page and "\u202e" not in page
    parser = _Tags()
    parser.feed(page)
    assert parser.depth == 0
    tags = {t for t, _ in parser.tags}
    assert not tags & {"script", "img", "link", "iframe", "object", "embed"}
    assert not any(
        v and ("http:" in v or "https:" in v or v.startswith("//"))
        for _, attrs in parser.tags
        for k, v in attrs.items()
        if k in ("src", "href")
    )
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_html_highlights_with_hover_details(result) -> None:
    parser = _Tags()
    parser.feed(to_html(result))
    marks = [a for t, a in parser.tags if t == "mark" and "title" in a and ":" in a["title"]]
    qrs = next(a for a in marks if "QRS duration 160 ms" in a["title"])
    assert qrs["class"] == "v-contradicted"
    assert "measured: 88 ms" in qrs["title"] and "tolerance: ±12 ms" in qrs["title"]
    assert "reason: differs from the measurement" in qrs["title"]
    # "72 bpm" lies under the vague rhythm claim too: the worse verdict colours it, both show.
    page = to_html(result)
    found = re.search(r'<mark class="(v-[a-z_]+)" title="([^"]*)">72 bpm</mark>', page)
    assert found is not None and found.group(1) == "v-not_checkable"
    assert "supported: 72 bpm" in found.group(2) and "measured: 71.9 bpm" in found.group(2)
    assert "not checkable: Sinus rhythm at 72 bpm" in found.group(2)


def test_html_legend_and_summary_table(result) -> None:
    page = to_html(result)
    for label in ("✓ supported", "✗ contradicted", "? not checkable"):
        assert label in page
    assert "<td>ischemia</td>" in page and "<td>all</td>" in page
    assert '<td class="n">33.3%</td>' in page
    assert "note &lt;script&gt;" in page


def test_batch_page_and_counts(result) -> None:
    other = VerificationResult(None, "no claims here", [], notes=["no ECG"])
    counts = batch_summary([result, other])
    assert counts["results"] == 2 and counts["summary"]["claims"] == 5
    assert counts["by_category"]["interval"]["contradicted"] == 1
    page = batch_html([result, other], ["Row 0: <b>", "Row 1"])
    assert page.count("<h2>") == 3  # all texts, then one per result
    assert "Row 0: &lt;b&gt;" in page and "<b>" not in page and "All texts (2)" in page


def test_claims_outside_the_text_do_not_break_the_views() -> None:
    bad = Claim("x", 50, 60, "numeric", "rate", "heart_rate_bpm", value=1.0)
    r = VerificationResult("r", "short", [ClaimVerdict(bad, "contradicted", measured=70)])
    assert "short" in to_text(r) and "short" in to_html(r)


def test_format_measured() -> None:
    assert format_measured(412.4, "ms") == "412 ms"
    assert format_measured(-30.0, "deg") == "-30 deg"
    assert format_measured(0.1234, "mV") == "0.123 mV"
    assert format_measured(True) == "yes"
    assert format_measured({f"V{i}": 0.1 for i in range(1, 9)}, "mV").endswith("+2 more mV")
    assert format_measured("criteria not met") == "criteria not met"


def test_view_doctests() -> None:
    outcome = doctest.testmod(view)
    assert outcome.attempted > 0 and outcome.failed == 0
