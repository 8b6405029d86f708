"""The whole-record atrial analysis (:mod:`ecgr1.measure.atrial`) and where it overrides the
beat-locked view of the engine.

The engine sees atrial activity through the P window before each QRS; the whole-record
analysis finds atrial waves anywhere in the cycle (non-conducted P waves, flutter waves at
2:1-4:1, AV dissociation). Its result takes over the atrial fields only where it is confident
(``atrial.flutter_confidence``, ``atrial.block_confidence``, ``atrial_waves.min_p_waves_per_qrs``).
2:1 flutter, whose F wave before each QRS the engine took for a P wave, is found in the median
beat instead (:func:`half_cycle_flutter`).
"""

from __future__ import annotations

import numpy as np

from ecgr1.measure._numeric import round_or_none
from ecgr1.measure.atrial import AtrialActivity, analyse_atrial_activity
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.detection import Detection
from ecgr1.measure.fiducials import BeatDelineation
from ecgr1.measure.flutter import half_cycle_f_waves, rr_in_whole_flutter_cycles
from ecgr1.measure.result import MeasurementResult


def whole_record_atrial_analysis(
    det: Detection, glob: dict[str, np.ndarray], leads: list[str], config: MeasureConfig
) -> AtrialActivity:
    """Run :func:`~ecgr1.measure.atrial.analyse_atrial_activity` on the detection-rate signal
    with the global QRS and T boundaries of every beat (``glob``, window samples)."""
    starts = det.starts
    return analyse_atrial_activity(
        det.clean,
        det.fs_detect,
        leads,
        det.anchors,
        glob["qrs_on"] + starts,
        glob["qrs_off"] + starts,
        glob["t_off"] + starts,
        det.usable,
        config=config,
    )


def confident_p_ratio(atr: AtrialActivity | None, config: MeasureConfig) -> bool:
    """Whether the atrial analysis found P waves with a P:QRS ratio it is confident of (which
    makes the engine's own matched-filter count unnecessary)."""
    return (
        atr is not None
        and atr.atrial_activity == "p_waves"
        and atr.p_waves_per_qrs is not None
        and atr.confidence >= config.atrial["block_confidence"]
    )


def apply_atrial(
    res: MeasurementResult, atr: AtrialActivity, p_present: bool, config: MeasureConfig
) -> bool:
    """Take over the atrial fields from :func:`analyse_atrial_activity` where it is confident.

    Rules: flutter only with a regular or regularly irregular ventricular response, or with
    irregular RR intervals that are whole numbers of its cycle (variable AV block); at a lower
    confidence (``atrial.flutter_confidence_fixed_block``) with a regular RR of 2 or more of
    its cycles (fixed AV block);
    non-conducted P waves (P:QRS > 1, AV block) with their rate, ratio and PR progression; a
    confident 1:1 relation fills a missing P:QRS. Fibrillatory, "none" and undecided results
    never override. Returns whether P waves are present afterwards.
    """
    g = res.global_
    conf = float(atr.confidence)
    atrial = config.atrial
    if atr.atrial_activity == "flutter" and (
        (
            conf >= atrial["flutter_confidence"]
            and (g.rr_irregularity != "irregularly_irregular" or _variable_block(res, atr, config))
        )
        or (conf >= atrial["flutter_confidence_fixed_block"] and _fixed_block(res, atr, config))
    ):
        _take_flutter(res, atr)
        return False
    ratio = atr.p_waves_per_qrs
    if (
        atr.atrial_activity == "p_waves"
        and ratio is not None
        and ratio >= config.atrial_waves["min_p_waves_per_qrs"]
        and conf >= atrial["block_confidence"]
    ):
        _take_non_conducted_p_waves(res, atr, ratio)
        return True
    if (
        ratio is not None
        and abs(ratio - 1.0) < 1e-9
        and conf >= atrial["block_confidence"]
        and g.p_waves_per_qrs is None
        and p_present
    ):
        g.p_waves_per_qrs = 1.0
        g.reasons.pop("p_waves_per_qrs", None)
    return p_present


def half_cycle_flutter(
    res: MeasurementResult,
    det: Detection,
    dl: BeatDelineation,
    irregular: bool,
    p_present: bool,
    config: MeasureConfig,
) -> bool:
    """2:1 flutter whose F wave before each QRS passed as a P wave, found in the median beat
    of a regular rhythm (:func:`~ecgr1.measure.flutter.half_cycle_f_waves`): the F-wave rate
    and no P waves, as when the whole-record analysis finds flutter. Returns whether P waves
    are present afterwards."""
    if not p_present or irregular:
        return p_present
    rate = half_cycle_f_waves(det, dl, res.lead_names, config)
    if rate is None:
        return True
    _take_flutter(res, AtrialActivity(atrial_activity="flutter", atrial_rate_bpm=rate))
    res.global_.reasons["p_wave_present"] = (
        "the wave before each QRS is a flutter wave: another of its shape and size lies half "
        "an RR interval earlier (2:1 flutter)"
    )
    return False


