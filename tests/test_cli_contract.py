"""The exit-status contract of docs/cli.md, through ``ecgr1.cli.main``: 0 every input processed
(an "unusable" result is a result), 1 some inputs failed or an internal error, 2 usage error or
no input could be read; one line on stderr per failure, bugs never reported as findings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecgr1.cli import main
from ecgr1.errors import MeasurementError
from ecgr1.io import read_record
from ecgr1.pipeline import interpret_record
from ecgr1.simulate import simulate
from ecgr1.simulate.output import write_simulation

# The commands that read records, with the options each needs; OUT is a fresh output folder.
BATCH_COMMANDS = {
    "info": [],
    "convert": ["--out", "OUT"],
    "measure": [],
    "interpret": [],
    "render": ["--out", "OUT", "--dpi", "40"],
}
INTERNAL_ERROR_END = "(please report it; --debug shows the traceback)"


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding two simulated 12-lead records: normal sinus rhythm and RBBB (4 s)."""
    folder = tmp_path_factory.mktemp("sim")
    for pattern in ("normal", "rbbb"):
        write_simulation(simulate(pattern, seconds=4.0), folder)
    return folder


@pytest.fixture
def good(sim_dir: Path) -> str:
    return str(sim_dir / "sim_normal_0.hea")


@pytest.fixture
def unreadable(tmp_path: Path) -> str:
    path = tmp_path / "junk.hea"
    path.write_text("not a WFDB header\n")
    return str(path)


def _engine_fails_with(monkeypatch: pytest.MonkeyPatch, exc: Exception, only: str = "") -> None:
    """Make the measurement engine raise ``exc`` (for the record ``only`` if given).

    ``measure_record`` calls ``ecgr1.measure.engine.measure`` through its module, so patching
    the module attribute reaches interpret, measure and render alike."""
    from ecgr1.measure import engine

    real = engine.measure

    def failing(record, **kwargs):
        if only and record.record_id != only:
            return real(record, **kwargs)
        raise exc

    monkeypatch.setattr("ecgr1.measure.engine.measure", failing)


def _argv(command: str, tmp_path: Path, *paths: str) -> list[str]:
    extra = [str(tmp_path / "out") if a == "OUT" else a for a in BATCH_COMMANDS[command]]
    return [command, *paths, *extra]


def _lines(text: str) -> list[str]:
    return [x for x in text.splitlines() if x.strip()]


# (a) A bug in the engine: the library raises, the CLI says "internal error" and exits 1.


def test_interpret_record_raises_on_an_engine_bug(monkeypatch, good: str) -> None:
    _engine_fails_with(monkeypatch, RuntimeError("engine bug"))
    with pytest.raises(RuntimeError, match="engine bug"):
        interpret_record(read_record(good))


@pytest.mark.parametrize("command", ["interpret", "measure"])
def test_engine_bug_is_an_internal_error_never_a_finding(
    monkeypatch, capsys, tmp_path: Path, good: str, command: str
) -> None:
    _engine_fails_with(monkeypatch, RuntimeError("engine bug"))
    assert main(_argv(command, tmp_path, good)) == 1  # one input, but a bug: 1, not 2
    out, err = capsys.readouterr()
    assert out == ""  # no report, no "poor quality" finding
    assert _lines(err) == [
        f"ecgr1 {command}: error: {good}: internal error: RuntimeError: engine bug "
        + INTERNAL_ERROR_END
    ]
    with pytest.raises(RuntimeError, match="engine bug"):  # --debug: the real traceback
        main([*_argv(command, tmp_path, good), "--debug"])


def test_engine_bug_on_one_record_does_not_stop_the_batch(
    monkeypatch, capsys, tmp_path: Path, sim_dir: Path
) -> None:
    _engine_fails_with(monkeypatch, RuntimeError("engine bug"), only="sim_rbbb_0")
    assert main(["measure", str(sim_dir)]) == 1
    out, err = capsys.readouterr()
    assert _lines(out)[0].startswith("sim_normal_0: HR ") and "sim_rbbb_0" not in out
    assert len(_lines(err)) == 1 and "sim_rbbb_0.hea: internal error: RuntimeError" in err


