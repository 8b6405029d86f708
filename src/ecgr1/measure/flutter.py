"""Atrial activity of a record without P waves: flutter waves or fibrillation.

The median beat is subtracted at every beat; the spectrum of what remains (the QRST-cancelled
residual) shows flutter as one dominant peak in the flutter search band, on the same frequency
in the two most concentrated leads. With an irregular ventricular response, flutter (variable AV
block) needs RR intervals of whole numbers of flutter cycles; otherwise the irregular rhythm is
fibrillatory. Thresholds are ``config.atrial``; the search band is ``config.atrial_waves``'.

This is one of the two views of flutter waves, both searching the same band: here the
beat-locked analysis found no P waves (flutter with variable conduction, whose irregular RR the
whole-record analysis does not accept); the whole-record atrial analysis
(:mod:`ecgr1.measure.atrial`) finds the sawtooth by autocorrelation of the QRS-T-free signal
when fixed conduction (4:1) lets F waves pass as P waves before each QRS. Each alone misses
simulated flutter the other finds (``tests/test_simulate_engines.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import sosfiltfilt

from ecgr1.io.leads import STANDARD_LEADS
from ecgr1.measure._numeric import round_or_none
from ecgr1.measure.atrial import usable_atrial_rows
from ecgr1.measure.atrial.fwaves import (
    F_WAVE_LEADS,
    FWaveEvidence,
    beat_locked_atrial_share,
    fibrillatory_wave_evidence,
    fwave_kept_mask,
    qrst_residual,
)
from ecgr1.measure.atrial.rhythm import autocorr_many
from ecgr1.measure.beat_classes import BeatGroups
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.detection import Detection
from ecgr1.measure.fiducials import BeatDelineation
from ecgr1.measure.pacing import spike_in_window
from ecgr1.measure.result import GlobalMeasurements
from ecgr1.signal.filters import butter_sos


def rr_in_whole_flutter_cycles(
    rr_s: np.ndarray, flutter_hz: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> bool:
    """Whether RR intervals are whole multiples of the flutter (F-F) cycle.

    Flutter with variable AV block conducts every 2nd, 3rd or 4th F wave, so its irregular RR
    intervals cluster at whole numbers of flutter cycles (up to the variation of AV delay);
    the RR intervals of fibrillation bear no relation to any atrial cycle. The mean distance
    to the nearest whole number of cycles is about a quarter of a cycle for unrelated
    intervals; flutter needs it below ``atrial.flutter_rr_multiple_tolerance``, over at
    least ``atrial.flutter_rr_min_intervals`` intervals (with fewer, unrelated intervals
    pass by chance too often).

    >>> rr_in_whole_flutter_cycles(np.array([0.40, 0.81, 0.60, 0.41, 0.79]), 5.0)
    True
    >>> rr_in_whole_flutter_cycles(np.array([0.50, 0.71, 0.90, 0.51, 0.69]), 5.0)
    False
    """
    rr_s = np.asarray(rr_s, float)
    rr_s = rr_s[np.isfinite(rr_s) & (rr_s > 0)]
    if rr_s.size < config.atrial["flutter_rr_min_intervals"] or not flutter_hz > 0:
        return False
    cycles = rr_s * flutter_hz
    if np.any(cycles < 0.5):  # intervals shorter than a flutter cycle: not 1:1 flutter here
        return False
    off = np.abs(cycles - np.round(cycles))
    return bool(np.mean(off) <= config.atrial["flutter_rr_multiple_tolerance"])


def atrial_residual_peak(
    clean: np.ndarray,
    fs: float,
    anchors: np.ndarray,
    template: np.ndarray,
    pre: int,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> tuple[str | None, float | None]:
    """('flutter', F-wave frequency in Hz) for a dominant peak of the QRST-cancelled residual
    in the flutter search band (``atrial_waves.flutter_min_bpm`` to ``flutter_max_bpm``), else
    (None, None).

    ``template`` (leads, window) is subtracted at every anchor (its sample ``pre`` on the
    anchor). The peak (+-2 bins) must hold ``atrial.flutter_concentration`` of the 2-12 Hz
    residual power in the two most concentrated leads, at frequencies within
    ``atrial.flutter_lead_agreement_hz`` of each other.
    """
    return residual_flutter_peak(qrst_residual(clean, anchors, template, pre), fs, config=config)


def residual_flutter_peak(
    resid: np.ndarray, fs: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> tuple[str | None, float | None]:
    """:func:`atrial_residual_peak` on an already QRST-cancelled residual."""
    atrial = config.atrial
    n = resid.shape[1]
    if n < int(4 * fs):
        return None, None
    spec = np.abs(np.fft.rfft(resid * np.hanning(n)[None, :], axis=1)) ** 2
    f = np.fft.rfftfreq(n, 1 / fs)
    band = (f >= 2) & (f <= 12)
    band_bpm = config.atrial_waves
    fl = (f >= band_bpm["flutter_min_bpm"] / 60.0) & (f <= band_bpm["flutter_max_bpm"] / 60.0)
    tot = spec[:, band].sum(axis=1)
    share, peak_hz = [], []
    for k in range(spec.shape[0]):
        if tot[k] <= 0:
            continue
        sub = spec[k, fl]
        j = int(np.argmax(sub))
        share.append(float(sub[max(0, j - 2) : j + 3].sum() / tot[k]))
        peak_hz.append(float(f[fl][j]))
    if not share:
        return None, None
    # The second-best lead must agree too (one lead with a resonance is not flutter), and on
    # the same frequency: flutter is one atrial circuit seen in every lead, whereas coarse
    # fibrillation can concentrate power in a lead or two at unrelated frequencies.
    order = np.argsort(share)
    best = share[order[-2]] if len(share) >= 2 else share[0]
    top_hz = peak_hz[order[-1]]
    if len(share) >= 2 and abs(top_hz - peak_hz[order[-2]]) > atrial["flutter_lead_agreement_hz"]:
        return None, None
    if best < atrial["flutter_concentration"]:
        return None, None
    return "flutter", top_hz


def half_cycle_f_waves(
    det: Detection, dl: BeatDelineation, leads: list[str], config: MeasureConfig
) -> float | None:
    """The F-wave rate of 2:1 flutter whose F wave before each QRS passed as a P wave: twice
    the ventricular rate, when the median beat holds, half a dominant RR before its P wave,
    a wave of the P wave's shape and size; None otherwise (or when that window is not in it).

    With 2:1 conduction every other F wave lies in the ST-T, exactly half a cycle before the
    one that "conducts" (Bix's rule: an atrial wave halfway between QRS complexes hides
    another). In the atrial leads (II, III, aVF, V1, I, V2) the two windows, each less the
    line through its ends, must match as a non-conducted P wave must
    (``atrial_waves.non_conducted_corr``, ``non_conducted_amp_low`` .. ``_high``), and twice
    the ventricular rate must fall in the flutter search band. A sinus P wave finds the ST
    segment or the T wave's upstroke there, of another shape and size."""
    params = config.atrial_waves
    rate = 2.0 * 60.0 * det.fs_detect / dl.dom_rr if dl.dom_rr > 0 else 0.0
    if not params["flutter_min_bpm"] <= rate <= params["flutter_max_bpm"]:
        return None
    rows = usable_atrial_rows(leads, det.usable)
    on, off = dl.template.lead["p_on"][rows, 0], dl.template.lead["p_off"][rows, 0]
    if not rows or not (np.isfinite(on).any() and np.isfinite(off).any()):
        return None
    start, stop = int(round(np.nanmedian(on))), int(round(np.nanmedian(off))) + 1
    shift = int(round(dl.dom_rr / 2.0))
    if stop - start < 3 or start - shift < 0:  # the earlier window is not in the median beat
        return None
    beat = dl.median_beat[rows, 0, :].astype(float)
    p = _less_end_line(beat[:, start:stop])
    f = _less_end_line(beat[:, start - shift : stop - shift])
    p_energy, f_energy = float((p * p).sum()), float((f * f).sum())
    if p_energy <= 0.0 or f_energy <= 0.0:
        return None
    corr = float((p * f).sum()) / np.sqrt(p_energy * f_energy)
    size = np.sqrt(f_energy / p_energy)
    same = params["non_conducted_amp_low"] <= size <= params["non_conducted_amp_high"]
    return rate if corr >= params["non_conducted_corr"] and same else None


def _fixed_multiple(
    f_hz: float | None, groups: BeatGroups, det: Detection, resid: np.ndarray
) -> bool:
    """Whether ``f_hz`` lies within one frequency bin of the residual's spectrum (1 / its
    duration) of a whole multiple of the ventricular rate (median RR) and every RR between two
    non-premature beats holds the same whole number of its cycles."""
    if not f_hz or not groups.med_rr > 0:
        return False
    f_v = det.fs_detect / groups.med_rr
    k = round(f_hz / f_v)
    if k < 1 or abs(f_hz - k * f_v) > det.fs_detect / resid.shape[1]:
        return False
    sinus = ~(groups.premature[1:] | groups.premature[:-1])  # intervals without an ectopic end
    cycles = np.round(groups.rr[sinus] / det.fs_detect * f_hz)
    return cycles.size > 0 and bool(np.all(cycles == k))


def _less_end_line(w: np.ndarray) -> np.ndarray:
    """Each row of ``w`` less the straight line through its first and last values (the slope
    of the ST segment or of the PR baseline under a wave)."""
    ramp = np.linspace(0.0, 1.0, w.shape[1])[None, :]
    return w - (w[:, :1] * (1.0 - ramp) + w[:, -1:] * ramp)


def no_p_wave_atrial_fields(
    g: GlobalMeasurements,
    det: Detection,
    groups: BeatGroups,
    dl: BeatDelineation,
    config: MeasureConfig,
    leads: list[str] | None = None,
) -> None:
    """Atrial fields of a record without P waves: "flutter" (with the F-wave rate),
    "fibrillatory" (irregular RR with f waves; a varying RR with f waves in two leads), "none"
    (regular RR, or a flat residual over pre-QRS activity shown not beat-locked), or undecided
    (None: irregular RR without f waves over an unexplained residual, e.g. the missed P waves
    of sinus arrhythmia or PACs).

    ``leads`` names the rows of ``det.clean`` (the standard 12 when not given)."""
    for key in ("pr_interval_ms", "p_duration_ms", "p_axis_deg", "pr_progression"):
        g.reasons[key] = "no P waves detected"
    g.reasons["atrial_rate_bpm"] = "no P waves detected"
    usable = det.usable
    names = list(leads) if leads is not None else list(STANDARD_LEADS)[: usable.size]
    resid = qrst_residual(det.clean[usable], det.anchors, dl.median_beat[usable, 0, :], det.pre)
    # Flutter waves are regular whatever the ventricular response: flutter with variable
    # AV conduction gives an irregular RR, so the atrial residual is examined either way
    # (its concentration and lead-agreement tests keep coarse fibrillation out).
    kind, flutter_hz = residual_flutter_peak(resid, det.fs_detect, config=config)
    # An irregular ventricular response is flutter only when its RR intervals are whole
    # numbers of F-F cycles (variable block); otherwise the periodic residual is coarse
    # fibrillation.
    irregular = groups.irregular
    rr_s = groups.rr / det.fs_detect
    if kind and irregular and not rr_in_whole_flutter_cycles(rr_s, flutter_hz, config=config):
        kind = None
    # Atrial waves at a fixed whole multiple of the ventricular rate (every RR between
    # non-premature beats the same number of their cycles) are locked to the QRS and go with
    # the median beat: a residual peak there is the QRST's own beat-to-beat variation (noise,
    # respiration), not flutter waves. Flutter with fixed conduction is read from the waves
    # themselves (``atrial_override``); variable conduction leaves F waves in the residual.
    if kind and not irregular and _fixed_multiple(flutter_hz, groups, det, resid):
        kind = None
    if kind == "flutter" and flutter_hz:
        g.atrial_rate_bpm = round_or_none(60.0 * flutter_hz)  # the F-wave rate
        g.reasons.pop("atrial_rate_bpm", None)
    if kind:
        g.atrial_activity = kind
    elif not irregular and g.pacing_spikes_detected:
        paced_atrial_activity(g, det, resid, names, usable, config)
    elif not irregular:
        g.atrial_activity = "none"
        # An RR that varies with small successive differences (runs of similar intervals in
        # a 10-s strip of AF, or the pattern of sinus arrhythmia) cannot support f waves:
        # they must then show in several leads (``atrial.fwave_alone_min_leads``), not at a
        # fixed distance before each QRS; otherwise "none" as for a regular RR.
        if groups.regularity == "regularly_irregular" and _f_waves_alone(
            AtrialResidual.of(resid, det, groups, names), config
        ):
            g.atrial_activity = "fibrillatory"
    else:
        irregular_atrial_activity(g, AtrialResidual.of(resid, det, groups, names), config)


