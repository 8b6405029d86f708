"""The measurement result: the contract between the measurement engine and everything downstream.

Every quantity has a clinical name with its unit in the name (``qrs_duration_ms``). A value
that cannot be measured is ``None`` and ``reasons[<field>]`` says why; it is never guessed.
Times of fiducials are in seconds from the start of the record.

The JSON written by ``ecgr1 measure --json-dir`` is :meth:`MeasurementResult.to_dict`; its
schema is documented in ``docs/measurements.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

# The quality types belong to the signal stage that computes them; re-exported here because the
# measurement result carries them and callers import them from this module.
from ecgr1.signal.types import LeadQuality, QualityReport

__all__ = [
    "SCHEMA_VERSION",
    "Beat",
    "GlobalMeasurements",
    "LeadMeasurements",
    "LeadQuality",
    "MeasurementResult",
    "QualityReport",
]

SCHEMA_VERSION = "1.0"


# Field names per dataclass type, looked up once (``dataclasses.fields`` per object is a
# large part of writing a result).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _clean(value: Any) -> Any:
    """Make a value JSON-safe: NaN/inf become None, numpy scalars become Python numbers."""
    # The exact built-in types a result is mostly made of first (a numpy float64 is a float
    # subclass and takes the general path below).
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(k): _clean(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        # Fiducial lists are mostly ints and None, which stay as they are: no call for those.
        return [v if type(v) is int or v is None else _clean(v) for v in value]
    names = _FIELD_NAMES.get(kind)
    if names is not None:
        return {name: _clean(getattr(value, name)) for name in names}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
        return {f.name: _clean(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class Beat:
    """One heartbeat with its global (across-lead, CSE convention) fiducials in seconds."""

    index: int
    r_peak_s: float
    rr_prev_ms: float | None = None
    rr_next_ms: float | None = None
    beat_class: str = "dominant"  # "dominant" | "premature_supraventricular" | "premature_ventricular" | "paced" | "other"
    wide_qrs: bool = False
    p_onset_s: float | None = None
    p_peak_s: float | None = None
    p_offset_s: float | None = None
    qrs_onset_s: float | None = None
    qrs_offset_s: float | None = None
    t_onset_s: float | None = None
    t_peak_s: float | None = None
    t_offset_s: float | None = None
    p_present: bool = False
    pr_interval_ms: float | None = None
    qrs_duration_ms: float | None = None
    qt_interval_ms: float | None = None


@dataclass
class LeadMeasurements:
    """Amplitudes (mV, relative to the PR-segment baseline) and durations of one lead's
    representative (median dominant) beat."""

    p_amplitude_mv: float | None = None  # largest-magnitude P deflection, signed
    p_positive_amplitude_mv: float | None = None
    p_negative_amplitude_mv: float | None = None
    # Duration of the P wave's terminal negative lobe (after its positive peak, between its
    # baseline crossings); 0 when there is no positive part or no such lobe (the P terminal
    # force in V1, AHA 2009 Part V; features.terminal_negative_samples).
    p_terminal_negative_ms: float | None = None
    p_duration_ms: float | None = None
    p_morphology: str | None = None  # "positive" | "negative" | "biphasic" | "notched" | "absent"
    q_amplitude_mv: float | None = None  # <= 0, None when no Q wave
    q_duration_ms: float | None = None
    r_amplitude_mv: float | None = None  # >= 0
    r_duration_ms: float | None = None
    s_amplitude_mv: float | None = None  # <= 0
    s_duration_ms: float | None = None
    r_prime_amplitude_mv: float | None = None  # >= 0, None when no R'
    s_prime_amplitude_mv: float | None = None
    qrs_morphology: str | None = None  # e.g. "qRs", "rSR'", "QS"
    qrs_duration_ms: float | None = None
    qrs_peak_to_peak_mv: float | None = None
    qrs_net_amplitude_mv: float | None = None  # R + S (S negative): net deflection
    r_peak_time_ms: float | None = None  # QRS onset to R peak (intrinsicoid deflection)
    j_amplitude_mv: float | None = None
    st_j_mv: float | None = None  # ST deviation at J, relative to the PR segment
    st_j60_mv: float | None = None
    st_j80_mv: float | None = None
    st_slope_mv_per_s: float | None = None
    st_shape: str | None = None  # "upsloping" | "horizontal" | "downsloping"
    t_amplitude_mv: float | None = None  # signed, largest-magnitude T deflection
    t_positive_amplitude_mv: float | None = None
    t_negative_amplitude_mv: float | None = None
    t_polarity: str | None = None  # "positive" | "negative" | "biphasic" | "flat"
    delta_wave: bool | None = None  # slurred QRS upstroke (pre-excitation)
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass
class GlobalMeasurements:
    """Record-level measurements."""

    heart_rate_bpm: float | None = None  # ventricular rate
    atrial_rate_bpm: float | None = None
    rr_mean_ms: float | None = None
    rr_sd_ms: float | None = None
    rr_cv: float | None = None  # coefficient of variation of RR
    rr_irregular: bool | None = None
    rr_irregularity: str | None = (
        None  # "regular" | "regularly_irregular" | "irregularly_irregular"
    )
    # The same between non-ectopic beats (the rhythm under premature beats and their pauses);
    # None when ectopic beats leave fewer than four such intervals (bigeminy).
    underlying_rr_irregularity: str | None = None
    n_beats: int = 0
    n_premature_supraventricular: int = 0
    n_premature_ventricular: int = 0
    n_paced: int = 0
    pacing_spikes_detected: bool = False
    p_wave_present: bool | None = None
    p_wave_fraction: float | None = None  # fraction of beats with a detected P
    p_waves_per_qrs: float | None = None  # >1 suggests non-conducted P waves (AV block)
    atrial_activity: str | None = None  # "p_waves" | "fibrillatory" | "flutter" | "none"
    p_duration_ms: float | None = None
    pr_interval_ms: float | None = None
    pr_interval_sd_ms: float | None = None
    pr_progression: str | None = None  # "constant" | "prolonging" | "variable" | "dissociated"
    # PR rise (ms) over the conducted beats of a group ended by a non-conducted P (median over
    # groups): the Wenckebach increment; None without non-conducted P waves.
    pr_rise_ms: float | None = None
    # Median |successive RR difference| / mean RR (the index behind "irregularly irregular").
    rr_successive_difference_ratio: float | None = None
    qrs_duration_ms: float | None = None
    qt_interval_ms: float | None = None
    qtc_bazett_ms: float | None = None
    qtc_fridericia_ms: float | None = None
    qtc_framingham_ms: float | None = None
    qtc_hodges_ms: float | None = None
    p_axis_deg: float | None = None
    qrs_axis_deg: float | None = None
    t_axis_deg: float | None = None
    sokolow_lyon_mv: float | None = None  # S(V1) + max(R(V5), R(V6))
    sokolow_lyon_rvh_mv: float | None = None  # R(V1) + max(S(V5), S(V6))
    cornell_voltage_mv: float | None = None  # R(aVL) + S(V3)
    cornell_product_mv_ms: float | None = None
    max_limb_qrs_peak_to_peak_mv: float | None = None
    max_precordial_qrs_peak_to_peak_mv: float | None = None
    delta_wave_leads: list[str] | None = None  # leads with a delta wave (pre-excitation)
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass
class MeasurementResult:
    """Everything the measurement engine knows about one record."""

    id: str
    fs: float
    duration_s: float
    lead_names: list[str]
    global_: GlobalMeasurements = field(default_factory=GlobalMeasurements)
    leads: dict[str, LeadMeasurements] = field(default_factory=dict)
    beats: list[Beat] = field(default_factory=list)
    quality: QualityReport = field(default_factory=QualityReport)
    # Per-lead, per-beat fiducials in samples (for annotation files and overlays):
    # {lead: {"p_on": [...], "p_peak": [...], ..., "t_off": [...]}}; entries may be None.
    lead_fiducials: dict[str, dict[str, list[int | None]]] = field(default_factory=dict)
    age: float | None = None
    sex: str | None = None
    warnings: list[str] = field(default_factory=list)
    schema_version: str = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the keys are the attribute names (``global_`` is written ``global``)."""
        out = {
            "schema_version": self.schema_version,
            "id": self.id,
            "fs": self.fs,
            "duration_s": self.duration_s,
            "lead_names": list(self.lead_names),
            "age": self.age,
            "sex": self.sex,
            "global": _clean(self.global_),
            "leads": {k: _clean(v) for k, v in self.leads.items()},
            "beats": [_clean(b) for b in self.beats],
            "quality": {
                "overall": self.quality.overall,
                "reasons": list(self.quality.reasons),
                "amplitude_normalised": self.quality.amplitude_normalised,
                "leads": {k: _clean(v) for k, v in self.quality.leads.items()},
            },
            "lead_fiducials": _clean(self.lead_fiducials),
            "warnings": list(self.warnings),
        }
        return out

    def to_json(self, **dumps: Any) -> str:
        """:meth:`to_dict` as JSON text (``dumps`` go to :func:`json.dumps`, e.g. ``indent=1``)."""
        return json.dumps(self.to_dict(), **dumps)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasurementResult:
        """Inverse of :meth:`to_dict` (unknown keys are ignored so older readers keep working)."""

        def build(kind: type, payload: dict[str, Any] | None) -> Any:
            payload = payload or {}
            names = {f.name for f in dataclasses.fields(kind)}
            return kind(**{k: v for k, v in payload.items() if k in names})

        quality = data.get("quality") or {}
        return cls(
            id=data["id"],
            fs=data["fs"],
            duration_s=data["duration_s"],
            lead_names=list(data.get("lead_names") or []),
            global_=build(GlobalMeasurements, data.get("global")),
            leads={k: build(LeadMeasurements, v) for k, v in (data.get("leads") or {}).items()},
            beats=[build(Beat, b) for b in data.get("beats") or []],
            quality=QualityReport(
                leads={k: build(LeadQuality, v) for k, v in (quality.get("leads") or {}).items()},
                overall=quality.get("overall", "good"),
                reasons=list(quality.get("reasons") or []),
                amplitude_normalised=bool(quality.get("amplitude_normalised", False)),
            ),
            lead_fiducials=data.get("lead_fiducials") or {},
            age=data.get("age"),
            sex=data.get("sex"),
            warnings=list(data.get("warnings") or []),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )
