"""Signal-quality result types: what :mod:`ecgr1.signal.quality` judges about each lead.

They live in the signal stage because that stage produces them; the measurement result
(:mod:`ecgr1.measure.result`) carries a :class:`QualityReport` and re-exports both names, so
downstream code keeps importing them from there. Plain dataclasses, no numpy: the measurement
result stays cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LeadQuality:
    """Signal quality of one lead. ``usable`` False means: do not measure fine detail here."""

    usable: bool = True
    flags: list[str] = field(default_factory=list)  # e.g. "flat", "saturated", "noise"
    reasons: list[str] = field(default_factory=list)  # human sentences, one per flag
    noise_rms_mv: float | None = None
    baseline_wander_mv: float | None = None


@dataclass
class QualityReport:
    """Per-lead and overall quality."""

    leads: dict[str, LeadQuality] = field(default_factory=dict)
    overall: str = "good"  # "good" | "acceptable" | "poor" | "unusable"
    reasons: list[str] = field(default_factory=list)
    # True when the source rescaled every lead to the same range (absolute mV meaningless).
    amplitude_normalised: bool = False

    @property
    def poor_leads(self) -> list[str]:
        """Names of leads that are not usable."""
        return [name for name, q in self.leads.items() if not q.usable]
