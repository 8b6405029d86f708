"""Measurement engine (stage 3): beats, delineation, intervals, axes, amplitudes, ST/T, quality.

The result type is :class:`MeasurementResult`; :func:`measure` (in ``ecgr1.measure.engine``)
turns an :class:`~ecgr1.io.ECGRecord` into one.
"""

from ecgr1.measure.result import (
    Beat,
    GlobalMeasurements,
    LeadMeasurements,
    LeadQuality,
    MeasurementResult,
    QualityReport,
)

__all__ = [
    "Beat",
    "GlobalMeasurements",
    "LeadMeasurements",
    "LeadQuality",
    "MeasurementResult",
    "QualityReport",
]
