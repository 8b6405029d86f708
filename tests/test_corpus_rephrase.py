"""LLM rephrasing of reports (``ecgr1.corpus.rephrase``) against a real local endpoint.

Every request goes to :class:`fake_openai.FakeOpenAI` on 127.0.0.1. The reports are real
deterministic reports (simulated records, and two CPSC 2018 records when the shared data is
present); the fake endpoint answers each with a faithful rewrite or with a rewrite carrying one
planted error, chosen (by inspecting the verifier's output) so that the verifier itself
decides it.
"""

from __future__ import annotations

import json
import pickle
import re
import socket
from collections.abc import Callable

import pytest
from fake_openai import FakeOpenAI

from ecgr1.corpus.rephrase import (
    API_KEY_ENV,
    SYSTEM_PROMPT,
    RephraseConfig,
    RephraseOutcome,
    Rephraser,
    RephraseStats,
    endpoint_url,
    request_seed,
)
from ecgr1.errors import ECGR1Error
from ecgr1.io import read_record
from ecgr1.pipeline import interpret_record
from ecgr1.report import STEP_TITLES, write_report
from ecgr1.simulate import simulate

SIMULATED = ("normal", "lbbb", "atrial_fibrillation", "inferior_stemi")
CPSC = ("A0001", "A0003")  # CPSC 2018: RBBB; AF with ST-T changes
# Records with a territorial finding whose move to other leads the verifier contradicts (A0001's
# lateral ST elevation was a false call that the QRS noise floors removed).
CPSC_MOVED = ("A0034", "A0003")  # inferior ST elevation (labelled STE); lateral ST depression
REPORTS = [*SIMULATED, *(pytest.param(r, marks=pytest.mark.shared_data) for r in CPSC)]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # httpx honours proxy variables: make sure nothing but 127.0.0.1 is ever reached.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.delenv(API_KEY_ENV, raising=False)


_CACHE: dict[str, tuple[object, str]] = {}


@pytest.fixture
def report(request) -> tuple[str, object, str]:
    """(name, RecordInterpretation, deterministic report text) for the parametrised name."""
    name = request.param
    if name not in _CACHE:
        if name in CPSC + CPSC_MOVED:
            record = read_record(str(request.getfixturevalue("cpsc2018_dir") / name))
        else:
            record = simulate(name, seed=0).record
        out = interpret_record(record)
        _CACHE[name] = (out, write_report(out.interpretation))
    out, text = _CACHE[name]
    return name, out, text


def config(url: str, **kw) -> RephraseConfig:
    kw.setdefault("backoff_s", 0.0)
    kw.setdefault("timeout_s", 10.0)
    return RephraseConfig(url, "fake-model", **kw)


def run(text: str, measured: object, responder, name: str = "rec", **kw) -> RephraseOutcome:
    with FakeOpenAI(responder) as server:
        with Rephraser(config(server.url, **kw)) as rephraser:
            return rephraser.rephrase(text, measured, record_id=name)


# --------------------------------------------------------------------------- the rewrites

# Safe rewordings: connectives and sentence openings only; every number, lead and finding stays.
SAFE_REWORDINGS = (
    ("Technical quality is good", "The technical quality is good"),
    ("Findings support ", "The measurements support "),
    ("Intervals: ", "Measured intervals: "),
    ("Against the contiguous-lead criteria of", "Judged against the contiguous-lead criteria of"),
    ("Synthesising the findings: ", "Putting the findings together: "),
    ("This ECG shows ", "Overall, the tracing shows "),
    ("Measured values argue against", "The measured values argue against"),
)


def body_of(text: str) -> tuple[str, str]:
    """(everything before <answer>, the <answer> line): rewrites never touch the answer."""
    i = text.rindex("<answer>")
    return text[:i], text[i:]


def faithful(text: str) -> str:
    body, answer = body_of(text)
    for old, new in SAFE_REWORDINGS:
        body = body.replace(old, new)
    # blank lines between the parts, as chat models like to write them
    body = body.replace("\n**Step", "\n\n**Step")
    assert body + answer != text
    return body + answer