@dataclass(frozen=True)
class AtrialResidual:
    """The QRST-cancelled residual of the usable leads and what the f-wave tests read with it:
    the detection (beats, clean signal), the usable leads' names (the rows of ``resid``) and
    the beats of another shape than the dominant one (blanked through their T wave)."""

    resid: np.ndarray
    det: Detection
    names: list[str]
    other_shape: np.ndarray

    @classmethod
    def of(
        cls, resid: np.ndarray, det: Detection, groups: BeatGroups, names: list[str]
    ) -> AtrialResidual:
        """``resid`` (rows: the usable leads of ``names``) with the beats of ``groups``."""
        usable_names = [n for n, u in zip(names, det.usable, strict=False) if u]
        return cls(resid, det, usable_names, ~groups.same_shape)

    def f_waves(self, rows: list[int] | None = None, *, config: MeasureConfig) -> FWaveEvidence:
        """:func:`~ecgr1.measure.atrial.fwaves.fibrillatory_wave_evidence` on ``rows`` (all)."""
        rows = list(range(len(self.names))) if rows is None else rows
        return fibrillatory_wave_evidence(
            self.resid[rows], self.det.fs_detect, self.det.anchors,
            [self.names[k] for k in rows], config=config, other_shape=self.other_shape,
        )  # fmt: skip


