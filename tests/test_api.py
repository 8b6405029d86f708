"""The flat API: ``import ecgr1`` then one call per stage, forgiving about what it is given."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ecgr1
from ecgr1.io import write_wfdb


@pytest.fixture(scope="module")
def record():
    return ecgr1.simulate("lbbb", seed=2).record


def test_measure_takes_a_record_a_path_or_an_array(record, tmp_path) -> None:
    from_record = ecgr1.measure(record)
    write_wfdb(record, tmp_path)
    from_path = ecgr1.measure(str(tmp_path / f"{record.record_id}.hea"))
    from_array = ecgr1.measure(record.signal, fs=record.fs, leads=record.leads)
    qrs = [r.global_.qrs_duration_ms for r in (from_record, from_path, from_array)]
    assert qrs[0] > 120 and qrs[0] == qrs[2]
    assert abs(qrs[1] - qrs[0]) <= 4  # the file stores whole microvolts
    assert from_path.id == record.record_id and from_array.lead_names == list(record.leads)


def test_an_array_without_its_rate_is_refused(record) -> None:
    with pytest.raises(ecgr1.InvalidInputError, match="pass fs"):
        ecgr1.measure(record.signal)
    with pytest.raises(TypeError, match="expected an ECGRecord, a path or an array"):
        ecgr1.measure({"signal": record.signal})
    with pytest.raises(TypeError, match="cannot be applied to an ECGRecord"):
        ecgr1.measure(record, fs=250)


def test_interpret_takes_measurements_or_a_record(record) -> None:
    from_result = ecgr1.interpret(ecgr1.measure(record))
    from_record = ecgr1.interpret(record)
    assert "complete left bundle branch block" in from_result.labels
    assert from_record.labels == from_result.labels


def test_attributes_are_the_json_keys(record) -> None:
    result = ecgr1.measure(record)
    data = json.loads(result.to_json())
    assert data["id"] == result.id and data["lead_names"] == result.lead_names
    assert set(data["leads"]) == set(result.leads)
    assert data["leads"]["V1"]["qrs_morphology"] == result.leads["V1"].qrs_morphology
    out = ecgr1.interpret_record(record)
    row = json.loads(out.to_json())
    assert row["id"] == out.id == out.interpretation.id == record.record_id
    assert row["answer"] == out.answer


def test_stage_packages_stay_packages() -> None:
    import ecgr1.measure.engine
    import ecgr1.simulate.core

    assert ecgr1.measure.engine.measure is ecgr1.measure.measure
    assert callable(ecgr1.measure) and callable(ecgr1.simulate)
    assert ecgr1.simulate.PATTERNS["rbbb"]


def test_unknown_flat_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'mesure'"):
        ecgr1.mesure  # noqa: B018


def test_render_and_report_are_flat_too(record) -> None:
    rendering = ecgr1.render_record(record, layout="6x2", dpi=60)
    assert rendering.sidecar["layout"] == "6x2"
    text = ecgr1.write_report(ecgr1.interpret(record))
    assert text.startswith("<think>") and text.rstrip().endswith("</answer>")
    assert isinstance(ecgr1.read_record, type(ecgr1.interpret))  # plain functions
    assert np.isfinite(ecgr1.measure(record).global_.heart_rate_bpm)