def wrong_qrs(text: str) -> tuple[str, str]:
    """The first "QRS N ms" becomes N + 60 ms."""
    m = re.search(r"QRS (\d+) ms", text)
    assert m, "the report states no QRS duration"
    wrong = f"QRS {int(m.group(1)) + 60} ms"
    return text[: m.start()] + wrong + text[m.end() :], wrong


def swapped_leads(text: str) -> tuple[str, str]:
    """In the R-wave progression sentence, the two precordial leads whose R amplitudes differ
    most exchange their names (the values stay, now attributed to the wrong leads)."""
    m = re.search(r"R-wave progression across the precordium: (.*?)\.(?:\s|$)", text)
    assert m, "the report has no R-wave progression sentence"
    values = re.findall(r"(\d+\.\d+) mV in (V\d)", m.group(1))
    (va, la), (vb, lb) = max(
        ((a, b) for a in values for b in values if a[1] < b[1]),
        key=lambda pair: abs(float(pair[0][0]) - float(pair[1][0])),
    )
    sentence = (
        m.group(0)
        .replace(f"{va} mV in {la}", "\0")
        .replace(f"{vb} mV in {lb}", f"{vb} mV in {la}")
        .replace("\0", f"{va} mV in {lb}")
    )
    return text.replace(m.group(0), sentence), f"{vb} mV in {la}"


# A finding moved to other leads in the narrative (picked where the verifier decides it: a move
# to leads whose value is near the threshold is not contradicted, so such moves are not used).
MOVED_FINDINGS = {
    "inferior_stemi": ("probable inferior ST elevation", "probable anterior ST elevation"),
    "A0034": ("probable inferior ST elevation", "probable anterior ST elevation"),
    "A0003": ("probable lateral ST depression", "probable inferior ST depression"),
}


def moved_finding(name: str, text: str) -> str:
    old, new = MOVED_FINDINGS[name]
    head, sep, tail = text.partition("</think>")
    narrative, answer = body_of(tail)
    assert old in narrative, f"the narrative no longer says {old!r}"
    return head + sep + narrative.replace(old, new, 1) + answer


def denied(text: str) -> tuple[str, str]:
    """The narrative denies the first finding it reports ("This ECG shows no ...")."""
    m = re.search(r"\nThis ECG shows (.+?)(?:,| and | at a )", text)
    assert m, "the narrative does not start with 'This ECG shows'"
    return text[: m.start(1)] + "no " + text[m.start(1) :], m.group(1)


def answer_changed(text: str) -> str:
    """The answer loses its last label (or, with one label, is upper-cased): nothing false, so
    only the structure check can catch it."""
    body, answer = body_of(faithful(text))
    labels = answer[len("<answer>") : -len("</answer>")].split("; ")
    changed = "; ".join(labels[:-1]) if len(labels) > 1 else labels[0].upper()
    return body + f"<answer>{changed}</answer>"


def replying(text: str) -> Callable[[object], str]:
    return lambda request: text


# --------------------------------------------------------------------------- per report


@pytest.mark.parametrize("report", REPORTS, indirect=True)
def test_a_faithful_rewrite_is_accepted_in_the_canonical_layout(report):
    name, measured, text = report
    rewrite = faithful(text)
    outcome = run(text, measured, replying(rewrite), name)
    assert outcome.accepted, outcome.reason
    assert (outcome.reason, outcome.kind, outcome.contradicted, outcome.attempts) == (
        None,
        None,
        [],
        1,
    )
    assert outcome.text == rewrite.replace("\n\n**Step", "\n**Step")  # one line per part
    assert outcome.text != text


@pytest.mark.parametrize("report", REPORTS, indirect=True)
def test_a_wrong_qrs_duration_is_rejected_as_a_contradiction(report):
    name, measured, text = report
    rewrite, wrong = wrong_qrs(faithful(text))
    outcome = run(text, measured, replying(rewrite), name)
    assert not outcome.accepted
    assert outcome.kind == "contradiction"
    assert wrong in outcome.contradicted
    assert outcome.reason.startswith("contradiction: ") and wrong in outcome.reason
    assert outcome.text == text  # the deterministic report is kept