def irregular_atrial_activity(
    g: GlobalMeasurements, view: AtrialResidual, config: MeasureConfig
) -> None:
    """``g.atrial_activity`` of an irregularly irregular RR without P or flutter waves, from
    the QRST-cancelled residual: fibrillation only with f waves on it (ESC 2020: no distinct
    P waves, fibrillatory activity); over a flat residual "none" (fine f waves) where the
    pre-QRS activity is shown not beat-locked; otherwise undecided, with the reason."""
    ev = view.f_waves(config=config)
    flat = ev.residual_rms_mv is not None
    flat = flat and ev.residual_rms_mv <= config.atrial["fwave_flat_rms_mv"]
    locked = ev.present and p_waves_locked_to_qrs(view.det, view.names, config)
    if ev.present and not locked:
        g.atrial_activity = "fibrillatory"
        return
    if flat and not ev.present and _no_beat_locked_waves(view, config):
        g.atrial_activity = "none"
        return
    g.atrial_activity = None
    if locked:
        why = "4-9 Hz atrial activity at a fixed distance before each QRS: missed P waves, not "
        why += "fibrillatory waves"
    elif flat:
        # P waves at a fixed PR are part of the median beat, so QRST cancellation removes them
        # with it: a flat residual is fine f waves only where the clean signal before the QRS
        # shows no beat-locked wave, which takes enough beats to tell.
        why = "irregular RR over a flat residual, but the activity before the QRS cannot be "
        why += "told from P waves at a fixed distance (beat-locked, or too few beats)"
    else:
        why = "irregular RR without fibrillatory waves on the QRST-cancelled residual"
    g.reasons["atrial_activity"] = why


def _no_beat_locked_waves(view: AtrialResidual, config: MeasureConfig) -> bool:
    """Whether the activity before each QRS is shown not to be beat-locked
    (:func:`~ecgr1.measure.atrial.fwaves.beat_locked_atrial_share` below
    ``atrial.fwave_locked_max_share``); False where too few beats decide it."""
    share = _locked_share(view.det, view.names, config)
    return share is not None and share < config.atrial["fwave_locked_max_share"]


def _f_waves_alone(view: AtrialResidual, config: MeasureConfig) -> bool:
    """Whether f waves show on their own: in ``atrial.fwave_alone_min_leads`` of the f-wave
    leads, and not at a fixed distance before each QRS."""
    rows = [k for k, n in enumerate(view.names) if n in F_WAVE_LEADS]
    n_leads = sum(view.f_waves([k], config=config).present for k in rows)
    if n_leads < config.atrial["fwave_alone_min_leads"]:
        return False
    return not p_waves_locked_to_qrs(view.det, view.names, config)


