"""Report writer (stage 5): interpretation -> ECG-R1 6-step text, answer and RL solution.

Example
-------
>>> from ecgr1.measure import GlobalMeasurements, MeasurementResult
>>> from ecgr1.protocol import interpret
>>> from ecgr1.report import write_report
>>> g = GlobalMeasurements(heart_rate_bpm=72, p_wave_fraction=1.0, p_axis_deg=50,
...                        qrs_duration_ms=92, pr_interval_ms=160, rr_irregularity="regular")
>>> text = write_report(interpret(MeasurementResult("demo", 500.0, 10.0, [], global_=g)))
>>> text.startswith("<think>") and text.endswith("</answer>")
True
"""

from ecgr1.report.writer import (
    STEP_KEYS,
    STEP_TITLES,
    Report,
    StepText,
    build_report,
    write_report,
    write_solution,
)

__all__ = [
    "STEP_KEYS",
    "STEP_TITLES",
    "Report",
    "StepText",
    "build_report",
    "write_report",
    "write_solution",
]