@pytest.mark.parametrize("report", REPORTS, indirect=True)
def test_values_moved_to_the_wrong_leads_are_rejected(report):
    name, measured, text = report
    rewrite, wrong = swapped_leads(faithful(text))
    outcome = run(text, measured, replying(rewrite), name)
    assert (outcome.accepted, outcome.kind) == (False, "contradiction")
    assert any(claim.endswith(wrong) for claim in outcome.contradicted), outcome.contradicted


@pytest.mark.parametrize(
    "report",
    [
        "inferior_stemi",
        *(pytest.param(r, marks=pytest.mark.shared_data) for r in CPSC_MOVED),
    ],
    indirect=True,
)
def test_a_finding_moved_to_other_leads_is_rejected(report):
    name, measured, text = report
    outcome = run(text, measured, replying(moved_finding(name, faithful(text))), name)
    assert (outcome.accepted, outcome.kind) == (False, "contradiction")
    finding = MOVED_FINDINGS[name][1].split(" ", 1)[1]  # without its hedge
    assert any(claim in finding for claim in outcome.contradicted), outcome.contradicted


@pytest.mark.parametrize("report", REPORTS, indirect=True)
def test_a_present_finding_denied_is_rejected(report):
    name, measured, text = report
    rewrite, finding = denied(text)
    outcome = run(text, measured, replying(rewrite), name)
    assert (outcome.accepted, outcome.kind) == (False, "contradiction")
    assert finding in outcome.contradicted  # e.g. "atrial fibrillation" for an AF record


@pytest.mark.parametrize("report", REPORTS, indirect=True)
def test_a_changed_answer_is_rejected_as_structure(report):
    name, measured, text = report
    outcome = run(text, measured, replying(answer_changed(text)), name)
    assert (outcome.accepted, outcome.kind) == (False, "structure")
    assert "<answer>" in outcome.reason and outcome.contradicted == []


# --------------------------------------------------------------------------- structure


def test_a_false_label_in_the_answer_is_a_contradiction_and_a_changed_answer(normal):
    measured, text = normal
    body, _ = body_of(faithful(text))
    rewrite = body + "<answer>sinus rhythm; left ventricular hypertrophy</answer>"
    outcome = run(text, measured, replying(rewrite))
    assert (outcome.accepted, outcome.kind) == (False, "contradiction")
    assert outcome.contradicted == ["left ventricular hypertrophy"]
    assert "; also the <answer> content differs" in outcome.reason


@pytest.fixture(scope="module")
def normal() -> tuple[object, str]:
    out = interpret_record(simulate("normal", seed=0).record)
    return out, write_report(out.interpretation)


def _header(i: int) -> str:
    return f"**Step {i}: {STEP_TITLES[i - 1]}**"


def _swap_headers(text: str, a: int, b: int) -> str:
    return text.replace(_header(a), "\0").replace(_header(b), _header(a)).replace("\0", _header(b))


def _empty_step(text: str, i: int) -> str:
    return re.sub(
        rf"(\*\*Step {i}: [^\n]*\*\*\n).*?\n(\*\*Step {i + 1})", r"\1 \n\2", text, flags=re.S
    )


