"""The chat-completions client (``ecgr1.llm``) against a real local endpoint.

Every request goes to :class:`fake_openai.FakeOpenAI` on 127.0.0.1: retries and backoff,
Retry-After, a timeout, malformed replies, the on-disk cache (a rerun makes no request),
bounded concurrency, and a run interrupted midway that a second run completes.
"""

from __future__ import annotations

import json
import pickle
import socket
import threading
import time

import pytest
from fake_openai import FakeOpenAI

from ecgr1.errors import ECGR1Error
from ecgr1.llm import (
    ChatClient,
    ChatConfig,
    ChatRequest,
    ResponseCache,
    cache_key,
    endpoint_url,
)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # httpx honours proxy variables: make sure nothing but 127.0.0.1 is ever reached.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "*")


def config(url: str, **kw) -> ChatConfig:
    kw.setdefault("backoff_s", 0.0)
    kw.setdefault("timeout_s", 10.0)
    return ChatConfig(url, "fake-model", **kw)


def ask(text: str, **kw) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": text}], **kw)


def echo_upper(request) -> str:
    return request["messages"][-1]["content"].upper()


# --------------------------------------------------------------------------- one request


def test_the_request_is_openai_shaped():
    with FakeOpenAI(echo_upper) as server:
        client = ChatClient(config(server.url, api_key="sk-test", max_tokens=77))
        done = client.complete(ask("hello", user="rec-1", seed=5))
        (request,) = server.requests
    assert (done.content, done.failure, done.attempts, done.cached) == ("HELLO", None, 1, False)
    assert done.finish_reason == "stop"
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    body = request.json
    assert body["model"] == "fake-model" and body["messages"] == [
        {"role": "user", "content": "hello"}
    ]
    assert (body["temperature"], body["max_tokens"], body["n"], body["stream"]) == (
        0.0,
        77,
        1,
        False,
    )
    assert (body["user"], body["seed"]) == ("rec-1", 5)


def test_without_seed_user_or_key_the_request_has_none_of_them():
    with FakeOpenAI(echo_upper) as server:
        ChatClient(config(server.url)).complete(ask("x"))
        (request,) = server.requests
    assert "seed" not in request.json and "user" not in request.json
    assert "authorization" not in request.headers


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_transient_failure_is_retried_with_backoff(status):
    sleeps: list[float] = []
    with FakeOpenAI(echo_upper, fail_first=2, fail_status=status) as server:
        client = ChatClient(config(server.url, backoff_s=0.25), sleep=sleeps.append)
        done = client.complete(ask("x"))
        assert server.completion_calls == 3
    assert (done.content, done.attempts) == ("X", 3)
    assert sleeps == [0.25, 0.5]


def test_retries_give_up_with_a_failure_not_an_exception():
    sleeps: list[float] = []
    with FakeOpenAI(echo_upper, fail_first=99) as server:
        client = ChatClient(config(server.url, backoff_s=0.1, max_retries=2), sleep=sleeps.append)
        done = client.complete(ask("x"))
        assert server.completion_calls == 3
    assert done.content is None and done.attempts == 3
    assert done.failure.startswith("endpoint: HTTP 500") and "after 3 attempts" in done.failure
    assert sleeps == [0.1, 0.2]


def test_retry_after_is_honoured_up_to_a_limit():
    sleeps: list[float] = []
    with FakeOpenAI(echo_upper, fail_first=1, fail_status=429, retry_after="3") as server:
        ChatClient(config(server.url, backoff_s=0.1), sleep=sleeps.append).complete(ask("x"))
    assert sleeps == [3.0]
    sleeps.clear()
    with FakeOpenAI(echo_upper, fail_first=1, fail_status=503, retry_after="9999") as server:
        ChatClient(config(server.url), sleep=sleeps.append).complete(ask("x"))
    assert sleeps == [60.0]


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_client_error_is_not_retried(status):
    with FakeOpenAI(lambda r: (status, {"error": {"message": "bad\x1b[2J model"}})) as server:
        done = ChatClient(config(server.url)).complete(ask("x"))
        assert server.completion_calls == 1
    assert done.failure.startswith(f"endpoint: HTTP {status}: ") and "\x1b" not in done.failure


