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


def test_internal_error_is_one_line_without_debug(monkeypatch, capsys, tmp_path):
    import ecgr1.cli.info as info

    def boom(args):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(info, "_run", boom, raising=False)
    parser = cli.build_parser()
    # Route the info subcommand to the failing function.
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions:  # noqa: SLF001 - test-only introspection
        action.choices["info"].set_defaults(func=boom)
    status = cli.main(["info", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == cli.EXIT_SOME_FAILED
    assert err.startswith("ecgr1 info: error: internal error: RuntimeError: kaboom (please report")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(RuntimeError):
        cli.main(["info", str(tmp_path), "--debug"])


def test_library_error_exits_2_with_the_path(capsys, tmp_path):
    missing = tmp_path / "nope.hea"
    status = cli.main(["info", str(missing)])
    err = capsys.readouterr().err
    assert status == 2 and "nope" in err and "Traceback" not in err
