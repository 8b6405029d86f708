"""Unit tests of ``ecgr1.serve``: upload checks, settings, text parts, and the app's rules
that need no worker (FastAPI's TestClient, no lifespan: no worker process is started)."""

from __future__ import annotations

import io
import re

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from ecgr1.errors import ECGR1Error  # noqa: E402
from ecgr1.serve.app import create_app, sse  # noqa: E402
from ecgr1.serve.config import ServeConfig  # noqa: E402
from ecgr1.serve.text import split_text  # noqa: E402
from ecgr1.serve.uploads import Upload, UploadError, kind_of, save_inputs  # noqa: E402

HEADER = b"rec1 2 500 1000\nrec1.dat 16 200 16 0 0 0 0 I\nrec1.dat 16 200 16 0 0 0 0 II\n"


def _png(size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, "PNG")
    return buf.getvalue()


def test_files_are_saved_under_the_names_the_header_declares(tmp_path):
    data = bytes(4000)
    saved = save_inputs(tmp_path, [Upload("whatever.hea", HEADER), Upload("x.dat", data)], None)
    assert saved.record_path == tmp_path / "rec1.hea" and saved.kind == "wfdb"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec1.dat", "rec1.hea"]
    assert (tmp_path / "rec1.dat").read_bytes() == data


@pytest.mark.parametrize(
    "header",
    [
        b"../evil 1 500 10\n../evil.dat 16 200 16 0 0 0 0 I\n",  # record name with a folder
        b"rec 1 500 10\n../../x.dat 16 200 16 0 0 0 0 I\n",  # data file outside the folder
        b"rec 1 500 10\n/etc/x.dat 16 200 16 0 0 0 0 I\n",
    ],
)
def test_header_names_that_leave_the_folder_are_refused(tmp_path, header):
    folder = tmp_path / "req"
    folder.mkdir()
    with pytest.raises(UploadError) as err:
        save_inputs(folder, [Upload("a.hea", header), Upload("a.dat", bytes(40))], None)
    assert err.value.status == 422 and "not plain" in str(err.value)
    assert list(tmp_path.rglob("*.dat")) == [] and list(tmp_path.rglob("*.hea")) == []


@pytest.mark.parametrize("name", ["../../x.hea", "a/b.hea", "..\\x.hea", "..", "x\x00.hea"])
def test_client_file_names_with_folders_are_refused(tmp_path, name):
    with pytest.raises(UploadError) as err:
        save_inputs(tmp_path, [Upload(name, HEADER), Upload("rec1.dat", bytes(4000))], None)
    assert err.value.status == 400
    assert list(tmp_path.iterdir()) == []


def test_content_decides_not_the_name(tmp_path):
    assert kind_of(_png()) == "png" and kind_of(HEADER) == "header"
    assert kind_of(b"1.0,2.0\n3.0,4.0\n") == "csv" and kind_of(b"\x93NUMPY\x01\x00") == "npy"
    with pytest.raises(UploadError) as err:  # a picture named .hea
        save_inputs(tmp_path, [Upload("x.hea", _png())], None)
    assert "field image" in str(err.value)
    with pytest.raises(UploadError) as err:  # PNG magic, broken picture
        save_inputs(tmp_path, [], Upload("x.png", b"\x89PNG\r\n\x1a\n" + bytes(100)))
    assert err.value.status == 415
    saved = save_inputs(tmp_path, [], Upload("photo.hea", _png()))  # a real PNG, odd name
    assert saved.image_path == tmp_path / "image.png" and saved.record_path is None


def test_arrays_need_a_valid_sampling_rate(tmp_path):
    csv = Upload("s.csv", b"I,II\n0.1,0.2\n0.3,0.4\n")
    with pytest.raises(UploadError, match="fs"):
        save_inputs(tmp_path, [csv], None)
    with pytest.raises(UploadError, match="50 to 20000"):
        save_inputs(tmp_path, [csv], None, fs="5")
    saved = save_inputs(tmp_path, [csv], None, fs="250", units="uV", leads="I, II")
    assert saved.read_options == {"fs": 250.0, "units": "uV", "leads": ["I", "II"]}
    assert saved.record_path == tmp_path / "record.csv"


