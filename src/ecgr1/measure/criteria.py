"""Clinical and algorithmic constants of the measurement engine, in one table each.

Search windows are physiologic limits (ms) relative to the R peak or to other fiducials; they
are deliberately wide so that the waves themselves decide the boundaries.
"""

from __future__ import annotations

# Beat detection and grouping.
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
    "wide_qrs_ms": 120.0,
    "qt_max_extra_qrs_ms": 40.0,  # beats with QRS this much wider than dominant: not in QT
    "irregular_rr_cv": 0.08,  # RR coefficient of variation above this: irregular
    "irregular_succ_diff": 0.10,  # median |dRR| / RR above this: irregularly irregular
}

# Delineation search windows, ms.
WINDOWS: dict[str, float] = {
    "pre_r_ms": 450.0,  # beat window starts this long before R
    "post_r_ms": 750.0,  # and ends this long after R
    "qrs_on_search_ms": 150.0,  # QRS onset no earlier than this before R
    "qrs_off_search_ms": 200.0,  # QRS offset no later than this after R
    "pr_max_ms": 360.0,  # P onset no earlier than this before QRS onset
    "pr_min_gap_ms": 20.0,  # P offset no later than this before QRS onset
    "t_min_after_j_ms": 60.0,  # T peak not inside the first part of the ST segment
    "t_max_after_r_ms": 700.0,
}

# Thresholds for "present" decisions.
PRESENCE: dict[str, float] = {
    "p_min_amp_mv": 0.03,  # smallest P deflection accepted (template)
    "p_snr": 3.0,  # P amplitude over template-window noise
    "p_beat_corr": 0.5,  # beat P correlates with template P at least this much
    "p_fraction_present": 0.5,
    # Median correlation of the beats' P windows with their median: atrial activity locked to
    # the QRS (P waves) is consistent, fibrillatory waves are not.
    "p_consistency": 0.75,
    "p_consistency_irregular": 0.93,  # stricter when the RR intervals are irregular
    "p_consistency_few_leads": 0.6,  # fewer than 6 usable leads, regular RR  # fraction of dominant beats with P for "P waves present"
    "wave_min_mv": 0.05,  # smallest Q/R/S deflection named in the morphology string
    "capital_wave_mv": 0.5,  # capital letter (R vs r) from this amplitude
    "flat_t_mv": 0.05,
    "pacing_spike_slope_mv_per_ms": 0.5,
}

# QT correction (RR in seconds, QT in ms).
QTC_FORMULAS = ("bazett", "fridericia", "framingham", "hodges")

# Frontal lead angles (degrees, hexaxial) and gains relative to the heart vector.
FRONTAL_LEADS: dict[str, tuple[float, float]] = {
    "I": (0.0, 1.0),
    "II": (60.0, 1.0),
    "III": (120.0, 1.0),
    "aVR": (-150.0, 0.8660254037844386),
    "aVL": (-30.0, 0.8660254037844386),
    "aVF": (90.0, 0.8660254037844386),
}

# ST-segment shape: slope J -> J+80 ms beyond this (mV/s) is up- or downsloping.
ST: dict[str, float] = {
    "slope_mv_per_s": 0.5,
}

# Atrial activity when no P waves are found.
ATRIAL: dict[str, float] = {
    "flutter_min_hz": 3.5,  # 210 /min
    "flutter_max_hz": 6.5,  # 390 /min
    "flutter_concentration": 0.4,  # share of 2-12 Hz residual power in the flutter peak
    "flutter_lead_agreement_hz": 0.3,  # the two most concentrated leads peak at one frequency
    # Irregular RR with flutter waves: mean distance of RR from whole F-F cycles (in cycles)
    # at most this (unrelated intervals give 0.25; AV delay varies with the block ratio).
    "flutter_rr_multiple_tolerance": 0.15,
    "flutter_rr_min_intervals": 5,
    "p_match_ncc": 0.8,  # P-wave matched filter: normalised correlation to count a P wave
}

# Pacing spikes: second difference of the raw signal (mV per sample^2, scaled to 500 Hz).
PACING: dict[str, float] = {
    "spike_abs_mv": 0.25,
    "blank_after_ms": 20.0,  # spike and amplifier recovery bridged by a line
    "spike_rel_p99": 8.0,
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
    "max_pr_ms": 120.0,
    "min_qrs_ms": 110.0,
    "initial_ms": 30.0,  # the initial part of the QRS whose slope is compared
    "max_slope_ratio": 0.3,  # mean |slope| there below this fraction of the steepest QRS slope
    "min_initial_mv": 0.08,  # and yet a real deflection (not an isoelectric start)
}
