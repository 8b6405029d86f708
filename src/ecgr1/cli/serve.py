"""``ecgr1 serve``: the web page and HTTP API (FastAPI served by uvicorn).

The settings are checked here (a bad one is a usage error, exit status 2) and handed to the
app; with ``--workers N`` uvicorn starts N server processes, each building the app from the
settings in ``$ECGR1_SERVE_CONFIG`` (:func:`app_factory`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from ecgr1.cli._batch import add_command, add_debug_option

CONFIG_ENV = "ECGR1_SERVE_CONFIG"
LOG_LEVEL_ENV = "ECGR1_SERVE_LOG_LEVEL"
DESCRIPTION = """\
Serve the ecgr1 web page and HTTP API: upload an ECG record (WFDB .hea + .dat, Challenge
.hea + .mat, or a .csv/.npy with its sampling rate), a PNG/JPEG image of an ECG, or both; read
the streamed six-step reasoning, summary and answer, the ECG with its measured fiducials, the
measurements, the statements with their evidence and SNOMED CT codes and, for a model's text,
each claim's verification against the signal. The protocol engine needs no GPU and no network;
--model DIR (a local ECG-R1 folder: it sees the signal) or --model-url URL (an OpenAI-compatible
endpoint such as vLLM: it sees the rendered image and the prompt only) adds a model engine.

API (schema at /openapi.json, readable at /docs): POST /v1/interpret, /v1/interpret/stream
(Server-Sent Events), /v1/measure, /v1/render (PNG), /v1/report (printable HTML);
GET /v1/health, /v1/version. Every response carries X-Request-ID, also in the log line.

Examples:
  ecgr1 serve                                   # http://127.0.0.1:8000/
  ecgr1 serve --port 9000 --workers 2 --jobs 4  # 2 server processes x 4 CPU workers
  ecgr1 serve --model-url http://gpu-host:8000/v1 --model-name ECG-R1-8B
  curl -F files=@A0001.hea -F files=@A0001.mat http://127.0.0.1:8000/v1/interpret

Safety: binds to 127.0.0.1 unless --host says otherwise; uploads are checked by content,
limited in size, kept in a temporary folder per request and deleted after it; each request has
a time limit and runs in a worker process that is stopped when it runs past it; when every
worker is busy and --max-queue requests wait, the server answers 503 with Retry-After. CORS is
off unless --cors-origin is given. More: docs/serve.md.

Exit status (docs/cli.md): 0 the server stopped normally (Ctrl-C); 2 bad settings (or the port
is taken); 1 internal error.
"""


def register(subparsers: Any) -> None:
    """Add the ``serve`` subcommand."""
    from ecgr1.serve.config import (
        DEFAULT_JOBS,
        DEFAULT_MAX_QUEUE,
        DEFAULT_MAX_UPLOAD_BYTES,
        DEFAULT_TIMEOUT_S,
    )

    p = add_command(
        subparsers,
        "serve",
        run,
        help="serve the web page and HTTP API (upload a record or image, streamed interpretation)",
        description=DESCRIPTION,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    engine = p.add_mutually_exclusive_group()
    engine.add_argument("--model", metavar="DIR", help="a local ECG-R1 model folder (engine model)")
    engine.add_argument(
        "--model-url", metavar="URL", help="an OpenAI-compatible endpoint (engine remote)"
    )
    p.add_argument(
        "--model-name", metavar="NAME", help="model name at --model-url (default: its first)"
    )
    p.add_argument(
        "--workers", type=int, default=1, metavar="N", help="uvicorn server processes (1)"
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"CPU worker processes per server process ({DEFAULT_JOBS})",
    )
    p.add_argument(
        "--max-queue",
        type=int,
        default=DEFAULT_MAX_QUEUE,
        metavar="N",
        help=f"requests waiting for a worker, per server process, before 503 ({DEFAULT_MAX_QUEUE})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="S",
        help=f"time limit of one request in seconds, queueing included ({DEFAULT_TIMEOUT_S:g})",
    )
    p.add_argument(
        "--max-upload-mb",
        type=float,
        default=DEFAULT_MAX_UPLOAD_BYTES / 1e6,
        metavar="MB",
        help=f"largest request body ({DEFAULT_MAX_UPLOAD_BYTES / 1e6:g} MB)",
    )
    p.add_argument(
        "--keep-uploads", metavar="DIR", help="keep each request's uploads in DIR/<request id>"
    )
    p.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this origin by CORS (repeatable; default: CORS off)",
    )
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    add_debug_option(p)


def _config(args: argparse.Namespace) -> Any:
    from ecgr1.errors import ECGR1Error
    from ecgr1.serve.config import ServeConfig

    if args.model and not os.path.isdir(args.model):
        raise ECGR1Error(f"model folder not found: {args.model}")
    if args.workers > 1 and args.port == 0:
        raise ECGR1Error("--workers above 1 needs a fixed --port")
    return ServeConfig(
        host=args.host,
        port=args.port,
        workers=args.workers,
        jobs=args.jobs,
        max_queue=args.max_queue,
        timeout_s=args.timeout,
        max_upload_bytes=int(args.max_upload_mb * 1e6),
        model_dir=os.path.abspath(args.model) if args.model else None,
        model_url=args.model_url,
        model_name=args.model_name,
        keep_uploads=os.path.abspath(args.keep_uploads) if args.keep_uploads else None,
        cors_origins=tuple(args.cors_origin),
    )


def build_app(config: Any) -> Any:
    """The app for ``config``, with the demo's printable report and lead highlighting."""
    from ecgr1.cli.demo import highlighted_leads, render_html
    from ecgr1.serve.app import create_app

    return create_app(
        config, kit={"report_html": render_html, "highlighted_leads": highlighted_leads}
    )


def app_factory() -> Any:
    """uvicorn's factory in each server process (``--workers``)."""
    from ecgr1.serve.config import ServeConfig

    _logging(os.environ.get(LOG_LEVEL_ENV, "info"))
    return build_app(ServeConfig.from_json(os.environ[CONFIG_ENV]))


def _check_ready(config: Any) -> None:
    """Usage errors found before uvicorn starts: a missing extra, a port that is taken."""
    import importlib.util
    import socket

    from ecgr1.errors import ECGR1Error

    if importlib.util.find_spec("python_multipart") is None:
        raise ECGR1Error(
            "this needs the optional package 'python-multipart': pip install 'ecgr1[serve]'"
        )
    if config.port:
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((config.host, config.port))
            except OSError as exc:
                raise ECGR1Error(
                    f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
                ) from None


def _logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("ecgr1.serve")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False


def run(args: argparse.Namespace) -> int:
    """Run the server until interrupted; returns the exit status."""
    import uvicorn

    config = _config(args)
    _check_ready(config)
    _logging(args.log_level)
    os.environ[CONFIG_ENV] = config.to_json()
    os.environ[LOG_LEVEL_ENV] = args.log_level
    common = {
        "host": config.host,
        "port": config.port,
        "log_level": args.log_level,
        "access_log": False,  # our own line per request carries the request id
        "timeout_graceful_shutdown": 5,
    }
    if config.workers > 1:
        uvicorn.run("ecgr1.cli.serve:app_factory", factory=True, workers=config.workers, **common)
    else:
        uvicorn.run(build_app(config), **common)
    return 0
