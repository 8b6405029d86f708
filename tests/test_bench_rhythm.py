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


def test_markdown_report_rows() -> None:
    counts = {"tp": 3, "fp": 1, "fn": 1, "tn": 5}
    out = {
        "windows_by_source": {"qtdb": 10},
        "elapsed_s": 1.0,
        "beat_table": {g: dict.fromkeys(rb.CLASSES, 0) | {"dominant": 4} for g in ("N", "S", "V")},
        "statements": {
            "AF": {
                **counts,
                "positive_windows": 4,
                "negative_windows": 6,
                "sensitivity": 0.75,
                "ppv": 0.75,
                "specificity": 5 / 6,
            }
        },
    }
    text = rb.markdown(out)
    assert "| N (4) | 4 (100.0 %) | 0 (0.0 %)" in text
    assert "| AF | 4 / 6 | 0.750 | 0.750 | 0.833 |" in text
    assert text.count("|---|") >= 2
