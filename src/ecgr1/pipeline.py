"""Record in, interpretation out, in one call: measure -> protocol -> report.

:func:`interpret_record` reads or wraps the input (:func:`ecgr1.io.as_record`), measures it
with the numbers of the criteria table it interprets with (``table.measure_config()``), applies
the protocol and hands both to an *engine* that writes the report: ``"protocol"`` (the
deterministic six-step writer) or any engine registered with :func:`register_engine` (the
``"model"`` engine, an ECG-R1 checkpoint, is found lazily so the light core never imports
torch).

Errors: a record that cannot be measured (:class:`~ecgr1.errors.MeasurementError`) gives an
"unusable" result, stated as poor quality; any other exception is a bug and propagates.

Example
-------
>>> from ecgr1.simulate import simulate
>>> out = interpret_record(simulate("rbbb", seed=0).record)
>>> "complete right bundle branch block" in out.answer
True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ecgr1.errors import ECGR1Error, MeasurementError
from ecgr1.io import as_record
from ecgr1.io.record import ECGRecord
from ecgr1.measure import engine as measure_engine
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.result import MeasurementResult, QualityReport
from ecgr1.protocol.engine import interpret
from ecgr1.protocol.table import CriteriaTable, load_table
from ecgr1.report.record import RecordInterpretation
from ecgr1.report.writer import build_report

__all__ = [
    "RecordInterpretation",
    "available_engines",
    "interpret_record",
    "measure_record",
    "register_engine",
]

EngineFn = Callable[..., RecordInterpretation]
_ENGINES: dict[str, EngineFn] = {}
# Engines in optional packages, imported on first use ("module:function").
LAZY_ENGINES: dict[str, str] = {"model": "ecgr1.model.interpret:model_engine"}


def register_engine(name: str, fn: EngineFn) -> None:
    """Register an interpretation engine under ``name``.

    ``fn(record, measurements, interpretation, **options) -> RecordInterpretation``; the
    protocol ``interpretation`` is always computed first and passed in, so an engine's text can
    be checked against it. ``options`` include ``style``, ``seed`` and the criteria ``table``.
    """
    _ENGINES[name] = fn


def available_engines() -> list[str]:
    """Names accepted by ``interpret_record(engine=...)``."""
    return sorted(set(_ENGINES) | set(LAZY_ENGINES))


def _engine(name: str) -> EngineFn:
    if name not in _ENGINES and name in LAZY_ENGINES:
        module, _, attr = LAZY_ENGINES[name].partition(":")
        try:
            _ENGINES[name] = getattr(importlib.import_module(module), attr)
        except ImportError as exc:
            raise ECGR1Error(
                f"engine {name!r} is not available ({exc}); install the extra: "
                "pip install 'ecgr1[train]'"
            ) from exc
    if name not in _ENGINES:
        raise ECGR1Error(f"unknown engine {name!r}; available: {', '.join(available_engines())}")
    return _ENGINES[name]


def _protocol_engine(
    record: ECGRecord,
    measurements: MeasurementResult,
    interpretation: Any,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    table: CriteriaTable | None = None,
    **_: Any,
) -> RecordInterpretation:
    rep = build_report(interpretation, style=style, seed=seed, table=table)
    return RecordInterpretation(
        id=record.record_id,
        engine="protocol",
        measurements=measurements,
        interpretation=interpretation,
        report=rep.text,
        answer=list(rep.labels),
        solution=rep.solution,
        source_path=record.source_path,
    )


register_engine("protocol", _protocol_engine)


def _unusable_result(record: ECGRecord, exc: MeasurementError) -> MeasurementResult:
    """What was measured before the engine gave up (or an empty result), marked unusable."""
    reason = f"measurement failed: {exc.message}"
    result = exc.result if isinstance(exc.result, MeasurementResult) else None
    if result is None:
        result = MeasurementResult(
            id=record.record_id,
            fs=record.fs,
            duration_s=record.duration_s,
            lead_names=list(record.leads),
            quality=QualityReport(),
            warnings=[reason],
        )
    result.quality.overall = "unusable"
    result.quality.reasons.append(reason)
    return result


def measure_record(
    record: ECGRecord,
    *,
    age: float | None = None,
    sex: str | None = None,
    config: MeasureConfig | None = None,
) -> tuple[MeasurementResult, list[str]]:
    """Measure a record for interpretation: ``(result, warnings)``.

    A record that cannot be measured (:class:`MeasurementError`) becomes an "unusable" result
    with a warning; any other exception is a bug and is raised. Without ``config`` the numbers
    come from the packaged criteria table (``load_table().measure_config()``).
    """
    if config is None:
        config = load_table().measure_config()
    warnings: list[str] = []
    try:
        # Through the module, so that a test can replace the engine (and see its bug surface).
        result = measure_engine.measure(record, age=age, sex=sex, config=config)
    except MeasurementError as exc:
        warnings.append(f"measurement failed: {exc}")
        result = _unusable_result(record, exc)
    measure_engine.carry_record_notes(result, record)
    if age is not None:
        result.age = age
    if sex is not None:
        result.sex = sex
    return result, warnings


def _table_config(table: CriteriaTable, config: MeasureConfig | None) -> MeasureConfig:
    """``config`` with the table's linked numbers; a config that sets one of them to another
    value is refused (the table is their source: a silent override would make the
    measurement and the statement disagree)."""
    if config is None:
        return table.measure_config()
    linked = table.measure_config_values()
    for key, value in linked.items():
        given = config.get(key)
        if given != DEFAULT_CONFIG.get(key) and given != value:
            raise ECGR1Error(
                f"config sets {key} = {given:g}, which the criteria table sets to {value:g}: "
                "change it in the table (its measure_config link) instead"
            )
    return config.replace(linked)


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
    data: ECGRecord | Any,
    *,
    fs: float | None = None,
    leads: Any = None,
    units: str | None = None,
    engine: str = "protocol",
    age: float | None = None,
    sex: str | None = None,
    style: str = "deterministic",
    seed: int | None = None,
    table: CriteriaTable | None = None,
    config: MeasureConfig | None = None,
    **options: Any,
) -> RecordInterpretation:
    """Measure, apply the protocol and write the report for one record.

    Parameters
    ----------
    data : an :class:`ECGRecord`, a path, or an array (leads x samples) with ``fs`` (and
        ``leads``/``units`` when not the standard 12 leads in mV).
    engine : "protocol" (default) or any name registered with :func:`register_engine`.
    age, sex : override the record's metadata (used for age/sex-specific thresholds).
    style, seed : report phrasing ("deterministic" or "varied" with a seed).
    table : the criteria table (default: the packaged ``criteria.yaml``); the measurement
        takes the numbers it shares with the protocol from it.
    config : measurement parameters; the table's linked numbers are applied on top of it.
    options : passed to the engine (e.g. ``model_dir`` for the model engine).
    """
    run_engine = _engine(engine)
    record = as_record(data, fs=fs, leads=leads, units=units)
    table = table or load_table()
    config = _table_config(table, config)
    age = _normalise_age(age if age is not None else record.metadata.get("age"))
    sex = _normalise_sex(sex if sex is not None else record.metadata.get("sex"))
    measurements, warnings = measure_record(record, age=age, sex=sex, config=config)
    interpretation = interpret(measurements, age=age, sex=sex, table=table)
    out = run_engine(
        record, measurements, interpretation, style=style, seed=seed, table=table, **options
    )
    out.warnings = list(record.warnings) + warnings + list(out.warnings)
    return out
