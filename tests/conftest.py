"""Shared fixtures: the real-data folder (skips cleanly when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ecgr1.paths import shared_data_dir

# No network beyond loopback: models and data are never fetched (a missing one is an error or a
# skip), and a Ray cluster started by a test sends no usage statistics.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$ECGR1_DATA``); skips the test when it is absent."""
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real ECG data folder not found at {root} (set ECGR1_DATA)")
    return root


def _sub(shared: Path, name: str) -> Path:
    path = shared / name
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def ludb_dir(shared_data: Path) -> Path:
    """LUDB (odd ids) folder."""
    return _sub(shared_data, "ludb")


@pytest.fixture(scope="session")
def qtdb_dir(shared_data: Path) -> Path:
    """QTDB folder."""
    return _sub(shared_data, "qtdb")


@pytest.fixture(scope="session")
def cpsc2018_dir(shared_data: Path) -> Path:
    """CPSC 2018 (A0001-A0075) folder."""
    return _sub(shared_data, "cpsc2018")
