"""Transitional: the delineation search windows for :mod:`ecgr1.measure.delineate`, which still
imports them from here. Every parameter now lives in :mod:`ecgr1.measure.config`
(``MeasureConfig.windows``); delete this module once ``delineate.py`` reads its configuration.
"""

from __future__ import annotations

from ecgr1.measure.config import DEFAULT_CONFIG

WINDOWS: dict[str, float] = dict(DEFAULT_CONFIG.windows)
