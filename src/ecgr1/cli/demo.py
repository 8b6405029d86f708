"""``ecgr1 demo``: the whole pipeline on one ECG, offline, with a self-contained HTML report.

simulate (or read PATH) -> measure -> protocol statements -> six-step report -> render with
overlays -> ``report.html`` (image embedded as base64) + the text report on stdout.
Stages that are not installed are skipped with a note, so the demo always shows what exists.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from pathlib import Path
from typing import Any

from ecgr1.cli._batch import (
    BatchOutcome,
    add_command,
    add_debug_option,
    batch_exit_status,
    output_errors,
    reported_failures,
)

DEFAULT_OUT = Path("ecgr1-demo")
DESCRIPTION = """\
Simulate a 12-lead ECG (or read PATH), measure it, apply the clinical protocol, write the
six-step interpretation, render the ECG with fiducial marks and the leads behind each statement
highlighted, and write DIR/report.html (self-contained: the image is embedded, nothing is
loaded from the network), DIR/ecg.png (+ ecg.json sidecar), DIR/report.txt and
DIR/interpretation.json. Warnings raised while reading the record (amplitudes normalised,
uncalibrated leads, repaired samples, ...) are shown in the HTML report and kept in the JSON
files. The text report is printed on stdout. Works offline.

Examples:
  ecgr1 demo                                   # normal sinus rhythm -> ecgr1-demo/report.html
  ecgr1 demo --pattern inferior_stemi --out stemi/
  ecgr1 demo --pattern atrial_fibrillation --noise all --seed 2
  ecgr1 demo ../shared/data/cpsc2018/A0001.hea --out a0001/

Exit status (docs/cli.md): 0 report written; 1 the interpretation failed with an internal
error (reported on stderr; the ECG is still rendered); 2 bad input (unknown pattern, unreadable
record, unwritable DIR).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    from ecgr1.render.page import LAYOUT_NAMES

    p = add_command(
        subparsers,
        "demo",
        run,
        help="run the whole pipeline on a simulated (or given) ECG and write an HTML report",
        description=DESCRIPTION,
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="a record to use instead of simulating")
    p.add_argument("--pattern", default="normal", help="simulated pattern (ecgr1 simulate --list)")
    p.add_argument("--seed", type=int, default=0, help="simulation seed (0)")
    p.add_argument("--noise", default="", help="simulation noise: baseline,muscle,powerline|all")
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"output folder ({DEFAULT_OUT})",
    )
    p.add_argument(
        "--layout",
        default="auto",
        choices=LAYOUT_NAMES,
        help="render layout (auto: 3x4+II for 12 leads, one row per lead otherwise)",
    )
    p.add_argument("--dpi", type=float, default=120.0, help="image resolution (120)")
    add_debug_option(p)


def _load_stages() -> dict[str, Any]:
    """Import the optional stages; a missing one becomes a note instead of an error."""
    stages: dict[str, Any] = {"notes": []}
    try:
        from ecgr1.pipeline import interpret_record

        stages["interpret_record"] = interpret_record
    except ImportError as exc:
        stages["notes"].append(f"protocol/report stage not available ({exc}); measuring only")
        try:
            from ecgr1.measure.engine import measure

            stages["measure"] = measure
        except ImportError as exc2:
            stages["notes"].append(f"measurement stage not available ({exc2})")
    try:
        from ecgr1.report import build_report

        stages["build_report"] = build_report
    except ImportError:
        pass
    return stages


def highlighted_leads(interpretation: Any) -> list[str]:
    """Leads whose measurements justify a non-rhythm statement (met evidence only)."""
    leads: list[str] = []
    for st in getattr(interpretation, "statements", []) or []:
        if getattr(st, "category", "") in ("rhythm", "normal"):
            continue
        for ev in st.evidence:
            if ev.met and ev.leads:
                leads.extend(lead for lead in ev.leads if lead not in leads)
    return leads


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        value = f"{value:.0f}" if abs(value) >= 10 else f"{value:.2f}"
    return html.escape(f"{value} {unit}".strip())


