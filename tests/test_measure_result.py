"""The measurement result's JSON: finite numbers only, and it reads back to the same result."""

from __future__ import annotations

import json

from synthetic_ecg import synthetic_ecg

from ecgr1.measure.engine import measure
from ecgr1.measure.result import MeasurementResult


def test_json_is_finite_and_round_trips():
    rec, _ = synthetic_ecg(noise_mv=0.01)
    res = measure(rec, age=63, sex="F")
    text = json.dumps(res.to_dict(), allow_nan=False)
    back = MeasurementResult.from_dict(json.loads(text))
    assert back.global_.qrs_duration_ms == res.global_.qrs_duration_ms
    assert res.global_.cornell_product_mv_ms is not None  # sex known
    beat = res.to_dict()["beats"][1]
    assert beat["qrs_onset_s"] < beat["r_peak_s"] < beat["qrs_offset_s"] < beat["t_offset_s"]
