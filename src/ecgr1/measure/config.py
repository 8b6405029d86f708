"""Algorithm parameters of the measurement engine, in one validated configuration object.

:class:`MeasureConfig` holds every number ``measure`` needs to build its results: filter and
search windows, tolerances, the percentiles behind global fiducials, the prematurity ratio that
picks the dominant beats, detector limits. Pass one as ``measure(record, config=...)``; the
default is :data:`DEFAULT_CONFIG`.

A few numbers serve both the measurement and the clinical protocol (a beat is "wide" for the
premature-beat classes at the QRS width the protocol calls wide, say). Their source is the
protocol's criteria table: a criterion there names the configuration key it feeds
(``measure_config:``) and the interpretation pipeline builds the configuration from the table,
so ``measure`` never imports the protocol. :data:`TABLE_LINKED_KEYS` lists those keys; their
defaults here equal the packaged table (a test checks it), so ``measure`` used alone agrees
with ``interpret``.

Example
-------
>>> cfg = MeasureConfig(beat={"premature_ratio": 0.9})
>>> cfg.beat["premature_ratio"], cfg.beat["refractory_ms"]
(0.9, 250.0)
>>> cfg.replace({"beat.wide_qrs_ms": 130}).beat["wide_qrs_ms"]
130.0
>>> MeasureConfig(beat={"premature_rato": 0.9})
Traceback (most recent call last):
...
ValueError: unknown MeasureConfig key 'beat.premature_rato' (did you mean 'beat.premature_ratio'?)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

# ---------------------------------------------------------------------------- defaults
# Each section is a flat table of numbers; a comment explains every entry that is not obvious
# from its name. Times in ms, amplitudes in mV, rates in /min unless the name says otherwise.

BEAT: dict[str, float] = {
    "refractory_ms": 250.0,  # two QRS complexes cannot be closer (240 bpm)
    "min_rr_ms": 240.0,
    "min_qrs_mv": 0.1,  # smallest QRS peak-to-peak (largest lead) accepted as a beat
    "premature_ratio": 0.88,  # RR_prev below this fraction of the local RR: premature
    # An ectopic beat resets or skips the sinus cycle: the interval after it is longer than the
    # one before by at least this fraction of the local RR (a pause). Sinus arrhythmia changes
    # the RR gradually and has no such pause.
    "ectopic_pause_ratio": 0.15,
    # A ventricular beat is wide (>= wide_qrs_ms) or this much wider than the dominant QRS.
    "ventricular_extra_qrs_ms": 30.0,
    "morphology_corr": 0.85,  # QRS correlation with the dominant template to be "same shape"
    "wide_qrs_ms": 120.0,  # table-linked: ectopy.pvc_wide_qrs
    "qt_max_extra_qrs_ms": 40.0,  # beats with QRS this much wider than dominant: not in QT
    # RR regularity (table-linked: rhythm.irregularly_irregular): coefficient of variation
    # above irregular_rr_cv is irregular; median |successive difference| / mean RR above
    # irregular_succ_diff too makes it irregularly irregular.
    "irregular_rr_cv": 0.08,
    "irregular_succ_diff": 0.10,
    # Detection threshold over the slope-energy envelope: N + 0.25 (S - N), S its 98th
    # percentile and N this weight times its median, the noise level (Pan & Tompkins 1985; 0:
    # a quarter of S alone). Muscle noise lifts the envelope between beats to a sixth of S,
    # and a broad T wave with noise on it then passed a quarter of S as a "beat".
    "detect_noise_weight": 1.0,
    # A beat found by the pause re-search must be at least this fraction of the median size of
    # the beats found before it (peak-to-peak within +-60 ms, summed over the leads): noisy
    # simulated Wenckebach pauses gave their non-conducted P wave as a "beat" (2 of 10).
    "research_min_size_ratio": 0.3,
    # An RR interval at least this many times the median is a pause, long enough to hide a
    # beat: the detector searches it again, and it is no evidence of an irregular rhythm (the
    # P-wave test's irregular-rhythm rule and the sinus-cycle variation leave it out). A beat
    # missed, blocked or hidden leaves a cycle of about twice the others; the phasic variation
    # of sinus arrhythmia changes the cycle gradually, by far less.
    "pause_rr_ratio": 1.6,
}

# Delineation search windows: physiologic limits relative to the R peak or to other
# fiducials, deliberately wide so that the waves themselves decide the boundaries.
WINDOWS: dict[str, float] = {
    "pre_r_ms": 450.0,  # beat window starts this long before R
    "post_r_ms": 750.0,  # and ends this long after R
    "qrs_on_search_ms": 150.0,  # QRS onset no earlier than this before R
    "qrs_off_search_ms": 200.0,  # QRS offset no later than this after R
    "pr_max_ms": 360.0,  # P onset no earlier than this before QRS onset
    "pr_min_gap_ms": 20.0,  # P offset no later than this before QRS onset
    # When the usual range (from 62% of the previous RR) cuts the median beat's P wave, the P
    # waves are sought from this long after the previous T wave's end (a long PR).
    "p_after_t_ms": 20.0,
    "t_min_after_j_ms": 60.0,  # T peak not inside the first part of the ST segment
    "t_max_after_r_ms": 700.0,
}

# "Present" decisions and wave naming.
PRESENCE: dict[str, float] = {
    "p_min_amp_mv": 0.03,  # smallest P deflection accepted (template)
    "p_snr": 3.0,  # P amplitude over template-window noise
    "p_beat_corr": 0.5,  # beat P correlates with template P at least this much
    # Fraction of dominant beats with a P for "P waves present"; table-linked: rhythm.p_present.
    "p_fraction_present": 0.5,
    # Median correlation of the beats' P windows with their median: atrial activity locked to
    # the QRS (P waves) is consistent, fibrillatory waves are not.
    "p_consistency": 0.75,
    "p_consistency_irregular": 0.93,  # stricter when the RR intervals are irregular
    "p_consistency_few_leads": 0.6,  # fewer than 6 usable leads, regular RR
    # The consistency is judged over this many usable leads, those whose median-beat P stands
    # out most over its noise (all usable leads when fewer).
    "p_consistency_leads": 6,
    # P waves of an irregular rhythm need the whole-record atrial analysis to see P waves too,
    # with at least this many usable leads (with fewer it often cannot see small P waves).
    "p_confirm_min_leads": 6,
    "wave_min_mv": 0.05,  # smallest Q/R/S deflection named in the morphology string
    "capital_wave_mv": 0.5,  # capital letter (R vs r) from this amplitude
    # A T wave smaller than this is "flat" (no polarity; and the smaller lobe of a biphasic T
    # is at least this); table-linked: t.flat, so the lead's t_polarity and the protocol's
    # flat-T criterion are one concept with one number.
    "flat_t_mv": 0.1,
}

ST: dict[str, float] = {
    # ST shape: slope J -> J+80 ms above +this (mV/s) is upsloping, below -this downsloping;
    # table-linked: st.not_upsloping.
    "slope_mv_per_s": 0.5,
    # The J point ST is read at: no earlier than the QRS end of the k-th latest usable lead on
    # the median beat (1 = the latest; 2 discounts one outlying lead). Before a lead's QRS end
    # its terminal QRS (an R', a slurred S) would be read as ST deviation.
    "j_lead_rank": 2,
}

# Atrial activity read from the QRST-cancelled residual and the beat-locked P windows.
ATRIAL: dict[str, float] = {
    "flutter_concentration": 0.4,  # share of 2-12 Hz residual power in the flutter peak
    "flutter_lead_agreement_hz": 0.3,  # the two most concentrated leads peak at one frequency
    # Irregular RR with flutter waves: mean distance of RR from whole F-F cycles (in cycles)
    # at most this (unrelated intervals give 0.25; AV delay varies with the block ratio).
    "flutter_rr_multiple_tolerance": 0.15,
    "flutter_rr_min_intervals": 5,
    "p_match_ncc": 0.8,  # P-wave matched filter: normalised correlation to count a P wave
    # When the whole-record atrial analysis overrides the beat-locked view.
    "flutter_confidence": 0.8,
    # ... or at this lower confidence when a regular RR is a whole number (2 or more) of its
    # F-F cycles: the ventricles following every 2nd, 3rd or 4th F wave is evidence of its
    # own. Muscle noise brings the one-cycle autocorrelation of simulated 4:1 flutter to
    # 0.55-0.70, and its F wave before each QRS passed as a P wave (5 of 20 seeds: "sinus
    # rhythm, first-degree AV block", "ectopic atrial rhythm"). On the labelled sources the
    # analysis finds "flutter" below 0.8 only in fibrillation, whose RR is never regular.
    "flutter_confidence_fixed_block": 0.5,
    # ... on records of at least this many leads: on the 2-lead QTDB and Holter records the
    # analysis reads regular sinus P waves as "flutter" at that confidence.
    "flutter_fixed_block_min_leads": 6,
    "block_confidence": 0.7,
    # --- Fibrillatory (f) waves: positive evidence of atrial fibrillation -------------------
    # On the QRST-cancelled residual with the QRS neighbourhood blanked (cancellation error is
    # largest there), in the lead of II, III, aVF, V1, V2 with the largest f-wave band share
    # (:mod:`ecgr1.measure.atrial.fwaves`). f waves at 240-540 /min: the dominant atrial
    # frequency of AF lies in 4-9 Hz (Bollmann 2006, Stridh & Sornmo 2001).
    "fwave_min_hz": 4.0,
    "fwave_max_hz": 9.0,
    "fwave_blank_before_ms": 60.0,  # residual blanked from this before each R peak ...
    "fwave_blank_after_ms": 100.0,  # ... to this after it
    # Beats of another shape than the dominant one (ventricular ectopics) are blanked to this
    # after their R peak: the dominant template cancels neither their QRS nor their T wave
    # (a PVC's QT is ~400 ms), which otherwise fill the residual with non-atrial power.
    "fwave_blank_ectopic_after_ms": 450.0,
    # Share of the 1-30 Hz residual power in the f-wave band (missed P waves and T-wave
    # mismatch put their power below 4 Hz, broadband noise spreads it).
    "fwave_min_share": 0.2,
    # Mean power density in the f-wave band over that in 12-30 Hz (the noise floor: f waves
    # have little power above 12 Hz, muscle noise and cancellation residue do).
    "fwave_noise_min_hz": 12.0,
    "fwave_noise_max_hz": 30.0,
    "fwave_min_noise_ratio": 6.0,
    # Without f waves, an irregular RR over a residual flatter than this (median RMS outside
    # the blanked QRS) is "none": fine fibrillatory waves below what the ECG resolves, which
    # the AF rule accepts; above it the unexplained activity (missed P waves) stays undecided.
    "fwave_flat_rms_mv": 0.02,
    # f waves run through the TQ interval at a phase unrelated to the QRS; P waves (sinus,
    # PACs) stand at a fixed distance before it. Of the clean signal this long before each R
    # peak (ending this gap before it: the PR segment up to a PR of ~250 ms), the share of the
    # segments' energy that their median repeats (f waves: chance, ~1.6/beats; P waves: most);
    # at or above the share, the 4-9 Hz activity is missed P waves, not f waves.
    "fwave_locked_window_ms": 250.0,
    "fwave_locked_gap_ms": 60.0,
    "fwave_locked_max_share": 0.3,
    "fwave_locked_min_beats": 8,  # fewer: chance alone reaches the share (1.6/8 = 0.2)
    # Where the RR cannot support the f waves (ventricles paced: the RR is the pacemaker's
    # timing; an RR that varies without being irregularly irregular), fibrillatory activity
    # needs f waves in at least this many of II, III, aVF, V1, V2 (one lead alone can be a
    # lead's T-wave mismatch, artefact or missed P waves).
    "fwave_alone_min_leads": 2,
    # ... and must not repeat at one atrial cycle: P waves of AV dissociation (complete block
    # under a ventricular pacemaker) march through at a constant P-P interval and hold 4-9 Hz
    # power too, f waves do not. The lower of the residual's autocorrelations at one cycle and
    # at two (QRS blanked, low-passed below fwave_noise_min_hz), highest over the cycles in
    # this range; at or above fwave_paced_max_autocorr the activity is regular. Constructed:
    # 10-s band-limited 4.5-8 Hz f waves 0.08-0.40 (95th percentile 0.30-0.33), 0.05 mV P
    # waves under 0.03 mV noise 0.18-0.73 (5th percentile 0.35); LUDB 93 (AF) below 0.1.
    "fwave_paced_cycle_min_ms": 350.0,
    "fwave_paced_cycle_max_ms": 1500.0,
    "fwave_paced_max_autocorr": 0.35,
}

# Pacing spikes: second difference of the raw signal (mV per sample^2, scaled to 500 Hz).
PACING: dict[str, float] = {
    "spike_abs_mv": 0.25,
    "blank_after_ms": 20.0,  # spike and amplifier recovery bridged by a line
    "spike_rel_p99": 8.0,
    # A curvature this large (10x spike_abs_mv, far beyond the sharpest QRS) in two leads is a
    # stimulus whatever the rest of the signal: such samples (and blank_after_ms after them,
    # the artefact's ringing) are left out of the 99th percentile spike_rel_p99 refers to.
    "spike_certain_mv": 2.5,
    "min_beat_fraction": 0.3,  # fraction of beats preceded by a spike for "paced rhythm"
    "max_spike_to_qrs_ms": 60.0,  # ventricular pacing: spike at most this before QRS onset
    "max_spike_to_peak_ms": 150.0,  # and at most this before the peak of the paced QRS
    # Programmable AV delay of dual-chamber pacing (paced or sensed atrial event to ventricular
    # stimulus); within it after a sensed QRS a ventricular pacemaker is inhibited.
    "av_delay_min_ms": 100.0,
    "av_delay_max_ms": 300.0,
}

# Pre-excitation (delta wave): short PR, wide QRS and a slurred initial QRS upstroke.
DELTA: dict[str, float] = {
    "max_pr_ms": 120.0,  # table-linked: av.pr_short
    "min_qrs_ms": 110.0,  # table-linked: qrs.prolonged
    "initial_ms": 30.0,  # the initial part of the QRS whose slope is compared
    "max_slope_ratio": 0.3,  # mean |slope| there below this fraction of the steepest QRS slope
    "min_initial_mv": 0.08,  # and yet a real deflection (not an isoelectric start)
}


# Delineation of every beat and of the median beat (fractions and ms).
DELINEATION: dict[str, float] = {
    "qrs_on_frac": 0.10,  # global onset: velocity below this fraction of its QRS peak
    "qrs_off_frac": 0.10,
    "lead_qrs_on_frac": 0.10,
    "lead_qrs_off_frac": 0.08,
    "lead_qrs_tol_ms": 40.0,  # per-lead boundary kept within this of the global one
    "lead_qrs_on_amp_frac": 0.03,  # >0: amplitude rule for the per-lead onset
    "lead_qrs_on_amp_abs": 0.01,
    "t_ref_ms": 80.0,  # trapezium reference distance after the steepest T down-slope
    "t_prior_weight": 0.9,  # 0..1: how much late deflections are discounted in the T search
    "t_on_ref_ms": 100.0,
    "p_on_ref_ms": 50.0,
    "p_off_ref_ms": 24.0,
    "p_detrend": 0.0,
    "p_smooth_ms": 24.0,
    "t_smooth_ms": 24.0,
    "qrs_smooth_ms": 8.0,
    "qrs_quiet_ms": 12.0,  # a boundary needs the slope to stay low this long
    # The onset is looked for before the earliest sample, within 80 ms before the anchor, where
    # the spatial velocity reaches this fraction of its steepest value there: a pause between two
    # QRS-sized slopes (a wide, notched ventricular complex) is inside the QRS, not before it.
    # P and T slopes are a tenth of the QRS's or less, so no earlier wave reaches half. From the
    # steepest point alone, under noise (floor below) the notch of a simulated VT at 150 ms
    # passed for the onset: QRS 102-108 ms, the first half read as a P wave (3 of 10 seeds).
    "qrs_on_hump_frac": 0.5,
    # A terminal QRS component (R' in V1, wide S in I/V6: right bundle branch block) follows a
    # brief pause of the spatial velocity; a later velocity hump above this fraction of the QRS
    # maximum, within ``qrs_terminal_ms`` of the first pause, belongs to the QRS (CSE: the
    # global offset is the end of the last component in any lead).
    "qrs_terminal_frac": 0.12,
    "qrs_terminal_lead_frac": 0.15,  # the same, lead-normalised velocity
    "qrs_terminal_ms": 80.0,
    "qrs_terminal_end_ms": 30.0,  # and must be over (quiet) within this after that window
    "qrs_terminal_min_leads": 6,  # terminal-component rules only with this many usable leads
    # The lead-normalised velocity scales each lead's QRS to one size, its noise with it: a
    # lead whose steepest QRS slope is under this many times its median slope over the beat
    # window (noise and ST-T) is left out of it (simulated 25 uV muscle noise: ~4.5; LUDB:
    # 1st percentile of leads 17.6).
    "qrs_terminal_lead_min_snr": 10.0,
    # Noise floors: a QRS boundary is where the slope has fallen to the noise, so each slope
    # threshold is at least this many times the noise level, the median slope over the beat
    # windows (most of a window is neither QRS nor steep ST-T). Under muscle noise a fraction
    # of the QRS peak lies below the noise, the slope never "stays low", and the offset ran to
    # the search limit (simulated low-voltage records: QRS 90 ms measured 190). Global
    # onset and offset (spatial velocity), a terminal component (it must rise above, and end
    # below, its floor), and each lead's own offset.
    "qrs_noise_floor": 1.2,
    "qrs_terminal_noise_floor": 1.5,
    "lead_qrs_noise_floor": 1.5,
    # ... and each lead's amplitude onset: it leaves its PR-segment level by more than this
    # many times the lead's noise level (its median |slope| per sample); under muscle noise the
    # PR segment "left" by chance and onsets came 8 ms early.
    "lead_qrs_on_noise_floor": 1.5,
}

# Whole-record atrial analysis (ecgr1.measure.atrial): times in ms, rates in /min.
ATRIAL_WAVES: dict[str, float] = {
    "analysis_fs": 250.0,  # signals are analysed at about this rate
    "band_low_hz": 0.5,  # P waves: 0.5-25 Hz (removes wander, keeps flutter's 4-6 Hz)
    "band_high_hz": 25.0,
    "mask_before_qrs_ms": 20.0,  # ventricular activity masked from QRS onset - this ...
    "mask_after_t_ms": 40.0,  # ... to T end + this
    "min_pp_ms": 160.0,  # closest two atrial waves may be (flutter up to 375 /min)
    "candidate_snr": 4.0,  # wave peak over the masked signal's noise (MAD) level
    "relative_height": 0.35,  # candidate size relative to a high percentile of candidates
    "relative_height_pct": 70.0,  # (not the maximum: one missed ectopic QRS must not rule)
    "template_corr": 0.7,  # multi-lead shape correlation with the record's P template
    "amp_ratio_low": 0.4,  # wave size relative to the template
    "amp_ratio_high": 2.5,
    "pr_min_ms": 70.0,  # P peak to QRS onset for a P that conducts
    "pr_max_ms": 480.0,
    "grid_tolerance": 0.15,  # interval / PP within this of an integer fits the atrial rhythm
    # Intervals of an odd number of half cycles needed before the half cycle is considered.
    "half_cycle_min_odd": 1,
    "regular_fit_fraction": 0.8,  # share of P-P intervals that must fit the atrial rhythm
    # The one search band of flutter waves (/min): the residual's spectral peak and the
    # autocorrelation of the QRS-T-free signal are looked for here. A search window, wider
    # than the clinical flutter range that the table (rhythm.atrial_rate_flutter) applies to
    # the measured F-wave rate.
    "flutter_min_bpm": 210.0,
    "flutter_max_bpm": 390.0,
    "flutter_autocorr": 0.5,  # autocorrelation of the QRS-free signal at one flutter cycle
    "flutter_half_cycle_gap": 0.5,  # autocorrelation at one cycle minus at half a cycle
    # The free signal's slope smoothed by two moving averages of this width (odd samples; the
    # smoothing spans about twice it).
    "flutter_slope_smooth_ms": 10.0,
    "pause_ratio": 1.5,  # an RR holding a non-conducted P is at least this many PP cycles
    "min_non_conducted": 2,  # explicit non-conducted P waves needed to claim AV block
    "non_conducted_corr": 0.85,  # shape match demanded of a non-conducted P
    "non_conducted_amp_low": 0.6,
    "non_conducted_amp_high": 1.6,
    # Non-conducted P waves are sinus P waves: above this atrial rate a "blocked P" is far more
    # often a T/U-wave remnant than a real one (atrial tachycardia with block is not claimed).
    "max_block_atrial_bpm": 140.0,
    # More P waves than QRS complexes (non-conducted P waves) from this many P per QRS, in the
    # whole-record analysis and the engine's own P-wave count alike; table-linked:
    # av.non_conducted_p.
    "min_p_waves_per_qrs": 1.2,
    # 1:1 conduction needs the atrial rate within this ratio of the ventricular rate (a
    # different question from "more P waves than QRS": between the two the relation is
    # undecided).
    "one_to_one_max_ratio": 1.1,
    # PR progression of conducted beats (table-linked: av.pr_constant, av.pr_prolonging):
    # constant up to this robust SD; prolonging with at least this rise over a Wenckebach group.
    "pr_constant_sd_ms": 20.0,
    "pr_prolonging_step_ms": 15.0,
    "dissociated_pr_sd_ms": 60.0,
    # AV dissociation from the march of the P waves: the PR of at least this many consecutive
    # QRS complexes changes one way by at least this much per beat.
    "march_min_beats": 3,
    "march_min_step_ms": 30.0,
    # Share of QRS with a P at a conducting PR below which the atria are dissociated.
    "dissociated_max_conducted": 0.7,
    "escape_rr_cv": 0.1,  # an escape rhythm is regular
    # Disorganised QRS-free activity above this RMS (with an RR irregular by
    # beat.irregular_rr_cv): fibrillatory.
    "fibrillatory_rms_mv": 0.02,
    "min_free_share_for_none": 0.3,  # QRS-T-free share of the record needed to say "none"
}


# How far (ms) a dominant beat's own boundary may move away from the median-beat boundary.
TEMPLATE_TOLERANCE_MS: dict[str, float] = {
    "qrs_on": 12.0,
    "qrs_peak": 20.0,
    "qrs_off": 12.0,
    "t_on": 40.0,
    "t_peak": 30.0,
    "t_off": 30.0,
    "p_on": 20.0,
    "p_peak": 20.0,
    "p_off": 20.0,
}
# Per-lead boundaries are pulled towards the across-lead median of the same beat by this factor
# (0: every lead reports the median, 1: every lead keeps its own estimate). Single-lead estimates
# of small waves are noisy; the median over leads is a robust estimate of the same event.
LEAD_SHRINK: dict[str, float] = {
    "qrs_on": 0.0,
    "qrs_peak": 1.0,
    "qrs_off": 0.0,
    "t_on": 1.0,
    "t_peak": 0.0,
    "t_off": 0.0,
    "p_on": 0.0,
    "p_peak": 0.0,
    "p_off": 0.0,
}
# Percentile across leads of the reference the shrinkage pulls towards (50 when not listed).
SHRINK_REFERENCE_PCT: dict[str, float] = {"qrs_on": 25.0, "qrs_off": 50.0}
# Percentile across leads used for the global (CSE: earliest onset, latest offset) fiducials;
# not 0/100 so that one mis-delineated lead cannot move the global boundary.
GLOBAL_PERCENTILE: dict[str, float] = {
    "qrs_on": 20.0,
    "qrs_off": 80.0,
    "p_on": 20.0,
    "p_peak": 50.0,
    "p_off": 80.0,
    "t_on": 30.0,
    "t_peak": 50.0,
    "t_off": 50.0,
}
ENGINE: dict[str, float] = {
    # Sampling rate (Hz) of detection and delineation: records are block-averaged down to it.
    "delineation_fs": 250.0,
    # Full-rate median beat: margin (ms) kept around the template's earliest and latest
    # fiducial (covers the 24 ms PR-segment baseline before QRS onset and J + 80 ms).
    "span_margin_ms": 120.0,
    # T-wave reference leads: median-beat |T| at least this fraction of the largest.
    "t_reference_fraction": 0.0,
    # Record QRS duration: a weighted mean of two estimates whose errors are partly
    # independent: the median over the dominant beats of the across-lead percentile boundaries
    # (``global_percentile``), and the spatial-velocity QRS of the median dominant beat (the
    # CSE/Glasgow way: one boundary pair on the sum over leads of |slope|), this fraction of it.
    # The offset (added to the spatial QRS) does not change the scatter, only the bias, and
    # the two kinds of data disagree on it: on shared LUDB the spatial QRS is 9-11 ms shorter
    # than the cardiologists' median over leads (10.7 ms on ids % 4 == 1, 9.1 on the others:
    # they see slow, small initial and terminal parts in single leads that the summed slope
    # dilutes), whereas on simulated ECGs (``ecgr1.simulate``, true wave limits) it is 3 ms
    # longer than the truth. 4 ms keeps both within 4 ms: LUDB bias +0.9 -> -2.5 ms, simulator
    # +0.7 -> +3.9 ms. Shared LUDB, record level against the median-of-leads reference: SD
    # 12.6 ms with the percentile estimate alone, 10.8 ms with the mean (odd-quarter ids 11.1
    # -> 8.5, the others 14.0 -> 12.7; benchmarks/README.md, issue 19).
    "record_qrs_spatial_fraction": 0.5,
    "record_qrs_spatial_offset_ms": 4.0,
    # ... and only with this many usable leads (with one or two it is those leads' own slope,
    # not an estimate independent of the per-lead boundaries).
    "record_qrs_spatial_min_leads": 6,
    # The record PR takes the same fraction of the spatial onset, moved this much earlier: on
    # shared LUDB the spatial onset is on average 2.8 ms after the percentile onset, on the
    # simulator the PR bias goes +3.7 -> +0.7 ms with it. LUDB PR SD 8.3 -> 7.6 ms.
    "record_qrs_spatial_onset_ms": 3.0,
}

# Keys whose source is the protocol's criteria table (see the module docstring).
TABLE_LINKED_KEYS: tuple[str, ...] = (
    "beat.wide_qrs_ms",
    "beat.irregular_rr_cv",
    "beat.irregular_succ_diff",
    "st.slope_mv_per_s",
    "atrial_waves.min_p_waves_per_qrs",
    "delta.max_pr_ms",
    "delta.min_qrs_ms",
    "presence.flat_t_mv",
    "presence.p_fraction_present",
    "atrial_waves.pr_prolonging_step_ms",
    "atrial_waves.pr_constant_sd_ms",
)

_DEFAULTS: dict[str, dict[str, float]] = {
    "beat": BEAT,
    "windows": WINDOWS,
    "presence": PRESENCE,
    "st": ST,
    "atrial": ATRIAL,
    "pacing": PACING,
    "delta": DELTA,
    "template_tolerance_ms": TEMPLATE_TOLERANCE_MS,
    "lead_shrink": LEAD_SHRINK,
    "shrink_reference_pct": SHRINK_REFERENCE_PCT,
    "global_percentile": GLOBAL_PERCENTILE,
    "engine": ENGINE,
    "delineation": DELINEATION,
    "atrial_waves": ATRIAL_WAVES,
}


def _section(name: str) -> Any:
    return field(default_factory=lambda: MappingProxyType(dict(_DEFAULTS[name])))


@dataclass(frozen=True)
class MeasureConfig:
    """Every algorithm parameter of :func:`ecgr1.measure.measure`, validated.

    Each field is a section (a read-only mapping of numbers). Give only the entries you change:
    the others keep their defaults. Unknown keys and non-finite values raise ``ValueError``.
    ``atrial_analysis`` switches the whole-record atrial analysis (flutter, non-conducted P
    waves, Wenckebach, AV dissociation; about 3 ms per 10-s record) on or off.
    """

    beat: Mapping[str, float] = _section("beat")
    windows: Mapping[str, float] = _section("windows")
    presence: Mapping[str, float] = _section("presence")
    st: Mapping[str, float] = _section("st")
    atrial: Mapping[str, float] = _section("atrial")
    pacing: Mapping[str, float] = _section("pacing")
    delta: Mapping[str, float] = _section("delta")
    template_tolerance_ms: Mapping[str, float] = _section("template_tolerance_ms")
    lead_shrink: Mapping[str, float] = _section("lead_shrink")
    shrink_reference_pct: Mapping[str, float] = _section("shrink_reference_pct")
    global_percentile: Mapping[str, float] = _section("global_percentile")
    engine: Mapping[str, float] = _section("engine")
    delineation: Mapping[str, float] = _section("delineation")
    atrial_waves: Mapping[str, float] = _section("atrial_waves")
    atrial_analysis: bool = True

    def __post_init__(self) -> None:
        for name, defaults in _DEFAULTS.items():
            given = getattr(self, name)
            if not isinstance(given, Mapping):
                raise ValueError(f"MeasureConfig.{name} must be a mapping, got {given!r}")
            merged = dict(defaults)
            for key, value in given.items():
                if key not in defaults:
                    raise ValueError(_unknown(f"{name}.{key}"))
                merged[key] = _number(f"{name}.{key}", value)
            object.__setattr__(self, name, MappingProxyType(merged))
        if not isinstance(self.atrial_analysis, bool):
            raise ValueError("MeasureConfig.atrial_analysis must be True or False")
        _check_ranges(self)

    def replace(self, changes: Mapping[str, Any]) -> MeasureConfig:
        """A copy with ``{"section.key": value}`` changes (``{"atrial_analysis": False}`` too)."""
        sections = {name: dict(getattr(self, name)) for name in _DEFAULTS}
        flags = {"atrial_analysis": self.atrial_analysis}
        for dotted, value in changes.items():
            if dotted in flags:
                flags[dotted] = value
                continue
            name, _, key = dotted.partition(".")
            if name not in sections or key not in sections[name]:
                raise ValueError(_unknown(dotted))
            sections[name][key] = value
        return MeasureConfig(**sections, **flags)

    def get(self, dotted: str) -> Any:
        """The value of ``"section.key"`` (or ``"atrial_analysis"``)."""
        if dotted == "atrial_analysis":
            return self.atrial_analysis
        name, _, key = dotted.partition(".")
        if name not in _DEFAULTS or key not in _DEFAULTS[name]:
            raise ValueError(_unknown(dotted))
        return getattr(self, name)[key]

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (JSON-serialisable)."""
        out: dict[str, Any] = {name: dict(getattr(self, name)) for name in _DEFAULTS}
        out["atrial_analysis"] = self.atrial_analysis
        return out


