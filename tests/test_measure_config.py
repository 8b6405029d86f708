"""MeasureConfig validates what it is given, and the table's linked numbers cannot be
contradicted silently."""

from __future__ import annotations

import copy

import pytest
import yaml

import ecgr1
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig, all_keys
from ecgr1.protocol.table import DEFAULT_TABLE, parse_table


def test_partial_sections_keep_the_other_defaults() -> None:
    cfg = MeasureConfig(beat={"premature_ratio": 0.9})
    assert cfg.beat["premature_ratio"] == 0.9
    assert cfg.beat["refractory_ms"] == DEFAULT_CONFIG.beat["refractory_ms"]
    assert cfg.replace({"atrial_analysis": False}).atrial_analysis is False
    assert MeasureConfig(**{k: v for k, v in cfg.to_dict().items()}) == cfg


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"beat.premature_rato": 0.9}, "did you mean 'beat.premature_ratio'"),
        ({"beat.refractory_ms": float("nan")}, "must be finite"),
        ({"beat.refractory_ms": "fast"}, "must be a number"),
        ({"beat.refractory_ms": True}, "must be a number"),
        ({"beat.refractory_ms": -100}, "must be > 0"),
        ({"atrial_waves.analysis_fs": 0}, "must be > 0"),
        ({"presence.p_fraction_present": 5}, r"must be in \[0, 1\]"),
        ({"global_percentile.qrs_on": 120}, r"must be in \[0, 100\]"),
        ({"atrial_waves.flutter_min_bpm": 400}, "flutter_min_bpm must be > 0 and <"),
        ({"delineation.qrs_on_hump_frac": 0}, r"qrs_on_hump_frac must be in \(0, 1\]"),
        ({"delineation.qrs_on_hump_frac": 1.5}, r"qrs_on_hump_frac must be in \(0, 1\]"),
        ({"beat.pause_rr_ratio": 1.0}, "pause_rr_ratio must be > 1"),
    ],
)
def test_bad_values_are_refused_with_the_key(changes, message) -> None:
    with pytest.raises(ValueError, match=message):
        DEFAULT_CONFIG.replace(changes)


def test_every_key_is_readable() -> None:
    for key in all_keys():
        DEFAULT_CONFIG.get(key)
    with pytest.raises(ValueError, match="unknown MeasureConfig key"):
        DEFAULT_CONFIG.get("beat.nothing")


def test_the_pipeline_refuses_a_config_that_contradicts_the_table() -> None:
    record = ecgr1.simulate("normal", seconds=4, seed=0).record
    other = DEFAULT_CONFIG.replace({"beat.wide_qrs_ms": 90})
    with pytest.raises(ecgr1.ECGR1Error, match="beat.wide_qrs_ms = 90.*sets to 120"):
        ecgr1.interpret_record(record, config=other)
    # Unlinked parameters pass through.
    mine = DEFAULT_CONFIG.replace({"beat.premature_ratio": 0.9})
    assert ecgr1.interpret_record(record, config=mine).answer


def test_a_table_with_an_impossible_linked_number_fails_to_load() -> None:
    data = yaml.safe_load(DEFAULT_TABLE.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    row = next(r for r in data["criteria"] if r["id"] == "rhythm.p_present")
    row["threshold"] = 5
    with pytest.raises(ecgr1.ECGR1Error, match="p_fraction_present must be in"):
        parse_table(data, "bad")
