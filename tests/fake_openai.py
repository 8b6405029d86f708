"""A real OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

It listens on an ephemeral port of 127.0.0.1 (a real socket, stdlib
``http.server.ThreadingHTTPServer`` in a background thread) and serves

- ``POST /v1/chat/completions``: calls ``responder(request_json)``, which returns either a
  string (sent back as the assistant message of an OpenAI chat-completion response) or a
  tuple ``(status, body)`` / ``(status, body, headers)`` sent as it is (``body``: bytes, str,
  or a JSON-serialisable object), so a test can script any behaviour: a wrong rewrite, an error
  status, garbage;
- ``GET /v1/models``: the one model it pretends to serve.

Every request is recorded (:attr:`FakeOpenAI.requests`), and the first ``fail_first`` calls
can be answered with ``fail_status`` (500, 429...) without calling the responder, to test
retries. Used by the corpus rephrasing tests and reusable for an LLM judge::

    with FakeOpenAI(lambda request: "a rewrite") as server:
        client_under_test(url=server.url)          # http://127.0.0.1:PORT/v1
        assert server.requests[0].json["model"] == "m"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[Any], Any]

MAX_REQUEST_BYTES = 16 * 1024 * 1024


@dataclass
class ReceivedRequest:
    """One request as the server got it (``json`` is None when the body was not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = None
    time: float = field(default_factory=time.monotonic)


def completion(content: Any, *, model: str = "fake-model", finish_reason: Any = "stop") -> dict:
    """An OpenAI chat-completion response body whose assistant message is ``content``."""
    text = content if isinstance(content, str) else ""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": len(text.split()), "total_tokens": 0},
    }


def echo_last_user_message(request: Any) -> str:
    """The default responder: the content of the last user message."""
    messages = request.get("messages", []) if isinstance(request, dict) else []
    users = [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) else ""


class FakeOpenAI:
    """A local chat-completions server; use as a context manager.

    Parameters
    ----------
    responder : ``request_json -> str | (status, body) | (status, body, headers)``; default
        echoes the last user message. An exception in it gives a 500 whose body names it.
    fail_first : answer the first ``fail_first`` chat-completion calls with ``fail_status``
        (the responder is not called for them).
    fail_status : the status of those failures (500, 503, 429...).
    retry_after : when set, the failures carry ``Retry-After: <value>``.
    model : the model named in responses and by ``/v1/models``.
    """

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        retry_after: str | None = None,
        model: str = "fake-model",
    ) -> None:
        self.responder = responder or echo_last_user_message
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.retry_after = retry_after
        self.model = model
        self._requests: list[ReceivedRequest] = []
        self._completion_calls = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # -- lifecycle
    def start(self) -> FakeOpenAI:
        owner = self

        class Handler(_Handler):
            fake = owner

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (without ``/v1``)."""
        if self.port is None:
            raise RuntimeError("the server has not been started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, the OpenAI base URL clients are given."""
        return self.base_url + "/v1"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, in order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def completion_calls(self) -> int:
        """How many ``POST /v1/chat/completions`` were received."""
        with self._lock:
            return self._completion_calls

    # -- serving
    def _record(self, request: ReceivedRequest) -> int:
        with self._lock:
            self._requests.append(request)
            if request.method == "POST" and request.path == "/v1/chat/completions":
                self._completion_calls += 1
            return self._completion_calls

    def _answer(self, request: ReceivedRequest, call: int) -> tuple[int, Any, dict[str, str]]:
        if request.method == "GET" and request.path == "/v1/models":
            return 200, {"object": "list", "data": [{"id": self.model, "object": "model"}]}, {}
        if request.path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {request.path}"}}, {}
        if request.method != "POST":
            return 405, {"error": {"message": "method not allowed"}}, {}
        if call <= self.fail_first:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            error = {"error": {"message": f"scripted failure {call}", "type": "server_error"}}
            return self.fail_status, error, headers
        if request.json is None:
            return 400, {"error": {"message": "the body is not JSON"}}, {}
        try:
            answer = self.responder(request.json)
        except Exception as exc:  # noqa: BLE001 - reported to the client, as a server would
            return 500, {"error": {"message": f"responder raised {type(exc).__name__}: {exc}"}}, {}
        if isinstance(answer, str):
            return 200, completion(answer, model=self.model), {}
        if isinstance(answer, tuple) and len(answer) in (2, 3):
            status, body = answer[0], answer[1]
            headers = dict(answer[2]) if len(answer) == 3 else {}
            return int(status), body, headers
        raise TypeError(f"responder returned {type(answer).__name__}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeOpenAI

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # keep test output clean

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        self._serve("POST")

    def _serve(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._send(413, {"error": {"message": "bad Content-Length"}}, {})
            return
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = ReceivedRequest(
            method,
            self.path.split("?")[0],
            {k.lower(): v for k, v in self.headers.items()},
            body,
            parsed,
        )
        call = self.fake._record(request)
        try:
            status, payload, headers = self.fake._answer(request, call)
        except Exception as exc:  # noqa: BLE001 - a bad responder result is the test's bug
            status, payload, headers = 500, {"error": {"message": repr(exc)}}, {}
        self._send(status, payload, headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        if isinstance(payload, bytes):
            data, ctype = payload, "application/octet-stream"
        elif isinstance(payload, str):
            data, ctype = payload.encode("utf-8"), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode("utf-8"), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", ctype))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a size cap or a timeout under test)
