"""Physiological 12-lead ECG simulator with exact ground truth (see ``docs/simulator.md``).

>>> from ecgr1.simulate import simulate
>>> sim = simulate("rbbb", seconds=4, seed=0)
>>> sim.record.n_leads, sim.params["qrs_ms"]
(12, 140.0)
"""

from ecgr1.simulate.core import Simulation, TrueWave, simulate
from ecgr1.simulate.patterns import PATTERNS

__all__ = ["PATTERNS", "Simulation", "TrueWave", "simulate"]

# ``ecgr1.simulate("rbbb")`` simulates (see ecgr1/_callable.py).
from ecgr1._callable import make_callable  # noqa: E402

make_callable(__name__, simulate)
