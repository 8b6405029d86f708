"""Measurement engine (stage 3): beats, delineation, intervals, axes, amplitudes, ST/T, quality.

:func:`measure` turns an :class:`~ecgr1.io.ECGRecord` (or a path, or an array with ``fs``)
into a :class:`MeasurementResult`; :class:`MeasureConfig` holds every algorithm parameter.
The package is itself callable: ``ecgr1.measure(record)`` is ``ecgr1.measure.measure(record)``.

>>> import ecgr1
>>> result = ecgr1.measure(ecgr1.simulate("normal", seed=0).record)
>>> round(result.global_.heart_rate_bpm)
72
"""

from ecgr1._callable import make_callable
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.engine import measure
from ecgr1.measure.result import (
    Beat,
    GlobalMeasurements,
    LeadMeasurements,
    LeadQuality,
    MeasurementResult,
    QualityReport,
)

__all__ = [
    "DEFAULT_CONFIG",
    "Beat",
    "GlobalMeasurements",
    "LeadMeasurements",
    "LeadQuality",
    "MeasureConfig",
    "MeasurementResult",
    "QualityReport",
    "measure",
]

make_callable(__name__, measure)
