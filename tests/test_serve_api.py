"""``ecgr1 serve`` against a real server: uvicorn in a subprocess on a free loopback port,
shared CPSC 2018 and LUDB records, and a local OpenAI-compatible fake as the remote engine."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from fake_openai import FakeOpenAI
from PIL import Image
from serve_helpers import ServeProcess, parse_events, record_files

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

# A model text in the ECG-R1 format with one claim the signal of A0001 contradicts
# (its QRS is about 148 ms wide) and one it supports.
MODEL_TEXT = (
    "<think>\n**Step 1: Technical, Rate & Rhythm**\nSinus rhythm.\n"
    "**Step 2: Conduction, Axis & Intervals**\nQRS duration 80 ms.\n</think>\n"
    "Sinus rhythm with a narrow QRS.\n<answer>sinus rhythm</answer>"
)


@pytest.fixture(scope="module")
def fake_model():
    with FakeOpenAI(lambda request: MODEL_TEXT, model="ecg-r1-fake") as fake:
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory, fake_model):
    folder = tmp_path_factory.mktemp("serve")
    args = ("--model-url", fake_model.url, "--max-upload-mb", "1.5", "--jobs", "1")
    with ServeProcess(folder, *args) as running:
        yield running


def _post(server, path, files, **data) -> httpx.Response:
    return httpx.post(server.url + path, files=files, data=data, timeout=120)


def _a0001(cpsc2018_dir):
    return record_files(cpsc2018_dir, "A0001", ".hea", ".mat")


def test_health_version_and_request_id_in_log(server):
    health = httpx.get(server.url + "/v1/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["engines"] == ["protocol", "remote"]
    rid = health.headers["x-request-id"]
    version = httpx.get(server.url + "/v1/version", timeout=10).json()
    assert version["default_engine"] == "remote" and version["api"] == "v1"
    # a client's own request id is kept; either way it is in the log line of the request
    mine = httpx.get(server.url + "/v1/version", headers={"X-Request-ID": "trace-42"}, timeout=10)
    assert mine.headers["x-request-id"] == "trace-42"
    time.sleep(0.3)
    log = server.log()
    assert f"request_id={rid} GET /v1/health 200" in log
    assert "request_id=trace-42 GET /v1/version 200" in log


def test_interpret_challenge_record_is_the_cli_object(server, cpsc2018_dir):
    import ecgr1

    response = _post(server, "/v1/interpret", _a0001(cpsc2018_dir), engine="protocol")
    assert response.status_code == 200, response.text
    got = response.json()
    want = ecgr1.interpret_record(ecgr1.read_record(cpsc2018_dir / "A0001.hea")).to_dict()
    assert "source_path" not in got
    assert got["id"] == "A0001" and got["engine"] == "protocol"
    assert got["answer"] == want["answer"]
    assert [s["id"] for s in got["statements"]] == [s["id"] for s in want["statements"]]
    assert got["report"] == want["report"]
    assert response.headers["x-request-id"]


def test_interpret_wfdb_pair_with_age_and_sex(server, ludb_dir):
    files = record_files(ludb_dir / "data", "1", ".hea", ".dat")
    response = _post(server, "/v1/interpret", files, engine="protocol", age="67", sex="female")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "1" and body["age"] == 67 and body["sex"] == "F"
    assert body["answer"]


def test_measure_and_render(server, cpsc2018_dir):
    measured = _post(server, "/v1/measure", _a0001(cpsc2018_dir))
    assert measured.status_code == 200, measured.text
    assert 90 < measured.json()["global"]["heart_rate_bpm"] < 110  # A0001: about 100 bpm
    rendered = _post(server, "/v1/render", _a0001(cpsc2018_dir), dpi="60")
    assert rendered.status_code == 200
    assert rendered.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(rendered.content))
    assert image.width > 400 and image.height > 200
    printable = _post(server, "/v1/report", _a0001(cpsc2018_dir))
    assert printable.status_code == 200 and printable.headers["content-type"].startswith(
        "text/html"
    )
    assert "A0001" in printable.text and "Six-step interpretation" in printable.text
    assert "data:image/png;base64," in printable.text  # self-contained


def test_array_uploads_need_fs_and_then_match_the_record(server, cpsc2018_dir, tmp_path):
    import ecgr1

    record = ecgr1.read_record(cpsc2018_dir / "A0001.hea")
    buf = io.BytesIO()
    np.save(buf, record.signal)
    npy = [("files", ("signal.npy", buf.getvalue()))]
    missing = _post(server, "/v1/interpret", npy, engine="protocol")
    assert missing.status_code == 422 and "fs" in missing.json()["error"]
    ok = _post(server, "/v1/interpret", npy, engine="protocol", fs="500")
    assert ok.status_code == 200, ok.text
    wfdb = _post(server, "/v1/interpret", _a0001(cpsc2018_dir), engine="protocol").json()
    assert ok.json()["answer"] == wfdb["answer"]
    csv = "\n".join(",".join(f"{v:.4f}" for v in row) for row in record.signal.T[:5000])
    got = _post(server, "/v1/measure", [("files", ("s.csv", csv.encode()))], fs="500")
    assert got.status_code == 200, got.text
    assert 90 < got.json()["global"]["heart_rate_bpm"] < 110


def test_stream_events_arrive_in_order_and_as_produced(server, cpsc2018_dir):
    lines: list[tuple[float, str]] = []
    with httpx.stream(
        "POST",
        server.url + "/v1/interpret/stream",
        files=_a0001(cpsc2018_dir),
        data={"engine": "protocol"},
        timeout=120,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            lines.append((time.time(), line))
    events = parse_events(lines)
    names = [name for _, name, _ in events]
    assert names[0] == "measurements" and names[-1] == "done"
    steps = [i for i, n in enumerate(names) if n == "step"]
    assert len(steps) == 6
    assert names.index("measurements") < steps[0] < steps[-1] < names.index("summary")
    assert names.index("summary") < names.index("answer") < names.index("done")
    data = {name: json.loads(d) for _, name, d in events}
    produced = [json.loads(d)["t"] for _, _, d in events]
    assert produced == sorted(produced)
    first_arrival = events[0][0]
    # the first event was in the client's hands before the last one was even computed
    assert first_arrival < data["done"]["t"]
    assert data["done"]["result"]["answer"] == data["answer"]["labels"]
    assert [json.loads(d)["n"] for _, n, d in events if n == "step"] == [1, 2, 3, 4, 5, 6]


def test_remote_engine_gets_the_image_and_the_text_only(server, fake_model, cpsc2018_dir):
    before = len(fake_model.requests)
    response = _post(server, "/v1/interpret", _a0001(cpsc2018_dir))  # default: the model
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "remote" and body["report"] == MODEL_TEXT
    assert body["answer"] == ["sinus rhythm"]
    chats = [r for r in fake_model.requests[before:] if r.path.endswith("/chat/completions")]
    sent = chats[0].json
    assert sent["model"] == "ecg-r1-fake"  # asked of the endpoint's /v1/models
    (message,) = sent["messages"]
    kinds = sorted(part["type"] for part in message["content"])
    assert kinds == ["image_url", "text"]  # no signal part: the chat API has none
    image = next(p for p in message["content"] if p["type"] == "image_url")
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    verdicts = {c["text"]: c["verdict"] for c in body["verification"]["claims"]}
    assert verdicts["QRS duration 80 ms"] == "contradicted"
    assert verdicts["Sinus rhythm"] == "supported"


def test_image_alone_goes_to_the_model(server, fake_model, tmp_path):
    picture = io.BytesIO()
    Image.new("RGB", (320, 200), "white").save(picture, "PNG")
    response = _post(server, "/v1/interpret", [("image", ("ecg.png", picture.getvalue()))])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "remote" and body["measurements"] is None
    assert {c["verdict"] for c in body["verification"]["claims"]} == {"not_checkable"}
    protocol = _post(
        server, "/v1/interpret", [("image", ("ecg.png", picture.getvalue()))], engine="protocol"
    )
    assert protocol.status_code == 200  # an image alone always goes to the model


def _bad_uploads(cpsc2018_dir, ludb_dir):
    header = (cpsc2018_dir / "A0001.hea").read_bytes()
    mat = (cpsc2018_dir / "A0001.mat").read_bytes()
    ludb_header = (ludb_dir / "data" / "1.hea").read_bytes()
    ludb_dat = (ludb_dir / "data" / "1.dat").read_bytes()
    rng = np.random.default_rng(0)
    return {
        "empty": ([("files", ("A0001.hea", b""))], 400),
        "too large": ([("files", ("big.dat", bytes(2_000_000)))], 413),
        "random bytes named .hea": ([("files", ("x.hea", rng.bytes(4000)))], 415),
        "header without its data": ([("files", ("A0001.hea", header))], 422),
        "traversal name": (
            [("files", ("../../x.hea", header)), ("files", ("A0001.mat", mat))],
            400,
        ),
        "unsupported type": ([("files", ("a.zip", b"PK\x03\x04" + rng.bytes(200)))], 415),
        "text as .mat": (
            [("files", ("A0001.hea", header)), ("files", ("A0001.mat", b"hello"))],
            415,
        ),
        "truncated .dat": (
            [
                ("files", ("1.hea", ludb_header)),
                ("files", ("1.dat", ludb_dat[: len(ludb_dat) // 3])),
            ],
            422,
        ),
    }


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.name != "server.log"}


def test_bad_uploads_are_4xx_json_and_leave_nothing_behind(server, cpsc2018_dir, ludb_dir):
    before = _files_under(server.folder)
    for what, (files, status) in _bad_uploads(cpsc2018_dir, ludb_dir).items():
        response = _post(server, "/v1/interpret", files, engine="protocol")
        assert response.status_code == status, (what, response.text)
        body = response.json()
        assert body["status"] == status and body["error"], what
        assert body["request_id"] == response.headers["x-request-id"], what
        assert "Traceback" not in response.text and str(server.tmp) not in response.text, what
    # the truncated .dat was read (and refused) by the reader, without the server's paths
    assert "holds 1666 samples per signal" in response.json()["error"]
    time.sleep(0.5)
    assert list(server.tmp.glob("ecgr1-serve-*")) == []  # every request folder removed
    assert _files_under(server.folder) == before
    escaped = [server.folder / "x.hea", server.tmp.parent.parent / "x.hea", Path("x.hea")]
    assert not any(p.exists() for p in escaped)
    assert httpx.get(server.url + "/v1/health", timeout=10).status_code == 200
    assert "Traceback" not in server.log()


def test_unknown_engine_and_bad_fields_are_422(server, cpsc2018_dir):
    for data in ({"engine": "gpt"}, {"age": "old"}, {"sex": "x"}):
        response = _post(server, "/v1/interpret", _a0001(cpsc2018_dir), **data)
        assert response.status_code == 422 and response.json()["error"], data


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """One worker, no queue, 2 s per request, and a model endpoint that takes 6 s to answer:
    a request that reaches the model is always still running at its time limit."""

    def slow(request):
        time.sleep(6)
        return MODEL_TEXT

    folder = tmp_path_factory.mktemp("serve-small")
    with FakeOpenAI(slow, model="slow-model") as fake:
        args = ("--jobs", "1", "--max-queue", "0", "--timeout", "2", "--model-url", fake.url)
        with ServeProcess(folder, *args) as running:
            yield running


def test_full_queue_is_503_and_a_late_request_is_stopped(small_server, cpsc2018_dir):
    """Of four simultaneous requests one is admitted (and stopped at its time limit, its
    worker process killed and replaced), the others are told to retry."""
    before = httpx.get(small_server.url + "/v1/health", timeout=10).json()["pool"]
    files = _a0001(cpsc2018_dir)
    results: list[httpx.Response] = []

    def post() -> None:
        results.append(_post(small_server, "/v1/interpret", files))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [503, 503, 503, 504], statuses
    busy = next(r for r in results if r.status_code == 503)
    assert busy.headers["retry-after"] == "2" and "busy" in busy.json()["error"]
    timed_out = next(r for r in results if r.status_code == 504)
    assert "time limit" in timed_out.json()["error"]
    time.sleep(1.0)
    after = httpx.get(small_server.url + "/v1/health", timeout=10).json()["pool"]
    assert after["restarts"] == before["restarts"] + 1
    for pid in before["pids"]:  # the stopped request's process is really gone
        assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    assert after["pids"] and after["pids"] != before["pids"]
    # the fresh worker takes requests again once it has started (busy until then: 503)
    for _ in range(30):
        again = _post(small_server, "/v1/interpret", files, engine="protocol")
        if again.status_code != 503:
            break
        time.sleep(1)
    assert again.status_code == 200, again.text


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_local_model_engine_reads_the_signal(tmp_path_factory, cpsc2018_dir):
    """``--model DIR``: the folder's model gets the uploaded signal and its text is returned
    verbatim (the same text as generating from the record in this process)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from ecgr1.io import read_record
    from ecgr1.model import load_model_and_processor
    from ecgr1.model.inference import generate_interpretation
    from ecgr1.model.tiny import init_tiny

    folder = tmp_path_factory.mktemp("serve_local")
    model_dir = init_tiny(folder / "tiny", "qwen3vl", preset="tiny", seed=0, max_new_tokens=6)
    model, processor = load_model_and_processor(model_dir)
    expected = generate_interpretation(model, processor, record=read_record(cpsc2018_dir / "A0001"))
    with ServeProcess(folder, "--model", str(model_dir), "--jobs", "1") as local:
        response = _post(local, "/v1/interpret", _a0001(cpsc2018_dir))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["engine"] == "model" and body["report"] == expected
    assert body["measurements"] is not None  # the signal was measured as well
