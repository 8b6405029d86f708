"""Window labelling of the Holter rhythm benchmark (benchmarks/rhythm_bench.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import rhythm_bench as rb  # noqa: E402


def test_af_state_of_a_window() -> None:
    rhythm = [(0.0, False), (15.0, True), (42.0, False)]
    assert rb._af_state(rhythm, 20.0, 30.0) is True  # inside the episode
    assert rb._af_state(rhythm, 0.0, 10.0) is False  # before it
    assert rb._af_state(rhythm, 10.0, 20.0) is None  # straddles its start
    assert rb._af_state(rhythm, 40.0, 50.0) is None  # straddles its end
    assert rb._af_state(rhythm, 50.0, 60.0) is False
    assert rb._af_state([], 0.0, 10.0) is None  # no rhythm labels: not scored


def test_only_rhythm_labels_change_the_rhythm(tmp_path) -> None:
    """ST-episode notes of the European ST-T database start with "(" but are not rhythms."""
    wfdb = pytest.importorskip("wfdb")
    wfdb.wrann(
        "rec",
        "atr",
        sample=np.array([10, 100, 200, 300, 400]),
        symbol=["+", "N", "+", "A", "V"],
        aux_note=["(AFIB", "", "(ST1-", "", ""],
        fs=100,
        write_dir=str(tmp_path),
    )
    times, groups, rhythm = rb._annotations(tmp_path / "rec.hea")
    assert groups == ["N", "S", "V"]
    assert times.tolist() == [1.0, 3.0, 4.0]
    assert rhythm == [(0.1, True)]
