"""Record -> interpretation, with a pluggable engine (the hook for model-based interpretation).

``interpret_record(record, engine="protocol")`` measures the record, applies the protocol and
writes the report. Other engines (e.g. a fine-tuned ECG-R1 model) register themselves with
:func:`register_engine`; they receive the record, its measurements and the protocol's
interpretation (so they can be checked against it) and return a :class:`RecordInterpretation`
whose ``report`` text they wrote.

Example
-------
>>> import numpy as np
>>> from ecgr1.io import ECGRecord
>>> rec = ECGRecord(np.zeros((12, 5000), np.float32), 500.0,
...                 ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"])
>>> out = interpret_record(rec)
>>> out.answer
['poor quality / artifact']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ecgr1.errors import ECGR1Error, MeasurementError
from ecgr1.io.record import ECGRecord
from ecgr1.measure.result import MeasurementResult, QualityReport
from ecgr1.protocol.engine import interpret
from ecgr1.protocol.types import Interpretation


@dataclass
class RecordInterpretation:
    """What ``ecgr1 interpret`` returns for one record (see :meth:`to_dict`)."""

    record_id: str
    engine: str
    measurements: MeasurementResult
    interpretation: Interpretation
    report: str
    answer: list[str]
    solution: str
    source_path: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self, include_fiducials: bool = False) -> dict[str, Any]:
        """The JSON object of ``ecgr1 interpret --format json``."""
        meas = self.measurements.to_dict()
        if not include_fiducials:
            meas.pop("lead_fiducials", None)
        quality = meas.get("quality")
        proto = self.interpretation.to_dict()
        return {
            "id": self.record_id,
            "source_path": self.source_path,
            "engine": self.engine,
            "age": proto["age"],
            "sex": proto["sex"],
            "statements": proto["statements"],
            "excluded": proto["excluded"],
            "suppressed": proto["suppressed"],
            "measurements": meas,
            "quality": {
                **(quality or {}),
                "poor_leads": list(self.measurements.quality.poor_leads),
            },
            "report": self.report,
            "answer": list(self.answer),
            "solution": self.solution,
            "warnings": list(self.warnings),
        }


EngineFn = Callable[..., RecordInterpretation]
_ENGINES: dict[str, EngineFn] = {}
# Engines living in optional packages: importing the module registers the engine, so the light
# core never imports torch. A model engine goes in ``ecgr1/model/interpret.py`` and calls
# ``register_engine("model", fn)`` at import time.
LAZY_ENGINES: dict[str, str] = {"model": "ecgr1.model.interpret"}


def register_engine(name: str, fn: EngineFn) -> None:
    """Register an interpretation engine under ``name``.

    ``fn(record, measurements, interpretation, **options) -> RecordInterpretation``; the
    protocol ``interpretation`` is always computed first and passed in.
    """
    _ENGINES[name] = fn


def available_engines() -> list[str]:
    """Names accepted by ``interpret_record(engine=...)``."""
    return sorted(_ENGINES)


def _unusable_result(record: ECGRecord, reason: str) -> MeasurementResult:
    return MeasurementResult(
        record_id=record.record_id,
        fs=record.fs,
        duration_s=record.duration_s,
        leads=list(record.leads),
        quality=QualityReport(overall="unusable", reasons=[reason]),
        warnings=[reason],
    )


def measure_safely(
    record: ECGRecord, age: float | None = None, sex: str | None = None
) -> tuple[MeasurementResult, list[str]]:
    """Measure a record; a record that cannot be measured becomes an "unusable" result.

    Only :class:`~ecgr1.errors.MeasurementError` (the engine's word for "this signal cannot be
    measured") becomes a warning and an "unusable" result, on which the protocol states only
    "poor quality / artifact". Any other exception is a bug and propagates: turning it into a
    quality finding would hide it from the user and from the tests.
    """
    from ecgr1.measure.engine import measure

    warnings: list[str] = []
    try:
        result = measure(record, age=age, sex=sex)
    except MeasurementError as exc:
        warnings.append(f"measurement failed: {exc}")
        result = _unusable_result(record, f"measurement failed: {exc.message}")
    if record.metadata.get("amplitude_normalised"):
        result.quality.amplitude_normalised = True
    if age is not None:
        result.age = age
    if sex is not None:
        result.sex = sex
    return result, warnings


def _protocol_engine(
    record: ECGRecord,
    measurements: MeasurementResult,
    interpretation: Interpretation,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    **_: Any,
) -> RecordInterpretation:
    from ecgr1.report.writer import build_report

    rep = build_report(interpretation, style=style, seed=seed)
    return RecordInterpretation(
        record_id=record.record_id,
        engine="protocol",
        measurements=measurements,
        interpretation=interpretation,
        report=rep.text,
        answer=list(rep.labels),
        solution=rep.solution,
        source_path=record.source_path,
    )


register_engine("protocol", _protocol_engine)


def _normalise_sex(sex: Any) -> str | None:
    if sex is None:
        return None
    return {"m": "M", "male": "M", "f": "F", "female": "F"}.get(str(sex).strip().lower())


def _normalise_age(age: Any) -> float | None:
    try:
        value = float(age)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < 130 else None


def interpret_record(
    record: ECGRecord,
    *,
    engine: str = "protocol",
    age: float | None = None,
    sex: str | None = None,
    style: str = "deterministic",
    seed: int | None = None,
    **options: Any,
) -> RecordInterpretation:
    """Measure, apply the protocol and write the report for one record.

    Parameters
    ----------
    record : the ECG.
    engine : "protocol" (default) or any name registered with :func:`register_engine`.
    age, sex : override the record's metadata (used for age/sex-specific thresholds).
    style, seed : report phrasing ("deterministic" or "varied" with a seed).
    options : passed to the engine (e.g. ``model_dir`` for a model engine).
    """
    if engine not in _ENGINES and engine in LAZY_ENGINES:
        import importlib

        try:
            importlib.import_module(LAZY_ENGINES[engine])
        except ImportError as exc:
            raise ECGR1Error(f"engine {engine!r} is not available: {exc}") from exc
    if engine not in _ENGINES:
        raise ECGR1Error(f"unknown engine {engine!r}; available: {', '.join(available_engines())}")
    age = _normalise_age(age if age is not None else record.metadata.get("age"))
    sex = _normalise_sex(sex if sex is not None else record.metadata.get("sex"))
    measurements, warnings = measure_safely(record, age=age, sex=sex)
    interpretation = interpret(measurements, age=age, sex=sex)
    out = _ENGINES[engine](record, measurements, interpretation, style=style, seed=seed, **options)
    out.warnings = list(record.warnings) + warnings + list(out.warnings)
    return out
