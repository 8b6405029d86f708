"""``delineate`` reads its thresholds and search windows from the configuration it is given."""

from __future__ import annotations

import numpy as np
import pytest

from ecgr1.measure import delineate as dl
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig

FS = 500.0
PRE, POST = 225, 375  # 450 ms before and 750 ms after R, as the engine cuts them


def _beats(n_leads: int = 8, n_beats: int = 4, seed: int = 0):
    """Windows of P-QRS-T beats (lead-specific gains, a little noise) and their RR distances."""
    rng = np.random.default_rng(seed)
    t = (np.arange(PRE + POST) - PRE) / FS

    def wave(centre_s: float, width_s: float) -> np.ndarray:
        return np.exp(-(((t - centre_s) / width_s) ** 2))

    beat = (
        wave(0.0, 0.015)
        - 0.2 * wave(0.025, 0.01)
        + 0.25 * wave(0.3, 0.05)
        + 0.1 * wave(-0.16, 0.025)
    )
    gains = rng.uniform(0.4, 1.5, (n_leads, 1, 1))
    x = gains * beat + rng.normal(0.0, 0.005, (n_leads, n_beats, t.size))
    rr = np.full(n_beats, 0.9 * FS)
    return x, rr


def _delineate(x, rr, **kwargs) -> dl.Delineation:
    return dl.delineate(x, x, FS, PRE, rr, rr, np.ones(x.shape[0]), **kwargs)


def test_default_config_is_the_default() -> None:
    x, rr = _beats()
    a, b = _delineate(x, rr), _delineate(x, rr, config=DEFAULT_CONFIG)
    for key in dl.FIDUCIALS:
        assert np.array_equal(a.lead[key], b.lead[key], equal_nan=True), key
    assert not hasattr(dl, "PARAMS")  # the configuration is the one source of the parameters


def test_lead_qrs_tolerance_comes_from_config() -> None:
    x, rr = _beats()
    pinned = _delineate(x, rr, config=MeasureConfig(delineation={"lead_qrs_tol_ms": 0.0}))
    assert np.array_equal(pinned.lead["qrs_on"], np.broadcast_to(pinned.glob["qrs_on"], (8, 4)))
    assert np.array_equal(pinned.lead["qrs_off"], np.broadcast_to(pinned.glob["qrs_off"], (8, 4)))


def test_search_windows_come_from_config() -> None:
    x, rr = _beats()
    usual = _delineate(x, rr)
    assert np.all(np.isfinite(usual.lead["p_peak"]))
    # A P search that must end 200 ms before the QRS cannot reach the P wave at -160 ms.
    late_gap = MeasureConfig(windows={"pr_min_gap_ms": 200.0})
    moved = _delineate(x, rr, config=late_gap)
    limit = moved.glob["qrs_on"] - 200.0 * FS / 1000.0
    found = np.isfinite(moved.lead["p_peak"])
    assert np.all(moved.lead["p_peak"][found] < np.broadcast_to(limit, found.shape)[found])
    assert not np.array_equal(moved.lead["p_peak"], usual.lead["p_peak"], equal_nan=True)


@pytest.mark.parametrize("pattern", ["normal", "sinus_bradycardia", "lvh"])
def test_muscle_noise_does_not_make_a_terminal_qrs_component(pattern: str) -> None:
    """Simulated 15-30 uV EMG noise (20-150 Hz): the lead-normalised velocity scaled the
    noisiest leads' noise to QRS size and moved the QRS end 60-80 ms into the ST segment
    (record QRS 159-178 ms for 90 ms; "nonspecific IVCD"). Leads whose QRS slope does not
    stand above their own median slope stay out of that rule."""
    import ecgr1
    from ecgr1.simulate import simulate

    for seed in range(6):
        sim = simulate(pattern, seconds=10, seed=seed, noise="muscle")
        true_ms = 1000 * np.median([b["qrs_off_s"] - b["qrs_on_s"] for b in sim.beats])
        qrs = ecgr1.measure(sim.record).global_.qrs_duration_ms
        assert qrs - true_ms < 25, (seed, qrs, true_ms)
