"""Training-image augmentation: scanned/photographed-paper effects, reproducible by seed.

Geometric effects (rotation, perspective warp, margin crop) are composed into one 3x3
homography ``H`` that maps a pixel of the clean rendering (pixel centres at integers) to the
augmented image; it is written to the sidecar so every sample's pixel stays known.
Photometric effects (paper tint and grid colours, crease/wrinkle shading, blur, noise, JPEG
artefacts) do not move pixels.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from ecgr1.render.page import PaperStyle

AUGMENTATIONS: tuple[str, ...] = (
    "tint", "crease", "rotate", "warp", "crop", "blur", "noise", "jpeg",
)  # fmt: skip


@dataclass(frozen=True)
class AugmentConfig:
    """Which effects to apply and how strong they may get (each drawn uniformly up to its max)."""

    ops: tuple[str, ...] = AUGMENTATIONS
    max_rotation_deg: float = 3.0
    max_warp_frac: float = 0.03  # corner displacement as a fraction of the image size
    max_crop_frac: float = 0.04  # per side
    max_blur_px: float = 1.2
    max_noise_sd: float = 10.0  # grey levels
    jpeg_quality: tuple[int, int] = (35, 85)
    n_creases: tuple[int, int] = (1, 3)


def augmented_style(style: PaperStyle, rng: np.random.Generator) -> PaperStyle:
    """Random paper tint and grid colours (pink/red, orange, green, blue or grey grids)."""
    hues = [(240, 140, 140), (235, 160, 110), (120, 190, 130), (130, 160, 220), (150, 150, 150)]
    major = np.array(hues[int(rng.integers(len(hues)))], float)
    major = np.clip(major + rng.normal(0, 12, 3), 0, 255)
    paper = np.clip(
        np.array([255, 252, 245], float) - rng.uniform(0, 25) * np.array([0.4, 0.6, 1.0]), 0, 255
    )
    minor = paper - (paper - major) * rng.uniform(0.3, 0.45)
    ink = np.clip(rng.uniform(0, 50) * np.array([1.0, 1.0, 1.2]), 0, 255)
    return replace(
        style,
        paper=tuple(int(v) for v in paper),
        grid_major=tuple(int(v) for v in major),
        grid_minor=tuple(int(v) for v in minor),
        ink=tuple(int(v) for v in ink),
    )


def _homography_from_points(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 3x3 homography sending 4 points ``src`` to ``dst`` (direct linear solve)."""
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    h = np.linalg.solve(np.array(a, float), np.array(b, float))
    return np.append(h, 1.0).reshape(3, 3)


def apply_homography(h: np.ndarray | list, x: float, y: float) -> tuple[float, float]:
    """Map one pixel (centre coordinates) through a homography."""
    m = np.asarray(h, float)
    u, v, w = m @ np.array([x, y, 1.0])
    return float(u / w), float(v / w)