def test_settings_are_validated():
    assert ServeConfig().engines() == ["protocol"]
    assert ServeConfig(model_url="http://127.0.0.1:9/v1").engines() == ["protocol", "remote"]
    for bad in ({"max_queue": -1}, {"timeout_s": 0}, {"model_url": "ftp://x"}, {"port": 70000}):
        with pytest.raises(ECGR1Error):
            ServeConfig(**bad)
    with pytest.raises(ECGR1Error, match="not both"):
        ServeConfig(model_dir="/m", model_url="http://127.0.0.1:9/v1")
    config = ServeConfig(jobs=3, cors_origins=("http://a",))
    assert ServeConfig.from_json(config.to_json()) == config


def test_text_parts_of_a_model_answer():
    parts = split_text(
        "**Step 1: Rate**\nfast\n**Step 2: Axis**\nleft\n</think>\nsum\n<answer>a; b</answer>"
    )
    assert [(s["n"], s["title"], s["text"]) for s in parts["steps"]] == [
        (1, "Rate", "fast"),
        (2, "Axis", "left"),
    ]
    assert parts["summary"] == "sum" and parts["answer"] == ["a", "b"]
    assert split_text("just prose")["steps"][0]["text"] == "just prose"


def test_events_are_one_json_line_each():
    event = sse("step", {"n": 1, "text": "two\nlines"}, 2.0).encode()
    assert event.count(b"\n") == 3 and event.endswith(b"\n\n")
    assert event.startswith(b"event: step") and b"two\\nlines" in event
    with pytest.raises(ValueError):  # NaN never reaches a browser's JSON.parse
        sse("x", {"v": float("nan")}, 0.0)


@pytest.fixture()
def client():
    return TestClient(create_app(ServeConfig(max_upload_bytes=50_000)))


def test_image_alone_without_a_model_is_422_saying_so(client):
    response = client.post("/v1/interpret", files=[("image", ("ecg.png", _png()))])
    assert response.status_code == 422
    assert "needs a model engine" in response.json()["error"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_body_limit_and_errors_are_json(client):
    response = client.post("/v1/interpret", files=[("files", ("a.dat", bytes(60_000)))])
    assert response.status_code == 413 and "limit" in response.json()["error"]
    missing = client.get("/v1/nothing")
    assert missing.status_code == 404 and missing.json()["request_id"]
    assert client.post("/v1/render", data={"dpi": "5000"}).status_code == 422


def test_cors_is_off_unless_an_origin_is_given(client):
    preflight = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"}
    assert (
        "access-control-allow-origin"
        not in client.options("/v1/interpret", headers=preflight).headers
    )
    assert "access-control-allow-origin" not in client.get("/v1/version", headers=preflight).headers
    allowed = TestClient(create_app(ServeConfig(cors_origins=("http://elsewhere.example",))))
    answer = allowed.options("/v1/interpret", headers=preflight)
    assert answer.headers["access-control-allow-origin"] == "http://elsewhere.example"


def test_page_and_api_docs_work_offline(client):
    page = client.get("/")
    assert (
        page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    )
    for path in ("/", "/static/app.js", "/static/style.css", "/docs", "/static/docs.js"):
        body = client.get(path).text
        assert not re.search(r"(src|href)=['\"]?(https?:)?//", body), path  # no CDN
        assert "https://" not in body and "http://" not in body, path
    paths = client.get("/openapi.json").json()["paths"]
    for route in ("/v1/interpret", "/v1/interpret/stream", "/v1/measure", "/v1/render"):
        assert "post" in paths[route]
    assert "get" in paths["/v1/health"] and "get" in paths["/v1/version"]
    assert client.get("/static/../app.py").status_code == 404


@pytest.mark.parametrize(
    "name", ["config", "uploads", "text", "engines", "app", "jobs", "pool", "__init__"]
)
def test_docstring_examples_of_serve(name):
    import doctest
    import importlib

    module = importlib.import_module("ecgr1.serve" if name == "__init__" else f"ecgr1.serve.{name}")
    failed, _ = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert failed == 0


def test_request_folders_are_removed_or_kept_by_request_id(tmp_path, monkeypatch):
    from ecgr1.serve.uploads import dispose_folder, request_folder

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    gone = request_folder()
    (gone / "rec1.hea").write_bytes(HEADER)
    dispose_folder(gone, None, "r1")
    assert not gone.exists()
    kept = request_folder()
    (kept / "rec1.hea").write_bytes(HEADER)
    dispose_folder(kept, str(tmp_path / "keep"), "r2")
    assert not kept.exists() and (tmp_path / "keep" / "r2" / "rec1.hea").read_bytes() == HEADER
