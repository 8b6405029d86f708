"""The work of a request, run in a worker process of the server's pool (never in the event
loop).

A request holds one worker process from its first job to its last, so the record read by
:func:`open_inputs` stays in that process (``_STATE``, by request id) for the jobs that follow
and is dropped by :func:`forget`. While :func:`interpret` runs it sends events on the queue the
process was started with (:func:`init`): ``measurements``, ``statements``, ``image``, one
``step`` per reasoning step, ``summary``, ``answer``, ``verification`` (model text),
``report`` (the printable page) and ``done``, each as soon as it exists.

Every job raises :class:`JobError` (message + HTTP status) and nothing else: the message names
no server path and holds no traceback (which goes to the server's log).
"""

from __future__ import annotations

import base64
import os
import sys
import time
import traceback
from collections.abc import Callable
from functools import wraps
from types import SimpleNamespace
from typing import Any

from ecgr1.serve.text import finite, split_text

_EVENTS: Any = None  # the multiprocessing queue of this worker process
_KIT: dict[str, Callable[..., Any]] = {}  # report_html, highlighted_leads (from the CLI)
_STATE: dict[str, dict[str, Any]] = {}

IMAGE_DPI = 100.0
MODEL_PICTURE_DPI = 100.0


class JobError(Exception):
    """A job that failed: ``message`` for the client, ``status`` the HTTP status."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message, status)
        self.message = message
        self.status = status


def init(events: Any, kit: dict[str, Callable[..., Any]] | None = None) -> None:
    """Worker start: keep the event queue, import the pipeline and load the criteria table."""
    global _EVENTS
    _EVENTS = events
    _KIT.update(kit or {})
    import ecgr1.pipeline  # noqa: F401 - the import cost is paid at start, not by a request
    from ecgr1.protocol.table import load_table
    from ecgr1.render import render_record  # noqa: F401

    load_table()


def ping() -> int:
    """The worker's process id (also makes the pool start its process)."""
    return os.getpid()


def _public_message(text: str, folder: str | None) -> str:
    text = " ".join(str(text).splitlines())
    if folder:
        text = text.replace(folder + os.sep, "").replace(folder, "upload")
    return text