def all_keys() -> list[str]:
    """Every ``"section.key"`` name a configuration accepts."""
    return [f"{name}.{key}" for name, sec in _DEFAULTS.items() for key in sec] + ["atrial_analysis"]


def _unknown(dotted: str) -> str:
    close = difflib.get_close_matches(dotted, all_keys(), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown MeasureConfig key {dotted!r}{hint}"


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"MeasureConfig {name} must be a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"MeasureConfig {name} must be a number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"MeasureConfig {name} must be finite, got {value!r}")
    return x


# Entries that must be strictly positive (rates, periods, counts a division or a window
# length is made of); every number of every section must be >= 0 in any case.
_POSITIVE = (
    "beat.refractory_ms",
    "beat.min_rr_ms",
    "engine.delineation_fs",
    "atrial_waves.analysis_fs",
    "atrial_waves.min_pp_ms",
    "atrial_waves.min_p_waves_per_qrs",
    "atrial_waves.one_to_one_max_ratio",
    "windows.pre_r_ms",
    "windows.post_r_ms",
)


def _check_ranges(cfg: MeasureConfig) -> None:
    """Values that would make the engine meaningless (a negative window, a percentile of 120,
    a fraction of 5), refused here rather than failing inside ``measure``."""
    for name in _DEFAULTS:
        for key, value in getattr(cfg, name).items():
            dotted = f"{name}.{key}"
            if value < 0 or (dotted in _POSITIVE and value <= 0):
                bound = "> 0" if dotted in _POSITIVE else ">= 0"
                raise ValueError(f"MeasureConfig {dotted} must be {bound}, got {value}")
            bounded = "fraction" in key or key.endswith("_weight") or name == "lead_shrink"
            if bounded and value > 1.0:
                raise ValueError(f"MeasureConfig {dotted} must be in [0, 1], got {value}")
            if name in ("shrink_reference_pct", "global_percentile") and value > 100.0:
                raise ValueError(f"MeasureConfig {dotted} must be in [0, 100], got {value}")
    rank = cfg.st["j_lead_rank"]
    if rank < 1 or rank != int(rank):
        raise ValueError(f"MeasureConfig st.j_lead_rank must be a whole number >= 1, got {rank}")
    if not 0 < cfg.delineation["qrs_on_hump_frac"] <= 1:
        # 0 starts every onset search 80 ms before the anchor; above 1 no sample qualifies.
        raise ValueError("MeasureConfig delineation.qrs_on_hump_frac must be in (0, 1]")
    if cfg.beat["pause_rr_ratio"] <= 1:
        # At or under the median, ordinary intervals would be "pauses" and be left out.
        raise ValueError("MeasureConfig beat.pause_rr_ratio must be > 1")
    if cfg.engine["delineation_fs"] < 100.0:
        raise ValueError("MeasureConfig engine.delineation_fs must be >= 100 Hz")
    lo, hi = cfg.atrial_waves["flutter_min_bpm"], cfg.atrial_waves["flutter_max_bpm"]
    if not 0 < lo < hi:
        raise ValueError(
            "MeasureConfig atrial_waves.flutter_min_bpm must be > 0 and < flutter_max_bpm"
        )


DEFAULT_CONFIG = MeasureConfig()
