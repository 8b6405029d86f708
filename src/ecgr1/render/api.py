"""Render records to paper-ECG images (PNG/SVG/PDF) with a JSON sidecar for every image."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ecgr1.errors import InvalidInputError
from ecgr1.io.leads import canonical_lead_name
from ecgr1.io.record import ECGRecord
from ecgr1.render.augment import AugmentConfig, augment_image, augmented_style
from ecgr1.render.page import Page, PaperStyle, build_page
from ecgr1.render.raster import px_per_mm, render_raster
from ecgr1.render.vector import render_pdf, render_svg

FORMATS: tuple[str, ...] = ("png", "svg", "pdf", "jpg")
SIDECAR_VERSION = "1.0"
MAX_DPI = 1200.0
# The WFDB reader's warning for signals whose header gives no ADC gain (read at the nominal 200).
_NO_GAIN = re.compile(r"no ADC gain for signal\(s\) (.+?): uncalibrated")


@dataclass
class Rendering:
    """One rendered page: the image and its sidecar.

    ``image`` is a PIL image for raster formats: palette mode ("P") for plain renderings
    (``.convert("RGB")`` for colour arrays), RGB after augmentation or supersampling;
    ``vector`` holds the SVG/PDF bytes.
    """

    page: Page
    sidecar: dict[str, Any]
    image: Image.Image | None = None
    vector: bytes | None = None
    fmt: str = "png"

    def to_bytes(self) -> bytes:
        """The encoded file content."""
        if self.vector is not None:
            return self.vector
        assert self.image is not None
        buf = io.BytesIO()
        if self.fmt == "jpg":
            self.image.convert("RGB").save(buf, "JPEG", quality=92)
        else:
            # Palette images at compress_level 1: small files, several times faster than RGB.
            self.image.save(buf, "PNG", compress_level=1)
        return buf.getvalue()

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write the image and ``<stem>.json`` beside it; returns both paths."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_bytes())
        side = path.with_suffix(".json")
        sidecar = dict(self.sidecar, image=path.name)
        side.write_text(json.dumps(sidecar, indent=1))
        return path, side


def render_record(
    record: ECGRecord,
    *,
    layout: str = "auto",
    fmt: str = "png",
    dpi: float = 100.0,
    speed_mm_per_s: float = 25.0,
    gain_mm_per_mv: float = 10.0,
    header: bool | list[str] = False,
    measurements: Any | None = None,
    fiducials: bool = True,
    highlight_leads: list[str] | tuple[str, ...] = (),
    augment_seed: int | None = None,
    augment_config: AugmentConfig | None = None,
    style: PaperStyle | None = None,
    supersample: int = 1,
    start_s: float = 0.0,
    warnings: Iterable[str] = (),
) -> Rendering:
    """Render one record.

    Parameters
    ----------
    record : the ECG.
    layout : ``3x4+II`` (default), ``3x4+3``, ``3x4``, ``6x2``, ``12x1``, ``rows`` (each lead
        of the record on its own row, any lead set) or ``auto`` (3x4+II when all 12 standard
        leads are present, ``rows`` otherwise).
    fmt : ``png``, ``jpg`` (raster at ``dpi``), ``svg`` or ``pdf`` (vector, exact mm).
    speed_mm_per_s, gain_mm_per_mv : paper speed and gain (25 mm/s, 10 mm/mV).
    header : True prints id, age/sex and, with ``measurements``, rate, PR, QRS, QT/QTc, axes.
    measurements : a MeasurementResult; its ``lead_fiducials`` are overlaid when ``fiducials``.
    highlight_leads : plain list of lead names to outline (e.g. leads cited by a statement).
    augment_seed : apply training augmentation with this seed (raster formats only).
    supersample : >1 anti-aliases by drawing larger and downsampling (slower).
    start_s : first second of the record shown (pages show at most 10 s).
    warnings : more warnings for the sidecar (e.g. those of an interpretation), besides the
        record's and the measurements' (:func:`record_warnings`).

    The sidecar says what the reader noticed, so that an image never looks more trustworthy
    than its source: ``warnings``, ``amplitude_normalised`` and ``uncalibrated_leads``.

    Example
    -------
    >>> from ecgr1.simulate import simulate
    >>> r = render_record(simulate("normal", seconds=10).record, dpi=50)
    >>> r.image.size, r.sidecar["layout"], len(r.sidecar["leads"])
    ((531, 335), '3x4+II', 13)
    """
    fmt = fmt.lower().lstrip(".")
    fmt = "jpg" if fmt == "jpeg" else fmt
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if dpi <= 0 or speed_mm_per_s <= 0 or gain_mm_per_mv <= 0:
        raise InvalidInputError("dpi, speed and gain must be positive")
    if fmt in ("png", "jpg") and dpi > MAX_DPI:
        # A typo such as --dpi 30000 would otherwise try to allocate gigabytes.
        raise InvalidInputError(f"dpi {dpi:g} is above {MAX_DPI:g} (print quality is 300-600)")
    st = replace(
        style or PaperStyle(), speed_mm_per_s=speed_mm_per_s, gain_mm_per_mv=gain_mm_per_mv
    )
    if augment_seed is not None:
        if fmt in ("svg", "pdf"):
            raise InvalidInputError("augmentation applies to raster images (png/jpg) only")
        cfg = augment_config or AugmentConfig()
        if "tint" in cfg.ops:
            st = augmented_style(st, np.random.default_rng([augment_seed, 0]))
    page = build_page(
        record,
        layout,
        style=st,
        header=header,
        measurements=measurements,
        fiducials=fiducials and measurements is not None,
        highlight_leads=highlight_leads,
        start_s=start_s,
    )
    ppm = px_per_mm(dpi) if fmt in ("png", "jpg") else 1.0
    sidecar = page.sidecar(ppm)
    sidecar.update(
        {
            "sidecar_version": SIDECAR_VERSION,
            "format": fmt,
            "dpi": dpi if fmt in ("png", "jpg") else None,
            "units": "px" if fmt in ("png", "jpg") else "mm",
            "highlight_leads": list(highlight_leads),
            "fiducial_overlay": bool(fiducials and measurements is not None),
            "augmentation": None,
            **record_warnings(record, measurements, warnings),
        }
    )
    if fmt == "svg":
        return Rendering(page, sidecar, vector=render_svg(page).encode("utf-8"), fmt=fmt)
    if fmt == "pdf":
        return Rendering(page, sidecar, vector=render_pdf(page), fmt=fmt)
    img = render_raster(page, dpi, supersample=supersample)
    if augment_seed is not None:
        img, aug = augment_image(img.convert("RGB"), augment_seed, augment_config, fill=st.paper)
        sidecar["augmentation"] = aug
        sidecar["width_px"], sidecar["height_px"] = img.size
    return Rendering(page, sidecar, image=img, fmt=fmt)


def record_warnings(
    record: ECGRecord, measurements: Any | None = None, extra: Iterable[str] = ()
) -> dict[str, Any]:
    """What limits the trust in a record's picture, for its sidecar.

    ``warnings``: the reader's and standardisation's (``record.warnings``), then those of the
    measurements and ``extra``, each once and in order; ``amplitude_normalised``: the source
    rescaled each lead (absolute voltages are unreliable); ``uncalibrated_leads``: leads whose
    header gave no ADC gain (read at a nominal gain).

    >>> import numpy as np
    >>> rec = ECGRecord(np.zeros((1, 10)), 500, ["II"], warnings=[
    ...     "no ADC gain for signal(s) MLII: uncalibrated, WFDB nominal 200 adu/mV used"])
    >>> notes = record_warnings(rec)
    >>> notes["uncalibrated_leads"], notes["amplitude_normalised"], len(notes["warnings"])
    (['II'], False, 1)
    """
    quality = getattr(measurements, "quality", None)
    texts = [*record.warnings, *(getattr(measurements, "warnings", None) or []), *extra]
    uncalibrated = list(record.metadata.get("uncalibrated_leads") or [])
    for text in texts:
        found = _NO_GAIN.search(str(text))
        if found:
            uncalibrated += [canonical_lead_name(n.strip()) for n in found.group(1).split(",")]
    return {
        "warnings": list(dict.fromkeys(str(t) for t in texts)),
        "amplitude_normalised": bool(
            record.metadata.get("amplitude_normalised")
            or getattr(quality, "amplitude_normalised", False)
        ),
        "uncalibrated_leads": list(dict.fromkeys(uncalibrated)),
    }


def pixel_of(sidecar: dict[str, Any], lead: str, t_s: float, value_mv: float,
             rhythm_strip: bool | None = None) -> tuple[float, float]:  # fmt: skip
    """Where sample (``t_s``, ``value_mv``) of ``lead`` lies in the image described by ``sidecar``.

    Uses the panel that shows ``t_s`` (the rhythm strip only when asked, or when it is the only
    one) and applies the augmentation homography when there is one.
    """
    for p in sidecar["leads"]:
        if p["lead"] != lead or not (p["t_start_s"] <= t_s <= p["t_end_s"]):
            continue
        if rhythm_strip is not None and p["rhythm_strip"] != rhythm_strip:
            continue
        x = p["x_at_t_start_px"] + (t_s - p["t_start_s"]) * p["px_per_s"]
        y = p["baseline_y_px"] - value_mv * p["px_per_mv"]
        aug = sidecar.get("augmentation")
        if aug:
            m = np.asarray(aug["homography"], float)
            u, v, w = m @ np.array([x, y, 1.0])
            return float(u / w), float(v / w)
        return float(x), float(y)
    raise KeyError(f"lead {lead!r} at {t_s} s is not on this page")