def job(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn every failure of ``fn`` into a :class:`JobError`."""

    @wraps(fn)
    def run(rid: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(rid, *args, **kwargs)
        except JobError:
            raise
        except Exception as exc:  # noqa: BLE001 - the client gets one line, the log the rest
            folder = (_STATE.get(rid) or {}).get("folder")
            from ecgr1.errors import ECGR1Error
            from ecgr1.serve.engines import EngineError

            if isinstance(exc, EngineError):
                raise JobError(_public_message(str(exc), folder), 502) from None
            if isinstance(exc, (ECGR1Error, OSError)):
                raise JobError(_public_message(str(exc), folder), 422) from None
            print(f"ecgr1 serve: request {rid}: internal error", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            raise JobError(
                f"internal error: {type(exc).__name__} (the server log has the details)", 500
            ) from None

    return run


def _emit(rid: str, name: str, data: Any) -> None:
    state = _STATE.get(rid) or {}
    if state.get("stream") and _EVENTS is not None:
        _EVENTS.put((rid, name, finite(data), time.time()))


@job
def open_inputs(rid: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Read the uploaded record (when there is one) and keep it for the next jobs."""
    from ecgr1.io.readers import read_record

    path = spec.get("record_path")
    folder = os.path.dirname(path or spec.get("image_path") or "")
    _STATE[rid] = {"spec": spec, "folder": folder, "record": None, "stream": False}
    if not path:
        return {"id": None}
    record = read_record(path, **spec.get("read_options", {}))
    record.source_path = None
    _STATE[rid]["record"] = record
    return {
        "id": record.record_id,
        "fs": record.fs,
        "leads": list(record.leads),
        "duration_s": record.duration_s,
        "warnings": list(record.warnings),
    }


def forget(rid: str) -> None:
    """Drop what the request left in this process."""
    _STATE.pop(rid, None)


def _record(rid: str) -> Any:
    state = _STATE.get(rid)
    if state is None:
        raise JobError("the request's inputs are gone (worker restarted)", 500)
    if state["record"] is None:
        raise JobError("this needs an ECG signal (a record in the field files), not an image")
    return state["record"]


@job
def measure(rid: str, age: float | None = None, sex: str | None = None) -> dict[str, Any]:
    """The ``ecgr1 measure`` JSON object of the request's record."""
    from ecgr1.pipeline import measure_record

    result, warnings = measure_record(_record(rid), age=age, sex=sex)
    out = result.to_dict()
    out["warnings"] = list(dict.fromkeys([*out.get("warnings", []), *warnings]))
    return finite(out)


@job
def render(
    rid: str, *, fiducials: bool = True, layout: str = "auto", dpi: float = IMAGE_DPI
) -> bytes:
    """The record as a PNG page, with the measured fiducials unless ``fiducials`` is False."""
    from ecgr1.pipeline import measure_record
    from ecgr1.render import render_record

    record = _record(rid)
    measurements = measure_record(record)[0] if fiducials else None
    rendering = render_record(
        record, layout=layout, dpi=dpi, header=True, measurements=measurements, fiducials=fiducials
    )
    return rendering.to_bytes()


def _png(rid: str, record: Any, measurements: Any, interpretation: Any) -> bytes:
    from ecgr1.render import render_record

    highlight = _KIT.get("highlighted_leads")
    rendering = render_record(
        record,
        dpi=IMAGE_DPI,
        header=True,
        measurements=measurements,
        fiducials=True,
        highlight_leads=highlight(interpretation) if highlight else (),
    )
    return rendering.to_bytes()


def _model_text(rid: str, options: dict[str, Any], record: Any) -> str:
    """The text of the request's model engine (``model`` or ``remote``)."""
    from ecgr1.serve import engines

    spec = _STATE[rid]["spec"]
    image_path = spec.get("image_path")
    if options["engine"] == "model":
        return engines.local_text(options, record=record, image=image_path)
    if image_path:
        with open(image_path, "rb") as fh:
            picture = fh.read()
        mime = "image/png" if image_path.endswith(".png") else "image/jpeg"
    else:  # the signal drawn as a plain page: the endpoint cannot take the signal itself
        from ecgr1.render import render_record

        picture = render_record(record, dpi=MODEL_PICTURE_DPI, fiducials=False).to_bytes()
        mime = "image/png"
    return engines.remote_text(options, picture, mime)


def _emit_text(rid: str, parts: dict[str, Any]) -> None:
    for step in parts["steps"]:
        _emit(rid, "step", step)
    _emit(rid, "summary", {"text": parts["summary"]})
    _emit(rid, "answer", {"labels": parts["answer"]})


def _statements(interpretation: Any) -> list[dict[str, Any]]:
    """The statements with each evidence item also in words (``text``), for the page."""
    from ecgr1.report.format import fmt_threshold, fmt_value, join_leads, quantity_name

    out = interpretation.to_dict()["statements"]
    for statement in out:
        for ev in statement["evidence"]:
            leads = f" in {join_leads(ev['leads'])}" if ev.get("leads") else ""
            value = fmt_value(ev["value"], ev["unit"], ev["quantity"])
            rule = fmt_threshold(ev.get("operator"), ev.get("threshold"), ev["unit"])
            ev["text"] = f"{quantity_name(ev['quantity'])}{leads} {value}" + (
                f" (criterion {rule})" if rule else ""
            )
    return out


def _serve_engine(
    record: Any,
    measurements: Any,
    interpretation: Any,
    *,
    style: str = "deterministic",
    seed: int | None = None,
    table: Any = None,
    serve: dict[str, Any] | None = None,
    **_: Any,
) -> Any:
    """The pipeline engine of the server: sends each part as soon as it exists, then writes
    the text with the engine the request asked for (protocol, local model or endpoint)."""
    from ecgr1.report.record import RecordInterpretation
    from ecgr1.report.writer import build_report

    assert serve is not None
    rid, options, state = serve["rid"], serve["options"], _STATE[serve["rid"]]
    meas = measurements.to_dict()
    meas.pop("lead_fiducials", None)
    _emit(rid, "measurements", meas)
    _emit(rid, "statements", _statements(interpretation))
    if state.get("stream"):
        png = _png(rid, record, measurements, interpretation)
        state["png"] = png
        _emit(rid, "image", {"png_base64": base64.b64encode(png).decode("ascii")})
    protocol = build_report(interpretation, style=style, seed=seed, table=table)
    if options["engine"] == "protocol":
        text = protocol.text
        parts = {
            "steps": [
                {"n": i, "title": s.title, "text": s.paragraph}
                for i, s in enumerate(protocol.steps, start=1)
            ],
            "summary": protocol.narrative,
            "answer": list(protocol.labels),
        }
    else:
        text = _model_text(rid, options, record)
        parts = split_text(text)
    state["parts"] = parts
    _emit_text(rid, parts)
    return RecordInterpretation(
        id=record.record_id,
        engine=options["engine"],
        measurements=measurements,
        interpretation=interpretation,
        report=text,
        answer=parts["answer"],
        solution=protocol.solution,
        source_path=None,
    )


def _printable(rid: str, record: Any, result: Any, engine_label: str) -> str | None:
    report_html = _KIT.get("report_html")
    state = _STATE[rid]
    if report_html is None or record is None:
        return None
    png = state.get("png") or _png(rid, record, result.measurements, result.interpretation)
    parts = state.get("parts") or split_text(result.report)
    steps = [SimpleNamespace(title=s["title"], paragraph=s["text"]) for s in parts["steps"]]
    report = SimpleNamespace(steps=steps, narrative=parts["summary"], labels=parts["answer"])
    return report_html(
        record,
        png,
        result=result,
        measurements=result.measurements,
        report=report,
        notes=[f"Text written by the {engine_label}."],
    )


@job
def interpret(rid: str, options: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    """Interpret the request's inputs with ``options["engine"]``; returns the
    ``ecgr1 interpret --format json`` object (without ``source_path``; with ``verification``
    for a model's text). With ``stream`` every part is also sent as an event."""
    from ecgr1.pipeline import interpret_record, register_engine
    from ecgr1.serve.engines import describe
    from ecgr1.verify.api import verify_interpretation

    state = _STATE.get(rid)
    if state is None:
        raise JobError("the request's inputs are gone (worker restarted)", 500)
    state["stream"] = stream
    record = state["record"]
    engine = options["engine"]
    label = describe(engine, options)
    if record is None:  # an image alone: only a model can read it
        text = _model_text(rid, options, None)
        parts = split_text(text)
        _emit_text(rid, parts)
        out: dict[str, Any] = {
            "id": "image",
            "engine": engine,
            "statements": [],
            "measurements": None,
            "report": text,
            "answer": parts["answer"],
            "warnings": ["no ECG signal was uploaded: the text cannot be checked against one"],
        }
        verification = verify_interpretation(None, text).to_dict()
    else:
        register_engine("serve", _serve_engine)
        result = interpret_record(
            record,
            engine="serve",
            age=options.get("age"),
            sex=options.get("sex"),
            serve={"rid": rid, "options": options},
        )
        out = result.to_dict()
        out.pop("source_path", None)
        verification = None
        if engine != "protocol":
            verification = verify_interpretation(result.interpretation, result.report).to_dict()
        if stream:
            html = _printable(rid, record, result, label)
            if html is not None:
                _emit(rid, "report", {"html": html})
    if verification is not None:
        out["verification"] = verification
        _emit(rid, "verification", verification)
    out = finite(out)
    _emit(rid, "done", {"result": out, "engine_label": label})
    return out


@job
def printable(rid: str, options: dict[str, Any]) -> str:
    """The printable HTML report of the request's record (protocol engine)."""
    from ecgr1.pipeline import interpret_record
    from ecgr1.serve.engines import describe

    record = _record(rid)
    if _KIT.get("report_html") is None:
        raise JobError("this server was started without the printable report", 501)
    result = interpret_record(record, age=options.get("age"), sex=options.get("sex"))
    return _printable(rid, record, result, describe("protocol", options)) or ""
