"""Augmentation: reproducible by seed; the sidecar mapping finds known samples in the image."""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.io.record import ECGRecord
from ecgr1.render import AugmentConfig, pixel_of, render_record

FS = 500.0
SPIKE_T, SPIKE_MV = 1.23, 1.5


PULSE_ON, PULSE_OFF = 1.2, 1.3


def _spike_record() -> ECGRecord:
    """Flat leads; lead II has a narrow 1.5 mV spike at 1.23 s and a 1.5 mV, 100 ms square
    pulse at 1.2-1.3 s in the rhythm strip's time range (known samples)."""
    t = np.arange(int(10 * FS)) / FS
    sig = np.zeros((12, t.size), np.float32)
    sig[1] = np.clip(1.0 - np.abs(t - SPIKE_T) / 0.012, 0.0, None) * SPIKE_MV
    sig[1, (t >= PULSE_ON + 6.0) & (t < PULSE_OFF + 6.0)] = SPIKE_MV
    return ECGRecord(sig, FS, list(STANDARD_LEADS), record_id="spike")


def _darkness(img: np.ndarray, x: float, y: float, r: int = 8) -> tuple[np.ndarray, int, int]:
    x0, y0 = int(round(x)) - r, int(round(y)) - r
    lum = img[y0 : y0 + 2 * r + 1, x0 : x0 + 2 * r + 1].astype(float) @ [0.299, 0.587, 0.114]
    return np.clip(np.median(lum) - lum, 0, None), x0, y0


def _line_centre(profile: np.ndarray) -> float:
    """Sub-pixel centre of the darkest line in a 1-D darkness profile (blur keeps it in place)."""
    k = int(np.argmax(profile))
    lo, hi = max(k - 2, 0), min(k + 3, profile.size)
    w = profile[lo:hi]
    return float((np.arange(lo, hi) * w).sum() / w.sum())


def _dark(img: np.ndarray) -> np.ndarray:
    """Ink relative to its surroundings: tint, shading, blur and JPEG change absolute levels."""
    lum = img.astype(float) @ np.array([0.299, 0.587, 0.114])
    background, darkest = np.median(lum), lum.min()
    if background - darkest < 40:
        return np.zeros(lum.shape, bool)
    return lum < background - 0.6 * (background - darkest)


def _tip(img: np.ndarray, x: float, y: float, up: np.ndarray, radius: int = 14) -> np.ndarray:
    """The dark pixel around (x, y) that lies farthest along ``up`` (the spike's apex)."""
    x0, y0 = int(x) - radius, int(y) - radius
    patch = _dark(img[y0 : y0 + 2 * radius + 1, x0 : x0 + 2 * radius + 1])
    ys, xs = np.nonzero(patch)
    assert ys.size, "no ink near the expected apex"
    score = xs * up[0] + ys * up[1]
    best = score >= score.max() - 0.5
    return np.array([xs[best].mean() + x0, ys[best].mean() + y0])


def test_same_seed_same_image_other_seed_other_image() -> None:
    rec = _spike_record()
    a = render_record(rec, augment_seed=11, dpi=80)
    b = render_record(rec, augment_seed=11, dpi=80)
    c = render_record(rec, augment_seed=12, dpi=80)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert a.sidecar["augmentation"] == b.sidecar["augmentation"]
    assert a.image.size != c.image.size or not np.array_equal(
        np.asarray(a.image), np.asarray(c.image)
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unwarped_augmented_image_maps_the_known_sample_within_2_px(seed: int) -> None:
    ops = ("tint", "crease", "crop", "blur", "noise", "jpeg")
    rendering = render_record(_spike_record(), augment_seed=seed, dpi=100,
                              augment_config=AugmentConfig(ops=ops))  # fmt: skip
    assert rendering.sidecar["augmentation"]["geometric"] is False
    img = np.asarray(rendering.image)
    t_on, t_mid = PULSE_ON + 6.0, (PULSE_ON + PULSE_OFF) / 2 + 6.0
    # Top of the pulse (1.5 mV): the darkest row around the mapped pixel.
    x, y = pixel_of(rendering.sidecar, "II", t_mid, SPIKE_MV, rhythm_strip=True)
    dark, x0, y0 = _darkness(img, x, y)
    rows = dark[:, int(round(x)) - x0 - 3 : int(round(x)) - x0 + 4].mean(axis=1)
    assert abs(_line_centre(rows) + y0 - y) <= 2.0
    # Rising edge (t = on): the darkest column around the mapped pixel, half-way up.
    x, y = pixel_of(rendering.sidecar, "II", t_on, SPIKE_MV / 2, rhythm_strip=True)
    dark, x0, y0 = _darkness(img, x, y)
    cols = dark[int(round(y)) - y0 - 4 : int(round(y)) - y0 + 5, :].mean(axis=0)
    assert abs(_line_centre(cols) + x0 - x) <= 2.0


@pytest.mark.parametrize("seed", [4, 5])
def test_rotated_and_warped_image_homography_follows_the_sample(seed: int) -> None:
    rendering = render_record(_spike_record(), augment_seed=seed, dpi=100,
                              augment_config=AugmentConfig(ops=("rotate", "warp", "crop")))  # fmt: skip
    aug = rendering.sidecar["augmentation"]
    assert aug["geometric"] is True
    img = np.asarray(rendering.image)
    x, y = pixel_of(rendering.sidecar, "II", SPIKE_T, SPIKE_MV, rhythm_strip=True)
    # "Up" on the paper, carried through the homography.
    x2, y2 = pixel_of(rendering.sidecar, "II", SPIKE_T, SPIKE_MV + 1.0, rhythm_strip=True)
    up = np.array([x2 - x, y2 - y]) / np.hypot(x2 - x, y2 - y)
    tip = _tip(img, x, y, up)
    assert np.hypot(*(tip - (x, y))) <= 2.5


def test_vector_formats_refuse_augmentation() -> None:
    from ecgr1.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        render_record(_spike_record(), fmt="svg", augment_seed=1)


def test_sidecar_is_written_beside_every_image(tmp_path) -> None:
    import json

    rendering = render_record(_spike_record(), augment_seed=3, dpi=60)
    img_path, side_path = rendering.save(tmp_path / "x.png")
    side = json.loads(side_path.read_text())
    assert side["image"] == "x.png" and side["layout"] == "3x4+II"
    assert len(side["augmentation"]["homography"]) == 3
    assert {p["lead"] for p in side["leads"]} == set(STANDARD_LEADS)
    from PIL import Image

    assert Image.open(img_path).size == (side["width_px"], side["height_px"])