def paced_atrial_activity(
    g: GlobalMeasurements,
    det: Detection,
    resid: np.ndarray,
    names: list[str],
    usable: np.ndarray,
    config: MeasureConfig,
) -> None:
    """Atrial activity of a ventricular-paced record with a regular RR and no P waves.

    The rhythm of a paced record is the underlying atrial rhythm: atrial fibrillation with
    ventricular pacing shows f waves and no P waves while the paced RR is regular (the
    pacemaker's lower rate), so a regular RR does not say "no atrial activity" here (Chou's
    Electrocardiography, pacemaker rhythms; ESC 2020 AF guidelines: no distinct P waves,
    fibrillatory waves). Without the irregular RR the f waves carry the diagnosis alone, so
    they must show in ``atrial.fwave_alone_min_leads`` of the f-wave leads, and must not stand
    at a fixed distance before each ventricular stimulus (sinus P waves the pacemaker tracks,
    missed by the P-wave detection). Otherwise: "none" over a flat residual, else undecided.
    """
    names = [n for n, u in zip(names, usable, strict=False) if u]
    leads = [k for k, n in enumerate(names) if n in F_WAVE_LEADS]
    per_lead = [
        fibrillatory_wave_evidence(resid[k : k + 1], det.fs_detect, det.anchors, [names[k]],
                                   config=config)
        for k in leads
    ]  # fmt: skip
    n_leads = sum(ev.present for ev in per_lead)
    if n_leads >= config.atrial["fwave_alone_min_leads"]:
        if p_waves_locked_to_qrs(det, names, config, stimulus_anchors(det, config)):
            g.atrial_activity = None
            g.reasons["atrial_activity"] = (
                "4-9 Hz atrial activity at a fixed distance before each ventricular stimulus: "
                "tracked P waves, not fibrillatory waves"
            )
            return
        cycle_ms, autocorr = regular_atrial_cycle(resid[leads], det.fs_detect, det.anchors, config)
        if autocorr >= config.atrial["fwave_paced_max_autocorr"]:
            g.atrial_activity = None
            g.reasons["atrial_activity"] = (
                f"atrial activity repeating every {cycle_ms:.0f} ms, dissociated from the paced "
                "QRS: P waves (AV dissociation), not fibrillatory waves"
            )
            return
        g.atrial_activity = "fibrillatory"
        return
    rms = [ev.residual_rms_mv for ev in per_lead if ev.residual_rms_mv is not None]
    if rms and float(np.median(rms)) <= config.atrial["fwave_flat_rms_mv"]:
        g.atrial_activity = "none"
        return
    g.atrial_activity = None
    g.reasons["atrial_activity"] = (
        "ventricular pacing without P waves or fibrillatory waves in "
        f"{config.atrial['fwave_alone_min_leads']:g} leads: the atrial rhythm is undecided"
    )