def _evidence_text(ev: Any) -> str:
    """One evidence entry in words: ``ST deviation in II +0.19 mV (≥ 0.10 mV)``."""
    try:
        from ecgr1.report.format import fmt_threshold, fmt_value, join_leads, quantity_name
    except ImportError:  # report stage absent: plain text

        def quantity_name(q: str) -> str:
            return q.replace("_", " ")

        def fmt_value(v: Any, unit: str, quantity: str = "") -> str:
            return f"{v} {unit}".strip()

        def fmt_threshold(op: Any, thr: Any, unit: str) -> str:
            return f"{op} {thr} {unit}".strip() if thr is not None else ""

        def join_leads(leads: list[str]) -> str:
            return ", ".join(leads)

    leads = f" in {join_leads(ev.leads)}" if ev.leads else ""
    rule = fmt_threshold(ev.operator, ev.threshold, ev.unit) if ev.threshold is not None else ""
    text = f"{quantity_name(ev.quantity)}{leads} {fmt_value(ev.value, ev.unit, ev.quantity)}"
    return html.escape(text + (f" (criterion {rule})" if rule else ""))


GLOBAL_ROWS = (
    ("Heart rate", "heart_rate_bpm", "bpm", "hr_bpm"),
    ("PR interval", "pr_interval_ms", "ms", "pr_ms"),
    ("QRS duration", "qrs_duration_ms", "ms", "qrs_ms"),
    ("QT interval", "qt_interval_ms", "ms", "qt_ms"),
    ("QTc (Bazett)", "qtc_bazett_ms", "ms", None),
    ("QTc (Fridericia)", "qtc_fridericia_ms", "ms", None),
    ("P axis", "p_axis_deg", "deg", None),
    ("QRS axis", "qrs_axis_deg", "deg", "axis_deg"),
    ("T axis", "t_axis_deg", "deg", None),
    ("RR coefficient of variation", "rr_cv", "", "rr_cv"),
    ("Sokolow-Lyon", "sokolow_lyon_mv", "mV", None),
)
LEAD_COLUMNS = (
    ("P", "p_amplitude_mv"),
    ("Q", "q_amplitude_mv"),
    ("R", "r_amplitude_mv"),
    ("S", "s_amplitude_mv"),
    ("QRS ms", "qrs_duration_ms"),
    ("ST J+60", "st_j60_mv"),
    ("T", "t_amplitude_mv"),
)