LAYOUT_DAMAGE = {
    "header reworded": (lambda t: t.replace(_header(3), "**Step 3: Hypertrophy**"), "step headers"),
    "header dropped": (lambda t: t.replace(_header(5) + "\n", ""), "step headers"),
    "headers swapped": (lambda t: _swap_headers(t, 2, 3), "step headers"),
    "step left empty": (lambda t: _empty_step(t, 4), "step 4 has no paragraph"),
    "no </think>": (lambda t: t.replace("</think>", ""), "</think> occurs 0 times"),
    "preamble": (lambda t: "Sure! Here is the rewrite:\n" + t, "does not start with <think>"),
    "trailing chat": (lambda t: t + "\nI hope this helps.", "does not end with </answer>"),
    "own reasoning block": (lambda t: "<think>plan</think>\n" + t, "<think> occurs 2 times"),
    "no narrative": (
        lambda t: re.sub(r"</think>\n.*?\n<answer>", "</think>\n<answer>", t, flags=re.S),
        "narrative",
    ),
    "terminal escape": (lambda t: t.replace("sinus rhythm", "sinus\x1b[31m rhythm", 1), "control"),
    "bidi override": (lambda t: t.replace("sinus rhythm", "sinus\u202e rhythm", 1), "control"),
}


@pytest.mark.parametrize("damage", LAYOUT_DAMAGE)
def test_a_rewrite_that_breaks_the_layout_is_rejected(normal, damage):
    spoil, expected = LAYOUT_DAMAGE[damage]
    measured, text = normal
    outcome = run(text, measured, replying(spoil(faithful(text))))
    assert (outcome.accepted, outcome.kind, outcome.text) == (False, "structure", text)
    assert outcome.reason.startswith("structure: ") and expected in outcome.reason


def test_a_rewrite_that_drops_numbers_is_rejected(normal):
    measured, text = normal
    body, answer = body_of(faithful(text))
    no_digits = re.sub(r"[+-]?\d+(\.\d+)?", "several", body.replace("**Step ", "@@")) + answer
    for i in range(1, 7):
        no_digits = no_digits.replace(f"@@several: {STEP_TITLES[i - 1]}", _header(i))
    outcome = run(text, measured, replying(no_digits))
    assert (outcome.accepted, outcome.kind) == (False, "structure")
    assert (
        "drops every numeric claim" in outcome.reason and "numbers of the report" in outcome.reason
    )


def test_a_rewrite_that_keeps_most_numbers_passes_and_one_that_drops_many_does_not(normal):
    measured, text = normal
    rewrite = faithful(text)
    step3 = re.search(r"\*\*Step 3: .*?\*\*\n(.*?)\n\*\*Step 4", rewrite, re.S).group(1)
    shorter = rewrite.replace(step3, step3.split(". ")[0] + ".")  # step 3 cut to one sentence
    assert run(text, measured, replying(shorter)).kind == "structure"
    assert run(text, measured, replying(shorter), min_numbers_kept=0.5).accepted


def test_an_added_value_is_rejected_even_when_the_verifier_would_accept_it(normal):
    measured, text = normal
    rewrite = faithful(text).replace(
        "The RR pattern is regular", "Heart rate 73 bpm. The RR pattern is regular"
    )
    outcome = run(text, measured, replying(rewrite))
    assert (outcome.accepted, outcome.kind) == (False, "structure")
    assert "adds values not in the report: 73 bpm" in outcome.reason


# --------------------------------------------------------------------------- the endpoint


def test_the_request_is_openai_shaped_and_deterministic(normal):
    measured, text = normal
    with FakeOpenAI(replying(faithful(text))) as server:
        cfg = config(server.url, seed=11, api_key="sk-test", temperature=0.3, max_tokens=4096)
        with Rephraser(cfg) as rephraser:
            for _ in range(2):
                assert rephraser.rephrase(text, measured, record_id="cpsc2018_A0001").accepted
        first, second = server.requests
    assert first.method == "POST" and first.path == "/v1/chat/completions"
    assert first.headers["authorization"] == "Bearer sk-test"
    body = first.json
    assert body["model"] == "fake-model" and body["user"] == "cpsc2018_A0001"
    assert (body["temperature"], body["max_tokens"], body["stream"]) == (0.3, 4096, False)
    assert body["seed"] == request_seed(11, "cpsc2018_A0001") != request_seed(11, "other")
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == SYSTEM_PROMPT
    assert text in body["messages"][1]["content"]
    assert first.body == second.body  # same record, same config: the same request


