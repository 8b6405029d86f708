"""The measurement and protocol engines recover what the simulator put in (clean records).

Skips with a reason while an engine module is not importable. Known engine limitations are
``xfail`` (not strict) with the reason, so they turn green by themselves once fixed.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from ecgr1.simulate import PATTERNS, simulate


def _engine(module: str, attr: str):
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        pytest.skip(f"{module}.{attr} is not available yet ({exc})")


# CSE 2-sigma tolerances (ms) for global fiducials (CSE Working Party 1985; issue 3).
CSE_TOLERANCE_MS = {"p_on": 20.4, "p_off": 25.4, "qrs_on": 13.0, "qrs_off": 23.2, "t_off": 61.2}
TRUE_KEYS = {"p_on": "p_on_s", "p_off": "p_off_s", "qrs_on": "qrs_on_s", "qrs_off": "qrs_off_s",
             "t_off": "t_off_s"}  # fmt: skip
MEASURED_KEYS = {"p_on": "p_onset_s", "p_off": "p_offset_s", "qrs_on": "qrs_onset_s",
                 "qrs_off": "qrs_offset_s", "t_off": "t_offset_s"}  # fmt: skip


CSE_CASES = [
    ("normal", ""),
    ("sinus_bradycardia", ""),
    ("sinus_tachycardia", ""),
    ("av_block_1", ""),
    ("long_qt", ""),
    ("lafb", ""),
    ("rbbb", ""),
    ("lbbb", ""),
    ("lvh", ""),
    ("normal", "all"),
    ("rbbb", "baseline,muscle"),
]


@pytest.mark.parametrize("pattern,noise", CSE_CASES)
def test_measured_fiducials_within_cse_tolerances(pattern: str, noise: str) -> None:
    measure = _engine("ecgr1.measure.engine", "measure")
    sim = simulate(pattern, seconds=10, seed=1, noise=noise)
    res = measure(sim.record)
    truth = [b for b in sim.beats if b["complete"]]
    errors: dict[str, list[float]] = {k: [] for k in CSE_TOLERANCE_MS}
    for beat in res.beats:
        true = min(truth, key=lambda b: abs(b["qrs_on_s"] - (beat.qrs_onset_s or beat.r_peak_s)))
        if abs(true["qrs_on_s"] - beat.r_peak_s) > 0.15:
            continue
        for key in CSE_TOLERANCE_MS:
            measured = getattr(beat, MEASURED_KEYS[key])
            if measured is not None and true[TRUE_KEYS[key]] is not None:
                errors[key].append((measured - true[TRUE_KEYS[key]]) * 1000.0)
    assert len(errors["qrs_on"]) >= len(truth) - 2
    for key, tol in CSE_TOLERANCE_MS.items():
        assert errors[key], f"{key} never measured"
        assert abs(np.mean(errors[key])) <= tol, (key, np.mean(errors[key]))
    g = res.global_
    true_pr = np.median([b["pr_ms"] for b in truth])
    true_qt = np.median([b["qt_ms"] for b in truth])
    assert g.pr_interval_ms == pytest.approx(true_pr, abs=CSE_TOLERANCE_MS["p_on"] + 13.0)
    assert g.qrs_duration_ms == pytest.approx(sim.params["qrs_ms"], abs=23.2 + 13.0)
    assert g.qt_interval_ms == pytest.approx(true_qt, abs=61.2 + 13.0)
    assert g.heart_rate_bpm == pytest.approx(sim.params["ventricular_rate_bpm"], rel=0.05)


def test_measured_axis_follows_the_simulated_axis() -> None:
    measure = _engine("ecgr1.measure.engine", "measure")
    for axis in (-30.0, 30.0, 90.0):
        res = measure(simulate("normal", seconds=6, seed=0, axis_deg=axis).record)
        assert res.global_.qrs_axis_deg == pytest.approx(axis, abs=15.0)


# Patterns the engines do not yet state at default settings (pattern -> reason); none today.
ENGINE_GAPS: dict[str, str] = {}


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(p, marks=pytest.mark.xfail(reason=ENGINE_GAPS[p], strict=False))
        if p in ENGINE_GAPS
        else p
        for p in PATTERNS
    ],
)
def test_protocol_states_each_patterns_statements(pattern: str) -> None:
    interpret_record = _engine("ecgr1.pipeline", "interpret_record")
    out = interpret_record(simulate(pattern, seconds=10, seed=0).record)
    missing = [label for label in PATTERNS[pattern].labels if label not in out.answer]
    assert not missing, f"{pattern}: missing {missing}; got {out.answer}"
    if pattern != "atrial_fibrillation":
        assert "atrial fibrillation" not in out.answer


@pytest.mark.parametrize(
    ("atrial_rate", "seed"),
    [(70.0, 1), (75.0, 2), (85.0, 0), (85.0, 4), (90.0, 1), (90.0, 4), (100.0, 3)],
)
def test_complete_av_block_is_stated_across_atrial_rates(atrial_rate: float, seed: int) -> None:
    """Third-degree block is recognised from P waves marching through the QRS-T, including
    rates near twice the escape rate where every other P wave hides in a T wave."""
    interpret_record = _engine("ecgr1.pipeline", "interpret_record")
    out = interpret_record(simulate("av_block_3", hr=atrial_rate, seconds=10, seed=seed).record)
    assert "third degree AV block" in out.answer
    assert "sinus rhythm" not in out.answer and "atrial fibrillation" not in out.answer
