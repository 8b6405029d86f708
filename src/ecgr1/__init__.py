"""ecgr1: reliable, evidence-grounded 12-lead ECG interpretation.

The pipeline, one package per stage, data flowing one way (``docs/architecture.md``)::

    io -> signal -> measure -> protocol -> report -> verify / render / simulate / corpus
                                                  -> model / train -> evaluate -> serve -> cli

The stages' main functions are here, flat (``measure`` and ``interpret_record`` take a record,
a path, or an array with ``fs``; ``interpret`` a measurement result, a record or a path):

- :func:`read_record` - any supported file to an :class:`ECGRecord` (mV, fs, lead names);
- :func:`measure` - beats, wave boundaries, intervals, axes, amplitudes, ST/T, quality;
- :func:`interpret` - the criteria table applied to measurements: statements with evidence;
- :func:`interpret_record` - all of it in one call, with the ECG-R1 six-step report;
- :func:`write_report` - the six-step ``<think>``/``<answer>`` text of an interpretation;
- :func:`render_record` - a paper-ECG image; :func:`simulate` - a 12-lead ECG with known truth;
- :func:`verify` - any ECG text checked claim by claim against the measured signal.

Example
-------
>>> import ecgr1
>>> record = ecgr1.simulate("lbbb", seed=0).record
>>> result = ecgr1.measure(record)
>>> result.global_.qrs_duration_ms > 120
True
>>> "complete left bundle branch block" in ecgr1.interpret_record(record).answer
True
>>> [v.verdict for v in ecgr1.verify(record, "QRS duration 90 ms; LBBB.").verdicts]
['contradicted', 'supported']
"""

from __future__ import annotations

import importlib
from typing import Any

from ecgr1.errors import ECGR1Error, InvalidInputError, MeasurementError, UnsupportedFormatError

__version__ = "0.1.0"

# Flat names -> "module:attribute", imported on first use so that ``import ecgr1`` stays light
# (rendering pulls in matplotlib, the protocol its YAML table).
_LAZY: dict[str, str] = {
    "ECGRecord": "ecgr1.io.record:ECGRecord",
    "read_record": "ecgr1.io.readers:read_record",
    "as_record": "ecgr1.io.readers:as_record",
    "MeasureConfig": "ecgr1.measure.config:MeasureConfig",
    "MeasurementResult": "ecgr1.measure.result:MeasurementResult",
    "interpret": "ecgr1.protocol.engine:interpret",
    "load_table": "ecgr1.protocol.table:load_table",
    "interpret_record": "ecgr1.pipeline:interpret_record",
    "write_report": "ecgr1.report.writer:write_report",
    "render_record": "ecgr1.render.api:render_record",
}
# ``measure``, ``simulate`` and ``verify`` are stage packages whose module objects are callable
# (ecgr1/_callable.py), so they are imported as packages.
_CALLABLE_PACKAGES = ("measure", "simulate", "verify")

__all__ = [
    "ECGR1Error",
    "InvalidInputError",
    "MeasurementError",
    "UnsupportedFormatError",
    "__version__",
    *_LAZY,
    *_CALLABLE_PACKAGES,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, _, attr = _LAZY[name].partition(":")
        value = getattr(importlib.import_module(module), attr)
    elif name in _CALLABLE_PACKAGES:
        value = importlib.import_module(f"ecgr1.{name}")
    else:
        raise AttributeError(f"module 'ecgr1' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
