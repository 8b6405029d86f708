"""The top-level program: one-line errors, --debug anywhere, help."""

from __future__ import annotations

import pytest

from ecgr1 import cli


def test_help_lists_the_pipeline_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "info", "convert", "measure", "interpret", "render", "simulate"):
        assert name in out


def _route_info_to(monkeypatch, func) -> None:
    """Make ``ecgr1 info`` call ``func`` (a failure outside any batch)."""
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - test-only introspection
        action.choices["info"].set_defaults(func=func)


def test_internal_error_is_one_line_without_debug(monkeypatch, capsys, tmp_path):
    def boom(args):
        raise RuntimeError("kaboom")

    _route_info_to(monkeypatch, boom)
    status = cli.main(["info", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_SOME_FAILED
    assert err.startswith("ecgr1 info: error: internal error: RuntimeError: kaboom (please report")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(RuntimeError):
        cli.main(["info", str(tmp_path), "--debug"])


def test_os_error_outside_a_batch_is_a_usage_error_not_a_bug(monkeypatch, capsys, tmp_path):
    def denied(args):
        raise PermissionError(13, "Permission denied", "out/model")

    _route_info_to(monkeypatch, denied)
    assert cli.main(["info", str(tmp_path)]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == "ecgr1 info: error: Permission denied: 'out/model'\n"


def test_library_error_exits_2_with_the_path(capsys, tmp_path):
    missing = tmp_path / "nope.hea"
    status = cli.main(["info", str(missing)])
    err = capsys.readouterr().err
    assert status == 2 and "nope" in err and "Traceback" not in err
