"""The Python examples of the README and the architecture guide run as written (doctest)."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("doc", ["README.md", "docs/architecture.md"])
def test_examples_run(doc: str) -> None:
    path = ROOT / doc
    result = doctest.testfile(str(path), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"no example found in {doc}"
    assert result.failed == 0, f"{result.failed} example(s) of {doc} failed (see output above)"
