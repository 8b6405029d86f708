"""Page geometry: where every lead, label and calibration pulse goes, in millimetres.

Everything here is device-independent (mm on paper); the raster, SVG and PDF back ends only
convert millimetres to their own units. Time maps to x at ``speed_mm_per_s`` and voltage to y
at ``gain_mm_per_mv`` (y grows downwards, as on screen), so a 1 mV, 200 ms pulse is
``gain`` mm tall and ``0.2 * speed`` mm wide on paper at any resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError
from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
from ecgr1.io.record import ECGRecord

LAYOUTS: dict[str, dict[str, Any]] = {
    # cells: rows of leads, each row split into equal time columns; rhythm: full-length strips.
    "3x4+II": {
        "cells": [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]],
        "rhythm": ["II"],
        "row_pitch_mm": 40.0,
    },
    "3x4+3": {
        "cells": [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]],
        "rhythm": ["II", "V1", "V5"],
        "row_pitch_mm": 35.0,
    },
    "3x4": {
        "cells": [["I", "aVR", "V1", "V4"], ["II", "aVL", "V2", "V5"], ["III", "aVF", "V3", "V6"]],
        "rhythm": [],
        "row_pitch_mm": 40.0,
    },
    "6x2": {
        "cells": [
            ["I", "V1"],
            ["II", "V2"],
            ["III", "V3"],
            ["aVR", "V4"],
            ["aVL", "V5"],
            ["aVF", "V6"],
        ],  # fmt: skip
        "rhythm": [],
        "row_pitch_mm": 30.0,
    },
    "12x1": {
        "cells": [[name] for name in STANDARD_LEADS],
        "rhythm": [],
        "row_pitch_mm": 20.0,
    },
}
DEFAULT_LAYOUT = "3x4+II"
# Layouts built from the record itself: "rows" puts every lead of the record on its own row
# (any lead names, any number); "auto" is 3x4+II for a full 12-lead record, "rows" otherwise.
DYNAMIC_LAYOUTS: tuple[str, ...] = ("auto", "rows")
LAYOUT_NAMES: tuple[str, ...] = (*LAYOUTS, *DYNAMIC_LAYOUTS)


def resolve_layout(record: ECGRecord, layout: str) -> tuple[str, dict[str, Any]]:
    """The layout name actually used and its spec (cells, rhythm strips, row pitch)."""
    if layout == "auto":
        complete = all(record.has_lead(name) for name in STANDARD_LEADS)
        layout = DEFAULT_LAYOUT if complete else "rows"
    if layout == "rows":
        pitch = 20.0 if record.n_leads > 6 else 30.0
        return layout, {
            "cells": [[name] for name in record.leads],
            "rhythm": [],
            "row_pitch_mm": pitch,
        }
    if layout not in LAYOUTS:
        raise InvalidInputError(
            f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_NAMES)}"
        )
    return layout, LAYOUTS[layout]


@dataclass(frozen=True)
class PaperStyle:
    """Scale, paper and ink. Colours are RGB tuples; widths are millimetres."""

    speed_mm_per_s: float = 25.0
    gain_mm_per_mv: float = 10.0
    paper: tuple[int, int, int] = (255, 255, 255)
    grid_minor: tuple[int, int, int] = (252, 205, 205)
    grid_major: tuple[int, int, int] = (240, 140, 140)
    ink: tuple[int, int, int] = (0, 0, 0)
    text: tuple[int, int, int] = (0, 0, 0)
    trace_width_mm: float = 0.3
    minor_width_mm: float = 0.1
    major_width_mm: float = 0.2
    label_size_mm: float = 3.5
    header_size_mm: float = 3.5
    highlight: tuple[int, int, int] = (230, 120, 0)
    margin_mm: float = 5.0
    max_seconds: float = 10.0


# Fiducial overlay colours: P blue, QRS red, T green.
FIDUCIAL_COLOURS: dict[str, tuple[int, int, int]] = {
    "p": (30, 90, 220),
    "qrs": (210, 30, 30),
    "t": (20, 150, 60),
}


@dataclass
class Panel:
    """One lead drawn over a time window. ``bbox_mm`` is the cell band (traces may overflow it)."""

    lead: str
    row: int
    col: int
    t_start_s: float
    t_end_s: float
    x_mm: float  # x of t_start_s
    baseline_mm: float  # y of 0 mV
    bbox_mm: tuple[float, float, float, float]
    rhythm_strip: bool = False
    present: bool = True


@dataclass
class Polyline:
    """Points in mm (n, 2), colour and width (mm)."""

    points: np.ndarray
    colour: tuple[int, int, int]
    width_mm: float


@dataclass
class Text:
    """A text string anchored at its top-left corner (mm)."""

    x_mm: float
    y_mm: float
    text: str
    size_mm: float
    colour: tuple[int, int, int]
    bold: bool = False


@dataclass
class Rect:
    """An outlined rectangle (mm)."""

    x0: float
    y0: float
    x1: float
    y1: float
    colour: tuple[int, int, int]
    width_mm: float


@dataclass
class Page:
    """A laid-out ECG page, ready for any back end."""

    width_mm: float
    height_mm: float
    style: PaperStyle
    layout: str
    panels: list[Panel] = field(default_factory=list)
    traces: list[Polyline] = field(default_factory=list)  # ECG ink, drawn first
    marks: list[Polyline] = field(default_factory=list)  # calibration, separators, overlays
    texts: list[Text] = field(default_factory=list)
    rects: list[Rect] = field(default_factory=list)
    record_id: str = ""
    fs: float = 0.0

    def sidecar(self, px_per_mm: float) -> dict[str, Any]:
        """Panel geometry and the (time, mV) -> pixel mapping at ``px_per_mm``.

        Pixel coordinates have pixel centres at integers (x right, y down).
        """
        s = px_per_mm
        leads = []
        for p in self.panels:
            leads.append(
                {
                    "lead": p.lead,
                    "row": p.row,
                    "col": p.col,
                    "rhythm_strip": p.rhythm_strip,
                    "present": p.present,
                    "t_start_s": round(p.t_start_s, 6),
                    "t_end_s": round(p.t_end_s, 6),
                    "x_at_t_start_px": round(p.x_mm * s, 4),
                    "baseline_y_px": round(p.baseline_mm * s, 4),
                    "px_per_s": round(self.style.speed_mm_per_s * s, 6),
                    "px_per_mv": round(self.style.gain_mm_per_mv * s, 6),
                    "bbox_px": [round(v * s, 2) for v in p.bbox_mm],
                }
            )
        return {
            "layout": self.layout,
            "record_id": self.record_id,
            "fs": self.fs,
            "speed_mm_per_s": self.style.speed_mm_per_s,
            "gain_mm_per_mv": self.style.gain_mm_per_mv,
            "px_per_mm": s,
            "width_px": int(round(self.width_mm * s)),
            "height_px": int(round(self.height_mm * s)),
            "mapping": (
                "x_px = x_at_t_start_px + (t_s - t_start_s) * px_per_s; "
                "y_px = baseline_y_px - value_mv * px_per_mv (pixel centres at integers); "
                "augmented images: apply 'augmentation.homography' to (x_px, y_px, 1)"
            ),
            "leads": leads,
        }


def header_lines(
    record: ECGRecord, measurements: Any | None = None, window: tuple[float, float] | None = None
) -> list[str]:
    """The text of the optional header: id, age/sex, and the main measurements if known."""
    meta = record.metadata
    first = f"ID: {record.record_id}"
    if meta.get("age") is not None or meta.get("sex"):
        age = meta.get("age")
        first += f"   Age: {age if age is not None else '?'}   Sex: {meta.get('sex') or '?'}"
    first += f"   {record.fs:g} Hz, {record.duration_s:.1f} s"
    if window is not None and (window[0] > 0 or window[1] < record.duration_s - 1e-9):
        first += f"   shown: {window[0]:.1f}-{window[1]:.1f} s"
    lines = [first]
    g = getattr(measurements, "global_", None)
    if g is not None:

        def f(v: float | None) -> str:
            return "-" if v is None else f"{v:.0f}"

        lines.append(
            f"Rate {f(g.heart_rate_bpm)}/min   PR {f(g.pr_interval_ms)} ms   QRS "
            f"{f(g.qrs_duration_ms)} ms   QT/QTc {f(g.qt_interval_ms)}/{f(g.qtc_bazett_ms)} ms   "
            f"Axes P/QRS/T {f(g.p_axis_deg)}/{f(g.qrs_axis_deg)}/{f(g.t_axis_deg)}"
        )
    return lines


def build_page(
    record: ECGRecord,
    layout: str = DEFAULT_LAYOUT,
    *,
    style: PaperStyle | None = None,
    header: bool | list[str] = False,
    measurements: Any | None = None,
    fiducials: bool = False,
    highlight_leads: list[str] | tuple[str, ...] = (),
    start_s: float = 0.0,
) -> Page:
    """Lay out a record on paper.

    Parameters
    ----------
    record : the ECG (millivolts).
    layout : one of :data:`LAYOUTS`, or ``rows`` (each lead of the record on its own row) or
        ``auto`` (3x4+II for a 12-lead record, ``rows`` otherwise).
    style : scale and colours (25 mm/s, 10 mm/mV by default).
    header : True for the standard header (from the record and ``measurements``), or the
        lines to print.
    measurements : a :class:`~ecgr1.measure.result.MeasurementResult`; with ``fiducials``
        its ``lead_fiducials`` are drawn as ticks (P blue, QRS red, T green).
    highlight_leads : leads to outline (e.g. the leads a protocol statement cites).
    start_s : first second shown (the page shows up to ``style.max_seconds`` from there).
    """
    layout, spec = resolve_layout(record, layout)
    st = style or PaperStyle()
    if not 0.0 <= start_s < record.duration_s:
        raise InvalidInputError(
            f"start {start_s} s is outside the record (0 to {record.duration_s:g} s)"
        )
    cells: list[list[str]] = spec["cells"]
    rhythm: list[str] = spec["rhythm"]
    n_cols = len(cells[0])
    pitch = spec["row_pitch_mm"] * max(st.gain_mm_per_mv / 10.0, 0.5)
    pitch = 5.0 * math.ceil(pitch / 5.0)
    total_s = min(record.duration_s - start_s, st.max_seconds)
    col_s = total_s / n_cols
    cal_w = 0.2 * st.speed_mm_per_s
    x0 = 5.0 * math.ceil((st.margin_mm + cal_w + 3.0) / 5.0)
    origin = x0 - start_s * st.speed_mm_per_s  # x of record time 0
    lines = (
        header
        if isinstance(header, list)
        else (header_lines(record, measurements, (start_s, start_s + total_s)) if header else [])
    )
    top = 5.0 * math.ceil(
        (st.margin_mm + (len(lines) * st.header_size_mm * 1.5 if lines else 0)) / 5.0
    )
    n_rows = len(cells) + len(rhythm)
    width = x0 + total_s * st.speed_mm_per_s + st.margin_mm
    width = 5.0 * math.ceil(width / 5.0)
    height = top + n_rows * pitch + st.margin_mm
    height = 5.0 * math.ceil(height / 5.0)
    page = Page(width, height, st, layout, record_id=record.record_id, fs=record.fs)
    for i, line in enumerate(lines):
        page.texts.append(Text(st.margin_mm, st.margin_mm + i * st.header_size_mm * 1.5, line,
                               st.header_size_mm, st.text, bold=(i == 0)))  # fmt: skip

    highlight = {canonical_lead_name(str(name)) for name in highlight_leads}
    fid = getattr(measurements, "lead_fiducials", None) if fiducials else None
    # Baseline 5/9 down the row band, on a major grid line.
    for r in range(n_rows):
        band_top = top + r * pitch
        baseline = band_top + 5.0 * round(pitch * 0.55 / 5.0)
        is_rhythm = r >= len(cells)
        row_leads = [rhythm[r - len(cells)]] if is_rhythm else cells[r]
        _calibration(page, x0 - cal_w - 2.0, baseline)
        for c, lead in enumerate(row_leads):
            t0 = start_s + (0.0 if is_rhythm else c * col_s)
            t1 = start_s + (total_s if is_rhythm else (c + 1) * col_s)
            x = origin + t0 * st.speed_mm_per_s
            x_end = origin + t1 * st.speed_mm_per_s
            present = record.has_lead(lead)
            panel = Panel(lead, r, 0 if is_rhythm else c, t0, t1, x, baseline,
                          (x, band_top, x_end, band_top + pitch), is_rhythm, present)  # fmt: skip
            page.panels.append(panel)
            colour = st.highlight if lead in highlight else st.text
            page.texts.append(Text(x + 1.0, baseline - pitch * 0.5 + 0.5,
                                   lead if present else f"{lead} (absent)",
                                   st.label_size_mm, colour, bold=lead in highlight))  # fmt: skip
            if lead in highlight:
                page.rects.append(Rect(x + 0.3, band_top + 0.3, x_end - 0.3,
                                       band_top + pitch - 0.3, st.highlight, 0.5))  # fmt: skip
            if c > 0 and not is_rhythm:  # lead-change marker between columns
                page.marks.append(Polyline(np.array([[x, baseline - 2.5], [x, baseline + 2.5]]),
                                           st.ink, st.trace_width_mm))  # fmt: skip
            if not present:
                continue
            sig = record.lead(lead)
            i0 = int(math.floor(t0 * record.fs))
            i1 = min(int(math.ceil(t1 * record.fs)) + (1 if is_rhythm or c == n_cols - 1 else 0),
                     record.n_samples)  # fmt: skip
            i1 = min(max(i1, i0 + 1), record.n_samples)
            t = np.arange(i0, i1) / record.fs
            xs = origin + t * st.speed_mm_per_s
            ys = baseline - np.nan_to_num(sig[i0:i1].astype(np.float64)) * st.gain_mm_per_mv
            page.traces.append(Polyline(np.column_stack([xs, ys]), st.ink, st.trace_width_mm))
            if fid and lead in fid:
                _fiducial_marks(page, fid[lead], record.fs, t0, t1, origin, baseline, sig)
    return page


def _calibration(page: Page, x: float, baseline: float) -> None:
    """The 1 mV, 200 ms reference pulse at the start of each row."""
    st = page.style
    h = st.gain_mm_per_mv
    w = 0.2 * st.speed_mm_per_s
    pts = np.array(
        [[x - 1.0, baseline], [x, baseline], [x, baseline - h], [x + w, baseline - h],
         [x + w, baseline], [x + w + 1.0, baseline]]
    )  # fmt: skip
    page.marks.append(Polyline(pts, st.ink, st.trace_width_mm))


def _fiducial_marks(page: Page, fid: dict[str, list[int | None]], fs: float, t0: float, t1: float,
                    x0: float, baseline: float, sig: np.ndarray) -> None:  # fmt: skip
    st = page.style
    for key, values in fid.items():
        wave, _, kind = key.partition("_")
        colour = FIDUCIAL_COLOURS.get(wave)
        if colour is None or not values:
            continue
        for sample in values:
            if sample is None:
                continue
            t = sample / fs
            if not (t0 <= t < t1) or not (0 <= sample < sig.size):
                continue
            x = x0 + t * st.speed_mm_per_s
            y = baseline - float(np.nan_to_num(sig[int(sample)])) * st.gain_mm_per_mv
            if kind == "peak":
                pts = np.array(
                    [[x - 0.8, y - 2.6], [x, y - 1.2], [x + 0.8, y - 2.6], [x - 0.8, y - 2.6]]
                )
            else:
                pts = np.array([[x, y - 2.5], [x, y + 2.5]])
            page.marks.append(Polyline(pts, colour, 0.25))