def test_without_a_seed_or_key_the_request_has_neither(normal):
    measured, text = normal
    with FakeOpenAI(replying(faithful(text))) as server:
        Rephraser(config(server.url)).rephrase(text, measured, record_id="r")
        (request,) = server.requests
    assert "seed" not in request.json and "authorization" not in request.headers


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_the_url_may_be_given_with_or_without_v1(normal, suffix):
    measured, text = normal
    with FakeOpenAI(replying(faithful(text))) as server:
        outcome = Rephraser(config(server.base_url + suffix)).rephrase(
            text, measured, record_id="r"
        )
        assert [r.path for r in server.requests] == ["/v1/chat/completions"]
    assert outcome.accepted


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_transient_failure_is_retried(normal, status):
    measured, text = normal
    sleeps: list[float] = []
    with FakeOpenAI(replying(faithful(text)), fail_first=1, fail_status=status) as server:
        rephraser = Rephraser(config(server.url, backoff_s=0.5), sleep=sleeps.append)
        outcome = rephraser.rephrase(text, measured, record_id="r")
        assert server.completion_calls == 2
    assert outcome.accepted and outcome.attempts == 2
    assert sleeps == [0.5]


def test_retries_back_off_exponentially_then_give_up_without_raising(normal):
    measured, text = normal
    sleeps: list[float] = []
    with FakeOpenAI(replying(faithful(text)), fail_first=99, retry_after="0") as server:
        rephraser = Rephraser(
            config(server.url, backoff_s=0.25, max_retries=3), sleep=sleeps.append
        )
        outcome = rephraser.rephrase(text, measured, record_id="r")
        assert server.completion_calls == 4
    assert sleeps == [0.25, 0.5, 1.0]
    assert (outcome.accepted, outcome.kind, outcome.attempts, outcome.text) == (
        False,
        "endpoint",
        4,
        text,
    )
    assert outcome.reason.startswith("endpoint: HTTP 500") and "after 4 attempts" in outcome.reason


def test_retry_after_is_honoured(normal):
    measured, text = normal
    sleeps: list[float] = []
    with FakeOpenAI(replying(faithful(text)), fail_first=1, fail_status=429, retry_after="2") as s:
        outcome = Rephraser(config(s.url, backoff_s=0.1), sleep=sleeps.append).rephrase(
            text, measured, record_id="r"
        )
    assert outcome.accepted and sleeps == [2.0]


@pytest.mark.parametrize("status", [400, 401, 404])
def test_a_client_error_is_not_retried(normal, status):
    measured, text = normal
    with FakeOpenAI(lambda r: (status, {"error": {"message": "no such model\x1b[2J"}})) as server:
        outcome = Rephraser(config(server.url)).rephrase(text, measured, record_id="r")
        assert server.completion_calls == 1
    assert (outcome.accepted, outcome.kind, outcome.attempts) == (False, "endpoint", 1)
    assert outcome.reason.startswith(f"endpoint: HTTP {status}: ")
    assert "no such model" in outcome.reason and "\x1b" not in outcome.reason


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_endpoint_that_is_down_gives_an_endpoint_outcome_not_an_exception(normal):
    measured, text = normal
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    rephraser = Rephraser(config(url, max_retries=2, backoff_s=0.01), sleep=sleeps.append)
    outcome = rephraser.rephrase(text, measured, record_id="r")
    assert (outcome.accepted, outcome.kind, outcome.attempts, outcome.text) == (
        False,
        "endpoint",
        3,
        text,
    )
    assert outcome.reason.startswith("endpoint: ConnectError") and url in outcome.reason
    assert sleeps == [0.01, 0.02]


def test_a_server_that_stopped_gives_an_endpoint_outcome(normal):
    measured, text = normal
    with FakeOpenAI(replying(faithful(text))) as server:
        url = server.url
    outcome = Rephraser(config(url, max_retries=0)).rephrase(text, measured, record_id="r")
    assert (outcome.accepted, outcome.kind, outcome.attempts) == (False, "endpoint", 1)