def _crease_shading(h: int, w: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """Multiplicative shading: smooth wrinkles plus a few straight folds (lit and shaded flank).

    Computed on a 4x coarser grid and enlarged (the shading is smooth), which is ~16x cheaper.
    """
    k = 4
    hs, ws = max(h // k, 2), max(w // k, 2)
    yy, xx = np.mgrid[0:hs, 0:ws].astype(np.float32)
    xx *= w / ws
    yy *= h / hs
    shade = np.ones((hs, ws), np.float32)
    for _ in range(3):  # wrinkles: a few low-frequency cosines
        fx, fy = rng.uniform(0.5, 3.0) / w, rng.uniform(0.5, 3.0) / h
        shade += 0.025 * np.cos(2 * np.pi * (fx * xx + fy * yy) + rng.uniform(0, 6.3))
    for _ in range(n):
        angle = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        nx, ny = math.cos(angle), math.sin(angle)
        dist = (xx - cx) * nx + (yy - cy) * ny
        width = rng.uniform(2.0, 6.0) * k / 2
        # A fold: one flank lit, the other shaded (derivative of a Gaussian), plus a soft trough.
        shade -= 0.10 * (dist / width) * np.exp(0.5 - dist**2 / (2 * width**2))
        shade -= 0.05 * np.exp(-np.abs(dist) / (8 * width))
    shade = np.clip(shade, 0.6, 1.1)
    big = Image.fromarray(shade, mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(big)


def augment_image(
    img: Image.Image,
    seed: int,
    config: AugmentConfig | None = None,
    *,
    fill: tuple = (255, 255, 255),
) -> tuple[Image.Image, dict[str, Any]]:
    """Apply the configured effects to a clean rendering.

    Returns the augmented image and the sidecar's ``augmentation`` entry: the seed, the
    parameters drawn for each effect and ``homography`` (clean pixel -> augmented pixel).
    Tint/grid colours are applied when the page is drawn (:func:`augmented_style`), not here.
    """
    cfg = config or AugmentConfig()
    rng = np.random.default_rng([seed, 1])
    w, h = img.size
    record: dict[str, Any] = {"seed": seed, "config": asdict(cfg), "applied": {}}
    # Geometry in corner coordinates (PIL's convention): pixel centres at +0.5.
    hom = np.eye(3)
    if "rotate" in cfg.ops:
        angle = float(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg))
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        cx, cy = w / 2.0, h / 2.0
        rot = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
        hom = rot @ hom
        record["applied"]["rotate_deg"] = angle
    if "warp" in cfg.ops:
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
        jitter = rng.uniform(-cfg.max_warp_frac, cfg.max_warp_frac, (4, 2)) * np.array([w, h])
        hom = _homography_from_points(src, src + jitter) @ hom
        record["applied"]["warp_corner_px"] = jitter.round(3).tolist()
    geometric = not np.allclose(hom, np.eye(3))
    if geometric:
        inv = np.linalg.inv(hom)
        inv /= inv[2, 2]
        img = img.transform((w, h), Image.Transform.PERSPECTIVE, tuple(inv.ravel()[:8]),
                            Image.Resampling.BILINEAR, fillcolor=fill)  # fmt: skip
    if "crop" in cfg.ops:
        left, top, right, bottom = (
            int(v) for v in rng.uniform(0, cfg.max_crop_frac, 4) * np.array([w, h, w, h])
        )
        img = img.crop((left, top, w - right, h - bottom))
        hom = np.array([[1, 0, -left], [0, 1, -top], [0, 0, 1]], float) @ hom
        record["applied"]["crop_ltrb_px"] = [left, top, right, bottom]
    if "crease" in cfg.ops or "noise" in cfg.ops:
        arr = np.asarray(img).astype(np.float32)
        if "crease" in cfg.ops:
            n = int(rng.integers(cfg.n_creases[0], cfg.n_creases[1] + 1))
            arr *= _crease_shading(arr.shape[0], arr.shape[1], rng, n)[..., None]
            record["applied"]["creases"] = n
        if "noise" in cfg.ops:
            sd = float(rng.uniform(0.3, 1.0) * cfg.max_noise_sd)
            # Grey-level (luminance) noise, as a scanner's sensor gives.
            arr += (sd * rng.standard_normal(arr.shape[:2], dtype=np.float32))[..., None]
            record["applied"]["noise_sd"] = sd
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    if "blur" in cfg.ops:
        radius = float(rng.uniform(0.2, 1.0) * cfg.max_blur_px)
        img = img.filter(ImageFilter.GaussianBlur(radius))
        record["applied"]["blur_px"] = radius
    if "jpeg" in cfg.ops:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=q)
        buf.seek(0)
        img = Image.open(buf).convert("RGB")
        record["applied"]["jpeg_quality"] = q
    # Convert from corner to centre coordinates: H_c = T(-0.5) H T(+0.5).
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    hom_c = unshift @ hom @ shift
    hom_c /= hom_c[2, 2]
    record["homography"] = hom_c.round(9).tolist()
    record["geometric"] = bool(geometric)
    record["output_size"] = list(img.size)
    return img, record