def test_a_slow_endpoint_times_out():
    def slow(request):
        time.sleep(1.2)
        return "late"

    with FakeOpenAI(slow) as server:
        t0 = time.monotonic()
        done = ChatClient(config(server.url, timeout_s=0.3, max_retries=0)).complete(ask("x"))
        elapsed = time.monotonic() - t0
    assert done.content is None and "no complete answer within 0.3 s" in done.failure
    assert elapsed < 1.1  # did not wait for the reply


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_endpoint_that_is_down_gives_a_failure():
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    done = ChatClient(config(url, max_retries=1), sleep=lambda s: None).complete(ask("x"))
    assert done.failure.startswith("endpoint: ConnectError") and url in done.failure
    assert done.attempts == 2


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((200, b"\xff\xfe not json"), "not UTF-8 JSON"),
        ((200, "<html>gateway</html>"), "not UTF-8 JSON"),
        ((200, "__import__('os').system('echo pwned')"), "not UTF-8 JSON"),
        ((200, "[" * 100_000 + "]" * 100_000), "not UTF-8 JSON"),
        ((200, {"choices": []}), "not a chat completion"),
        ((200, {"error": "overloaded"}), "not a chat completion"),
        ((200, {"choices": [{"message": {"content": 42}}]}), "content is int"),
        ((200, {"choices": [{"message": {"content": None}}]}), "content is NoneType"),
        ((200, b"x" * 400_000), "larger than"),
    ],
)
def test_a_malformed_reply_is_a_failure(answer, expected):
    with FakeOpenAI(lambda r: answer) as server:
        done = ChatClient(config(server.url, max_response_chars=50_000)).complete(ask("x"))
    assert done.content is None and expected in done.failure and done.attempts == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"url": "ftp://host/v1"}, "http:// or https://"),
        ({"url": "http://user:pw@host/v1"}, "credentials"),
        ({"url": "http://host/v1?x=1"}, "query"),
        ({"model": "m\r\nX-Evil: 1"}, "control characters"),
        ({"temperature": float("nan")}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_retries": 21}, "max_retries"),
        ({"api_key": "sk\n"}, "api_key"),
    ],
)
def test_the_config_is_validated(kwargs, message):
    args = {"url": "http://127.0.0.1:8000/v1", "model": "m", **kwargs}
    with pytest.raises(ECGR1Error, match="invalid chat configuration") as info:
        ChatConfig(**args)
    assert message in str(info.value)


def test_the_api_key_is_never_shown():
    cfg = ChatConfig("https://h/v1", "m", api_key="sk-secret")
    assert "sk-secret" not in repr(cfg)
    assert endpoint_url(cfg.url) == "https://h/v1/chat/completions"


def test_a_request_is_validated():
    with pytest.raises(ECGR1Error):
        ChatRequest([])
    with pytest.raises(ECGR1Error):
        ChatRequest([{"content": "no role"}])
    with pytest.raises(ECGR1Error):
        ChatRequest([{"role": "user", "content": "x"}], seed="7")


def test_a_client_pickles_for_worker_processes():
    with FakeOpenAI(echo_upper) as server:
        client = ChatClient(config(server.url))
        assert client.complete(ask("a")).content == "A"
        copy = pickle.loads(pickle.dumps(client))
        assert copy.complete(ask("b")).content == "B"
        client.close()
        copy.close()


# --------------------------------------------------------------------------- the cache


def test_a_second_run_is_answered_from_the_cache(tmp_path):
    requests = [ask(f"question {i}", user=f"r{i}") for i in range(5)]
    with FakeOpenAI(echo_upper) as server:
        client = ChatClient(config(server.url), cache=ResponseCache(tmp_path / "cache"))
        first = client.complete_many(requests, concurrency=2)
        assert server.completion_calls == 5
        second = ChatClient(
            config(server.url), cache=ResponseCache(tmp_path / "cache")
        ).complete_many(requests, concurrency=2)
        assert server.completion_calls == 5  # no request at all
    assert (
        [d.content for d in second]
        == [d.content for d in first]
        == [f"QUESTION {i}" for i in range(5)]
    )
    assert all(d.cached and d.attempts == 0 for d in second)
    assert not any(d.cached for d in first)
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 5 and all(f.endswith(".json") and len(f) == 69 for f in files)
    stored = json.loads((tmp_path / "cache" / files[0]).read_text())
    assert stored["model"] == "fake-model" and "api_key" not in json.dumps(stored)


