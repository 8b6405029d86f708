"""Vector back ends: SVG (millimetre user units) and a minimal single-page PDF.

Both draw the same :class:`~ecgr1.render.page.Page` as the raster back end, so the scale is
exact at any zoom: 1 user unit = 1 mm in the SVG, 72/25.4 points per mm in the PDF.
"""

from __future__ import annotations

import zlib
from xml.sax.saxutils import escape

import numpy as np

from ecgr1.render.page import Page

PT_PER_MM = 72.0 / 25.4


def _hex(c: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c)


def _grid_lines(page: Page) -> tuple[list[float], list[float], list[float], list[float]]:
    """x and y positions (mm) of minor and major grid lines."""
    xs = np.arange(0, int(page.width_mm) + 1)
    ys = np.arange(0, int(page.height_mm) + 1)
    minor_x = [float(x) for x in xs if x % 5]
    major_x = [float(x) for x in xs if x % 5 == 0]
    minor_y = [float(y) for y in ys if y % 5]
    major_y = [float(y) for y in ys if y % 5 == 0]
    return minor_x, major_x, minor_y, major_y


def render_svg(page: Page) -> str:
    """The page as an SVG document (string)."""
    st = page.style
    w, h = page.width_mm, page.height_mm
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
        f'viewBox="0 0 {w} {h}">',
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="{_hex(st.paper)}"/>',
    ]
    minor_x, major_x, minor_y, major_y = _grid_lines(page)
    for xs, ys, colour, width in (
        (minor_x, minor_y, st.grid_minor, st.minor_width_mm),
        (major_x, major_y, st.grid_major, st.major_width_mm),
    ):
        d = "".join(f"M{x:g} 0V{h:g}" for x in xs) + "".join(f"M0 {y:g}H{w:g}" for y in ys)
        out.append(f'<path d="{d}" stroke="{_hex(colour)}" stroke-width="{width}" fill="none"/>')
    for line in page.traces + page.marks:
        pts = " ".join(f"{x:.3f},{y:.3f}" for x, y in line.points)
        out.append(
            f'<polyline points="{pts}" stroke="{_hex(line.colour)}" stroke-width="{line.width_mm}" '
            'fill="none" stroke-linejoin="round"/>'
        )
    for r in page.rects:
        out.append(
            f'<rect x="{r.x0:.3f}" y="{r.y0:.3f}" width="{r.x1 - r.x0:.3f}" '
            f'height="{r.y1 - r.y0:.3f}" stroke="{_hex(r.colour)}" stroke-width="{r.width_mm}" '
            'fill="none"/>'
        )
    for t in page.texts:
        weight = ' font-weight="bold"' if t.bold else ""
        out.append(
            f'<text x="{t.x_mm:.3f}" y="{t.y_mm + t.size_mm * 0.8:.3f}" font-size="{t.size_mm}" '
            f'font-family="Helvetica, Arial, sans-serif" fill="{_hex(t.colour)}"{weight}>'
            f"{escape(t.text)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _pdf_text(s: str) -> str:
    s = s.encode("latin-1", "replace").decode("latin-1")
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def render_pdf(page: Page) -> bytes:
    """The page as a one-page vector PDF (Helvetica, no embedded fonts)."""
    st = page.style
    k = PT_PER_MM
    w_pt, h_pt = page.width_mm * k, page.height_mm * k

    def pt(x: float, y: float) -> str:
        return f"{x * k:.3f} {h_pt - y * k:.3f}"

    def rgb(c: tuple[int, int, int]) -> str:
        return " ".join(f"{v / 255:.3f}" for v in c)

    ops = [f"{rgb(st.paper)} rg 0 0 {w_pt:.3f} {h_pt:.3f} re f", "1 J 1 j"]
    minor_x, major_x, minor_y, major_y = _grid_lines(page)
    for xs, ys, colour, width in (
        (minor_x, minor_y, st.grid_minor, st.minor_width_mm),
        (major_x, major_y, st.grid_major, st.major_width_mm),
    ):
        ops.append(f"{rgb(colour)} RG {width * k:.3f} w")
        ops.extend(f"{pt(x, 0)} m {pt(x, page.height_mm)} l S" for x in xs)
        ops.extend(f"{pt(0, y)} m {pt(page.width_mm, y)} l S" for y in ys)
    for line in page.traces + page.marks:
        if len(line.points) < 2:
            continue
        ops.append(f"{rgb(line.colour)} RG {line.width_mm * k:.3f} w")
        first, rest = line.points[0], line.points[1:]
        ops.append(f"{pt(*first)} m " + " ".join(f"{pt(x, y)} l" for x, y in rest) + " S")
    for r in page.rects:
        ops.append(f"{rgb(r.colour)} RG {r.width_mm * k:.3f} w")
        ops.append(f"{r.x0 * k:.3f} {h_pt - r.y1 * k:.3f} {(r.x1 - r.x0) * k:.3f} "
                   f"{(r.y1 - r.y0) * k:.3f} re S")  # fmt: skip
    for t in page.texts:
        font = "/F2" if t.bold else "/F1"
        ops.append(f"BT {rgb(t.colour)} rg {font} {t.size_mm * k:.2f} Tf "
                   f"{pt(t.x_mm, t.y_mm + t.size_mm * 0.8)} Td ({_pdf_text(t.text)}) Tj ET")  # fmt: skip
    content = zlib.compress("\n".join(ops).encode("latin-1"))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w_pt:.3f} {h_pt:.3f}] "
            "/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> /Contents 4 0 R >>"
        ).encode(),  # fmt: skip
        f"<< /Length {len(content)} /Filter /FlateDecode >>\nstream\n".encode()
        + content
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)