# (b) (c) (d) Unreadable inputs and empty input sets, for every command that reads records.


@pytest.mark.parametrize("command", BATCH_COMMANDS)
def test_one_unreadable_input_in_a_batch_exits_1_and_the_rest_is_processed(
    capsys, tmp_path: Path, good: str, unreadable: str, command: str
) -> None:
    assert main(_argv(command, tmp_path, unreadable, good)) == 1
    out, err = capsys.readouterr()
    written = [p.name for p in (tmp_path / "out").glob("sim_normal_0*")]
    assert "sim_normal_0" in out or written  # the good record was processed
    assert len(_lines(err)) == 1 and err.startswith(f"ecgr1 {command}: error: {unreadable}: ")
    assert "internal error" not in err and "Traceback" not in err


@pytest.mark.parametrize("command", BATCH_COMMANDS)
def test_a_single_unreadable_input_exits_2(
    capsys, tmp_path: Path, unreadable: str, command: str
) -> None:
    assert main(_argv(command, tmp_path, unreadable)) == 2
    err = capsys.readouterr().err
    assert len(_lines(err)) == 1 and err.startswith(f"ecgr1 {command}: error: {unreadable}: ")
    assert "internal error" not in err


def test_an_os_error_while_reading_is_an_unreadable_input_not_a_bug(
    monkeypatch, capsys, good: str
) -> None:
    # Permission denied cannot be staged when the tests run as root: the reader raises it.
    def denied(path, **options):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("ecgr1.cli.info.read_record", denied)
    assert main(["info", good]) == 2
    assert _lines(capsys.readouterr().err) == [
        f"ecgr1 info: error: {good}: Permission denied: {good!r}"
    ]


@pytest.mark.parametrize("command", BATCH_COMMANDS)
def test_an_empty_input_set_exits_2(capsys, tmp_path: Path, command: str) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_argv(command, tmp_path, str(empty))) == 2
    out, err = capsys.readouterr()
    assert out == "" and _lines(err) == [f"ecgr1 {command}: error: no records found in {empty}"]


# (e) An output that cannot be written is a usage error, never an internal error.


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("measure", "--json-dir"),
        ("measure", "--annotations"),
        ("interpret", "--out"),
        ("convert", "--out"),
        ("render", "--out"),
    ],
)
def test_an_output_folder_that_is_a_file_exits_2_with_one_line(
    capsys, tmp_path: Path, good: str, command: str, option: str
) -> None:
    blocker = tmp_path / "existing_file"
    blocker.write_text("x")
    assert main([command, good, option, str(blocker)]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # refused before any input was read
    assert _lines(err) == [
        f"ecgr1 {command}: error: {blocker}: {option} names a file, not a folder"
    ]


def test_an_output_that_fails_mid_batch_stops_it_with_2(
    capsys, tmp_path: Path, sim_dir: Path
) -> None:
    json_dir = tmp_path / "json"
    (json_dir / "sim_normal_0.json").mkdir(parents=True)  # a folder where a file must go
    assert main(["measure", str(sim_dir), "--json-dir", str(json_dir)]) == 2
    err = _lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("ecgr1 measure: error: cannot write output: ")
    assert "internal error" not in err[0]


# (f) A signal that cannot be measured is a result ("unusable"), not a failure.


def test_measurement_error_gives_an_unusable_result_and_exit_0(
    monkeypatch, capsys, tmp_path: Path, good: str
) -> None:
    _engine_fails_with(monkeypatch, MeasurementError("every lead is flat"))
    assert main(["interpret", good, "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["answer"] == ["poor quality / artifact"]
    assert result["quality"]["overall"] == "unusable"
    assert "measurement failed: every lead is flat" in result["warnings"]

    assert main(["measure", good]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["quality"]["overall"] == "unusable"
    assert _lines(err) == [
        f"ecgr1 measure: warning: {good}: measurement failed: every lead is flat"
    ]
