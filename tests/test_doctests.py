"""The examples in the docstrings of the io, signal, measure, protocol, report, render and
simulate packages (and the CLI modules owned with them) still run and print what they claim."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import ecgr1.io
import ecgr1.measure
import ecgr1.protocol
import ecgr1.render
import ecgr1.report
import ecgr1.signal
import ecgr1.simulate

CLI_MODULES = ["_batch", "info", "convert", "render", "simulate", "demo"]


def _modules() -> list[str]:
    names = []
    packages = (
        ecgr1.io,
        ecgr1.signal,
        ecgr1.measure,
        ecgr1.protocol,
        ecgr1.report,
        ecgr1.render,
        ecgr1.simulate,
    )
    for package in packages:
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    # The flat API and the one-call pipeline at the top level.
    names += ["ecgr1", "ecgr1.pipeline"]
    return names + [f"ecgr1.cli.{name}" for name in CLI_MODULES]


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
