"""Renderer scale and layout: measured on the pixels of the PNG, not taken from the sidecar."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.io.record import ECGRecord
from ecgr1.render import LAYOUTS, render_record

FS = 500.0


def _png_pixels(rendering) -> np.ndarray:
    """Decode the PNG bytes (what a user gets), as an (h, w, 3) array."""
    return np.asarray(Image.open(io.BytesIO(rendering.to_bytes())).convert("RGB")).astype(int)


def _ink(img: np.ndarray) -> np.ndarray:
    """Black ink, told apart from the light-red grid by its colour."""
    return (img[..., 0] < 110) & (img[..., 1] < 110) & (img[..., 2] < 110)


def _square_wave_record(amplitude_mv: float = 1.0, width_s: float = 0.2) -> ECGRecord:
    t = np.arange(int(10 * FS)) / FS
    sig = np.zeros((12, t.size), np.float32)
    sig[1, (t >= 3.0) & (t < 3.0 + width_s)] = amplitude_mv  # lead II
    return ECGRecord(sig, FS, list(STANDARD_LEADS), record_id="square")


def _runs(indices: np.ndarray) -> list[np.ndarray]:
    """Split sorted indices into runs of consecutive values."""
    return np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1) if indices.size else []


def _pulse_extent(mask: np.ndarray) -> tuple[float, float]:
    """Height and width (px) of a rectangular pulse, between the centre lines of its edges
    (lines are several pixels thick at high DPI)."""
    horizontal = _runs(np.flatnonzero(mask.sum(axis=1) > max(3, 0.12 * mask.shape[1])))
    top, base = horizontal[0].mean(), horizontal[-1].mean()
    tall = mask[int(top) : int(base) + 1].sum(axis=0) > 0.3 * (base - top)
    vertical = _runs(np.flatnonzero(tall))
    return float(base - top), float(vertical[-1].mean() - vertical[0].mean())


@pytest.mark.parametrize("dpi", [100.0, 300.0])
@pytest.mark.parametrize("speed,gain", [(25.0, 10.0), (50.0, 20.0)])
def test_one_mv_200_ms_square_wave_has_the_stated_size(dpi, speed, gain) -> None:
    rendering = render_record(_square_wave_record(), layout="3x4+II", dpi=dpi,
                              speed_mm_per_s=speed, gain_mm_per_mv=gain)  # fmt: skip
    img = _png_pixels(rendering)
    ppm = dpi / 25.4
    # The rhythm strip (lead II, bottom row) shows the pulse at t = 3.0 s; take the region
    # around it without trusting the sidecar: find the bottom-most ink rows of the image.
    ink = _ink(img)
    rows = np.flatnonzero(ink.any(axis=1))
    bottom = rows.max()
    band = ink[int(bottom - (gain + 8) * ppm) : bottom + 1]
    # Columns: the x of 3.0 s counted from the trace start (first ink column of the strip,
    # after the calibration pulse).
    trace_cols = np.flatnonzero(band.any(axis=0))
    gaps = np.flatnonzero(np.diff(trace_cols) > 1)
    trace_start = trace_cols[gaps[-1] + 1] if gaps.size else trace_cols[0]
    x_pulse = trace_start + 3.0 * speed * ppm
    half = int(0.2 * speed * ppm)
    window = band[:, int(x_pulse - half) : int(x_pulse + 3 * half)]
    height, width = _pulse_extent(window)
    assert height == pytest.approx(gain * ppm, abs=1.5)  # 1 mV -> `gain` mm
    assert width == pytest.approx(0.2 * speed * ppm, abs=2.0)  # 200 ms -> 0.2 * speed mm
    # The calibration pulse at the row start has the same size.
    cal = band[:, : int(trace_start) - 1]
    cal = cal[:, np.flatnonzero(cal.any(axis=0)).min() - 1 :]
    c_height, c_width = _pulse_extent(cal)
    assert c_height == pytest.approx(gain * ppm, abs=1.5)
    assert c_width == pytest.approx(0.2 * speed * ppm, abs=2.0)


def test_sidecar_mapping_agrees_with_the_drawn_pulse() -> None:
    rendering = render_record(_square_wave_record(), layout="12x1", dpi=150)
    img = _png_pixels(rendering)
    panel = next(p for p in rendering.sidecar["leads"] if p["lead"] == "II")
    x = panel["x_at_t_start_px"] + 3.1 * panel["px_per_s"]  # middle of the pulse top
    y = panel["baseline_y_px"] - 1.0 * panel["px_per_mv"]
    col = _ink(img)[:, int(round(x))]
    near = np.flatnonzero(col[int(y) - 6 : int(y) + 7]) + int(y) - 6
    assert near.size and abs(near.mean() - y) <= 1.0


# Distinct per-lead shape: square pulses whose height identifies the lead.
HEIGHTS_MV = {name: 0.2 + 0.1 * k for k, name in enumerate(STANDARD_LEADS)}


def _coded_record() -> ECGRecord:
    t = np.arange(int(10 * FS)) / FS
    on = (t % 0.5) < 0.2
    sig = np.stack([on * HEIGHTS_MV[name] for name in STANDARD_LEADS]).astype(np.float32)
    return ECGRecord(sig, FS, list(STANDARD_LEADS), record_id="coded")


# The printed conventions (AHA/IEC 12-lead formats), written out here rather than taken from the
# renderer's own table, so a wrong table fails: (lead, row, column) in reading order.
_LIMB, _CHEST = ("I", "II", "III", "aVR", "aVL", "aVF"), ("V1", "V2", "V3", "V4", "V5", "V6")
_3X4 = [(lead, k % 3, k // 3) for k, lead in enumerate(_LIMB + _CHEST)]  # columns of 3 leads
EXPECTED_CELLS = {
    "3x4+II": sorted(_3X4, key=lambda x: (x[1], x[2])) + [("II", 3, 0)],
    "3x4+3": sorted(_3X4, key=lambda x: (x[1], x[2])) + [("II", 3, 0), ("V1", 4, 0), ("V5", 5, 0)],
    "6x2": sorted([(lead, k, 0) for k, lead in enumerate(_LIMB)]
                  + [(lead, k, 1) for k, lead in enumerate(_CHEST)], key=lambda x: (x[1], x[2])),
    "12x1": [(lead, k, 0) for k, lead in enumerate(_LIMB + _CHEST)],
}  # fmt: skip


@pytest.mark.parametrize("layout", ["3x4+II", "3x4+3", "6x2", "12x1"])
def test_every_layout_puts_each_lead_in_its_cell(layout: str) -> None:
    rendering = render_record(_coded_record(), layout=layout, dpi=100)
    img = _png_pixels(rendering)
    ink = _ink(img)
    panels = rendering.sidecar["leads"]
    assert [(p["lead"], p["row"], p["col"]) for p in panels] == EXPECTED_CELLS[layout]
    assert LAYOUTS[layout]["cells"]  # the layout exists under its documented name
    assert {p["lead"] for p in panels} == set(STANDARD_LEADS)
    ppm = 100 / 25.4
    for p in panels:
        x0, y0, x1, y1 = p["bbox_px"]
        # Geometry of the grid of cells: columns left to right, rows top to bottom.
        assert x0 == pytest.approx(panels[0]["bbox_px"][0] + (x1 - x0) * p["col"], abs=1.0)
        assert y0 == pytest.approx(panels[0]["bbox_px"][1] + (y1 - y0) * p["row"], abs=1.0)
        # Detect the pulse height in the drawn pixels of this cell (skip the label corner).
        cols = slice(int(x0 + 10 * ppm), int(x1 - 2 * ppm))
        base = p["baseline_y_px"]
        band = ink[int(base - 15 * ppm) : int(base + 3 * ppm), cols]
        rows = np.flatnonzero(band.sum(axis=1) > 3) + int(base - 15 * ppm)
        height_px = np.median([r for r in rows if abs(r - base) <= 2]) - rows.min()
        assert height_px / p["px_per_mv"] == pytest.approx(HEIGHTS_MV[p["lead"]], abs=0.06), (
            p["lead"], p["row"], p["col"],
        )  # fmt: skip


def test_absent_leads_leave_their_cell_empty() -> None:
    rec = _coded_record()
    two = ECGRecord(rec.signal[:2], FS, ["I", "II"], record_id="two")
    rendering = render_record(two, layout="3x4+II", dpi=100)
    present = {p["lead"]: p["present"] for p in rendering.sidecar["leads"]}
    assert present["I"] and present["II"] and not present["V1"]


def test_svg_and_pdf_are_vector_at_exact_millimetre_size() -> None:
    import xml.etree.ElementTree as ET

    rec = _square_wave_record()
    svg = render_record(rec, fmt="svg")
    root = ET.fromstring(svg.to_bytes())
    width_mm = float(root.get("width").removesuffix("mm"))
    assert root.get("viewBox") == f"0 0 {root.get('width')[:-2]} {root.get('height')[:-2]}"
    polylines = [el for el in root.iter() if el.tag.endswith("polyline")]
    assert len(polylines) >= 13  # 12 cells + rhythm strip (+ calibration marks)
    pdf = render_record(rec, fmt="pdf", header=True).to_bytes()
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    media = pdf.split(b"/MediaBox [")[1].split(b"]")[0].split()
    assert float(media[2]) == pytest.approx(width_mm * 72 / 25.4, abs=0.01)


def test_fiducial_overlay_and_highlighted_leads_are_drawn() -> None:
    from ecgr1.measure.result import MeasurementResult

    rec = _square_wave_record()
    res = MeasurementResult("square", FS, 10.0, list(STANDARD_LEADS))
    res.lead_fiducials = {"II": {"qrs_on": [1500], "qrs_off": [1600]}}
    plain = render_record(rec, dpi=100)
    marked = render_record(rec, dpi=100, measurements=res, highlight_leads=["V2"])
    img, ref = _png_pixels(marked), _png_pixels(plain)
    red = (img[..., 0] > 180) & (img[..., 1] < 80) & (img[..., 2] < 80)
    p = next(q for q in marked.sidecar["leads"] if q["lead"] == "II" and q["rhythm_strip"])
    x = int(round(p["x_at_t_start_px"] + 3.0 * p["px_per_s"]))
    assert red[:, x - 1 : x + 2].any()  # QRS-onset tick at 3.0 s
    orange = np.abs(img - np.array([230, 120, 0])).sum(axis=2) < 60
    v2 = next(q for q in marked.sidecar["leads"] if q["lead"] == "V2")
    x0, y0, x1, y1 = (int(v) for v in v2["bbox_px"])
    assert orange[y0 : y1 + 1, x0 : x1 + 1].sum() > 2 * (x1 - x0)  # outline around V2
    assert not (np.abs(ref - np.array([230, 120, 0])).sum(axis=2) < 60).any()


def test_auto_layout_gives_one_row_per_lead_for_other_lead_sets() -> None:
    t = np.arange(int(20 * FS)) / FS
    on = (t % 0.5) < 0.2
    rec = ECGRecord(np.stack([on * 0.5, on * 1.0]).astype(np.float32), FS, ["MLII", "V5"])
    rendering = render_record(rec, dpi=100)  # default layout: auto
    assert rendering.sidecar["layout"] == "rows"
    panels = rendering.sidecar["leads"]
    assert [(p["lead"], p["row"]) for p in panels] == [("II", 0), ("V5", 1)]
    img = _png_pixels(rendering)
    ink = _ink(img)
    ppm = 100 / 25.4
    for p, mv in zip(panels, (0.5, 1.0)):
        x0, _, x1, _ = p["bbox_px"]
        band = ink[int(p["baseline_y_px"] - 12 * ppm) : int(p["baseline_y_px"] + 3 * ppm),
                   int(x0 + 10 * ppm) : int(x1)]  # fmt: skip
        rows = np.flatnonzero(band.sum(axis=1) > 3)
        assert (rows.max() - rows.min()) / p["px_per_mv"] == pytest.approx(mv, abs=0.06)
    full = render_record(_coded_record(), dpi=50)
    assert full.sidecar["layout"] == "3x4+II"


def test_start_offset_shows_the_requested_window() -> None:
    rec = _square_wave_record()  # pulse at 3.0-3.2 s in lead II
    rendering = render_record(rec, layout="12x1", dpi=100, start_s=2.0)
    panel = next(p for p in rendering.sidecar["leads"] if p["lead"] == "II")
    assert panel["t_start_s"] == 2.0 and panel["t_end_s"] == pytest.approx(10.0)
    img = _png_pixels(rendering)
    x = panel["x_at_t_start_px"] + (3.1 - 2.0) * panel["px_per_s"]
    y = panel["baseline_y_px"] - 1.0 * panel["px_per_mv"]
    col = _ink(img)[int(y) - 3 : int(y) + 4, int(round(x))]
    assert col.any()
    from ecgr1.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        render_record(rec, start_s=12.0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"dpi": 5000}, "above 1200"),
        ({"dpi": 0}, "must be positive"),
        ({"fmt": "gif"}, "unknown format"),
        ({"layout": "4x3"}, "unknown layout"),
    ],
)
def test_bad_options_are_refused_with_a_message(kwargs: dict, message: str) -> None:
    from ecgr1.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=message):
        render_record(_square_wave_record(), **kwargs)
