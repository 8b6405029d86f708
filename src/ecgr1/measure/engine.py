"""The measurement engine: ECGRecord in, MeasurementResult out.

Pipeline (see ``docs/measurements.md``), one module per step:

1. pacemaker spikes bridged, zero-phase baseline / mains removal and per-lead quality, QRS
   detection on all usable leads together at the detection rate
   (:mod:`~ecgr1.measure.detection`, :mod:`~ecgr1.measure.pacing`);
2. RR statistics, prematurity and the dominant beats (:mod:`~ecgr1.measure.beat_classes`);
3. delineation of every beat in every lead and of the median dominant beat; dominant beats are
   kept near the template's boundaries, which averages out noise while still following real
   beat-to-beat changes (not the T end of an irregularly irregular rhythm, whose template is
   blurred); global (CSE) fiducials (:mod:`~ecgr1.measure.fiducials`);
4. the whole-record atrial analysis, P waves (:mod:`~ecgr1.measure.p_waves`; with an irregular
   rhythm confirmed by that analysis), paced beats, beat classes, record intervals and QTc
   (:mod:`~ecgr1.measure.intervals`); atrial activity without P waves
   (:mod:`~ecgr1.measure.flutter`), the whole-record atrial analysis where it is confident and
   2:1 flutter in the median beat (:mod:`~ecgr1.measure.atrial_override`);
5. per-lead amplitudes, ST and axes on the full-rate median beat
   (:mod:`~ecgr1.measure.median_beat`), voltage criteria and delta waves
   (:mod:`~ecgr1.measure.voltage`).

Every number comes from one :class:`~ecgr1.measure.config.MeasureConfig`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ecgr1.errors import MeasurementError
from ecgr1.io.readers import as_record
from ecgr1.io.record import ECGRecord
from ecgr1.measure.atrial_override import (
    apply_atrial,
    confident_p_ratio,
    half_cycle_flutter,
    whole_record_atrial_analysis,
)
from ecgr1.measure.beat_classes import (
    classify_beats,
    count_beat_classes,
    find_paced_beats,
    group_beats,
    interval_beats,
)
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.detection import detect_beats, prepare_signal
from ecgr1.measure.fiducials import (
    P_KEYS,
    delineate_beats,
    global_fiducials,
    global_fiducials_s,
    lead_fiducials_in_samples,
    merge_fiducials,
)
from ecgr1.measure.flutter import no_p_wave_atrial_fields, rr_in_whole_flutter_cycles
from ecgr1.measure.intervals import build_beats, qt_correction, rate_fields, record_intervals
from ecgr1.measure.median_beat import (
    dissociated_p_fields,
    frontal_axes,
    measure_leads,
    median_beat,
)
from ecgr1.measure.p_waves import confirm_p_waves, p_wave_atrial_fields, p_wave_presence
from ecgr1.measure.pacing import (
    align_anchors_to_pacing,
    atrial_events_before_paced_qrs,
    blank_spikes,
    detect_pacing_spikes,
)
from ecgr1.measure.result import MeasurementResult
from ecgr1.measure.rhythm import underlying_rr_irregularity
from ecgr1.measure.voltage import delta_waves, voltage_criteria

__all__ = [
    "align_anchors_to_pacing",
    "atrial_events_before_paced_qrs",
    "blank_spikes",
    "detect_pacing_spikes",
    "measure",
    "rr_in_whole_flutter_cycles",
]

#: Lowest sampling rate (Hz) a record is measured at; below it :func:`measure` raises
#: :class:`~ecgr1.errors.MeasurementError` (an "unusable" result in the pipeline). 100 Hz is
#: the lowest rate of the supported datasets (PTB-XL ``records100``): at 50 Hz the QRS complex
#: spans a handful of samples and the filters (mains at 50/60 Hz) cannot work.
MIN_MEASURE_FS = 100.0

# Fields whose reason is the cause when the record cannot be measured at all.
_FAIL_FIELDS = (
    "heart_rate_bpm",
    "pr_interval_ms",
    "qrs_duration_ms",
    "qt_interval_ms",
    "qrs_axis_deg",
    "p_wave_present",
)


def measure(
    record: ECGRecord | Any,
    fs: float | None = None,
    leads: Any = None,
    units: str | None = None,
    *,
    age: float | None = None,
    sex: str | None = None,
    config: MeasureConfig | None = None,
    atrial_analysis: bool | None = None,
) -> MeasurementResult:
    """Measure one ECG record.

    Parameters
    ----------
    record : the ECG (any number of leads, any sampling rate >= 100 Hz): an
        :class:`~ecgr1.io.ECGRecord`, a path, or an array (leads x samples) with ``fs`` (and
        ``leads``/``units`` when not the standard 12 leads in mV); see
        :func:`~ecgr1.io.as_record`.
    age, sex : optional patient data (override ``record.metadata``); used by sex-specific
        criteria such as the Cornell product.
    config : every algorithm parameter; None uses :data:`~ecgr1.measure.config.DEFAULT_CONFIG`.
    atrial_analysis : run the whole-record atrial analysis (:mod:`ecgr1.measure.atrial`:
        flutter, non-conducted P waves, Wenckebach) and let it override the atrial fields where
        it is confident; None uses ``config.atrial_analysis``. It costs about 3 ms per record.

    Returns the global measurements, per-lead median-beat measurements, beats with their global
    fiducials, quality report and per-lead per-beat fiducials (samples).

    Raises :class:`~ecgr1.errors.MeasurementError` when the record cannot be measured (a
    sampling rate below :data:`MIN_MEASURE_FS` = 100 Hz, no usable lead, fewer than two QRS
    complexes), with the partial result as ``exc.result``;
    :func:`ecgr1.interpret_record` turns it into an "unusable" result.

    Example
    -------
    >>> import numpy as np
    >>> fs = 500.0; t = np.arange(5000) / fs; x = np.zeros((1, 5000))
    >>> for r in np.arange(0.5, 10, 1.0):
    ...     x[0] += 1.0 * np.exp(-((t - r) / 0.012) ** 2) + 0.2 * np.exp(-((t - r - 0.3) / 0.05) ** 2)
    >>> res = measure(x, fs=fs, leads=["II"])
    >>> round(res.global_.heart_rate_bpm)
    60
    """
    record = as_record(record, fs=fs, leads=leads, units=units)
    cfg = DEFAULT_CONFIG if config is None else config
    run_atrial = cfg.atrial_analysis if atrial_analysis is None else atrial_analysis
    # The reader's notes first, so that a direct ecgr1.measure(path) says what it noticed
    # (rescaled amplitudes, repaired samples) as the pipeline's results do.
    res = carry_record_notes(_new_result(record, age, sex), record)
    if not record.fs >= MIN_MEASURE_FS:  # also NaN
        return _fail(
            res,
            f"sampling rate {record.fs:g} Hz is below the {MIN_MEASURE_FS:g} Hz that "
            "measurement needs (QRS, P and T waves are not resolved)",
        )
    g = res.global_
    signal = prepare_signal(record, res, cfg)
    if not signal.usable.any():
        return _fail(res, "no usable lead")
    det = detect_beats(signal, cfg)
    # The float64 copy of the raw signal is not read again: freed now, its memory serves the
    # temporaries of the stages below (fewer fresh pages to fault in).
    del signal
    if det.anchors.size < 2:
        return _fail(res, "fewer than two QRS complexes detected")
    rate_fields(g, det, cfg)
    groups = group_beats(det, cfg)

    # Delineation, fiducials and P waves.
    dl = delineate_beats(det, groups, cfg)
    fid = merge_fiducials(dl, det, groups.dominant, cfg, irregular=groups.irregular)
    # The whole-record atrial analysis (P waves anywhere in the cycle, flutter, AV relation) reads
    # only the QRS and T ends; it confirms an irregular rhythm's P waves, overrides if confident.
    glob = global_fiducials(fid, det.pre, cfg)
    atr = whole_record_atrial_analysis(det, glob, res.lead_names, cfg) if run_atrial else None
    pw = confirm_p_waves(p_wave_presence(det, groups, dl, fid.lead["p_peak"], cfg), atr)
    g.p_wave_present, g.p_wave_fraction = pw.present, pw.fraction
    fid.keep_p_waves(pw.beat_has_p)
    for key in P_KEYS:  # as global_fiducials gives after keep_p_waves
        glob[key][~pw.beat_has_p] = np.nan
    res.lead_fiducials.update(lead_fiducials_in_samples(fid.lead, det, res.lead_names))

    # Beats: pacing, classes, per-beat intervals.
    paced, g.pacing_spikes_detected = find_paced_beats(det, fid.qrs_on, cfg)
    qrs_ms = (fid.qrs_off - fid.qrs_on) / det.ms_detect
    classes = classify_beats(groups, qrs_ms, paced, pw.beat_has_p, cfg)
    glob_s = global_fiducials_s(glob, det)
    res.beats.extend(build_beats(det, groups, classes, glob_s, qrs_ms, pw.beat_has_p, cfg))
    count_beat_classes(g, classes)
    g.underlying_rr_irregularity = underlying_rr_irregularity(res.beats, config=cfg)

    # Record intervals and atrial activity.
    dom_idx = interval_beats(groups.dominant, paced)
    p_ms = (glob["p_off"] - glob["p_on"]) / det.ms_detect
    spatial = (fid.template_qrs_ms, fid.template_onset_shift_ms)
    record_intervals(g, res.beats, qrs_ms, groups.dominant, dom_idx, p_ms, pw.present, cfg, spatial)
    if pw.present:
        p_wave_atrial_fields(g, det, dl, not confident_p_ratio(atr, cfg), cfg)
    else:
        no_p_wave_atrial_fields(g, det, groups, dl, cfg, res.lead_names)
    p_present = apply_atrial(res, atr, pw.present, cfg) if atr is not None else pw.present
    p_present = half_cycle_flutter(res, det, dl, groups.irregular, p_present, cfg)
    qt_correction(g)

    # Per-lead measurements on the full-rate median beat, axes, voltage, pre-excitation. Its P
    # wave: not measured when dissociated, aligned on the P waves when the PR varies.
    p_locked = p_present and g.pr_progression != "dissociated"
    mb = median_beat(det, dl, glob, groups.dominant, dom_idx, p_locked, cfg, atr, g.pr_progression)
    nets = measure_leads(res, det, mb, p_locked, cfg)
    frontal_axes(g, nets, p_locked)
    if p_present and not p_locked:
        dissociated_p_fields(res)
    voltage_criteria(res)
    delta_waves(res, mb.signal, mb.glob, det.fs, det.usable, cfg)
    if not g.p_wave_present:
        g.reasons.setdefault("p_wave_present", "no consistent P wave before the QRS complexes")
    return carry_record_notes(res, record)  # again: the quality report was rebuilt since


def carry_record_notes(result: MeasurementResult, record: ECGRecord) -> MeasurementResult:
    """Mark ``result`` with what the reader noticed about ``record``: amplitudes rescaled per
    lead in the source file (absolute voltages are unreliable), and the reader's warnings (a
    repaired NaN, a guessed unit), so that every output made from the measurements says it."""
    if record.metadata.get("amplitude_normalised"):
        result.quality.amplitude_normalised = True
    result.warnings = list(dict.fromkeys([*record.warnings, *result.warnings]))
    return result


def _new_result(record: ECGRecord, age: float | None, sex: str | None) -> MeasurementResult:
    """An empty result for ``record``; age and sex default to the record's metadata."""
    return MeasurementResult(
        id=record.record_id,
        fs=float(record.fs),
        duration_s=record.duration_s,
        lead_names=list(record.leads),
        age=record.metadata.get("age") if age is None else age,
        sex=record.metadata.get("sex") if sex is None else sex,
    )


def _fail(res: MeasurementResult, reason: str) -> MeasurementResult:
    """Give up on a record that cannot be measured: :class:`MeasurementError` carrying the
    partial result, with ``reason`` for the main fields."""
    for key in _FAIL_FIELDS:
        res.global_.reasons[key] = reason
    res.warnings.append(reason)
    raise MeasurementError(f"cannot be measured: {reason}", res.id, result=res)