def test_the_cache_key_covers_what_determines_the_answer():
    base = ChatConfig("http://h/v1", "m", max_tokens=100)
    endpoint = endpoint_url(base.url)
    key = cache_key(endpoint, base, ask("x", seed=1))
    changed = [
        cache_key("http://other/v1/chat/completions", base, ask("x", seed=1)),
        cache_key(endpoint, ChatConfig("http://h/v1", "m2", max_tokens=100), ask("x", seed=1)),
        cache_key(endpoint, ChatConfig("http://h/v1", "m", max_tokens=101), ask("x", seed=1)),
        cache_key(
            endpoint,
            ChatConfig("http://h/v1", "m", max_tokens=100, temperature=0.5),
            ask("x", seed=1),
        ),
        cache_key(endpoint, base, ask("x", seed=2)),
        cache_key(endpoint, base, ask("x")),
        cache_key(endpoint, base, ask("y", seed=1)),
        cache_key(
            endpoint,
            base,
            ChatRequest(
                [{"role": "system", "content": "s"}, {"role": "user", "content": "x"}], seed=1
            ),
        ),
    ]
    assert key not in changed and len(set(changed)) == len(changed)
    same = [
        cache_key(
            endpoint,
            ChatConfig("http://h/v1", "m", max_tokens=100, api_key="k", timeout_s=5),
            ask("x", seed=1),
        ),
        cache_key(endpoint, base, ask("x", seed=1, user="someone")),
    ]
    assert same == [key, key]


def test_failures_are_not_cached_and_a_corrupt_entry_is_a_miss(tmp_path):
    cache = ResponseCache(tmp_path)
    with FakeOpenAI(echo_upper, fail_first=1) as server:
        client = ChatClient(config(server.url, max_retries=0), cache=cache)
        assert client.complete(ask("x")).failure is not None
        assert len(cache) == 0
        assert client.complete(ask("x")).content == "X"
        assert len(cache) == 1
        key = client.cache_key(ask("x"))
        cache.path(key).write_text("{not json")
        again = client.complete(ask("x"))
        assert (again.content, again.cached, server.completion_calls) == ("X", False, 3)
        assert client.complete(ask("x")).cached
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_an_entry_for_another_key_is_not_served(tmp_path):
    cache = ResponseCache(tmp_path)
    with FakeOpenAI(echo_upper) as server:
        client = ChatClient(config(server.url), cache=cache)
        client.complete(ask("a"))
        key_a, key_b = client.cache_key(ask("a")), client.cache_key(ask("b"))
        cache.path(key_b).write_text(cache.path(key_a).read_text())  # copied under b's name
        assert client.complete(ask("b")).content == "B"
        assert server.completion_calls == 2


# --------------------------------------------------------------------------- many requests


def test_requests_run_concurrently_within_the_bound_and_keep_their_order():
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def slow(request):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
        return echo_upper(request)

    seen: list[tuple[int, int]] = []
    with FakeOpenAI(slow) as server:
        client = ChatClient(config(server.url))
        t0 = time.monotonic()
        done = client.complete_many(
            [ask(f"q{i}") for i in range(8)],
            concurrency=3,
            progress=lambda d, t: seen.append((d, t)),
        )
        elapsed = time.monotonic() - t0
    assert [d.content for d in done] == [f"Q{i}" for i in range(8)]
    assert 2 <= state["peak"] <= 3
    assert elapsed < 8 * 0.15 + 0.5  # not one at a time
    assert seen == [(i, 8) for i in range(1, 9)]


def test_concurrency_is_validated():
    client = ChatClient(config("http://127.0.0.1:9/v1"))
    for bad in (0, 65, 2.0, True):
        with pytest.raises(ECGR1Error, match="concurrency"):
            client.complete_many([ask("x")], concurrency=bad)
    assert client.complete_many([], concurrency=4) == []


def test_an_interrupted_run_resumes_from_the_cache(tmp_path):
    requests = [ask(f"q{i}") for i in range(10)]

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with FakeOpenAI(echo_upper) as server:
        client = ChatClient(config(server.url), cache=ResponseCache(tmp_path))
        with pytest.raises(KeyboardInterrupt):
            client.complete_many(requests, concurrency=2, progress=stop_after_three)
        first = server.completion_calls
        assert 3 <= first <= 4  # the three answered, and at most the one under way
        asked_first = {r.json["messages"][0]["content"] for r in server.requests}
        done = client.complete_many(requests, concurrency=2)
        asked_again = [r.json["messages"][0]["content"] for r in server.requests[first:]]
    assert server.completion_calls == 10  # every request made exactly once over both runs
    assert set(asked_again) == {f"q{i}" for i in range(10)} - asked_first
    assert [d.content for d in done] == [f"Q{i}" for i in range(10)]


def test_the_module_examples_run():
    import doctest

    import ecgr1.llm as module

    assert doctest.testmod(module).failed == 0


def test_endpoint_paths() -> None:
    from ecgr1.llm import endpoint_url

    assert endpoint_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1/chat/completions"
    assert endpoint_url("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1/chat/completions"
    # a provider's own API path is kept (e.g. /api/v3), not given a /v1
    assert endpoint_url("https://h.example/api/v3") == "https://h.example/api/v3/chat/completions"