def test_a_slow_endpoint_times_out(normal):
    measured, text = normal
    import time

    def slow(request):
        time.sleep(1.5)
        return faithful(text)

    outcome = run(text, measured, slow, timeout_s=0.3, max_retries=0)
    assert (outcome.accepted, outcome.kind) == (False, "endpoint")
    assert "no complete answer within 0.3 s" in outcome.reason


@pytest.mark.parametrize(
    "answer, expected",
    [
        ((200, b"\xff\xfe not json"), "not UTF-8 JSON"),
        ((200, "<html>gateway</html>"), "not UTF-8 JSON"),
        ((200, {"choices": []}), "not a chat completion"),
        ((200, {"error": "overloaded"}), "not a chat completion"),
        ((200, ["choices"]), "not a chat completion"),
        ((200, {"choices": [{"message": {"content": 42}}]}), "content is int"),
        ((200, {"choices": [{"message": {"content": ["<think>"]}}]}), "content is list"),
        ((200, {"choices": [{"message": {"content": None}}]}), "content is NoneType"),
        ((200, "[" * 100_000 + "]" * 100_000), "not UTF-8 JSON"),
        ((200, b"x" * 400_000), "larger than"),
        ((200, "__import__('os').system('echo pwned')"), "not UTF-8 JSON"),
    ],
)
def test_a_garbage_response_is_rejected(normal, answer, expected):
    measured, text = normal
    outcome = run(text, measured, lambda r: answer)
    assert (outcome.accepted, outcome.kind, outcome.attempts) == (False, "endpoint", 1)
    assert expected in outcome.reason and outcome.text == text


def test_an_oversized_or_truncated_rewrite_is_rejected(normal):
    measured, text = normal
    long = faithful(text).replace("Technical", "Technical" + " very" * 12_000, 1)
    outcome = run(text, measured, replying(long))
    assert (outcome.accepted, outcome.kind) == (False, "structure")
    assert "characters (limit 50,000)" in outcome.reason
    cut = {"choices": [{"message": {"content": faithful(text)}, "finish_reason": "length"}]}
    outcome = run(text, measured, lambda r: (200, cut))
    assert (outcome.accepted, outcome.kind) == (False, "structure")
    assert "max_tokens" in outcome.reason


def test_an_empty_or_prose_answer_is_rejected(normal):
    measured, text = normal
    for content in ["", "I cannot help with that.", "QRS 88 ms"]:
        outcome = run(text, measured, replying(content))
        assert (outcome.accepted, outcome.kind) == (False, "structure"), content


def test_an_unmeasurable_record_is_not_sent(normal):
    _, text = normal
    with FakeOpenAI(replying(text)) as server:
        outcome = Rephraser(config(server.url)).rephrase(text, None, record_id="r")
        assert server.requests == []
    assert (outcome.accepted, outcome.kind, outcome.attempts) == (False, "unverifiable", 0)


def test_an_original_that_is_not_a_report_is_a_caller_error(normal):
    measured, _ = normal
    with pytest.raises(ECGR1Error, match="<answer>"):
        Rephraser(config("http://127.0.0.1:9")).rephrase("Sinus rhythm.", measured, record_id="r")


def test_a_rephraser_pickles_for_worker_processes(normal):
    measured, text = normal
    with FakeOpenAI(replying(faithful(text))) as server:
        rephraser = Rephraser(config(server.url))
        assert rephraser.rephrase(text, measured, record_id="r").accepted
        copy = pickle.loads(pickle.dumps(rephraser))
        assert copy.rephrase(text, measured, record_id="r").accepted
        rephraser.close()
        copy.close()


def test_the_measurement_dict_is_accepted_as_well(normal):
    measured, text = normal
    as_dict = json.loads(json.dumps(measured.measurements.to_dict()))
    outcome = run(text, as_dict, replying(wrong_qrs(faithful(text))[0]))
    assert outcome.kind == "contradiction"
    assert run(text, as_dict, replying(faithful(text))).accepted


