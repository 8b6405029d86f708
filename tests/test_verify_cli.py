"""``ecgr1 verify``: one text against one record, and batches of interchange rows, on real
records written to disk (simulated, so the truth is known) through ``ecgr1.cli.main``, plus one
run of the real program; exit statuses and one-line errors per docs/cli.md."""

from __future__ import annotations

import doctest
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ecgr1
from ecgr1.cli import main
from ecgr1.io.record import ECGRecord
from ecgr1.io.writers import write_wfdb

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Sinus rhythm. Heart rate 72 bpm. QRS duration 160 ms."


@pytest.fixture(scope="module")
def ecg_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``normal.hea`` (72 bpm, QRS 88 ms), ``lbbb.hea`` (QRS ~150 ms) and ``flat.hea`` (every
    lead flat: cannot be measured), in ``ecgs/`` of a folder that also holds ``outside.hea``."""
    base = tmp_path_factory.mktemp("verify")
    root = base / "ecgs"
    normal = ecgr1.simulate("normal", seed=0).record
    write_wfdb(normal, root, "normal")
    write_wfdb(ecgr1.simulate("lbbb", seed=0).record, root, "lbbb")
    flat = ECGRecord(np.zeros((12, 5000)), 500, list(normal.leads), record_id="flat")
    write_wfdb(flat, root, "flat")
    write_wfdb(normal, base, "outside")  # a real record, but not under the root
    return root


def _text_file(tmp_path: Path, text: str, name: str = "report.txt") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["verify", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _by_concept(result: dict) -> dict[str, dict]:
    return {c["concept"]: c for c in result["claims"]}


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ecgr1 verify: error: "), err
    assert "Traceback" not in err
    return lines[0]


# --------------------------------------------------------------------------- one record


def test_json_verdicts_of_one_text(ecg_root, tmp_path, capsys) -> None:
    status, out, err = _run(
        capsys,
        str(ecg_root / "normal.hea"),
        "--text",
        _text_file(tmp_path, TEXT),
        "--format",
        "json",
    )
    assert status == 0, err
    assert err == ""
    result = json.loads(out)
    claims = _by_concept(result)
    assert claims["heart_rate_bpm"]["verdict"] == "supported"
    qrs = claims["qrs_duration_ms"]
    assert qrs["verdict"] == "contradicted"
    assert abs(qrs["measured"] - 88) <= 10 and qrs["tolerance"] > 0
    assert TEXT[qrs["start"] : qrs["end"]] == qrs["text"]
    assert result["summary"]["contradicted"] >= 1
    assert result["quality"] in ("good", "acceptable")
    assert set(result) >= {"id", "notes", "summary", "by_category", "claims"}


def test_wide_qrs_of_lbbb_contradicts_a_narrow_claim(ecg_root, tmp_path, capsys) -> None:
    text = _text_file(tmp_path, "QRS duration 90 ms.")
    status, out, _ = _run(capsys, str(ecg_root / "lbbb.hea"), "--text", text, "--format", "json")
    assert status == 0
    qrs = _by_concept(json.loads(out))["qrs_duration_ms"]
    assert qrs["verdict"] == "contradicted" and qrs["measured"] >= 130


def test_text_view_is_the_default(ecg_root, tmp_path, capsys) -> None:
    status, out, _ = _run(
        capsys, str(ecg_root / "normal.hea"), "--text", _text_file(tmp_path, TEXT)
    )
    assert status == 0
    assert "[✗ QRS duration 160 ms]" in out
    assert "✓" in out and "Summary:" in out and "hallucination rate" in out
    assert "\x1b[" not in out  # no colours when stdout is not a terminal


def test_text_from_stdin(ecg_root, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("QRS duration 160 ms"))
    status, out, _ = _run(capsys, str(ecg_root / "normal.hea"), "--text", "-", "--format", "json")
    assert status == 0
    assert _by_concept(json.loads(out))["qrs_duration_ms"]["verdict"] == "contradicted"


def test_html_escapes_the_text(ecg_root, tmp_path, capsys) -> None:
    hostile = '<script>alert("x")</script> QRS duration 160 ms <img src=x onerror=alert(1)>'
    page = tmp_path / "out" / "page.html"
    status, out, err = _run(
        capsys,
        str(ecg_root / "normal.hea"),
        "--text",
        _text_file(tmp_path, hostile),
        "--format",
        "html",
        "--out",
        str(page),
    )
    assert status == 0, err
    assert out == ""
    html = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert 'class="v-contradicted"' in html and "QRS duration 160 ms</mark>" in html


def test_measurement_json_as_record(ecg_root, tmp_path, capsys) -> None:
    assert main(["measure", str(ecg_root / "normal.hea"), "--json-dir", str(tmp_path)]) == 0
    capsys.readouterr()
    measured = tmp_path / "normal.json"
    status, out, _ = _run(
        capsys, str(measured), "--text", _text_file(tmp_path, TEXT), "--format", "json"
    )
    assert status == 0
    claims = _by_concept(json.loads(out))
    assert claims["qrs_duration_ms"]["verdict"] == "contradicted"
    assert claims["heart_rate_bpm"]["verdict"] == "supported"


def test_invalid_measurement_json_is_unreadable(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x"}')
    status, out, err = _run(capsys, str(bad), "--text", _text_file(tmp_path, TEXT))
    assert status == 2 and out == ""
    assert "not a measurement JSON" in _one_error_line(err)


def test_missing_record(tmp_path, capsys) -> None:
    missing = str(tmp_path / "missing.hea")
    status, out, err = _run(capsys, missing, "--text", _text_file(tmp_path, TEXT))
    assert status == 2 and out == ""
    assert _one_error_line(err).startswith(f"ecgr1 verify: error: {missing}: ")


def test_unmeasurable_record_is_a_result(ecg_root, tmp_path, capsys) -> None:
    status, out, err = _run(
        capsys, str(ecg_root / "flat.hea"), "--text", _text_file(tmp_path, TEXT), "--format", "json"
    )
    assert status == 0, err
    result = json.loads(out)
    assert result["claims"] and all(c["verdict"] == "not_checkable" for c in result["claims"])
    assert any("could not be measured" in n for n in result["notes"])
    assert result["summary"]["hallucination_rate"] is None


def test_empty_text_is_a_result_with_a_note(ecg_root, tmp_path, capsys) -> None:
    status, out, _ = _run(
        capsys, str(ecg_root / "normal.hea"), "--text", _text_file(tmp_path, ""), "--format", "json"
    )
    assert status == 0
    result = json.loads(out)
    assert result["claims"] == [] and result["notes"][0] == "the text is empty"


def test_text_without_claims(ecg_root, tmp_path, capsys) -> None:
    text = _text_file(tmp_path, "Das ist ein Bericht ohne Befund.")
    status, out, _ = _run(capsys, str(ecg_root / "normal.hea"), "--text", text, "--format", "json")
    assert status == 0
    assert any("no checkable ECG claims" in n for n in json.loads(out)["notes"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give RECORD --text FILE|- (one text), or --rows JSONL"),
        (["REC"], "--text FILE|- is required"),
        (["REC", "--rows", "x.jsonl"], "not both"),
        (["--rows", "x.jsonl", "--age", "50"], "--age/--sex apply to one RECORD"),
    ],
)
def test_usage_errors(argv, message, ecg_root, capsys) -> None:
    argv = [str(ecg_root / "normal.hea") if a == "REC" else a for a in argv]
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == ""
    assert message in _one_error_line(err)


def test_bad_text_files(ecg_root, tmp_path, capsys) -> None:
    record = str(ecg_root / "normal.hea")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"QRS \xff\xfe 160 ms")
    status, _, err = _run(capsys, record, "--text", str(binary))
    assert status == 2 and "not UTF-8 text" in _one_error_line(err)
    status, _, err = _run(capsys, record, "--text", _text_file(tmp_path, "x" * 200_001))
    assert status == 2 and "longer than 200,000 characters" in _one_error_line(err)
    status, _, err = _run(capsys, record, "--text", str(tmp_path / "nope.txt"))
    assert status == 2 and "nope.txt" in _one_error_line(err)


def test_unwritable_out_is_a_usage_error(ecg_root, tmp_path, capsys) -> None:
    status, out, err = _run(
        capsys,
        str(ecg_root / "normal.hea"),
        "--text",
        _text_file(tmp_path, TEXT),
        "--out",
        str(tmp_path),
    )
    assert status == 2 and out == ""
    assert "--out names a folder" in _one_error_line(err)


def test_internal_error_is_one_line_and_status_1(ecg_root, tmp_path, capsys, monkeypatch) -> None:
    from ecgr1.verify import api

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "check_claims", broken)
    status, out, err = _run(
        capsys, str(ecg_root / "normal.hea"), "--text", _text_file(tmp_path, TEXT)
    )
    assert status == 1 and out == ""
    line = _one_error_line(err)
    assert "internal error: RuntimeError: boom" in line


# --------------------------------------------------------------------------- batches


def _rows_file(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "pred.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _row(ecg: list[str] | None, response: str | None = None, **extra) -> str:
    row = {"id": extra.pop("id", "r"), "objects": {"ecg": ecg or []}, **extra}
    if response is not None:
        row["response"] = response
    return json.dumps(row)


def test_batch_of_rows(ecg_root, tmp_path, capsys, monkeypatch) -> None:
    from ecgr1.measure import engine

    calls: list[str] = []
    real = engine.measure

    def counting(record, **kwargs):
        calls.append(record.record_id)
        return real(record, **kwargs)

    monkeypatch.setattr(engine, "measure", counting)
    assistant = {"role": "assistant", "content": "<think>QRS duration 90 ms</think>"}
    rows = _rows_file(
        tmp_path,
        [
            _row(["normal"], TEXT, id="a"),
            _row(["lbbb"], messages=[{"role": "user", "content": "<ecg>"}, assistant], id="b"),
            "",  # blank lines are skipped, not rows
            _row(None, "QRS duration 160 ms", id="c"),  # no ECG
            _row(["../outside"], TEXT, id="d"),  # leaves the root
            _row([str(ecg_root.parent / "outside")], TEXT, id="e"),  # absolute, elsewhere
            _row(["normal\u001b[2J"], TEXT, id="e2"),  # a terminal escape in the path
            '{"id": "f", "response": ',  # bad JSON
            _row(["./normal.hea"], "Heart rate 72 bpm", id="g"),  # same record again
        ],
    )
    status, out, err = _run(capsys, "--rows", rows, "--ecg-root", str(ecg_root))
    assert status == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["row_id"] for r in results] == ["a", "b", "c", "g"]
    assert [r["row_index"] for r in results] == [0, 1, 2, 7]
    a, b, c, g = results
    assert _by_concept(a)["qrs_duration_ms"]["verdict"] == "contradicted"
    assert _by_concept(a)["heart_rate_bpm"]["verdict"] == "supported"
    assert _by_concept(b)["qrs_duration_ms"]["verdict"] == "contradicted"  # the assistant turn
    assert c["ecg"] is None and c["claims"]
    assert all(x["verdict"] == "not_checkable" for x in c["claims"])
    assert c["claims"][0]["reason"].startswith("no ECG")
    assert _by_concept(g)["heart_rate_bpm"]["verdict"] == "supported"
    assert sorted(calls) == ["lbbb", "normal"]  # each record measured once
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("ecgr1 verify: error: ")]
    assert len(errors) == 4 and "Traceback" not in err and "\x1b" not in err
    assert (
        errors[0].startswith(f"ecgr1 verify: error: {rows}:5: ")
        and "outside --ecg-root" in errors[0]
    )
    assert (
        errors[1].startswith(f"ecgr1 verify: error: {rows}:6: ")
        and "outside --ecg-root" in errors[1]
    )
    assert (
        errors[2].startswith(f"ecgr1 verify: error: {rows}:7: ")
        and "control characters" in errors[2]
    )
    assert errors[3].startswith(f"ecgr1 verify: error: {rows}:8: not valid JSON")
    summary = next(line for line in lines if "rows verified" in line)
    assert summary.startswith("ecgr1 verify: 4 of 8 rows verified (4 failed): ")
    assert "hallucination rate" in summary
    assert any(line.startswith("interval") for line in lines)  # the per-category table


def test_batch_html(ecg_root, tmp_path, capsys) -> None:
    rows = _rows_file(tmp_path, [_row(["normal"], "<script>x</script> QRS duration 160 ms")])
    page = tmp_path / "all.html"
    status, out, err = _run(
        capsys, "--rows", rows, "--ecg-root", str(ecg_root), "--format", "html", "--out", str(page)
    )
    assert status == 0, err
    html = page.read_text(encoding="utf-8")
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script" not in html
    assert "All texts (1)" in html and 'class="v-contradicted"' in html


def test_batch_row_with_a_missing_record_and_no_text(ecg_root, tmp_path, capsys) -> None:
    rows = _rows_file(
        tmp_path,
        [_row(["flat"], TEXT, id="flat"), _row(["missing"], TEXT), _row(["normal"], id="empty")],
    )
    status, out, err = _run(capsys, "--rows", rows, "--ecg-root", str(ecg_root))
    assert status == 1
    flat, empty = (json.loads(line) for line in out.splitlines())
    assert all(c["verdict"] == "not_checkable" for c in flat["claims"])
    assert any("could not be measured" in n for n in flat["notes"])
    assert empty["claims"] == [] and "no response and no assistant turn" in empty["notes"][0]
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].startswith(f"ecgr1 verify: error: {rows}:2: ")


def test_batch_failures_are_usage_errors(ecg_root, tmp_path, capsys) -> None:
    status, out, err = _run(capsys, "--rows", str(tmp_path / "none.jsonl"))
    assert status == 2 and "none.jsonl" in _one_error_line(err)
    empty = _rows_file(tmp_path, [""])
    status, out, err = _run(capsys, "--rows", empty)
    assert status == 2 and "no rows found" in _one_error_line(err)
    bad = _rows_file(tmp_path, ["not json", "[1, 2]"])
    status, out, err = _run(capsys, "--rows", bad, "--ecg-root", str(ecg_root))
    assert status == 2 and out == ""  # every row failed
    assert "not a JSON object" in err


def test_hostile_rows_fail_one_by_one(ecg_root, tmp_path, capsys) -> None:
    rows = tmp_path / "hostile.jsonl"
    good = _row(["normal"], "QRS duration 160 ms", id="ok").encode()
    rows.write_bytes(b"[" * 100_000 + b"\n" + b'{"response": "\xff\xfe"}\n' + good + b"\n")
    status, out, err = _run(capsys, "--rows", str(rows), "--ecg-root", str(ecg_root))
    assert status == 1
    assert [json.loads(line)["row_id"] for line in out.splitlines()] == ["ok"]
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert errors == [
        f"ecgr1 verify: error: {rows}:1: not valid JSON: nested too deeply",
        f"ecgr1 verify: error: {rows}:2: not UTF-8 text",
    ]


def test_rows_from_stdin(ecg_root, capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(_row(["normal"], "Heart rate 72 bpm") + "\n"))
    status, out, err = _run(capsys, "--rows", "-", "--ecg-root", str(ecg_root))
    assert status == 0, err
    (result,) = (json.loads(line) for line in out.splitlines())
    assert _by_concept(result)["heart_rate_bpm"]["verdict"] == "supported"
    assert result["line"] == 1 and result["ecg"] == "normal"


# --------------------------------------------------------------------------- the program


def test_the_real_program_reads_stdin(ecg_root) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ecgr1",
            "verify",
            str(ecg_root / "normal.hea"),
            "--text",
            "-",
            "--format",
            "json",
        ],
        input=b"Heart rate 72 bpm. QRS duration 160 ms.",
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    claims = _by_concept(json.loads(proc.stdout))
    assert claims["heart_rate_bpm"]["verdict"] == "supported"
    assert claims["qrs_duration_ms"]["verdict"] == "contradicted"


def test_help_has_examples(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["verify", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "ecgr1 verify A0001.hea --text report.txt" in out and "--rows pred.jsonl" in out


def test_module_doctests() -> None:
    import ecgr1.cli.verify

    result = doctest.testmod(ecgr1.cli.verify)
    assert result.attempted > 0 and result.failed == 0


def test_docs_examples_run() -> None:
    result = doctest.testfile(
        str(ROOT / "docs" / "verify.md"), module_relative=False, optionflags=doctest.ELLIPSIS
    )
    assert result.attempted > 0 and result.failed == 0


def test_docs_tolerance_table_matches_the_yaml() -> None:
    """docs/verify.md prints the tolerance table exactly as ``tolerances.yaml`` gives it
    (regenerate it with ``load_tolerances().markdown()`` when the YAML changes)."""
    from ecgr1.verify.tolerances import load_tolerances

    text = (ROOT / "docs" / "verify.md").read_text(encoding="utf-8")
    assert load_tolerances().markdown() in text
