"""What interpreting one record gives: measurements, protocol interpretation and report text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecgr1.measure.result import MeasurementResult
from ecgr1.protocol.types import Interpretation


@dataclass
class RecordInterpretation:
    """One record interpreted by an engine (``ecgr1 interpret``; see :meth:`to_dict`).

    ``report`` is the engine's text (the six-step ECG-R1 format for the protocol engine),
    ``answer`` its diagnosis labels and ``solution`` the protocol's RL reference string.
    """

    id: str
    engine: str
    measurements: MeasurementResult
    interpretation: Interpretation
    report: str
    answer: list[str]
    solution: str
    source_path: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self, include_fiducials: bool = False) -> dict[str, Any]:
        """The JSON object of ``ecgr1 interpret --format json``."""
        meas = self.measurements.to_dict()
        if not include_fiducials:
            meas.pop("lead_fiducials", None)
        quality = meas.get("quality")
        proto = self.interpretation.to_dict()
        return {
            "id": self.id,
            "source_path": self.source_path,
            "engine": self.engine,
            "age": proto["age"],
            "sex": proto["sex"],
            "statements": proto["statements"],
            "excluded": proto["excluded"],
            "suppressed": proto["suppressed"],
            # what the input could not show (partial leads, short, uncalibrated: docs/protocol.md)
            "not_assessable": proto["not_assessable"],
            "limits": proto["limits"],
            "measurements": meas,
            "quality": {
                **(quality or {}),
                "poor_leads": list(self.measurements.quality.poor_leads),
            },
            "report": self.report,
            "answer": list(self.answer),
            "solution": self.solution,
            "warnings": list(self.warnings),
        }

    def to_json(self, include_fiducials: bool = False, **dumps: Any) -> str:
        """:meth:`to_dict` as JSON text (``dumps`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(include_fiducials), ensure_ascii=False, **dumps)
