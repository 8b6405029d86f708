"""The FastAPI application of ``ecgr1 serve``: the page, the HTTP API and its safety rules.

Routes (the OpenAPI schema is at ``/openapi.json``, readable offline at ``/docs``):

- ``GET /``: the single page (package data; no external resources);
- ``POST /v1/interpret``: the ``ecgr1 interpret --format json`` object (no ``source_path``);
- ``POST /v1/interpret/stream``: the same as Server-Sent Events, each part as it is produced;
- ``POST /v1/measure``, ``POST /v1/render`` (PNG), ``POST /v1/report`` (printable HTML);
- ``GET /v1/health``, ``GET /v1/version``.

Every response carries ``X-Request-ID`` (also in the server's log line of the request); every
error is JSON ``{"error", "status", "request_id"}`` without a traceback. Uploads are checked by
content (:mod:`ecgr1.serve.uploads`) and saved in a temporary folder per request, removed after
it; the work runs in the worker pool (:mod:`ecgr1.serve.pool`) under a time limit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException

from ecgr1 import __version__
from ecgr1.serve import jobs
from ecgr1.serve.config import ServeConfig
from ecgr1.serve.engines import describe
from ecgr1.serve.pool import QueueFull, TimeLimit, WorkerLost, WorkerPool
from ecgr1.serve.uploads import (
    Upload,
    UploadError,
    display_name,
    dispose_folder,
    request_folder,
    save_inputs,
)

log = logging.getLogger("ecgr1.serve")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KEEPALIVE_S = 15.0
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "docs.html": "text/html; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}
PAGE_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ApiError(Exception):
    """An error answered as JSON with ``status`` (and extra ``headers``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def error_body(status: int, message: str, request_id: str | None) -> dict[str, Any]:
    return {
        "error": " ".join(str(message).splitlines()),
        "status": status,
        "request_id": request_id,
    }


def _json_error(scope_or_request: Any, status: int, message: str, headers=None) -> JSONResponse:
    state = getattr(scope_or_request, "state", None)
    rid = getattr(state, "request_id", None) if state is not None else None
    return JSONResponse(error_body(status, message, rid), status_code=status, headers=headers)


class RequestContext:
    """ASGI middleware: request id, body size limit and one log line per request."""

    def __init__(self, app: Any, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get("x-request-id", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started, status = time.perf_counter(), [0]

        async def send_with_id(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        async def refuse(code: int, text: str) -> None:
            body = json.dumps(error_body(code, text, rid)).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
                }
            )
            await send({"type": "http.response.body", "body": body})

        try:
            if scope["method"] in ("POST", "PUT", "PATCH"):
                length = headers.get("content-length")
                if length is None:
                    await refuse(411, "send the upload with a Content-Length")
                    return
                if not length.isdigit() or int(length) > self.max_body:
                    limit = f"{self.max_body / 1e6:g} MB"
                    await refuse(413, f"the upload is larger than the limit of {limit}")
                    return
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request_id=%s %s %s %s %.3fs",
                rid,
                scope["method"],
                scope["path"],
                status[0] or "-",
                time.perf_counter() - started,
            )


def _age(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ApiError(422, f"age must be a number of years, not {display_name(text)!r}") from None
    if not 0 <= value < 130:
        raise ApiError(422, f"age must be from 0 to 130 years, not {value:g}")
    return value


def _sex(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    value = {"m": "M", "male": "M", "f": "F", "female": "F"}.get(text.strip().lower())
    if value is None:
        raise ApiError(422, f"sex must be M, F, male or female, not {display_name(text)!r}")
    return value


async def _read_upload(upload: UploadFile, limit: int) -> Upload:
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"{display_name(upload.filename)} is larger than the upload limit")
    return Upload(upload.filename or "", data)


def create_app(
    config: ServeConfig | None = None, *, kit: dict[str, Callable[..., Any]] | None = None
) -> FastAPI:
    """The application for ``config``.

    ``kit`` holds optional helpers the command line passes in: ``report_html`` (the printable
    report page) and ``highlighted_leads`` (leads to outline on the ECG).
    """
    config = config or ServeConfig()
    state: dict[str, Any] = {"pool": None}

    def pool() -> WorkerPool:
        if state["pool"] is None:
            state["pool"] = WorkerPool(config.jobs, config.max_queue, kit)
        return state["pool"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool().start()
        try:
            yield
        finally:
            pool().close()

    app = FastAPI(
        title="ecgr1",
        version=__version__,
        description="Evidence-grounded 12-lead ECG interpretation: upload a record (WFDB, "
        "Challenge .mat, CSV/NPY with fs), an image, or both.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestContext, max_body=config.max_upload_bytes)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _json_error(request, exc.status, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _json_error(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return _json_error(request, 422, "invalid request: " + "; ".join(problems))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request_id=%s internal error", getattr(request.state, "request_id", None))
        return _json_error(request, 500, f"internal error: {type(exc).__name__}")

    def engine_for(requested: str | None, has_signal: bool) -> str:
        engines = config.engines()
        engine = (requested or "").strip() or config.model_engine or "protocol"
        if engine not in engines:
            raise ApiError(
                422,
                f"engine {display_name(engine)!r} is not available on this server "
                f"(available: {', '.join(engines)})",
            )
        if not has_signal and engine == "protocol":
            if config.model_engine is None:
                raise ApiError(
                    422,
                    "interpreting an image needs a model engine, and this server has none "
                    "(start it with --model DIR or --model-url URL); upload the ECG signal "
                    "(WFDB, Challenge .mat, CSV/NPY) for the protocol engine",
                )
            engine = config.model_engine
        return engine

    def engine_options(engine: str, age: float | None, sex: str | None) -> dict[str, Any]:
        return {
            "engine": engine,
            "age": age,
            "sex": sex,
            "model_dir": config.model_dir,
            "model_url": config.model_url,
            "model_name": config.model_name,
            "model_timeout_s": config.model_timeout_s,
        }

    async def open_request(
        request: Request,
        stack: AsyncExitStack,
        files: list[UploadFile],
        image: UploadFile | None,
        fields: dict[str, str | None],
    ) -> tuple[Any, Any]:
        """Save and check the uploads, lease a worker and read the record in it."""
        rid = request.state.request_id
        limit = config.max_upload_bytes
        uploads = [await _read_upload(f, limit) for f in files]
        picture = await _read_upload(image, limit) if image is not None else None
        folder = request_folder()
        stack.callback(dispose_folder, folder, config.keep_uploads, rid)
        saved = await asyncio.to_thread(
            save_inputs,
            folder,
            uploads,
            picture,
            fs=fields.get("fs"),
            units=fields.get("units"),
            leads=fields.get("leads"),
        )
        deadline = asyncio.get_running_loop().time() + config.timeout_s
        lease = await stack.enter_async_context(pool().lease(rid, deadline))
        await run_job(lease, jobs.open_inputs, saved.to_spec())
        return saved, lease

    async def run_job(lease: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await lease.call(fn, *args, **kwargs)
        except jobs.JobError as exc:
            raise ApiError(exc.status, exc.message) from None

    @asynccontextmanager
    async def guarded() -> AsyncIterator[AsyncExitStack]:
        """Map the pool's and the uploads' failures to JSON errors."""
        async with AsyncExitStack() as stack:
            try:
                yield stack
            except UploadError as exc:
                raise ApiError(exc.status, str(exc)) from None
            except QueueFull:
                raise ApiError(
                    503,
                    "the server is busy (every worker is taken and the queue is full); retry later",
                    {"Retry-After": str(config.retry_after_s)},
                ) from None
            except TimeLimit:
                raise ApiError(
                    504, f"the request ran past the time limit of {config.timeout_s:g} s"
                ) from None
            except WorkerLost as exc:
                raise ApiError(500, str(exc)) from None

    # ----------------------------------------------------------------------------- page
    def static(name: str, headers: dict[str, str] | None = None) -> Response:
        body = resources.files("ecgr1.serve").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name], headers=headers)

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return static("index.html", PAGE_SECURITY)

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in STATIC:
            raise ApiError(404, "not found")
        return static(name, {"X-Content-Type-Options": "nosniff"})

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return static("docs.html", PAGE_SECURITY)

    # ----------------------------------------------------------------------------- API
    @app.get("/v1/health", tags=["service"], summary="Liveness, engines and the worker pool")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "engines": config.engines(), "pool": pool().stats()}

    @app.get("/v1/version", tags=["service"], summary="Versions and the engines of this server")
    async def version() -> dict[str, Any]:
        options = engine_options("protocol", None, None)
        return {
            "ecgr1": __version__,
            "api": "v1",
            "engines": config.engines(),
            "default_engine": config.model_engine or "protocol",
            "engine_labels": {e: describe(e, options) for e in config.engines()},
            "max_upload_bytes": config.max_upload_bytes,
        }

    files_field = File(
        default=[],
        description="the record: .hea + .dat (WFDB), .hea + .mat (Challenge), or one .csv/.npy",
    )
    image_field = File(default=None, description="a PNG or JPEG picture of the ECG")

    def array_fields(
        fs: str | None = Form(None, description="sampling rate in Hz of a CSV/NPY upload"),
        units: str | None = Form(None, description="units of a CSV/NPY upload: mV, uV or V"),
        leads: str | None = Form(
            None, description="comma-separated lead names of a CSV/NPY upload"
        ),
    ) -> dict[str, str | None]:
        """The form fields of an array upload (CSV/NPY), shared by every record endpoint."""
        return {"fs": fs, "units": units, "leads": leads}

    fields_dependency = Depends(array_fields)

    async def on_upload(
        request: Request,
        files: list[UploadFile],
        image: UploadFile | None,
        fields: dict[str, str | None],
        fn: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Save the upload, lease a worker, run ``fn`` there; everything released after."""
        async with guarded() as stack:
            _, lease = await open_request(request, stack, files, image, fields)
            return await run_job(lease, fn, *args, **kwargs)

    @app.post(
        "/v1/interpret",
        tags=["interpretation"],
        summary="Interpret a record, an image or both: the `ecgr1 interpret --format json` object",
    )
    async def interpret(
        request: Request,
        files: list[UploadFile] = files_field,
        image: UploadFile | None = image_field,
        age: str | None = Form(None, description="age in years (overrides the record)"),
        sex: str | None = Form(None, description="M, F, male or female"),
        engine: str | None = Form(
            None, description="protocol, model or remote (default: the model when configured)"
        ),
        fields: dict[str, str | None] = fields_dependency,
    ) -> JSONResponse:
        options = engine_options(engine_for(engine, bool(files)), _age(age), _sex(sex))
        out = await on_upload(request, files, image, fields, jobs.interpret, options, False)
        return JSONResponse(out)

    @app.post(
        "/v1/interpret/stream",
        tags=["interpretation"],
        summary="The interpretation as Server-Sent Events, each part as soon as it exists",
        description="Events: `measurements`, `statements`, `image`, `step` (one per reasoning "
        "step), `summary`, `answer`, `verification` (model text), `report` (printable HTML), "
        "`done` (the whole object) or `error`. Each event's data is JSON with `t`, the server "
        "time (s) at which it was produced.",
    )
    async def interpret_stream(
        request: Request,
        files: list[UploadFile] = files_field,
        image: UploadFile | None = image_field,
        age: str | None = Form(None),
        sex: str | None = Form(None),
        engine: str | None = Form(None),
        fields: dict[str, str | None] = fields_dependency,
    ) -> EventSourceResponse:
        options = engine_options(engine_for(engine, bool(files)), _age(age), _sex(sex))
        rid = request.state.request_id
        stack = AsyncExitStack()
        try:
            async with guarded() as inner:
                _, lease = await open_request(request, inner, files, image, fields)
                stack.push_async_exit(inner.pop_all())
        except BaseException:
            await stack.aclose()
            raise

        async def events() -> AsyncIterator[ServerSentEvent]:
            try:
                async for chunk in _stream(lease, options, rid):
                    yield chunk
            finally:
                await stack.aclose()

        # sse-starlette writes the events (and flushes each at once); our own keep-alive
        # comments below, so its pings are off. "\n" line ends, as most SSE examples show.
        return EventSourceResponse(
            events(), headers={"Cache-Control": "no-cache"}, ping=None, sep="\n"
        )

    async def _stream(
        lease: Any, options: dict[str, Any], rid: str
    ) -> AsyncIterator[ServerSentEvent]:
        inbox = lease.listen()
        task = asyncio.ensure_future(run_job(lease, jobs.interpret, options, True))
        finished = False
        try:
            while True:
                getter = asyncio.ensure_future(inbox.get())
                done, _ = await asyncio.wait(
                    {getter, task}, timeout=KEEPALIVE_S, return_when=asyncio.FIRST_COMPLETED
                )
                if getter in done:
                    _, name, data, produced = getter.result()
                    yield sse(name, data, produced)
                    if name == "done":
                        finished = True
                        break
                    continue
                getter.cancel()
                if task in done:
                    error = task.exception()
                    if error is not None:
                        yield sse("error", _stream_error(error, config, rid), time.time())
                        break
                    # finished: its last events may still be on their way from the process
                    try:
                        while True:
                            _, name, data, produced = await asyncio.wait_for(inbox.get(), 10.0)
                            yield sse(name, data, produced)
                            if name == "done":
                                break
                    except (asyncio.TimeoutError, TimeoutError):
                        yield sse("error", error_body(500, "events lost", rid), time.time())
                    break
                if not done:
                    yield ServerSentEvent(comment="keep-alive")
        finally:
            if finished and not task.done():  # the job returns right after its last event
                await asyncio.wait({task}, timeout=30.0)
            if not task.done():
                task.cancel()  # the client went away or the stream failed: stop the worker

    @app.post("/v1/measure", tags=["measurement"], summary="The `ecgr1 measure` JSON object")
    async def measure(
        request: Request,
        files: list[UploadFile] = files_field,
        age: str | None = Form(None),
        sex: str | None = Form(None),
        fields: dict[str, str | None] = fields_dependency,
    ) -> JSONResponse:
        age_v, sex_v = _age(age), _sex(sex)
        out = await on_upload(request, files, None, fields, jobs.measure, age_v, sex_v)
        return JSONResponse(out)

    @app.post(
        "/v1/render",
        tags=["rendering"],
        summary="The record as a PNG 12-lead page, with the measured fiducials",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    async def render(
        request: Request,
        files: list[UploadFile] = files_field,
        fiducials: bool = Form(True, description="overlay the measured P/QRS/T marks"),
        layout: str = Form("auto", description="3x4+II, 3x4+3, 3x4, 6x2, 12x1, rows or auto"),
        dpi: float = Form(100.0, ge=30, le=300, description="resolution, 30 to 300"),
        fields: dict[str, str | None] = fields_dependency,
    ) -> Response:
        from ecgr1.render.page import LAYOUT_NAMES

        if layout not in LAYOUT_NAMES:
            raise ApiError(422, f"layout must be one of {', '.join(LAYOUT_NAMES)}")
        png = await on_upload(
            request, files, None, fields, jobs.render, fiducials=fiducials, layout=layout, dpi=dpi
        )
        return Response(png, media_type="image/png")

    @app.post(
        "/v1/report",
        tags=["interpretation"],
        summary="A printable, self-contained HTML report (protocol engine)",
        response_class=HTMLResponse,
    )
    async def report(
        request: Request,
        files: list[UploadFile] = files_field,
        age: str | None = Form(None),
        sex: str | None = Form(None),
        fields: dict[str, str | None] = fields_dependency,
    ) -> HTMLResponse:
        options = engine_options("protocol", _age(age), _sex(sex))
        page_html = await on_upload(request, files, None, fields, jobs.printable, options)
        return HTMLResponse(page_html, headers=PAGE_SECURITY)

    return app


def _stream_error(error: BaseException, config: ServeConfig, rid: str) -> dict[str, Any]:
    if isinstance(error, ApiError):
        return error_body(error.status, error.message, rid)
    if isinstance(error, TimeLimit):
        return error_body(
            504, f"the request ran past the time limit of {config.timeout_s:g} s", rid
        )
    if isinstance(error, WorkerLost):
        return error_body(500, str(error), rid)
    return error_body(500, f"internal error: {type(error).__name__}", rid)


def sse(name: str, data: Any, produced: float) -> ServerSentEvent:
    """One Server-Sent Event: ``event: NAME`` and the JSON ``data`` (with ``t``, the time it
    was produced), on one line.

    >>> sse("answer", {"labels": ["sinus rhythm"]}, 1.5).encode()
    b'event: answer\\ndata: {"labels": ["sinus rhythm"], "t": 1.5}\\n\\n'
    """
    payload = dict(data) if isinstance(data, dict) else {"items": data}
    payload["t"] = produced
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False)
    return ServerSentEvent(data=text, event=name, sep="\n")