# --------------------------------------------------------------------------- config, counts


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"url": "ftp://host/v1"}, "http:// or https://"),
        ({"url": "file:///etc/passwd"}, "http:// or https://"),
        ({"url": "localhost:8000"}, "http:// or https://"),
        ({"url": "http://"}, "http:// or https://"),
        ({"url": "http://user:pw@host/v1"}, "credentials"),
        ({"url": "http://host/v1?x=1"}, "query"),
        ({"url": "http://host:port/v1"}, "not a valid URL"),
        ({"url": " http://host"}, "http(s) URL"),
        ({"url": "http://ho\nst"}, "http(s) URL"),
        ({"url": 8000}, "http(s) URL"),
        ({"model": ""}, "model"),
        ({"model": "m\r\nX-Evil: 1"}, "control characters"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": "0.7"}, "temperature"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": True}, "max_tokens"),
        ({"max_tokens": 2048.0}, "max_tokens"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_retries": -1}, "max_retries"),
        ({"backoff_s": -1}, "backoff_s"),
        ({"seed": "7"}, "seed"),
        ({"api_key": "sk\n"}, "api_key"),
        ({"max_response_chars": 0}, "max_response_chars"),
        ({"min_numbers_kept": 1.5}, "min_numbers_kept"),
    ],
)
def test_the_config_is_validated(kwargs, message):
    args = {"url": "http://127.0.0.1:8000/v1", "model": "m", **kwargs}
    with pytest.raises(ECGR1Error, match="invalid rephrase configuration") as info:
        RephraseConfig(**args)
    assert message in str(info.value)


def test_the_api_key_comes_from_the_environment_and_is_never_shown(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, "sk-secret")
    cfg = RephraseConfig("https://api.example.org/v1", "m")
    assert cfg.api_key == "sk-secret" and "sk-secret" not in repr(cfg)
    assert RephraseConfig("https://h", "m", api_key="sk-own").api_key == "sk-own"
    assert endpoint_url(cfg.url) == "https://api.example.org/v1/chat/completions"


def test_stats_count_outcomes_by_kind_and_merge():
    outcomes = [
        RephraseOutcome(True, "t", None, [], 1),
        RephraseOutcome(True, "t", None, [], 2),
        RephraseOutcome(False, "t", "contradiction: x", ["x"], 1, kind="contradiction"),
        RephraseOutcome(False, "t", "structure: y", [], 1, kind="structure"),
        RephraseOutcome(False, "t", "endpoint: z", [], 4, kind="endpoint"),
    ]
    first, second = RephraseStats(), RephraseStats()
    for outcome in outcomes[:3]:
        first.add(outcome)
    for outcome in outcomes[3:]:
        second.add(outcome)
    first.merge(second)
    assert first.to_dict() == {
        "requested": 5,
        "accepted": 2,
        "rejected": {"endpoint": 1, "structure": 1, "contradiction": 1, "unverifiable": 0},
        "attempts": 9,
        "acceptance_rate": 0.4,
    }
    assert RephraseStats().to_dict()["acceptance_rate"] is None


def test_the_module_examples_run():
    import doctest

    import ecgr1.corpus.rephrase as module

    assert doctest.testmod(module).failed == 0


def test_the_fake_server_records_and_fails_as_scripted():
    with FakeOpenAI(lambda r: "hello", fail_first=1, fail_status=503) as server:
        import httpx

        with httpx.Client(trust_env=False) as client:
            body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            first = client.post(server.url + "/chat/completions", json=body)
            second = client.post(server.url + "/chat/completions", json=body)
            models = client.get(server.url + "/models")
            missing = client.post(server.base_url + "/nope", json=body)
    assert (first.status_code, second.status_code, missing.status_code) == (503, 200, 404)
    assert second.json()["choices"][0]["message"] == {"role": "assistant", "content": "hello"}
    assert second.json()["object"] == "chat.completion"
    assert models.json()["data"][0]["id"] == "fake-model"
    assert [r.json for r in server.requests[:2]] == [body, body]
    assert server.completion_calls == 2