def regular_atrial_cycle(
    resid: np.ndarray, fs: float, anchors: np.ndarray, config: MeasureConfig = DEFAULT_CONFIG
) -> tuple[float, float]:
    """(cycle in ms, autocorrelation) of the most regular repetition of the QRST-cancelled
    residual ``resid`` (leads, samples at ``fs``) over the atrial cycles
    ``atrial.fwave_paced_cycle_min_ms`` to ``fwave_paced_cycle_max_ms``: the lower of its
    autocorrelations at one cycle and at two.

    P waves that march through at their own rate (AV dissociation) repeat at one P-P interval;
    f waves change shape and timing from wave to wave and decorrelate (ESC 2020: no distinct,
    regular atrial activity). The QRS neighbourhood is left out (``atrial.fwave_blank_*_ms``,
    where cancellation error is largest). What repeats at the ventricular cycle after QRST
    cancellation (beat-to-beat T-wave change) also counts as regular: AF is then not stated
    from this residual, the cautious side.

    >>> fs = 250.0
    >>> t = np.arange(2500) / fs
    >>> p_waves = sum(np.exp(-(((t - s) / 0.03) ** 2)) for s in np.arange(0.2, 10, 0.8))
    >>> cycle, ac = regular_atrial_cycle(p_waves[None, :], fs, np.arange(100, 2500, 250))
    >>> round(cycle), ac > 0.9
    (800, True)
    """
    p = config.atrial
    n = resid.shape[1]
    kept = fwave_kept_mask(n, fs, anchors, config=config)
    lags = np.arange(
        int(p["fwave_paced_cycle_min_ms"] * fs / 1000.0),
        min(int(p["fwave_paced_cycle_max_ms"] * fs / 1000.0), n // 3) + 1,
    )
    if lags.size == 0:
        return float("nan"), 0.0
    # Broadband noise (above the f-wave noise floor's lower edge) is left out: it decorrelates
    # small P waves as much as f waves do.
    sos = butter_sos(4, p["fwave_noise_min_hz"], "low", fs)
    x = sosfiltfilt(sos, resid - np.median(resid, axis=1, keepdims=True), axis=1)
    # A regular rhythm repeats at one cycle and at two; band-limited f waves correlate by
    # chance at some lag of a 10-s record (up to ~0.4), rarely at a lag and its double too.
    ac = np.minimum(autocorr_many(x, kept, lags), autocorr_many(x, kept, 2 * lags))
    best = float(ac.max())
    # The cycle: the peak of the first run of lags about as regular as the best (the
    # multiples of the cycle repeat as well).
    near = np.flatnonzero(ac >= 0.9 * best) if best > 0 else np.array([int(np.argmax(ac))])
    run = near[: int(np.argmax(np.diff(np.append(near, near[-1] + 2)) > 1)) + 1]
    i = int(run[np.argmax(ac[run])])
    return float(lags[i] * 1000.0 / fs), best


def stimulus_anchors(det: Detection, config: MeasureConfig) -> np.ndarray:
    """Beat positions (detection-rate samples) that put the pre-QRS window of
    :func:`~ecgr1.measure.atrial.fwaves.beat_locked_atrial_share` before the ventricular
    stimulus: for a paced beat (a spike within the ``atrial.fwave_locked_window_ms`` the
    window reaches back from its anchor) the stimulus plus ``atrial.fwave_locked_gap_ms``, so
    that the window ends at the stimulus. The anchor of a wide paced QRS lies 100-200 ms after
    its stimulus, and a window ending 60 ms before that anchor would read the stimulus and the
    QRS upstroke as beat-locked atrial activity. Other beats keep their anchor.

    >>> from types import SimpleNamespace
    >>> det = SimpleNamespace(spikes=np.array([400]), k=2, fs=500.0, fs_detect=250.0,
    ...                       anchors=np.array([100, 225]))
    >>> stimulus_anchors(det, DEFAULT_CONFIG).tolist()
    [100, 215]
    """
    anchors = np.asarray(det.anchors, int)
    reach = config.atrial["fwave_locked_window_ms"] * det.fs_detect / 1000.0
    gap = int(round(config.atrial["fwave_locked_gap_ms"] * det.fs_detect / 1000.0))
    spike = spike_in_window(np.asarray(det.spikes, float) / det.k, anchors - reach, anchors)
    has = np.isfinite(spike)
    out = anchors.copy()
    out[has] = np.round(spike[has]).astype(int) + gap
    return out


def p_waves_locked_to_qrs(
    det: Detection,
    names: list[str],
    config: MeasureConfig,
    anchors: np.ndarray | None = None,
) -> bool:
    """Whether the pre-QRS activity of the usable leads (``names``) repeats before every QRS
    (:func:`~ecgr1.measure.atrial.fwaves.beat_locked_atrial_share` at least
    ``atrial.fwave_locked_max_share``): P waves the P-wave detection missed, since f waves keep
    no fixed distance from the QRS. ``anchors``: the beat positions the window is read
    before (``det.anchors`` when not given; :func:`stimulus_anchors` in a paced record)."""
    share = _locked_share(det, names, config, anchors)
    return share is not None and share >= config.atrial["fwave_locked_max_share"]


def _locked_share(
    det: Detection, names: list[str], config: MeasureConfig, anchors: np.ndarray | None = None
) -> float | None:
    """:func:`~ecgr1.measure.atrial.fwaves.beat_locked_atrial_share` of the usable leads
    (``names``) before ``anchors`` (``det.anchors`` when not given)."""
    anchors = det.anchors if anchors is None else anchors
    clean = det.clean[det.usable]
    return beat_locked_atrial_share(clean, det.fs_detect, anchors, names, config=config)
