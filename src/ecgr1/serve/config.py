"""The settings of one ``ecgr1 serve`` process, validated in one place.

Every knob of the server lives here with its default, so ``ecgr1 serve --help``, the docs and
the app read the same numbers. The configuration travels to uvicorn's worker processes as JSON
(:meth:`ServeConfig.to_json` / :meth:`ServeConfig.from_json`).

>>> ServeConfig().max_upload_bytes, ServeConfig().max_queue, ServeConfig().host
(20000000, 16, '127.0.0.1')
>>> ServeConfig(jobs=0)
Traceback (most recent call last):
...
ecgr1.errors.ECGR1Error: invalid server settings: jobs must be an integer from 1 to 64, not 0
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ecgr1.errors import ECGR1Error

DEFAULT_MAX_UPLOAD_BYTES = 20_000_000  # 20 MB, the whole request body
DEFAULT_MAX_QUEUE = 16  # requests waiting for a CPU worker, per server process
DEFAULT_JOBS = 2  # CPU worker processes per server process
DEFAULT_TIMEOUT_S = 120.0  # per request, queueing included
DEFAULT_RETRY_AFTER_S = 2  # the Retry-After of a 503 (queue full)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ServeConfig:
    """Settings of the web server (``ecgr1 serve``).

    Parameters
    ----------
    host, port : where uvicorn listens (loopback unless told otherwise).
    workers : uvicorn server processes; each has its own worker pool and queue.
    jobs : CPU worker processes per server process (spawned; a request runs in one of them, so
        a request that runs past its time limit is stopped by ending that process).
    max_queue : requests admitted to wait for a free worker, per server process; one more is
        answered 503 with ``Retry-After``.
    timeout_s : the time limit of one request, waiting included.
    max_upload_bytes : the largest request body accepted (413 above it).
    model_dir : a local ECG-R1 model folder (receives the signal and, when given, the image).
    model_url, model_name : an OpenAI-compatible endpoint and the model it serves (None: the
        first of its ``/v1/models``); it receives the rendered image and the text only.
    model_timeout_s : the time limit of one call of the remote endpoint.
    keep_uploads : a folder where each request's uploads are kept (None: deleted).
    cors_origins : origins allowed by CORS (empty: CORS off).
    retry_after_s : the ``Retry-After`` sent with a 503.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    jobs: int = DEFAULT_JOBS
    max_queue: int = DEFAULT_MAX_QUEUE
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    model_dir: str | None = None
    model_url: str | None = None
    model_name: str | None = None
    model_timeout_s: float = 300.0
    keep_uploads: str | None = None
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    retry_after_s: int = DEFAULT_RETRY_AFTER_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        problems = self.problems()
        if problems:
            raise ECGR1Error("invalid server settings: " + "; ".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with these settings (empty when none)."""
        out: list[str] = []
        if not isinstance(self.host, str) or not self.host:
            out.append("host must be a host name or address")
        if not _is_int(self.port) or not 0 <= self.port <= 65535:
            out.append(f"port must be an integer from 0 to 65535, not {self.port!r}")
        for name, low, high in (("workers", 1, 64), ("jobs", 1, 64), ("max_queue", 0, 10_000)):
            value = getattr(self, name)
            if not _is_int(value) or not low <= value <= high:
                out.append(f"{name} must be an integer from {low} to {high}, not {value!r}")
        for name in ("timeout_s", "model_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                out.append(f"{name} must be a positive number of seconds, not {value!r}")
        if not _is_int(self.max_upload_bytes) or self.max_upload_bytes < 1024:
            out.append(f"max_upload_bytes must be at least 1024, not {self.max_upload_bytes!r}")
        if self.model_dir and self.model_url:
            out.append("give a local model folder or a model URL, not both")
        if self.model_url is not None:
            from ecgr1.llm import url_problems

            out.extend(url_problems(self.model_url))
        if not _is_int(self.retry_after_s) or self.retry_after_s < 1:
            out.append(f"retry_after_s must be a positive integer, not {self.retry_after_s!r}")
        return out

    @property
    def model_engine(self) -> str | None:
        """``"model"`` (local folder), ``"remote"`` (endpoint) or None (protocol only)."""
        if self.model_dir:
            return "model"
        if self.model_url:
            return "remote"
        return None

    def engines(self) -> list[str]:
        """The engines this server offers; the protocol engine always."""
        return ["protocol"] + ([self.model_engine] if self.model_engine else [])

    def to_json(self) -> str:
        """The settings as JSON (for uvicorn's worker processes)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        """Settings from :meth:`to_json`; unknown keys are refused."""
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ECGR1Error(f"unknown server settings: {', '.join(unknown)}")
        return cls(**data)
