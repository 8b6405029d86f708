"""Protocol engine (stage 4): measured values + criteria table -> statements with evidence.

The knowledge base is data (``criteria.yaml``, see ``docs/protocol.md``); the engine applies it
to a :class:`~ecgr1.measure.MeasurementResult` and returns an :class:`Interpretation` whose
statements carry SNOMED CT codes, certainty and evidence, plus the differentials excluded.

Example
-------
>>> from ecgr1.measure import GlobalMeasurements, MeasurementResult
>>> from ecgr1.protocol import interpret
>>> g = GlobalMeasurements(heart_rate_bpm=48, p_wave_fraction=1.0, p_axis_deg=50,
...                        qrs_duration_ms=96, pr_interval_ms=230, rr_irregularity="regular")
>>> interp = interpret(MeasurementResult("demo", 500.0, 10.0, [], global_=g))
>>> interp.labels
['sinus bradycardia', 'first degree AV block']
"""

from ecgr1.protocol.engine import evaluate_criterion, evaluate_expression, interpret
from ecgr1.protocol.table import CriteriaTable, load_table
from ecgr1.protocol.types import (
    CriterionResult,
    Evidence,
    Exclusion,
    Interpretation,
    Statement,
    Suppression,
)

__all__ = [
    "CriteriaTable",
    "CriterionResult",
    "Evidence",
    "Exclusion",
    "Interpretation",
    "Statement",
    "Suppression",
    "evaluate_criterion",
    "evaluate_expression",
    "interpret",
    "load_table",
]
