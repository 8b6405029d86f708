"""Paper-ECG rendering: exact-scale PNG/SVG/PDF, overlays, augmentation, JSON sidecars.

See ``docs/render.md``.

>>> from ecgr1.simulate import simulate
>>> from ecgr1.render import render_record
>>> rendering = render_record(simulate("normal").record, layout="6x2", dpi=100)
>>> rendering.sidecar["layout"]
'6x2'
"""

from ecgr1.render.api import FORMATS, Rendering, pixel_of, render_record
from ecgr1.render.augment import AUGMENTATIONS, AugmentConfig, apply_homography
from ecgr1.render.page import LAYOUT_NAMES, LAYOUTS, PaperStyle, build_page

__all__ = [
    "AUGMENTATIONS",
    "FORMATS",
    "LAYOUTS",
    "LAYOUT_NAMES",
    "AugmentConfig",
    "PaperStyle",
    "Rendering",
    "apply_homography",
    "build_page",
    "pixel_of",
    "render_record",
]