def _variable_block(res: MeasurementResult, atr: AtrialActivity, config: MeasureConfig) -> bool:
    """Whether irregular RR intervals are whole numbers of the flutter cycle found: flutter
    with variable AV block (2:1, 3:1, 4:1 in turn), not fibrillation (see
    :func:`~ecgr1.measure.flutter.rr_in_whole_flutter_cycles`)."""
    rr_ms = np.array([b.rr_prev_ms for b in res.beats if b.rr_prev_ms is not None], float)
    flutter_hz = (atr.atrial_rate_bpm or 0.0) / 60.0
    return rr_in_whole_flutter_cycles(rr_ms / 1000.0, flutter_hz, config=config)


def _fixed_block(res: MeasurementResult, atr: AtrialActivity, config: MeasureConfig) -> bool:
    """Whether a regular RR is a whole number, 2 or more, of the flutter cycle found: flutter
    with fixed AV conduction (2:1, 3:1, 4:1). A 1:1 relation is left out: a P wave before
    every QRS repeats at the ventricular cycle too."""
    if len(res.lead_names) < config.atrial["flutter_fixed_block_min_leads"]:
        return False
    if res.global_.rr_irregularity != "regular" or not _variable_block(res, atr, config):
        return False
    rr_ms = [b.rr_prev_ms for b in res.beats if b.rr_prev_ms is not None]
    cycles = float(np.median(rr_ms)) / 1000.0 * (atr.atrial_rate_bpm or 0.0) / 60.0
    return round(cycles) >= 2


def _take_flutter(res: MeasurementResult, atr: AtrialActivity) -> None:
    """Flutter: the F-wave rate, and no P waves (nor PR) anywhere in the result."""
    g = res.global_
    g.atrial_activity = "flutter"
    g.atrial_rate_bpm = round_or_none(atr.atrial_rate_bpm)
    g.p_wave_present = False
    g.p_wave_fraction = 0.0
    why = "flutter waves, no P waves"
    for key in ("pr_interval_ms", "p_duration_ms", "p_waves_per_qrs", "pr_progression"):
        setattr(g, key, None)
        g.reasons[key] = why
    g.pr_interval_sd_ms = None
    for b in res.beats:
        b.p_onset_s = b.p_peak_s = b.p_offset_s = None
        b.pr_interval_ms = None
        b.p_present = False
    for entry in res.lead_fiducials.values():
        for key in ("p_on", "p_peak", "p_off"):
            entry[key] = [None] * len(entry[key])


def _take_non_conducted_p_waves(res: MeasurementResult, atr: AtrialActivity, ratio: float) -> None:
    """More P waves than QRS complexes: atrial rate, P:QRS, PR progression and the PR of the
    conducted beats (none when dissociated)."""
    g = res.global_
    g.atrial_activity = "p_waves"
    g.atrial_rate_bpm = round_or_none(atr.atrial_rate_bpm)
    g.p_waves_per_qrs = round(float(ratio), 2)
    g.pr_progression = atr.pr_progression
    g.pr_rise_ms = round_or_none(atr.pr_rise_ms)
    g.p_wave_present = True
    prs = [float(v) for v in atr.pr_intervals_ms if v is not None]
    n_waves = atr.atrial_wave_samples.size + atr.hidden_wave_samples.size
    g.p_wave_fraction = round(min(1.0, len(prs) / max(n_waves, 1)), 3)
    if prs:
        pr = min(prs) if atr.pr_progression in ("constant", "prolonging") else None
        if pr is not None:
            g.pr_interval_ms = round_or_none(pr)
        elif atr.pr_progression == "dissociated":
            g.pr_interval_ms = None
            g.reasons["pr_interval_ms"] = "P waves dissociated from the QRS complexes"
    # Dropped beats group the QRS complexes (group beating): irregular, but not the
    # irregularly irregular rhythm of fibrillation. (The regularity between non-ectopic beats
    # stays as measured: the protocol reads its irregularity to keep the pauses of dropped
    # beats from passing as sinus arrhythmia.)
    if g.rr_irregularity == "irregularly_irregular":
        g.rr_irregularity = "regularly_irregular"
    for key in ("p_waves_per_qrs", "atrial_rate_bpm", "pr_progression", "p_wave_present"):
        g.reasons.pop(key, None)
    if g.pr_interval_ms is not None:
        g.reasons.pop("pr_interval_ms", None)
