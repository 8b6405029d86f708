"""The ``model`` interpretation engine: ``ecgr1 interpret PATH --engine model
--engine-option model_dir=DIR`` (or ``interpret_record(record, engine="model", model_dir=DIR)``).

:mod:`ecgr1.pipeline` imports :func:`model_engine` on first use (``LAZY_ENGINES``). The engine
receives the record with its measurements and protocol interpretation (computed first by the
pipeline), asks the ECG-R1 model for its interpretation of the signal (optionally with an
image) and returns the model's text as the report; the protocol's ``solution`` is kept so the
model can be checked against the deterministic reading.
"""

from __future__ import annotations

from typing import Any

from ecgr1.errors import ECGR1Error
from ecgr1.model.data import answer_from_text
from ecgr1.model.inference import DEFAULT_PROMPT, generate_interpretation
from ecgr1.report.record import RecordInterpretation
from ecgr1.report.writer import build_report

__all__ = ["clear_model_cache", "model_engine"]

_LOADED: dict[tuple, tuple[Any, Any]] = {}


def _load(model_dir: str, device: str | None, dtype: str | None) -> tuple[Any, Any]:
    key = (str(model_dir), device, dtype)
    if key not in _LOADED:  # a batch of records reuses one loaded model
        from ecgr1.model.loading import load_model_and_processor

        _LOADED[key] = load_model_and_processor(model_dir, device=device, dtype=dtype)
    return _LOADED[key]


def clear_model_cache() -> None:
    """Forget models loaded by the engine (frees their memory)."""
    _LOADED.clear()


def model_engine(
    record: Any,
    measurements: Any,
    interpretation: Any,
    *,
    model_dir: str | None = None,
    image: str | None = None,
    prompt: str = DEFAULT_PROMPT,
    max_new_tokens: int | str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    system_prompt: str | None = None,
    style: str = "deterministic",
    seed: int | None = None,
    table: Any = None,
    **_: Any,
) -> Any:
    """Interpret ``record`` with an ECG-R1 model; returns a ``RecordInterpretation``.

    Options (strings from ``--engine-option KEY=VALUE`` are accepted): ``model_dir`` (required),
    ``image`` (path of an image of the same ECG, sent with the signal), ``prompt``,
    ``max_new_tokens`` (default: the folder's, 2048 for ECG-R1), ``device``, ``dtype``,
    ``system_prompt``. The record reaches the model under the folder's ECG input convention.
    """
    if not model_dir:
        raise ECGR1Error("the model engine needs model_dir=DIR (--engine-option model_dir=DIR)")
    model, processor = _load(model_dir, device, dtype)
    text = generate_interpretation(
        model,
        processor,
        record=record,
        image=image,
        prompt=prompt,
        max_new_tokens=None if max_new_tokens is None else int(max_new_tokens),
        system_prompt=system_prompt,
    )
    answer = [a.strip() for a in (answer_from_text(text) or "").split(";") if a.strip()]
    # The protocol's reading, kept as the reference the model's text is checked against.
    solution = build_report(interpretation, style=style, seed=seed, table=table).solution
    return RecordInterpretation(
        id=record.record_id,
        engine="model",
        measurements=measurements,
        interpretation=interpretation,
        report=text,
        answer=answer,
        solution=solution,
        source_path=record.source_path,
    )
