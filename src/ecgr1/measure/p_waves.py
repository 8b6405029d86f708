"""P waves locked to the QRS complexes, and the engine's own count of P waves per QRS.

Presence: the median beat's P wave must stand out of the noise in some lead, and the P window
of the dominant beats must be consistent from beat to beat (atrial activity not locked to the
QRS, such as fibrillation, averages out of the template but not out of the beats). With P waves
present, a matched filter with the median beat's P wave counts the P waves of the QRST-cancelled
signal; regular P waves outnumbering the QRS complexes are non-conducted P waves (AV block).
Thresholds are ``config.presence`` and ``config.atrial``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve, find_peaks

from ecgr1.measure.atrial import AtrialActivity
from ecgr1.measure.beat_classes import BeatGroups, rr_variability
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.delineate import Delineation
from ecgr1.measure.detection import Detection
from ecgr1.measure.fiducials import BeatDelineation
from ecgr1.measure.pacing import spike_in_window
from ecgr1.measure.result import GlobalMeasurements
from ecgr1.signal.filters import smooth
from ecgr1.signal.stats import median_1d, median_along, percentile_along


@dataclass
class PWaves:
    """Whether the record has P waves, which beats have one, and their share of all beats."""

    present: bool
    beat_has_p: np.ndarray  # bool per beat; all False when not present
    fraction: float
    # The ventricular rhythm is irregular (the P windows were held to the stricter consistency
    # ``presence.p_consistency_irregular``) and at least ``presence.p_confirm_min_leads`` leads
    # are usable: the P waves want the whole-record analysis's confirmation
    # (:func:`confirm_p_waves`).
    needs_confirmation: bool = False
    # With ``needs_confirmation`` and not ``present``: when the beat-locked evidence meets the
    # consistency of a regular rhythm (not the stricter irregular one), the beats that have a P
    # by it (None otherwise). The whole-record analysis's P waves then make them present
    # (:func:`confirm_p_waves`).
    confirmable_beats: np.ndarray | None = None


def p_wave_presence(
    det: Detection,
    groups: BeatGroups,
    dl: BeatDelineation,
    p_peak: np.ndarray,
    config: MeasureConfig,
) -> PWaves:
    """P waves from the template P amplitude over noise and the beat-to-beat consistency of
    the P window; ``p_peak`` is the per-lead P peak of every beat (NaN where none was found)."""
    presence = config.presence
    usable, dominant, tmpl = det.usable, groups.dominant, dl.template
    amp_t = np.abs(tmpl.p_amp[:, 0])
    noise_t = tmpl.p_noise[:, 0]
    leads = _clearest_p_leads(usable, amp_t, noise_t, config)
    corr = _p_window_correlation(det, groups, dl, leads, config)
    snr_ok = (amp_t >= presence["p_min_amp_mv"]) & (amp_t >= presence["p_snr"] * noise_t)
    snr_ok &= usable
    beat_has_p = (corr >= presence["p_beat_corr"]) & np.isfinite(p_peak).any(0)
    dom_frac = float(beat_has_p[dominant].mean()) if dominant.any() else 0.0
    p_corr_med = float(median_1d(corr[dominant])) if dominant.any() else 0.0
    # With irregular RR intervals, P waves that drive the ventricles stay locked to the QRS
    # (sinus arrhythmia, premature beats), while fibrillation/flutter waves do not: demand more.
    # A pause (a beat missed, blocked or hidden: about twice the cycle) is left out: one
    # missed PVC made a noisy sinus rhythm "irregular", its P waves failed the stricter test
    # and it read as atrial fibrillation (simulated PVCs under baseline and muscle noise).
    rr_dom = groups.rr[dominant[1:] & dominant[:-1]]
    if rr_dom.size:
        rr_dom = rr_dom[rr_dom < config.beat["pause_rr_ratio"] * median_1d(rr_dom)]
    cv_dom, _ = rr_variability(rr_dom)
    irregular_rr = bool(groups.irregular or cv_dom > config.beat["irregular_rr_cv"])
    # Few leads: the P window holds less signal and noise lowers every beat's correlation.
    need_regular = presence["p_consistency_few_leads" if usable.sum() < 6 else "p_consistency"]
    need_corr = presence["p_consistency_irregular"] if irregular_rr else need_regular
    shown = bool(snr_ok.any() and dom_frac >= presence["p_fraction_present"])
    present = shown and p_corr_med >= need_corr
    # Leads where the template P is lost in noise keep the multi-lead estimate anyway:
    # annotators mark P in every lead, and the window is already constrained.
    confirm = irregular_rr and int(usable.sum()) >= presence["p_confirm_min_leads"]
    # An irregular rhythm's P waves that meet only the regular consistency (noisy sinus
    # arrhythmia: Ningbo JS24580, JS35823) stand when the whole-record analysis, which looks
    # for P waves throughout the cycle, sees them too: two independent views of one atrium.
    confirmable = confirm and not present and shown and p_corr_med >= need_regular
    candidates = beat_has_p.copy() if confirmable else None  # (zeroed below when absent)
    fraction = round(float(beat_has_p.mean()) if present else 0.0, 3)
    if not present:
        beat_has_p[:] = False
    return PWaves(
        present=present,
        beat_has_p=beat_has_p,
        fraction=fraction,
        needs_confirmation=confirm,
        confirmable_beats=candidates,
    )


def confirm_p_waves(pw: PWaves, atr: AtrialActivity | None) -> PWaves:
    """P waves of an irregular ventricular rhythm (``pw.needs_confirmation``) need the
    whole-record atrial analysis to see P waves too (``atrial_activity == "p_waves"``, at any
    confidence); otherwise they are not present.

    With an irregular rhythm the beat-locked test alone is weak: in atrial fibrillation the
    P windows of a few dominant beats can look alike by chance (fine f waves, a locked
    T-U remnant), whereas the whole-record analysis looks for P waves throughout the cycle.
    Sinus arrhythmia and premature beats keep their P waves: the whole-record analysis finds
    them. With fewer than ``presence.p_confirm_min_leads`` usable leads (a 2-lead Holter) that
    analysis often cannot see small P waves, so its silence is no evidence; and without it
    (``atrial_analysis=False``) the beat-locked view stands.

    Confirmed P waves need only the consistency of a regular rhythm (``pw.confirmable_beats``): muscle
    noise lowers the beat-to-beat correlation of small P waves below the stricter irregular
    threshold, and the analysis that confirms them finds no P waves in AF or flutter on any
    labelled source (benchmarks/README.md, issue 19).
    """
    if not pw.needs_confirmation or atr is None:
        return pw
    if atr.atrial_activity == "p_waves":
        if pw.present or pw.confirmable_beats is None:
            return pw
        beats = pw.confirmable_beats
        return PWaves(
            present=True,
            beat_has_p=beats,
            fraction=round(float(beats.mean()), 3),
            needs_confirmation=True,
        )
    if not pw.present:
        return pw
    return PWaves(
        present=False,
        beat_has_p=np.zeros_like(pw.beat_has_p),
        fraction=0.0,
        needs_confirmation=True,
    )


def _clearest_p_leads(
    usable: np.ndarray, amp_t: np.ndarray, noise_t: np.ndarray, config: MeasureConfig
) -> np.ndarray:
    """The usable leads whose median-beat P window stands out most over its noise
    (``presence.p_consistency_leads`` of them), where the beat-to-beat consistency is judged.

    The P wave is small in some leads (aVL, V1-V2 often near isoelectric) while their P windows
    still carry noise and residual wander, which then dominate a correlation over all leads:
    CPSC 2018 A0011 (LBBB, P 0.13 mV in II at 60 times the template noise) has a median
    all-lead correlation of 0.73, under the 0.75 limit, and 0.93 over its six clearest leads.
    """
    snr = np.where(usable, amp_t / np.maximum(noise_t, 1e-6), -np.inf)
    n = int(config.presence["p_consistency_leads"])
    keep = np.zeros_like(usable)
    keep[np.argsort(-snr, kind="stable")[:n]] = True
    return keep & usable


def _p_window_correlation(
    det: Detection,
    groups: BeatGroups,
    dl: BeatDelineation,
    leads: np.ndarray,
    config: MeasureConfig,
) -> np.ndarray:
    """Correlation of each beat's P window (over ``leads``) with the dominant beats' median."""
    ms = det.ms_detect
    tmpl, dom_rr, prev_r = dl.template, dl.dom_rr, groups.prev_r
    nb = det.anchors.size
    qrs_on_t = tmpl.glob["qrs_on"][0]
    p_start = int(qrs_on_t - min(260 * ms, 0.45 * dom_rr))
    # Keep the previous beat's T wave out: its end sits at (template T end - RR) in this window.
    t_end_g = percentile_along(tmpl.lead["t_off"][det.usable], 80.0, axis=0, nan_policy="omit")[0]
    # (The dominant beats' RR intervals: their windows are the ones compared, and a premature
    # beat's short coupling interval would cut every window to its last 80 ms.)
    dom_prev = prev_r[groups.dominant & np.isfinite(prev_r)]
    short_rr = float(percentile_along(dom_prev, 10)) if dom_prev.size >= 2 else dom_rr
    if np.isfinite(t_end_g):
        p_start = max(p_start, int(t_end_g - short_rr + 20 * ms))
    p_start = min(p_start, int(qrs_on_t - 80 * ms))
    p_stop = int(qrs_on_t - 10 * ms)
    stimulus = _ventricular_stimulus(det, groups.dominant, qrs_on_t, config)
    if stimulus is not None:
        p_stop = min(p_stop, max(int(stimulus - 10 * ms), p_start + int(20 * ms)))
    p_start = max(p_start, 0)
    # Smooth only inside the window (no leak from the QRS) and remove the line joining the
    # window ends (T-wave tail, residual wander), then compare beats with the median.
    seg = smooth(dl.windows[leads][:, :, p_start:p_stop], max(1, int(round(8 * ms))), axis=2)
    if seg.shape[2] >= 2:
        ramp = np.linspace(0.0, 1.0, seg.shape[2])
        seg = seg - (seg[:, :, :1] * (1 - ramp) + seg[:, :, -1:] * ramp)
    flat = np.transpose(seg, (1, 0, 2)).reshape(nb, -1)
    tmpl_p = median_along(flat[groups.dominant], axis=0)
    tn = np.linalg.norm(tmpl_p)
    norms = np.linalg.norm(flat, axis=1)
    with np.errstate(all="ignore"):
        return (flat @ tmpl_p) / np.maximum(norms * tn, 1e-12)


def _ventricular_stimulus(
    det: Detection, dominant: np.ndarray, qrs_on_t: float, config: MeasureConfig
) -> float | None:
    """Where, in the beat windows, a ventricular pacing stimulus precedes the dominant beats'
    QRS (median over the beats that have one, at most ``pacing.max_spike_to_qrs_ms`` before the
    template QRS onset), when at least half of them have one; else None.

    The spike is bridged by a line (``pacing.blank_after_ms``) that is the same in every beat, so
    a P window that reaches it is consistent from beat to beat whatever the atria do: LUDB 93
    (atrial fibrillation, ventricular pacing) reads as P waves from its stimuli. A P wave that
    the pacemaker tracks comes an AV delay before the stimulus, inside the shortened window.
    """
    if det.spikes.size == 0 or not dominant.any():
        return None
    ms = det.ms_detect
    onsets = det.starts[dominant] + qrs_on_t  # the template QRS onset in each beat's window
    lo = onsets - config.pacing["max_spike_to_qrs_ms"] * ms
    spike = spike_in_window(det.spikes / det.k, lo, onsets + 5 * ms, last=False)
    has = np.isfinite(spike)
    found = spike[has] - det.starts[dominant][has]
    if 2 * found.size < int(dominant.sum()):
        return None
    return float(np.median(found))


def p_wave_atrial_fields(
    g: GlobalMeasurements,
    det: Detection,
    dl: BeatDelineation,
    count_p_waves: bool,
    config: MeasureConfig,
) -> None:
    """Atrial fields of a record with P waves: P waves drive the rhythm (atrial rate = heart
    rate, one P per QRS when nearly every beat has one), unless the matched-filter count finds
    regular P waves outnumbering the QRS complexes (``count_p_waves``; unnecessary when the
    whole-record atrial analysis already knows the ratio)."""
    g.atrial_activity = "p_waves"
    g.atrial_rate_bpm = g.heart_rate_bpm
    g.p_waves_per_qrs = 1.0 if g.p_wave_fraction and g.p_wave_fraction >= 0.9 else None
    if g.p_waves_per_qrs is None:
        g.reasons["p_waves_per_qrs"] = "P waves not found before every QRS"
    if not count_p_waves:
        return
    # The four leads with the largest P waves carry the matched filter (and keep it cheap).
    usable = det.usable
    p_rank = np.argsort(-np.where(usable, np.abs(dl.template.p_amp[:, 0]), -1.0))[:4]
    p_leads = np.zeros_like(usable)
    p_leads[p_rank[usable[p_rank]]] = True
    extra = count_atrial_waves(
        det.clean[p_leads],
        det.fs_detect,
        det.anchors,
        dl.median_beat[p_leads, 0, :],
        det.pre,
        dl.template,
        p_leads,
        config=config,
    )
    if extra is not None:
        # More regular P waves than QRS complexes: non-conducted P waves (AV block).
        g.p_waves_per_qrs, g.atrial_rate_bpm = extra
        g.reasons.pop("p_waves_per_qrs", None)


def count_atrial_waves(
    clean: np.ndarray,
    fs: float,
    anchors: np.ndarray,
    template: np.ndarray,
    pre: int,
    tmpl_dl: Delineation,
    usable: np.ndarray,
    *,
    config: MeasureConfig,
) -> tuple[float, float] | None:
    """(P waves per QRS, atrial rate) when regular P waves outnumber the QRS complexes.

    The median beat's QRS-T (QRS onset to T end, P wave left in place) is subtracted at every
    beat; what remains is band-limited (about 2-12 Hz) and its spatial magnitude searched for
    P-sized peaks outside the QRS complexes. Returns None unless the peaks are regular (most
    P-P intervals within 15 % of their median), number at least ``atrial_waves.min_p_waves_per_qrs``
    per QRS over the span, and are as large as at least half of the median-beat P wave.
    ``template`` is the median beat of ``clean``'s leads, ``tmpl_dl`` its delineation (all
    leads; ``usable`` selects ``clean``'s).
    """
    ms = fs / 1000.0

    def pct(key: str, q: float) -> float:
        return percentile_along(tmpl_dl.lead[key][usable], q, axis=0, nan_policy="omit")[0]

    q_on, q_off, t_off = pct("qrs_on", 25.0), pct("qrs_off", 50.0), pct("t_off", 50.0)
    if not (np.isfinite(q_on) and np.isfinite(q_off) and np.isfinite(t_off)):
        return None
    a = int(q_on - 10 * ms)
    b = min(int(t_off + 30 * ms), template.shape[-1])
    if b - a < 4 or anchors.size < 3:
        return None
    resid = _cancel_qrst(clean, anchors, template, a, b, pre, ms)

    def bandpass(x: np.ndarray) -> np.ndarray:
        return smooth(x, max(1, int(round(10 * ms)))) - smooth(x, max(1, int(round(60 * ms))))

    band = bandpass(resid)
    # Matched filter: normalised cross-correlation, over all leads at once, with the median
    # beat's P wave (same band); T-wave remnants and noise have other shapes.
    p_on, p_off = pct("p_on", 20.0), pct("p_off", 80.0)
    if not (np.isfinite(p_on) and np.isfinite(p_off)) or p_off - p_on < 20 * ms:
        return None
    kern = bandpass(template)[:, int(p_on) : int(p_off) + 1]
    kern = kern - kern.mean(axis=1, keepdims=True)
    m = kern.shape[1]
    if m >= clean.shape[1]:
        return None
    num = fftconvolve(band, kern[:, ::-1], mode="valid", axes=1).sum(axis=0)
    csum = np.concatenate(([0.0], np.cumsum((band * band).sum(axis=0))))
    energy = csum[m:] - csum[:-m]
    kn = float(np.sqrt((kern * kern).sum()))
    ncc = num / np.maximum(np.sqrt(np.maximum(energy, 0.0)) * kn, 1e-12)
    amp_ratio = np.sqrt(np.maximum(energy, 0.0)) / max(kn, 1e-12)
    score = np.where((amp_ratio >= 0.5) & (amp_ratio <= 2.0), ncc, 0.0)
    for anc in anchors:  # QRS residue (alignment jitter) is not atrial activity
        lo = max(0, int(anc - pre + q_on - 20 * ms - m))
        hi = min(score.size, int(anc - pre + q_off + 20 * ms))
        score[lo:hi] = 0.0
    peaks, _ = find_peaks(score, height=config.atrial["p_match_ncc"], distance=int(0.25 * fs))
    peaks = peaks + m // 2
    return _regular_p_ratio(peaks, anchors, fs, config.atrial_waves["min_p_waves_per_qrs"])


def _cancel_qrst(
    clean: np.ndarray,
    anchors: np.ndarray,
    template: np.ndarray,
    a: int,
    b: int,
    pre: int,
    ms: float,
) -> np.ndarray:
    """``clean`` minus the median beat's samples ``a:b`` (its QRS-T, tapered over 10 ms at both
    ends) at every beat; ``pre`` is the anchor's position in the median beat."""
    n = clean.shape[1]
    width = b - a
    seg = template[:, a:b].copy()
    taper = np.ones(width)
    k = max(1, int(10 * ms))
    taper[:k] = np.linspace(0, 1, k)
    taper[-k:] = np.linspace(1, 0, k)
    seg *= taper
    resid = clean.astype(np.float64, copy=True)
    for anc in anchors:
        s0 = anc - pre + a
        lo, hi = max(0, s0), min(n, s0 + width)
        if hi > lo:
            resid[:, lo:hi] -= seg[:, lo - s0 : hi - s0]
    return resid


def _regular_p_ratio(
    peaks: np.ndarray, anchors: np.ndarray, fs: float, min_ratio: float
) -> tuple[float, float] | None:
    """(P waves per QRS, atrial rate) of regular P-wave peaks between the first and the last
    QRS, when they number at least ``min_ratio`` per QRS; else None."""
    span_lo, span_hi = anchors[0], anchors[-1]
    peaks = peaks[(peaks >= span_lo) & (peaks <= span_hi)]
    if peaks.size < 4:
        return None
    pp = np.diff(peaks).astype(float)
    pp_med = float(np.median(pp))
    if not (0.27 * fs <= pp_med <= 1.5 * fs):  # 40-220 /min
        return None
    if np.mean(np.abs(pp - pp_med) <= 0.15 * pp_med) < 0.7:
        return None
    n_qrs = anchors.size - 1
    ratio = ((span_hi - span_lo) / pp_med) / max(n_qrs, 1)
    if ratio < min_ratio:
        return None
    return round(float(ratio), 2), round(60.0 * fs / pp_med, 1)
