"""A small client for OpenAI-compatible chat-completions endpoints (vLLM, llama.cpp, OpenAI...).

Used by the corpus rephrasing (``ecgr1.corpus.rephrase``) and the LLM judge
(``ecgr1.evaluate.judge``). A leaf module: it imports only :mod:`ecgr1.errors` and httpx.

What it does, and nothing more:

- **configuration** checked on construction (:class:`ChatConfig`, :func:`config_problems`):
  an ``http(s)`` URL without credentials, query or fragment, a model name, sampling settings,
  limits;
- **one request** (:meth:`ChatClient.complete`): ``POST {url}/v1/chat/completions`` with the
  messages, ``temperature``, ``max_tokens``, ``n = 1``, ``stream = false`` and, when given, a
  ``user`` tag and a ``seed``. A refused connection, a timeout, a 5xx or a 429 is retried up to
  ``max_retries`` times, waiting ``backoff_s * 2**(n - 1)`` before retry n (longer when the
  server sends ``Retry-After``, honoured up to :data:`MAX_RETRY_AFTER_S`); other statuses are
  not retried. Each attempt has ``timeout_s`` from connection to last byte; the body is read
  up to a byte cap (``max_response_chars`` * 6 + 64 KiB) and then abandoned; it is parsed as
  JSON and nothing else (never evaluated), and must be a chat completion whose
  ``choices[0].message.content`` is a string. Nothing raises because of the endpoint: the
  result is a :class:`Completion` with the content, or with a ``failure`` text
  ``"endpoint: ..."``;
- **many requests** (:meth:`ChatClient.complete_many`): a pool of ``concurrency`` threads,
  results in the order of the requests;
- **an on-disk cache** (:class:`ResponseCache`): one JSON file per answer, named by
  :func:`cache_key` (the SHA-256 of the endpoint, the model, the full messages and the
  sampling settings ``temperature``, ``max_tokens`` and ``seed``; never the API key), written
  atomically (a temporary file renamed into place). A hit makes no request (``attempts`` 0,
  ``cached`` True), so a rerun costs nothing and an interrupted run resumes where it stopped.
  Only answers are cached, never failures: a rerun retries what failed.

Example
-------
>>> config = ChatConfig("http://127.0.0.1:8000/v1", "qwen", max_retries=0)
>>> endpoint_url(config.url)
'http://127.0.0.1:8000/v1/chat/completions'
>>> request = ChatRequest([{"role": "user", "content": "hi"}], seed=7)
>>> ChatClient(config).request_body(request)["seed"]
7
>>> len(cache_key(endpoint_url(config.url), config, request))
64
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ecgr1.errors import ECGR1Error

__all__ = [
    "CACHE_FORMAT",
    "MAX_RETRY_AFTER_S",
    "ChatClient",
    "ChatConfig",
    "ChatRequest",
    "Completion",
    "ResponseCache",
    "cache_key",
    "config_problems",
    "endpoint_url",
    "url_problems",
]

MAX_RETRY_AFTER_S = 60.0  # a Retry-After header is honoured up to this
MAX_CONCURRENCY = 64
CACHE_FORMAT = 1  # part of every cache key: a new format never reads old files
_ERROR_EXCERPT_CHARS = 200  # of an error body, quoted (sanitised) in the failure
_MAX_CACHE_FILE_BYTES = 64 * 1024 * 1024

Progress = Callable[[int, int], None]


# --------------------------------------------------------------------------- configuration


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def url_problems(url: Any, *, key_env: str | None = None) -> list[str]:
    """What is wrong with an endpoint base URL (empty when it is usable). ``key_env`` names
    the environment variable suggested for the API key when the URL holds credentials."""
    if not isinstance(url, str) or not url or _has_control(url) or url != url.strip():
        return [f"url must be an http(s) URL, not {url!r}"]
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when not a number
    except ValueError as exc:
        return [f"url {url!r} is not a valid URL ({exc})"]
    del port
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"url must start with http:// or https:// and name a host, not {url!r}"]
    if parts.username is not None or parts.password is not None:
        where = f" (or ${key_env})" if key_env else ""
        return [f"url must not contain credentials; give api_key{where}"]
    if parts.query or parts.fragment:
        return [f"url must not have a query or fragment: {url!r}"]
    return []


def config_problems(config: Any, *, key_env: str | None = None) -> list[str]:
    """What is wrong with the endpoint settings of ``config`` (any object with the fields of
    :class:`ChatConfig`); empty when they are usable."""
    c = config
    problems = url_problems(c.url, key_env=key_env)
    if not isinstance(c.model, str) or not c.model.strip() or len(c.model) > 256:
        problems.append("model must be a non-empty name (at most 256 characters)")
    elif _has_control(c.model):
        problems.append("model must not contain control characters")
    if c.api_key is not None and (
        not isinstance(c.api_key, str) or not c.api_key or _has_control(c.api_key)
    ):
        problems.append("api_key must be a non-empty string without control characters")
    if not _is_real(c.temperature) or not 0 <= c.temperature <= 2:
        problems.append(f"temperature must be a number from 0 to 2, not {c.temperature!r}")
    if not _is_int(c.max_tokens) or c.max_tokens < 1:
        problems.append(f"max_tokens must be a positive integer, not {c.max_tokens!r}")
    if not _is_real(c.timeout_s) or c.timeout_s <= 0:
        problems.append(f"timeout_s must be a positive number, not {c.timeout_s!r}")
    if not _is_int(c.max_retries) or not 0 <= c.max_retries <= 20:
        problems.append(f"max_retries must be an integer from 0 to 20, not {c.max_retries!r}")
    if not _is_real(c.backoff_s) or c.backoff_s < 0:
        problems.append(f"backoff_s must be a number >= 0, not {c.backoff_s!r}")
    if not _is_int(c.max_response_chars) or c.max_response_chars < 1:
        problems.append(
            f"max_response_chars must be a positive integer, not {c.max_response_chars!r}"
        )
    return problems


@dataclass(frozen=True)
class ChatConfig:
    """Where and how to ask; validated on construction (:class:`ECGR1Error`).

    Parameters
    ----------
    url : the OpenAI-compatible base URL, ``http(s)://host[:port][/path]``, with or without a
        trailing ``/v1``. No credentials, query or fragment in it.
    model : the model name the endpoint serves.
    api_key : sent as ``Authorization: Bearer`` (None: no header). Never shown by ``repr`` and
        never part of a cache key. This class reads no environment variable; callers do.
    temperature, max_tokens : sampling settings sent with every request.
    timeout_s : the limit for one attempt, connection to last byte.
    max_retries, backoff_s : further attempts after a connection error, a timeout, a 5xx or a
        429, waiting ``backoff_s * 2**(n - 1)`` before retry n.
    max_response_chars : the longest content expected; the body is read up to a byte cap
        derived from it.
    """

    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    max_tokens: int = 2048
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 1.0
    max_response_chars: int = 50_000

    def __post_init__(self) -> None:
        problems = config_problems(self)
        if problems:
            raise ECGR1Error("invalid chat configuration: " + "; ".join(problems))


def endpoint_url(url: str) -> str:
    """The chat-completions URL of a base URL: a bare host gets ``/v1``; a URL with a path is
    used as given (``/v1``, or a provider's own such as ``/api/v3``).

    >>> endpoint_url("http://localhost:8000"), endpoint_url("https://h/api/v1/")
    ('http://localhost:8000/v1/chat/completions', 'https://h/api/v1/chat/completions')
    >>> endpoint_url("https://ark.example.com/api/v3")
    'https://ark.example.com/api/v3/chat/completions'
    """
    from urllib.parse import urlsplit

    base = url.rstrip("/")
    if urlsplit(base).path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


# --------------------------------------------------------------------------- requests, answers


@dataclass(frozen=True)
class ChatRequest:
    """One conversation to complete: ``messages`` (``[{"role", "content"}]``), an optional
    ``user`` tag (e.g. a record id; not part of the cache key) and ``seed`` (sent when set)."""

    messages: Sequence[dict[str, Any]]
    user: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        ok = isinstance(self.messages, (list, tuple)) and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in self.messages
        )
        if not ok or not self.messages:
            raise ECGR1Error("a chat request needs a non-empty list of {role, content} messages")
        if self.seed is not None and not _is_int(self.seed):
            raise ECGR1Error(f"seed must be an integer or None, not {self.seed!r}")
        if self.user is not None and not isinstance(self.user, str):
            raise ECGR1Error(f"user must be a string or None, not {self.user!r}")


@dataclass(frozen=True)
class Completion:
    """One answer of the endpoint: its content (None when it gave none), finish reason, the
    failure (``"endpoint: ..."``), the HTTP requests made and whether it came from the cache."""

    content: str | None
    finish_reason: Any
    failure: str | None
    attempts: int
    cached: bool = False


class _EndpointFailure(Exception):
    def __init__(self, message: str, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def _excerpt(raw: bytes) -> str:
    text = raw[: _ERROR_EXCERPT_CHARS * 4].decode("utf-8", "replace")[:_ERROR_EXCERPT_CHARS]
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _retry_after(headers: httpx.Headers) -> float | None:
    try:
        value = float(headers.get("retry-after", ""))
    except ValueError:
        return None
    return min(value, MAX_RETRY_AFTER_S) if math.isfinite(value) and value >= 0 else None


def _content_of(raw: bytes) -> tuple[str, Any]:
    """The message content and finish reason of a chat-completion body (hostile input: parsed
    as JSON, nothing else)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _EndpointFailure("the response is not UTF-8 JSON", False) from None
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise _EndpointFailure(
            "the response is not a chat completion (no choices[0].message.content)", False
        ) from None
    if not isinstance(content, str):
        kind = type(content).__name__
        raise _EndpointFailure(f"the message content is {kind}, not a string", False)
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    if finish is not None and not isinstance(finish, str):
        finish = None
    return content, finish


# --------------------------------------------------------------------------- the cache


def cache_key(endpoint: str, config: ChatConfig, request: ChatRequest) -> str:
    """SHA-256 (hex) of what determines an answer: the endpoint URL, the model, the full
    messages and the sampling settings (temperature, max_tokens, seed). Not the API key, not
    the ``user`` tag, not timeouts or retries."""
    payload = {
        "format": CACHE_FORMAT,
        "endpoint": endpoint,
        "model": config.model,
        "messages": list(request.messages),
        "temperature": config.temperature,
        "max_tokens": config.max_tokens,
        "seed": request.seed,
    }
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResponseCache:
    """A folder of answers, one ``<key>.json`` file each, written atomically.

    A file that cannot be read, is not JSON or does not hold the answer for its own key is a
    miss (and is replaced by the next answer). Safe for threads and for processes sharing the
    folder: every write goes to a temporary file in the folder that is then renamed over the
    final name.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ECGR1Error(
                f"cannot create the cache folder ({exc.strerror})", str(folder)
            ) from None
        if not self.folder.is_dir():
            raise ECGR1Error("the cache path is not a folder", str(folder))

    def path(self, key: str) -> Path:
        """The file of ``key``."""
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ECGR1Error(f"not a cache key: {key!r}")
        return self.folder / f"{key}.json"

    def get(self, key: str) -> tuple[str, Any] | None:
        """``(content, finish_reason)`` stored for ``key``, or None."""
        path = self.path(key)
        try:
            if path.stat().st_size > _MAX_CACHE_FILE_BYTES:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("format") != CACHE_FORMAT
            or data.get("key") != key
            or not isinstance(data.get("content"), str)
        ):
            return None
        finish = data.get("finish_reason")
        return data["content"], finish if isinstance(finish, str) else None

    def put(self, key: str, content: str, finish_reason: Any, meta: dict[str, Any]) -> None:
        """Store an answer (``meta``: what it answers, for a reader of the folder)."""
        record = {
            "format": CACHE_FORMAT,
            "key": key,
            **meta,
            "content": content,
            "finish_reason": finish_reason if isinstance(finish_reason, str) else None,
            "stored_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        data = json.dumps(record, ensure_ascii=False).encode("utf-8")
        final = self.path(key)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))


# --------------------------------------------------------------------------- the client


class ChatClient:
    """Ask an OpenAI-compatible endpoint; never raises because of the endpoint.

    One instance per process (it holds a connection pool, shared by the threads of
    :meth:`complete_many`; it pickles without it). ``sleep`` waits between retries (tests pass
    a recorder); ``cache`` is a :class:`ResponseCache` or None.

    Example
    -------
    >>> client = ChatClient(ChatConfig("http://127.0.0.1:9/v1", "m", max_retries=0))
    >>> client.endpoint
    'http://127.0.0.1:9/v1/chat/completions'
    """

    def __init__(
        self,
        config: ChatConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        cache: ResponseCache | None = None,
    ) -> None:
        if not isinstance(config, ChatConfig):
            raise ECGR1Error(f"ChatClient needs a ChatConfig, not {type(config).__name__}")
        self.config = config
        self.endpoint = endpoint_url(config.url)
        self.cache = cache
        self._sleep = sleep
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # -- lifecycle
    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(follow_redirects=False)
            return self._client

    # -- the request
    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body sent for ``request`` (the same for the same request and config)."""
        c = self.config
        body: dict[str, Any] = {
            "model": c.model,
            "messages": [dict(m) for m in request.messages],
            "temperature": c.temperature,
            "max_tokens": c.max_tokens,
            "n": 1,
            "stream": False,
        }
        if request.user is not None:
            body["user"] = request.user
        if request.seed is not None:
            body["seed"] = request.seed
        return body

    def cache_key(self, request: ChatRequest) -> str:
        """:func:`cache_key` of ``request`` for this client's endpoint and config."""
        return cache_key(self.endpoint, self.config, request)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def _post_once(self, payload: bytes) -> tuple[str, Any]:
        """One attempt: the completion's content and finish reason, or :class:`_EndpointFailure`."""
        c = self.config
        client = self._http()
        cap = c.max_response_chars * 6 + 65_536  # JSON escapes take up to 6 bytes a character
        deadline = time.monotonic() + c.timeout_s
        try:
            with client.stream(
                "POST",
                self.endpoint,
                content=payload,
                headers=self._headers(),
                timeout=httpx.Timeout(c.timeout_s),
            ) as response:
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise _EndpointFailure(f"the response is larger than {cap:,} bytes", False)
                    if time.monotonic() > deadline:
                        raise _EndpointFailure(f"no complete answer within {c.timeout_s:g} s", True)
                    chunks.append(chunk)
                status, headers = response.status_code, response.headers
        except httpx.TimeoutException:
            raise _EndpointFailure(f"no complete answer within {c.timeout_s:g} s", True) from None
        except httpx.HTTPError as exc:
            raise _EndpointFailure(f"{type(exc).__name__}: {exc}", True) from None
        raw = b"".join(chunks)
        if not 200 <= status < 300:
            retryable = status == 429 or 500 <= status < 600
            message = f"HTTP {status}" + (f": {_excerpt(raw)}" if raw else "")
            raise _EndpointFailure(message, retryable, _retry_after(headers))
        return _content_of(raw)

    def complete(self, request: ChatRequest) -> Completion:
        """One answer for ``request``: from the cache when it holds one, else from the endpoint
        (retrying transient failures; an answer is stored in the cache). Checks nothing but the
        shape of the response (a chat completion whose content is a string)."""
        key = None
        if self.cache is not None:
            key = self.cache_key(request)
            hit = self.cache.get(key)
            if hit is not None:
                return Completion(hit[0], hit[1], None, 0, cached=True)
        payload = json.dumps(self.request_body(request)).encode()
        attempts = 0
        while True:
            attempts += 1
            try:
                content, finish_reason = self._post_once(payload)
            except _EndpointFailure as failure:
                if failure.retryable and attempts <= self.config.max_retries:
                    delay = self.config.backoff_s * 2 ** (attempts - 1)
                    if failure.retry_after is not None:
                        delay = max(delay, failure.retry_after)
                    self._sleep(delay)
                    continue
                tries = f" after {attempts} attempts" if attempts > 1 else ""
                reason = f"endpoint: {failure}{tries} ({self.endpoint})"
                return Completion(None, None, reason, attempts)
            if self.cache is not None and key is not None:
                meta = {"endpoint": self.endpoint, "model": self.config.model}
                try:
                    self.cache.put(key, content, finish_reason, meta)
                except OSError:
                    pass  # an unwritable cache costs a request next time, nothing more
            return Completion(content, finish_reason, None, attempts)

    def complete_many(
        self,
        requests: Sequence[ChatRequest],
        *,
        concurrency: int = 4,
        progress: Progress | None = None,
    ) -> list[Completion]:
        """:meth:`complete` for every request, ``concurrency`` at a time (threads), in the
        order of ``requests``. ``progress(done, total)`` is called in the calling thread as
        answers arrive. When it (or anything else) raises, no new request is started, the
        requests under way finish (their answers reach the cache) and the exception propagates:
        a later run resumes from the cache."""
        if not _is_int(concurrency) or not 1 <= concurrency <= MAX_CONCURRENCY:
            raise ECGR1Error(
                f"concurrency must be an integer from 1 to {MAX_CONCURRENCY}, not {concurrency!r}"
            )
        requests = list(requests)
        total = len(requests)
        results: list[Completion | None] = [None] * total
        if not requests:
            return []
        pool = ThreadPoolExecutor(max_workers=min(concurrency, total), thread_name_prefix="llm")
        try:
            pending: dict[Future[Completion], int] = {}
            queue = iter(range(total))
            done_count = 0

            def submit_next() -> None:
                i = next(queue, None)
                if i is not None:
                    pending[pool.submit(self.complete, requests[i])] = i

            for _ in range(min(concurrency, total)):
                submit_next()
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i = pending.pop(fut)
                    results[i] = fut.result()
                    done_count += 1
                    if progress is not None:
                        progress(done_count, total)
                    submit_next()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return [r for r in results if r is not None]
