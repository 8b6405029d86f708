"""The six steps of the ECG-R1 interpretation format (``../shared/spec/interchange.md`` §2).

One definition shared by the report writer (which writes them) and the RL rewards (which parse
them), so the two can never disagree.
"""

from __future__ import annotations

# Evidence keys of the RL ``solution`` string, in order (index 0 = step 1).
STEP_KEYS: tuple[str, ...] = (
    "step_1_technical_rate_rhythm",
    "step_2_conduction_axis_intervals",
    "step_3_chamber_hypertrophy_voltage",
    "step_4_ischemia_infarction_mimics",
    "step_5_electrolytes_qt",
    "step_6_final_medical_reasoning",
)
# Step headers as written in ``**Step N: <title>**``.
STEP_TITLES: tuple[str, ...] = (
    "Technical, Rate & Rhythm",
    "Conduction, Axis & Intervals",
    "Chamber Hypertrophy & Voltage",
    "Ischemia, Infarction & Mimics",
    "Electrolytes & QT",
    "Final Medical Reasoning",
)