def _truth_value(truth: dict[str, Any] | None, key: str | None) -> Any:
    if not truth or key is None:
        return None
    beats = [b for b in truth.get("beats", []) if b.get("complete")]
    if key == "hr_bpm":
        return truth["params"].get("ventricular_rate_bpm")
    if key in ("pr_ms", "qt_ms") and beats:
        vals = [b[key] for b in beats if b.get(key) is not None]
        return float(sorted(vals)[len(vals) // 2]) if vals else None
    return truth["params"].get(key)


def render_html(
    record: Any,
    png: bytes,
    *,
    result: Any | None = None,
    measurements: Any | None = None,
    report: Any | None = None,
    truth: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    warnings: list[str] | None = None,
) -> str:
    """The self-contained HTML report (no external files, scripts or fonts).

    The warnings raised while reading the record (and those of the measurements, the
    interpretation and ``warnings``) are shown in a box above the interpretation.
    """
    from ecgr1.render.api import record_warnings

    e = html.escape
    extra = [*(getattr(result, "warnings", None) or []), *(warnings or [])]
    flags = record_warnings(record, measurements, extra)
    img = base64.b64encode(png).decode("ascii")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>ecgr1 demo: {e(record.record_id)}</title>",
        "<style>body{font-family:system-ui,Helvetica,Arial,sans-serif;max-width:1180px;margin:2em auto;"
        "padding:0 1em;color:#222}img{max-width:100%;border:1px solid #ccc}table{border-collapse:"
        "collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;"
        "font-size:.92em}th{background:#f4f4f4}.step h3{margin:.8em 0 .2em}.muted{color:#777}"
        ".answer{font-size:1.15em;background:#fff6e6;padding:.5em .8em;border-left:4px solid #e67800}"
        ".warnings{background:#fdecea;padding:.3em .8em;border-left:4px solid #c62828}"
        ".warnings h2{font-size:1.1em;margin:.3em 0}"
        "</style></head><body>",
        f"<h1>ecgr1 demo &mdash; {e(record.record_id)}</h1>",
        f"<p class='muted'>{e(str(record.fs))} Hz, {record.duration_s:.1f} s, leads: "
        f"{e(', '.join(record.leads))}. Research software, not for clinical use.</p>",
    ]
    for note in notes or []:
        parts.append(f"<p class='muted'>Note: {e(note)}</p>")
    if flags["warnings"]:
        parts.append(
            "<div class='warnings' id='warnings' role='alert'><h2>Warnings about this input</h2>"
            "<p>Raised while reading and measuring the record; findings that depend on what "
            "they name are less certain.</p><ul>"
        )
        parts += [f"<li>{e(text)}</li>" for text in flags["warnings"]]
        parts.append("</ul></div>")
    if truth:
        p = truth["params"]
        parts.append(
            f"<p>Simulated pattern <b>{e(p['pattern'])}</b>: {e(p['description'])} "
            f"(seed {e(str(p['seed']))}; expected statements: {e('; '.join(p['labels']))}).</p>"
        )
    answer = getattr(result, "answer", None) or (report.labels if report is not None else None)
    if answer:
        parts.append(f"<p class='answer'><b>Interpretation:</b> {e('; '.join(answer))}</p>")
    parts.append(
        "<h2>ECG</h2><p class='muted'>25 mm/s, 10 mm/mV. Ticks: P (blue), QRS (red), T (green) "
        "onsets/offsets and peaks as measured; orange boxes: leads cited as evidence.</p>"
        f"<img alt='12-lead ECG' src='data:image/png;base64,{img}'>"
    )
    if report is not None:
        parts.append("<h2>Six-step interpretation</h2>")
        for i, step in enumerate(report.steps, start=1):
            parts.append(
                f"<div class='step'><h3>Step {i}: {e(step.title)}</h3><p>{e(step.paragraph)}</p></div>"
            )
        parts.append(f"<h3>Summary</h3><p>{e(report.narrative)}</p>")
    interp = getattr(result, "interpretation", None)
    if interp is not None:
        parts.append("<h2>Statements and their evidence</h2><table><tr><th>Statement</th>"
                     "<th>Certainty</th><th>SNOMED CT</th><th>Evidence</th></tr>")  # fmt: skip
        for st in interp.statements:
            ev = (
                "<br>".join(_evidence_text(x) for x in st.evidence if x.met is not False)
                or "&ndash;"
            )
            parts.append(
                f"<tr><td>{e(st.label)}</td><td>{e(st.certainty)}</td><td>{e(st.code or '')}</td>"
                f"<td>{ev}</td></tr>"
            )
        parts.append("</table>")
        if interp.excluded:
            parts.append("<h3>Checked and excluded</h3><ul>")
            for ex in interp.excluded[:25]:
                ev = "; ".join(_evidence_text(x) for x in ex.evidence)
                parts.append(f"<li>{e(', '.join(ex.labels))}: {ev}</li>")
            parts.append("</ul>")
    if measurements is not None:
        g = measurements.global_
        head = (
            "<tr><th>Measurement</th><th>Measured</th>"
            + ("<th>True (simulated)</th>" if truth else "")
            + "</tr>"
        )
        parts.append(f"<h2>Measurements</h2><table>{head}")
        for label, attr, unit, tkey in GLOBAL_ROWS:
            row = f"<tr><td>{e(label)}</td><td>{_fmt(getattr(g, attr, None), unit)}</td>"
            if truth:
                row += f"<td>{_fmt(_truth_value(truth, tkey), unit)}</td>"
            parts.append(row + "</tr>")
        parts.append("</table><h3>Per lead (representative beat, mV)</h3><table><tr><th>Lead</th>")
        parts.append("".join(f"<th>{e(c)}</th>" for c, _ in LEAD_COLUMNS) + "</tr>")
        for lead in record.leads:
            lm = measurements.leads.get(lead)
            if lm is None:
                continue
            cells = "".join(f"<td>{_fmt(getattr(lm, a, None))}</td>" for _, a in LEAD_COLUMNS)
            parts.append(f"<tr><td>{e(lead)}</td>{cells}</tr>")
        parts.append("</table>")
        q = measurements.quality
        parts.append(f"<p class='muted'>Signal quality: {e(q.overall)}"
                     + (f" ({e('; '.join(q.reasons))})" if q.reasons else "") + "</p>")  # fmt: skip
    parts.append("<p class='muted'>Generated by <code>ecgr1 demo</code>.</p></body></html>")
    return "\n".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit status."""
    from ecgr1.render import render_record

    out: Path = args.out
    stages = _load_stages()
    notes: list[str] = list(stages["notes"])
    truth = sim = None
    # Read or simulate first, so that a bad input leaves no empty output folder behind.
    if args.path:
        from ecgr1.io import read_record

        record = read_record(args.path)
    else:
        from ecgr1.simulate import simulate

        sim = simulate(args.pattern, seed=args.seed, noise=args.noise)
        record = sim.record
        truth = sim.truth()
    with output_errors():
        out.mkdir(parents=True, exist_ok=True)
        if sim is not None:
            from ecgr1.simulate.output import write_simulation

            write_simulation(sim, out / "record")

    result = measurements = report = None
    # An engine that fails on this record must not cost the user the picture: the failure is
    # reported like any other (a bug as an internal error, exit status 1) and the ECG rendered.
    outcome, source = BatchOutcome(1), args.path or record.record_id
    with reported_failures(outcome, source, command="ecgr1 demo", debug=args.debug):
        if "interpret_record" in stages:
            result = stages["interpret_record"](record)
            measurements = result.measurements
            if "build_report" in stages:
                report = stages["build_report"](result.interpretation)
        elif "measure" in stages:
            measurements = stages["measure"](record)
    failed = [f"interpretation failed: {problem}; rendered only" for problem in outcome.problems]

    highlight = highlighted_leads(getattr(result, "interpretation", None))
    rendering = render_record(
        record,
        layout=args.layout,
        dpi=args.dpi,
        header=True,
        measurements=measurements,
        fiducials=True,
        highlight_leads=highlight,
        warnings=getattr(result, "warnings", None) or (),
    )
    with output_errors():
        png_path, _ = rendering.save(out / "ecg.png")
    png = png_path.read_bytes()
    page = render_html(record, png, result=result, measurements=measurements, report=report,
                       truth=truth, notes=notes + failed)  # fmt: skip
    with output_errors():
        (out / "report.html").write_text(page, encoding="utf-8")
        if result is not None:
            (out / "interpretation.json").write_text(json.dumps(result.to_dict(), indent=1))
    if result is not None:
        text = result.report
    elif measurements is not None:
        g = measurements.global_
        text = (
            f"{record.record_id}: rate {g.heart_rate_bpm} bpm, PR {g.pr_interval_ms} ms, "
            f"QRS {g.qrs_duration_ms} ms, QT {g.qt_interval_ms} ms (protocol stage unavailable)"
        )
    elif failed:  # the error itself is on stderr: stdout carries findings only
        text = f"{record.record_id}: rendered only (interpretation failed)"
    else:
        why = notes[-1] if notes else "measurement stage unavailable"
        text = f"{record.record_id}: rendered only ({why})"
    with output_errors():
        (out / "report.txt").write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    for note in notes:
        print(f"ecgr1 demo: note: {note}", file=sys.stderr)
    print(f"ecgr1 demo: wrote {out / 'report.html'} and {png_path}", file=sys.stderr)
    return batch_exit_status(outcome)
