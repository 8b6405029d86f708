"""The measurement engine: ECGRecord in, MeasurementResult out.

Pipeline (see ``docs/measurements.md``):

1. zero-phase baseline / mains removal and per-lead quality (:mod:`ecgr1.signal`);
2. QRS detection on all usable leads together, RR statistics, beat grouping by QRS shape and
   prematurity (:mod:`ecgr1.measure.beats`);
3. delineation of every beat in every lead and of the median dominant beat
   (:mod:`ecgr1.measure.delineate`); dominant beats are kept near the template's boundaries,
   which averages out noise while still following real beat-to-beat changes;
4. global (CSE) fiducials per beat, record intervals, QTc, axes, amplitudes, ST and voltage sums.
"""

from __future__ import annotations

import math

import numpy as np

from ecgr1.io.record import ECGRecord
from ecgr1.measure.atrial import AtrialActivity, analyse_atrial_activity
from ecgr1.measure.beats import detect_r_peaks, qrs_morphology_groups, refine_anchor, rr_statistics
from ecgr1.measure.criteria import ATRIAL, BEAT, DELTA, PACING, PRESENCE, WINDOWS
from ecgr1.measure.delineate import FIDUCIALS, Delineation, beat_windows, delineate
from ecgr1.measure.features import frontal_axis, lead_measurements, wave_area
from ecgr1.measure.result import Beat, LeadMeasurements, MeasurementResult
from ecgr1.signal.filters import preprocess, smooth
from ecgr1.signal.quality import assess_quality
from ecgr1.signal.stats import median_along, percentile_along

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
# Whether ``measure`` runs the whole-record atrial analysis by default. On: without it atrial
# flutter, Wenckebach and complete AV block cannot be recognised at all. It costs ~2-3 ms of
# the ~18 ms per 10-s LUDB record (benchmarks/README.md); ``atrial_analysis=False`` skips it.
ATRIAL_ANALYSIS_DEFAULT = True
# Full-rate median beat: margin (ms) kept around the template's earliest and latest fiducial
# (covers the 24 ms PR-segment baseline before QRS onset and J + 80 ms).
SPAN_MARGIN_MS = 120.0
# When the whole-record atrial analysis (:mod:`ecgr1.measure.atrial`) overrides the engine.
ATRIAL_OVERRIDE: dict[str, float] = {
    "flutter_confidence": 0.8,
    "block_confidence": 0.7,
    "min_block_ratio": 1.2,  # P waves per QRS for non-conducted P waves (AV block)
}
# T-wave reference leads: median-beat |T| at least this fraction of the largest.
T_REFERENCE_FRACTION = 0.0
# Sampling rate (Hz) of detection and delineation: records are block-averaged down to it.
DELINEATION_FS = 250.0
# Percentile across leads of the reference the shrinkage pulls towards.
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


def _nanpct(a: np.ndarray, q: float, axis: int = 0) -> np.ndarray:
    """Fast NaN-ignoring percentile (linear interpolation) of a 1-D or 2-D array along ``axis``.

    Columns without a finite value give NaN. (``np.nanpercentile`` loops in Python per column.)
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    elif axis == 1:
        a = a.T
    if a.shape[0] == 0:
        return np.full(a.shape[1], np.nan)
    s = np.sort(a, axis=0)  # NaN sort last
    n = np.isfinite(s).sum(axis=0)
    pos = np.maximum(n - 1, 0) * (q / 100.0)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    frac = pos - lo
    cols = np.arange(s.shape[1])
    with np.errstate(invalid="ignore"):
        v = s[lo, cols] * (1.0 - frac) + s[hi, cols] * frac
    return np.where(n > 0, v, np.nan)


def _median_or_none(values: np.ndarray) -> float | None:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(np.median(v)) if v.size else None


def _r1(v: float | None, nd: int = 1) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


def detect_pacing_spikes(raw: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices of pacemaker spikes (very sharp, short deflections in the raw signal)."""
    x = np.atleast_2d(np.asarray(raw, float))
    if x.shape[1] < 5:
        return np.zeros(0, int)
    # Curvature per sample (second difference): a spike is a one-or-two-sample jump and back.
    # (x[2:] - 2 x[1:-1]) + x[:-2], evaluated in place in that order.
    d2 = 2.0 * x[:, 1:-1]
    np.subtract(x[:, 2:], d2, out=d2)
    d2 += x[:, :-2]
    np.abs(d2, out=d2)
    if not np.any(d2 > PACING["spike_abs_mv"]):
        return np.zeros(0, int)
    p99 = percentile_along(d2[:, ::2], 99, axis=1)[:, None]
    thr = np.maximum(PACING["spike_abs_mv"], PACING["spike_rel_p99"] * p99)
    hits = (d2 > thr).sum(axis=0)
    need = 2 if x.shape[0] >= 3 else 1
    idx = np.flatnonzero(hits >= need) + 1
    if idx.size:
        idx = idx[np.concatenate(([True], np.diff(idx) > int(0.02 * fs)))]
    return idx


def _rr_variability(rr: np.ndarray) -> tuple[float, float]:
    """(coefficient of variation, median |successive difference| / mean) of RR intervals."""
    if rr.size < 3:
        return 0.0, 0.0
    mean = float(rr.mean())
    if mean <= 0:
        return 0.0, 0.0
    return float(rr.std(ddof=1)) / mean, float(np.median(np.abs(np.diff(rr)))) / mean


def _count_atrial_waves(
    clean: np.ndarray,
    fs: float,
    anchors: np.ndarray,
    template: np.ndarray,
    pre: int,
    DT: Delineation,
    usable: np.ndarray,
) -> tuple[float, float] | None:
    """(P waves per QRS, atrial rate) when regular P waves outnumber the QRS complexes.

    The median beat's QRS-T (QRS onset to T end, P wave left in place) is subtracted at every
    beat; what remains is band-limited (about 2-12 Hz) and its spatial magnitude searched for
    P-sized peaks outside the QRS complexes. Returns None unless the peaks are regular (most
    P-P intervals within 15 % of their median), number at least 1.25 per QRS over the span, and
    are as large as at least half of the median-beat P wave.
    """
    ms = fs / 1000.0
    n = clean.shape[1]
    q_on = _nanpct(DT.lead["qrs_on"][usable], 25.0, axis=0)[0]
    q_off = _nanpct(DT.lead["qrs_off"][usable], 50.0, axis=0)[0]
    t_off = _nanpct(DT.lead["t_off"][usable], 50.0, axis=0)[0]
    if not (np.isfinite(q_on) and np.isfinite(q_off) and np.isfinite(t_off)):
        return None
    a = int(q_on - 10 * ms)
    b = min(int(t_off + 30 * ms), template.shape[-1])
    if b - a < 4 or anchors.size < 3:
        return None
    seg = template[:, a:b].copy()
    taper = np.ones(b - a)
    k = max(1, int(10 * ms))
    taper[:k] = np.linspace(0, 1, k)
    taper[-k:] = np.linspace(1, 0, k)
    seg *= taper
    resid = clean.astype(np.float64, copy=True)
    for anc in anchors:
        s0 = anc - pre + a
        lo, hi = max(0, s0), min(n, s0 + (b - a))
        if hi > lo:
            resid[:, lo:hi] -= seg[:, lo - s0 : hi - s0]

    def bandpass(x: np.ndarray) -> np.ndarray:
        return smooth(x, max(1, int(round(10 * ms)))) - smooth(x, max(1, int(round(60 * ms))))

    band = bandpass(resid)
    # Matched filter: normalised cross-correlation, over all leads at once, with the median
    # beat's P wave (same band); T-wave remnants and noise have other shapes.
    p_on = _nanpct(DT.lead["p_on"][usable], 20.0, axis=0)[0]
    p_off = _nanpct(DT.lead["p_off"][usable], 80.0, axis=0)[0]
    if not (np.isfinite(p_on) and np.isfinite(p_off)) or p_off - p_on < 20 * ms:
        return None
    kern = bandpass(template)[:, int(p_on) : int(p_off) + 1]
    kern = kern - kern.mean(axis=1, keepdims=True)
    m = kern.shape[1]
    if m >= n:
        return None
    from scipy.signal import fftconvolve, find_peaks

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
    peaks, _ = find_peaks(score, height=ATRIAL["p_match_ncc"], distance=int(0.25 * fs))
    peaks = peaks + m // 2
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
    if ratio < 1.25:
        return None
    return round(float(ratio), 2), round(60.0 * fs / pp_med, 1)


def _split_last(d: Delineation) -> tuple[Delineation, Delineation]:
    """Split a delineation into (all beats but the last, the last one)."""

    def cut(a: np.ndarray, last: bool) -> np.ndarray:
        return a[..., -1:] if last else a[..., :-1]

    out = []
    for last in (False, True):
        out.append(
            Delineation(
                lead={k: cut(v, last) for k, v in d.lead.items()},
                glob={k: cut(v, last) for k, v in d.glob.items()},
                p_amp=cut(d.p_amp, last),
                t_amp=cut(d.t_amp, last),
                p_noise=cut(d.p_noise, last),
            )
        )
    return out[0], out[1]


def decimate_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Block means of ``k`` samples along the last axis (a trailing partial block is dropped)."""
    if k <= 1:
        return x
    n = x.shape[-1] // k
    return x[..., : n * k].reshape(*x.shape[:-1], n, k).mean(axis=-1)


def atrial_events_before_paced_qrs(
    anchors: np.ndarray, spikes: np.ndarray, fs: float
) -> np.ndarray:
    """Which detected "beats" are atrial events (an atrial pacing stimulus, the atrial wave it
    paces) followed, after an AV delay, by a ventricular stimulus that captures.

    A ventricular pacemaker is inhibited by a sensed QRS, and the ventricles cannot be
    captured again within their refractory period; so when a pacing spike followed by a QRS
    comes one AV delay (``PACING['av_delay_min_ms']`` to ``['av_delay_max_ms']``) after a
    detection, that detection was not a QRS but the atrial event of a dual-chamber pacing
    cycle. Recorders that low-pass filter the signal blur the atrial spike into a narrow wave
    that a QRS detector picks up (it is then not found as a spike, while the larger
    ventricular spike is).

    ``anchors`` and ``spikes`` are sample indices at rate ``fs``; returns a boolean mask.

    >>> fs = 250.0
    >>> anchors = np.array([250, 300, 500, 550])   # atrial event, paced QRS (x2)
    >>> spikes = np.array([295, 545])              # ventricular stimuli 180 ms after
    >>> atrial_events_before_paced_qrs(anchors, spikes, fs).tolist()
    [True, False, True, False]
    """
    anchors = np.asarray(anchors)
    out = np.zeros(anchors.size, bool)
    if anchors.size < 2 or len(spikes) == 0:
        return out
    ms = fs / 1000.0
    lo_av, hi_av = PACING["av_delay_min_ms"], PACING["av_delay_max_ms"]
    spikes = np.sort(np.asarray(spikes, float))
    for i in range(anchors.size - 1):
        a, nxt = float(anchors[i]), float(anchors[i + 1])
        # A stimulus one AV delay after this detection, captured by the next detection (the
        # paced QRS peaks at most max_spike_to_peak_ms after its stimulus).
        cand = spikes[(spikes >= a + lo_av * ms) & (spikes <= a + hi_av * ms) & (spikes < nxt)]
        out[i] = bool(np.any(nxt - cand <= PACING["max_spike_to_peak_ms"] * ms))
    return out


def align_anchors_to_pacing(
    anchors: np.ndarray, spikes: np.ndarray, x: np.ndarray, fs: float
) -> np.ndarray:
    """Beat anchors of a paced record: one at each captured ventricular stimulus, none at the
    atrial events of dual-chamber pacing.

    The QRS detector keeps the larger of two candidates closer than the refractory period, and
    a blurred atrial stimulus can out-size the wide paced QRS that follows it one AV delay
    later. So: a stimulus followed within ``PACING['max_spike_to_peak_ms']`` by QRS-sized
    activity (at least half the median size of the detections) and by no other stimulus (which
    would make it the atrial one) gets an anchor at the steepest point of that activity when
    it has none; then :func:`atrial_events_before_paced_qrs` removes the atrial events.

    ``anchors`` and ``spikes`` are sample indices of ``x`` (leads, samples) at rate ``fs``;
    ``x`` is the spike-free (bridged) signal.
    """
    anchors = np.asarray(anchors, int)
    if anchors.size == 0 or len(spikes) < 2:
        return anchors
    ms = fs / 1000.0
    n = x.shape[1]
    h = int(0.06 * fs)

    def qrs_size(c: int) -> float:
        return float(np.ptp(x[:, max(0, c - h) : min(n, c + h + 1)], axis=1).max())

    ref = float(np.median([qrs_size(int(a)) for a in anchors]))
    spikes = np.sort(np.asarray(spikes, int))
    reach = int(PACING["max_spike_to_peak_ms"] * ms)
    refractory = int(BEAT["refractory_ms"] * ms)
    added = []
    for j, s in enumerate(spikes):
        lo, hi = s + int(10 * ms), s + reach
        # A detection already there (within the refractory period: the steepest point of a
        # wide paced QRS can lie late in it) is this stimulus's QRS.
        if hi >= n or np.any((anchors >= s - int(5 * ms)) & (anchors <= s + refractory)):
            continue
        if j + 1 < spikes.size and spikes[j + 1] <= hi:
            continue  # another stimulus follows: this one paced the atria
        seg = x[:, lo:hi]
        if float(np.ptp(seg, axis=1).max()) < 0.5 * ref:
            continue  # no capture (or an atrial stimulus with its P wave)
        slope = np.abs(np.diff(seg, axis=1)).sum(axis=0)
        added.append(lo + int(np.argmax(slope)))
    if added:
        anchors = np.unique(np.concatenate([anchors, np.asarray(added, int)]))
    return anchors[~atrial_events_before_paced_qrs(anchors, spikes, fs)]


def blank_spikes(raw: np.ndarray, fs: float, spikes: np.ndarray) -> np.ndarray:
    """Replace [spike - 4 ms, spike + PACING['blank_after_ms']] by a straight line (all leads)."""
    x = np.array(raw, dtype=np.float64, copy=True)
    n = x.shape[1]
    before = max(1, int(round(0.004 * fs)))
    after = max(2, int(round(PACING["blank_after_ms"] * fs / 1000)))
    for s in spikes:
        a, b = max(0, s - before), min(n - 1, s + after)
        if b - a < 2:
            continue
        ramp = np.linspace(0.0, 1.0, b - a + 1)
        x[:, a : b + 1] = x[:, a : a + 1] * (1 - ramp) + x[:, b : b + 1] * ramp
    return x


def _atrial_residual_class(
    clean: np.ndarray, fs: float, anchors: np.ndarray, template: np.ndarray, pre: int
) -> str | None:
    """'flutter' when QRST-cancelled residual shows a dominant 3.5-6.5 Hz peak, else None."""
    return _atrial_residual_peak(clean, fs, anchors, template, pre)[0]


def rr_in_whole_flutter_cycles(rr_s: np.ndarray, flutter_hz: float) -> bool:
    """Whether RR intervals are whole multiples of the flutter (F-F) cycle.

    Flutter with variable AV block conducts every 2nd, 3rd or 4th F wave, so its irregular RR
    intervals cluster at whole numbers of flutter cycles (up to the variation of AV delay);
    the RR intervals of fibrillation bear no relation to any atrial cycle. The mean distance
    to the nearest whole number of cycles is about a quarter of a cycle for unrelated
    intervals; flutter needs it below ``ATRIAL['flutter_rr_multiple_tolerance']``, over at
    least ``ATRIAL['flutter_rr_min_intervals']`` intervals (with fewer, unrelated intervals
    pass by chance too often).

    >>> rr_in_whole_flutter_cycles(np.array([0.40, 0.81, 0.60, 0.41, 0.79]), 5.0)
    True
    >>> rr_in_whole_flutter_cycles(np.array([0.50, 0.71, 0.90, 0.51, 0.69]), 5.0)
    False
    """
    rr_s = np.asarray(rr_s, float)
    rr_s = rr_s[np.isfinite(rr_s) & (rr_s > 0)]
    if rr_s.size < ATRIAL["flutter_rr_min_intervals"] or not flutter_hz > 0:
        return False
    cycles = rr_s * flutter_hz
    if np.any(cycles < 0.5):  # intervals shorter than a flutter cycle: not 1:1 flutter here
        return False
    off = np.abs(cycles - np.round(cycles))
    return bool(np.mean(off) <= ATRIAL["flutter_rr_multiple_tolerance"])


def _atrial_residual_peak(
    clean: np.ndarray, fs: float, anchors: np.ndarray, template: np.ndarray, pre: int
) -> tuple[str | None, float | None]:
    """('flutter', F-wave frequency in Hz) for a dominant 3.5-6.5 Hz residual peak, else
    (None, None)."""
    n = clean.shape[1]
    resid = clean.copy()
    w = template.shape[-1]
    for a in anchors:
        s = a - pre
        lo, hi = max(0, s), min(n, s + w)
        resid[:, lo:hi] -= template[:, lo - s : hi - s]
    if n < int(4 * fs):
        return None, None
    spec = np.abs(np.fft.rfft(resid * np.hanning(n)[None, :], axis=1)) ** 2
    f = np.fft.rfftfreq(n, 1 / fs)
    band = (f >= 2) & (f <= 12)
    fl = (f >= ATRIAL["flutter_min_hz"]) & (f <= ATRIAL["flutter_max_hz"])
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
    if len(share) >= 2 and abs(top_hz - peak_hz[order[-2]]) > ATRIAL["flutter_lead_agreement_hz"]:
        return None, None
    if best < ATRIAL["flutter_concentration"]:
        return None, None
    return "flutter", top_hz


def measure(
    record: ECGRecord,
    *,
    age: float | None = None,
    sex: str | None = None,
    atrial_analysis: bool | None = None,
) -> MeasurementResult:
    """Measure one ECG record.

    Parameters
    ----------
    record : the ECG (any number of leads, any sampling rate >= 100 Hz).
    age, sex : optional patient data (override ``record.metadata``); used by sex-specific
        criteria such as the Cornell product.
    atrial_analysis : run the whole-record atrial analysis (:mod:`ecgr1.measure.atrial`:
        flutter, non-conducted P waves, Wenckebach) and let it override the atrial fields where
        it is confident; None uses ``ATRIAL_ANALYSIS_DEFAULT``. It costs about 3 ms per record.

    Returns
    -------
    MeasurementResult with global measurements, per-lead median-beat measurements, beats with
    their global fiducials, quality report and per-lead per-beat fiducials (samples).

    Example
    -------
    >>> import numpy as np
    >>> from ecgr1.io.record import ECGRecord
    >>> fs = 500.0; t = np.arange(5000) / fs; x = np.zeros((1, 5000))
    >>> for r in np.arange(0.5, 10, 1.0):
    ...     x[0] += 1.0 * np.exp(-((t - r) / 0.012) ** 2) + 0.2 * np.exp(-((t - r - 0.3) / 0.05) ** 2)
    >>> res = measure(ECGRecord(x, fs, ["II"]))
    >>> round(res.global_.heart_rate_bpm)
    60
    """
    fs = float(record.fs)
    ms = fs / 1000.0
    leads = list(record.leads)
    if age is None:
        age = record.metadata.get("age")
    if sex is None:
        sex = record.metadata.get("sex")
    res = MeasurementResult(
        record_id=record.record_id,
        fs=fs,
        duration_s=record.duration_s,
        leads=leads,
        age=age,
        sex=sex,
    )
    g = res.global_
    raw = np.asarray(record.signal, np.float64)  # read only below: no copy needed
    if not np.isfinite(raw).all():
        raw = np.nan_to_num(raw)
    # Pacemaker spikes are found on the raw signal and bridged by straight lines before any
    # filtering, so that they neither become "QRS complexes" nor ring through the filters.
    spikes = detect_pacing_spikes(raw, fs)
    work = blank_spikes(raw, fs, spikes) if spikes.size >= 2 else raw
    pp = preprocess(work, fs)
    res.warnings.extend(pp.notes)
    res.quality = assess_quality(raw, pp.clean, pp.baseline, fs, leads)
    usable = np.array([res.quality.leads[name].usable for name in leads], bool)

    def fail(reason: str) -> MeasurementResult:
        for key in (
            "heart_rate_bpm",
            "pr_interval_ms",
            "qrs_duration_ms",
            "qt_interval_ms",
            "qrs_axis_deg",
            "p_wave_present",
        ):
            g.reasons[key] = reason
        res.warnings.append(reason)
        return res

    if not usable.any():
        return fail("no usable lead")
    # Detection and delineation run at about 250 Hz (block means of k samples): boundaries are
    # judged to a few ms by experts, and this halves the work at 500 Hz. Amplitudes are measured
    # on full-rate median beats. ``fs``/``ms`` below refer to the delineation rate.
    clean_full = pp.clean
    fs_full, ms_full = fs, ms
    k = max(1, int(fs_full // DELINEATION_FS))
    # float32 is ample for delineation (uV resolution) and halves memory traffic.
    clean = decimate_mean(clean_full, k).astype(np.float32)
    fs = fs_full / k
    ms = fs / 1000.0
    half_block = (k - 1) / 2.0  # centre of a block, in full-rate samples

    def full_index(v: np.ndarray) -> np.ndarray:
        return v * k + half_block

    xq = smooth(clean, max(1, int(round(5 * ms))))
    anchors = detect_r_peaks(clean, fs, usable)
    anchors = refine_anchor(xq[usable], fs, anchors)
    pre = int(WINDOWS["pre_r_ms"] * ms)
    post = int(WINDOWS["post_r_ms"] * ms)
    # Beats whose QRS lies at the very edge cannot be delineated reliably.
    n = clean.shape[1]
    anchors = anchors[(anchors >= int(0.08 * fs)) & (anchors < n - int(0.1 * fs))]
    if spikes.size >= 2:
        anchors = align_anchors_to_pacing(anchors, np.rint(spikes / k).astype(int), xq[usable], fs)
    if anchors.size < 2:
        return fail("fewer than two QRS complexes detected")
    g.n_beats = int(anchors.size)
    for key, value in rr_statistics(anchors, fs).items():
        setattr(g, key, value)
    rr = np.diff(anchors).astype(float)
    prev_r = np.concatenate(([np.inf], rr))
    next_r = np.concatenate((rr, [np.inf]))
    med_rr = float(np.median(rr))
    g.heart_rate_bpm = _r1(60.0 * fs / float(np.mean(rr)))

    # ---- beat grouping -------------------------------------------------------------------
    corr, same_shape = qrs_morphology_groups(xq[usable], fs, anchors)
    # Local RR: median of the (up to) 8 intervals around each beat.
    padded = np.concatenate((np.full(4, np.nan), rr, np.full(4, np.nan)))
    local_rr = _nanpct(np.lib.stride_tricks.sliding_window_view(padded, 8)[: anchors.size].T, 50.0)
    local_rr = np.where(np.isfinite(local_rr), local_rr, med_rr)
    premature = np.isfinite(prev_r) & (prev_r < BEAT["premature_ratio"] * local_rr)
    # The underlying rhythm is judged on intervals between beats of the dominant shape, so that
    # a few ectopic beats (and their pauses) do not make a sinus rhythm "irregular".
    pair_same = same_shape[1:] & same_shape[:-1]
    cv_same, succ_same = _rr_variability(rr[pair_same])
    irregular = bool(cv_same > BEAT["irregular_rr_cv"] and succ_same > BEAT["irregular_succ_diff"])
    dominant = same_shape & ~premature if not irregular else same_shape.copy()
    if dominant.sum() < 1:
        dominant = same_shape if same_shape.any() else np.ones(anchors.size, bool)

    # ---- delineation of every beat and of the median dominant beat ----------------------------
    weights = usable.astype(float)
    Xq = beat_windows(xq, anchors, pre, post)
    Xw = beat_windows(clean, anchors, pre, post)
    # Samples beyond the record are edge-repeated; limit searches with the distances.
    prev_lim = np.minimum(prev_r, anchors + 1.0)
    next_lim = np.minimum(next_r, (n - 1 - anchors).astype(float))
    Tw = median_along(Xw[:, dominant, :], axis=1, keepdims=True)
    # The delineation copy of the median beat is smoothed like ``xq`` (linear, so this equals
    # the median of the smoothed beats up to the median's non-linearity, at a fraction of the cost).
    Tq = smooth(Tw, max(1, int(round(5 * ms))), axis=2)
    dom_rr = float(np.median(rr)) if rr.size else med_rr
    # One call delineates every beat and, as an extra last "beat", the median beat.
    D_all = delineate(
        np.concatenate([Xq, Tq], axis=1),
        np.concatenate([Xw, Tw], axis=1),
        fs,
        pre,
        np.concatenate([prev_lim, [dom_rr]]),
        np.concatenate([next_lim, [dom_rr]]),
        weights,
    )
    D, DT = _split_last(D_all)

    nb = anchors.size
    lead_fid: dict[str, np.ndarray] = {}
    own_fid: dict[str, np.ndarray] = {}  # before shrinkage: each lead's own boundary
    for key in FIDUCIALS:
        per_beat = D.lead[key].copy()
        tmpl = np.repeat(DT.lead[key], nb, axis=1)
        tol = TEMPLATE_TOLERANCE_MS[key] * ms
        merged = np.where(np.isnan(per_beat), tmpl, np.clip(per_beat, tmpl - tol, tmpl + tol))
        merged = np.where(np.isnan(tmpl), per_beat, merged)
        merged[:, ~dominant] = per_beat[:, ~dominant]
        merged[~usable, :] = np.nan
        own_fid[key] = merged
        alpha = LEAD_SHRINK[key]
        if alpha < 1.0 and usable.sum() >= 3:
            ref_leads = usable
            if key.startswith("t_"):
                # T boundaries are sharpest where the T wave is large: take the reference from
                # the leads whose median-beat T amplitude is at least a fraction of the largest.
                tamp = np.where(usable, np.abs(DT.t_amp[:, 0]), 0.0)
                big = tamp >= T_REFERENCE_FRACTION * tamp.max()
                if big.sum() >= 2:
                    ref_leads = big
            med = _nanpct(merged[ref_leads], SHRINK_REFERENCE_PCT.get(key, 50.0), axis=0)[None, :]
            merged = np.where(np.isfinite(med), med + alpha * (merged - med), merged)
        lead_fid[key] = merged
    # Global QRS boundaries: the across-lead reference of the per-lead boundaries (robust
    # percentiles, see GLOBAL_PERCENTILE); the spatial-velocity estimate where no lead has one.
    g_on = _nanpct(own_fid["qrs_on"][usable], GLOBAL_PERCENTILE["qrs_on"], axis=0)
    g_off = _nanpct(own_fid["qrs_off"][usable], GLOBAL_PERCENTILE["qrs_off"], axis=0)
    g_on = np.where(np.isfinite(g_on), g_on, D.glob["qrs_on"])
    g_off = np.where(np.isfinite(g_off), g_off, D.glob["qrs_off"])

    # ---- P-wave presence ----------------------------------------------------------------------
    # Template P amplitude over noise, and beat-to-beat consistency of the P window (atrial
    # activity not locked to the QRS, e.g. fibrillation, averages out of the template).
    p_start = int(DT.glob["qrs_on"][0] - min(260 * ms, 0.45 * dom_rr))
    # Keep the previous beat's T wave out: its end sits at (template T end - RR) in this window.
    t_end_g = _nanpct(DT.lead["t_off"][usable], 80.0, axis=0)[0]
    short_rr = float(np.percentile(prev_r[np.isfinite(prev_r)], 10)) if nb > 2 else dom_rr
    if np.isfinite(t_end_g):
        p_start = max(p_start, int(t_end_g - short_rr + 20 * ms))
    p_start = min(p_start, int(DT.glob["qrs_on"][0] - 80 * ms))
    p_stop = int(DT.glob["qrs_on"][0] - 10 * ms)
    p_start = max(p_start, 0)
    # Smooth only inside the window (no leak from the QRS) and remove the line joining the
    # window ends (T-wave tail, residual wander), then compare beats with the median.
    seg = smooth(Xw[usable][:, :, p_start:p_stop], max(1, int(round(8 * ms))), axis=2)
    if seg.shape[2] >= 2:
        ramp = np.linspace(0.0, 1.0, seg.shape[2])
        seg = seg - (seg[:, :, :1] * (1 - ramp) + seg[:, :, -1:] * ramp)
    flat = np.transpose(seg, (1, 0, 2)).reshape(nb, -1)
    tmpl_p = median_along(flat[dominant], axis=0)
    tn = np.linalg.norm(tmpl_p)
    norms = np.linalg.norm(flat, axis=1)
    with np.errstate(all="ignore"):
        p_corr = (flat @ tmpl_p) / np.maximum(norms * tn, 1e-12)
    amp_t = np.abs(DT.p_amp[:, 0])
    noise_t = DT.p_noise[:, 0]
    snr_ok = (amp_t >= PRESENCE["p_min_amp_mv"]) & (amp_t >= PRESENCE["p_snr"] * noise_t)
    snr_ok &= usable
    beat_has_p = (p_corr >= PRESENCE["p_beat_corr"]) & np.isfinite(lead_fid["p_peak"]).any(0)
    dom_frac = float(beat_has_p[dominant].mean()) if dominant.any() else 0.0
    p_corr_med = float(np.median(p_corr[dominant])) if dominant.any() else 0.0
    # With irregular RR intervals, P waves that drive the ventricles stay locked to the QRS
    # (sinus arrhythmia, premature beats), while fibrillation/flutter waves do not: demand more.
    pair_dom = dominant[1:] & dominant[:-1]
    cv_dom, _ = _rr_variability(rr[pair_dom])
    if irregular or cv_dom > BEAT["irregular_rr_cv"]:
        need_corr = PRESENCE["p_consistency_irregular"]
    elif usable.sum() < 6:
        # Few leads: the P window holds less signal and noise lowers every beat's correlation.
        need_corr = PRESENCE["p_consistency_few_leads"]
    else:
        need_corr = PRESENCE["p_consistency"]
    p_present = bool(
        snr_ok.any() and dom_frac >= PRESENCE["p_fraction_present"] and p_corr_med >= need_corr
    )
    g.p_wave_present = p_present
    g.p_wave_fraction = round(float(beat_has_p.mean()) if p_present else 0.0, 3)
    if not p_present:
        beat_has_p[:] = False
        for key in ("p_on", "p_peak", "p_off"):
            lead_fid[key][:] = np.nan
    else:
        for key in ("p_on", "p_peak", "p_off"):
            lead_fid[key][:, ~beat_has_p] = np.nan
            # Leads where the template P is lost in noise keep the multi-lead estimate anyway:
            # annotators mark P in every lead, and the window is already constrained.

    # ---- global fiducials per beat --------------------------------------------------------
    glob: dict[str, np.ndarray] = {"qrs_on": g_on, "qrs_off": g_off}
    for key, q in GLOBAL_PERCENTILE.items():
        if key not in glob:
            glob[key] = _nanpct(lead_fid[key], q, axis=0)
    glob["qrs_peak"] = np.full(nb, float(pre))

    starts = anchors - pre
    # Per-lead fiducials (samples in the record); None where absent.
    # (One array for all leads and kinds: NaN becomes None through an object array.)
    fid_all = np.rint(full_index(np.stack([lead_fid[key] for key in FIDUCIALS]) + starts))
    fid_obj = np.where(np.isnan(fid_all), 0, fid_all).astype(np.int64).astype(object)
    fid_obj[np.isnan(fid_all)] = None
    fid_lists = fid_obj.tolist()  # [kind][lead][beat]
    for li, name in enumerate(leads):
        res.lead_fiducials[name] = {key: fid_lists[j][li] for j, key in enumerate(FIDUCIALS)}

    # Pacing: a spike shortly before QRS onset in a sizeable share of beats.
    paced = np.zeros(nb, bool)
    if spikes.size:
        qon_abs = full_index(g_on + starts) / k
        spikes_d = spikes / k
        for b in range(nb):
            dist = qon_abs[b] - spikes_d
            paced[b] = np.any((dist >= -5 * ms) & (dist <= PACING["max_spike_to_qrs_ms"] * ms))
        g.pacing_spikes_detected = bool(paced.mean() >= PACING["min_beat_fraction"])
    if not g.pacing_spikes_detected:
        paced[:] = False

    # ---- beats ---------------------------------------------------------------------------------
    qrs_dur = (g_off - g_on) / ms
    wide = qrs_dur >= BEAT["wide_qrs_ms"]
    dom_qrs_b = _median_or_none(qrs_dur[dominant])
    # Ventricular origin: a QRS of another shape that is wide, or clearly wider than the
    # dominant one (a narrow beat of another shape is supraventricular, e.g. aberrant or
    # fusion, not ventricular).
    wider = wide & (qrs_dur >= (dom_qrs_b or 0.0)) | (
        qrs_dur >= (dom_qrs_b or np.inf) + BEAT["ventricular_extra_qrs_ms"]
    )
    # The pause after an ectopic beat must be seen: the last beat of the record has none.
    ectopic = (
        premature
        & np.isfinite(next_r)
        & (next_r - prev_r >= BEAT["ectopic_pause_ratio"] * local_rr)
    )
    # Global fiducials in seconds (rounded to 0.1 ms), None where absent, per kind.
    glob_s: dict[str, list[float | None]] = {}
    for key in ("p_on", "p_peak", "p_off", "qrs_on", "qrs_off", "t_on", "t_peak", "t_off"):
        v = glob[key]
        t_s = full_index(v + starts) / fs_full
        glob_s[key] = [
            round(float(t), 4) if ok else None for t, ok in zip(t_s, np.isfinite(v), strict=True)
        ]
    for b in range(nb):
        if paced[b]:
            cls = "paced"
        elif dominant[b]:
            cls = "dominant"
        elif (
            not same_shape[b]
            and wider[b]
            # A wide beat of another shape is ventricular when premature; when it is not, only
            # if no P wave leads it (a P at a conducting PR makes it a conducted beat with
            # intermittent aberration/bundle branch block, not a ventricular ectopic).
            and (
                premature[b]
                or (np.isfinite(next_r[b]) and next_r[b] > prev_r[b] and not beat_has_p[b])
            )
        ):
            cls = "premature_ventricular"
        else:
            cls = "other"  # premature supraventricular runs are named below

        beat = Beat(
            index=b,
            r_peak_s=round(float(full_index(anchors[b])) / fs_full, 4),
            rr_prev_ms=_r1(prev_r[b] / ms) if np.isfinite(prev_r[b]) else None,
            rr_next_ms=_r1(next_r[b] / ms) if np.isfinite(next_r[b]) else None,
            beat_class=cls,
            wide_qrs=bool(wide[b]),
            p_onset_s=glob_s["p_on"][b],
            p_peak_s=glob_s["p_peak"][b],
            p_offset_s=glob_s["p_off"][b],
            qrs_onset_s=glob_s["qrs_on"][b],
            qrs_offset_s=glob_s["qrs_off"][b],
            t_onset_s=glob_s["t_on"][b],
            t_peak_s=glob_s["t_peak"][b],
            t_offset_s=glob_s["t_off"][b],
            p_present=bool(beat_has_p[b]),
        )
        if beat.p_onset_s is not None and beat.qrs_onset_s is not None:
            beat.pr_interval_ms = _r1((beat.qrs_onset_s - beat.p_onset_s) * 1000)
        beat.qrs_duration_ms = _r1(float(qrs_dur[b]))
        if beat.t_offset_s is not None and beat.qrs_onset_s is not None:
            beat.qt_interval_ms = _r1((beat.t_offset_s - beat.qrs_onset_s) * 1000)
        res.beats.append(beat)
    _name_supraventricular_runs(res.beats, premature, ectopic, irregular)
    g.n_premature_supraventricular = sum(
        b.beat_class == "premature_supraventricular" for b in res.beats
    )
    g.n_premature_ventricular = sum(b.beat_class == "premature_ventricular" for b in res.beats)
    g.n_paced = sum(b.beat_class == "paced" for b in res.beats)

    # Whole-record atrial analysis (P waves anywhere in the cycle, flutter, AV relation):
    # overrides the beat-locked view below only where it is confident (``_apply_atrial``).
    if atrial_analysis is None:
        atrial_analysis = ATRIAL_ANALYSIS_DEFAULT
    atr: AtrialActivity | None = None
    if atrial_analysis:
        atr = analyse_atrial_activity(
            clean,
            fs,
            leads,
            anchors,
            glob["qrs_on"] + starts,
            glob["qrs_off"] + starts,
            glob["t_off"] + starts,
            usable,
        )
    # A confident P:QRS from it makes the engine's own matched-filter count unnecessary.
    atr_ratio_known = (
        atr is not None
        and atr.atrial_activity == "p_waves"
        and atr.p_waves_per_qrs is not None
        and atr.confidence >= ATRIAL_OVERRIDE["block_confidence"]
    )
    # ---- record intervals (dominant beats) --------------------------------------------------
    dom_idx = np.flatnonzero(dominant | paced)
    pr = np.array([res.beats[b].pr_interval_ms or np.nan for b in dom_idx], float)
    g.qrs_duration_ms = _r1(_median_or_none(qrs_dur[dom_idx]))
    # QT: median over every beat whose QRS is not markedly wider than the dominant one (beats of
    # ventricular origin have their own, longer QT). Premature and "other" beats are kept: their
    # T waves are delineated individually, which makes the median robust to a median beat whose
    # T wave is blurred by an irregular rhythm.
    dom_qrs = _median_or_none(qrs_dur[dominant]) or float(np.median(qrs_dur))
    qt_idx = np.flatnonzero(qrs_dur <= dom_qrs + BEAT["qt_max_extra_qrs_ms"])
    qt = np.array([res.beats[b].qt_interval_ms or np.nan for b in qt_idx], float)
    g.qt_interval_ms = _r1(_median_or_none(qt))
    if p_present:
        g.pr_interval_ms = _r1(_median_or_none(pr))
        prv = pr[np.isfinite(pr)]
        g.pr_interval_sd_ms = _r1(float(np.std(prv))) if prv.size >= 2 else None
        pdur = (glob["p_off"] - glob["p_on"])[dom_idx] / ms
        g.p_duration_ms = _r1(_median_or_none(pdur))
        if prv.size >= 3:
            steps = np.diff(prv)
            if g.pr_interval_sd_ms is not None and g.pr_interval_sd_ms < 15:
                g.pr_progression = "constant"
            elif np.mean(steps > 0) >= 0.6:
                g.pr_progression = "prolonging"
            elif g.pr_interval_sd_ms is not None and g.pr_interval_sd_ms > 40:
                g.pr_progression = "dissociated"
            else:
                g.pr_progression = "variable"
        g.atrial_activity = "p_waves"
        g.atrial_rate_bpm = g.heart_rate_bpm
        g.p_waves_per_qrs = 1.0 if g.p_wave_fraction and g.p_wave_fraction >= 0.9 else None
        if g.p_waves_per_qrs is None:
            g.reasons["p_waves_per_qrs"] = "P waves not found before every QRS"
        # The four leads with the largest P waves carry the matched filter (and keep it cheap).
        p_rank = np.argsort(-np.where(usable, np.abs(DT.p_amp[:, 0]), -1.0))[:4]
        p_leads = np.zeros_like(usable)
        p_leads[p_rank[usable[p_rank]]] = True
        extra = None
        if not atr_ratio_known:
            extra = _count_atrial_waves(
                clean[p_leads], fs, anchors, Tw[p_leads, 0, :], pre, DT, p_leads
            )
        if extra is not None:
            # More regular P waves than QRS complexes: non-conducted P waves (AV block).
            g.p_waves_per_qrs, g.atrial_rate_bpm = extra
            g.reasons.pop("p_waves_per_qrs", None)
    else:
        for key in ("pr_interval_ms", "p_duration_ms", "p_axis_deg", "pr_progression"):
            g.reasons[key] = "no P waves detected"
        g.reasons["atrial_rate_bpm"] = "no P waves detected"
        # Flutter waves are regular whatever the ventricular response: flutter with variable
        # AV conduction gives an irregular RR, so the atrial residual is examined either way
        # (its concentration and lead-agreement tests keep coarse fibrillation out).
        kind, flutter_hz = _atrial_residual_peak(clean[usable], fs, anchors, Tw[usable, 0, :], pre)
        # An irregular ventricular response is flutter only when its RR intervals are whole
        # numbers of F-F cycles (variable block); otherwise the periodic residual is coarse
        # fibrillation.
        if kind and irregular and not rr_in_whole_flutter_cycles(rr / fs, flutter_hz):
            kind = None
        if kind == "flutter" and flutter_hz:
            g.atrial_rate_bpm = _r1(60.0 * flutter_hz)  # the F-wave rate
            g.reasons.pop("atrial_rate_bpm", None)
        if kind:
            g.atrial_activity = kind
        elif irregular:
            g.atrial_activity = "fibrillatory"
        else:
            g.atrial_activity = "none"
    if atr is not None:
        p_present = _apply_atrial(res, atr, p_present)
    if g.qt_interval_ms is not None and g.rr_mean_ms:
        rr_s = g.rr_mean_ms / 1000.0
        hr = 60.0 / rr_s
        qt_ms = g.qt_interval_ms
        g.qtc_bazett_ms = _r1(qt_ms / math.sqrt(rr_s))
        g.qtc_fridericia_ms = _r1(qt_ms / rr_s ** (1.0 / 3.0))
        g.qtc_framingham_ms = _r1(qt_ms + 154.0 * (1.0 - rr_s))
        g.qtc_hodges_ms = _r1(qt_ms + 1.75 * (hr - 60.0))
    else:
        for key in ("qt_interval_ms", "qtc_bazett_ms", "qtc_fridericia_ms"):
            g.reasons[key] = "T-wave end not found"

    # ---- per-lead measurements on the median beat (full rate) ---------------------------------
    anchors_full = np.rint(full_index(anchors)).astype(int)
    pre_full = pre * k

    def tmpl_full(v: float) -> float:
        return float(v * k + half_block)

    tg: dict[str, float | None] = {}
    for key in ("qrs_on", "qrs_off", "p_on", "p_off", "t_on", "t_off"):
        v = _nanpct(DT.lead[key][usable], GLOBAL_PERCENTILE[key], axis=0)[0]
        if not np.isfinite(v) and key in DT.glob:
            v = DT.glob[key][0]
        tg[key] = tmpl_full(v) if np.isfinite(v) and (p_present or key[0] != "p") else None
    # Global P limits of the dominant beats (median over beats), in template samples.
    p_lim: tuple[float, float] | None = None
    if p_present:
        lim_on = _median_or_none(glob["p_on"][dom_idx])
        lim_off = _median_or_none(glob["p_off"][dom_idx])
        if lim_on is not None and lim_off is not None and lim_off > lim_on:
            p_lim = (tmpl_full(lim_on), tmpl_full(lim_off))
    Tw_full = _full_rate_median_beat(
        clean_full,
        anchors_full[dominant],
        pre_full,
        post * k,
        Tw,
        k,
        half_block,
        DT,
        tg,
        usable,
        ms_full,
    )
    nets: dict[str, dict[str, float | None]] = {"qrs": {}, "p": {}, "t": {}}
    for li, name in enumerate(leads):
        if not usable[li]:
            lm = lead_measurements(np.zeros(1), fs_full, {}, {}, False)
            lm.reasons = {"lead": "lead unusable: " + "; ".join(res.quality.leads[name].reasons)}
            res.lead_measurements[name] = lm
            continue
        y = Tw_full[li]
        fid = {
            key: (tmpl_full(DT.lead[key][li, 0]) if np.isfinite(DT.lead[key][li, 0]) else None)
            for key in FIDUCIALS
        }
        if not p_present:
            fid["p_on"] = fid["p_off"] = fid["p_peak"] = None
        elif p_lim is not None:
            # No lead's P wave starts before the global (earliest) P onset or ends after the
            # global (latest) P offset of the beats: a single-lead boundary beyond them is a
            # T-wave tail or PR-segment drift (e.g. a 300 ms "P wave"), not atrial activity.
            on_l = fid["p_on"] if fid["p_on"] is not None else tg["p_on"]
            off_l = fid["p_off"] if fid["p_off"] is not None else tg["p_off"]
            on_l, off_l = max(on_l, p_lim[0]), min(off_l, p_lim[1])
            if off_l - on_l < 0.5 * (p_lim[1] - p_lim[0]):
                on_l, off_l = p_lim
            fid["p_on"], fid["p_off"] = on_l, off_l
        lm = lead_measurements(y, fs_full, fid, tg, p_present)
        res.lead_measurements[name] = lm
        b_end = max(1, int(tg["qrs_on"] - 4 * ms_full))
        base = float(np.mean(y[max(0, b_end - int(20 * ms_full)) : b_end]))
        nets["qrs"][name] = wave_area(y, tg["qrs_on"], tg["qrs_off"], base)
        nets["t"][name] = wave_area(y, tg["qrs_off"], tg["t_off"], base)
        nets["p"][name] = wave_area(y, tg.get("p_on"), tg.get("p_off"), base)
    for wave, attr in (("qrs", "qrs_axis_deg"), ("t", "t_axis_deg"), ("p", "p_axis_deg")):
        if wave == "p" and not p_present:
            continue
        axis = frontal_axis(nets[wave])
        setattr(g, attr, axis)
        if axis is None:
            g.reasons[attr] = "fewer than two usable limb leads with a measurable wave"
    _voltage_criteria(res)
    _delta_waves(res, Tw_full, tg, fs_full, usable)
    if not g.p_wave_present:
        g.reasons.setdefault("p_wave_present", "no consistent P wave before the QRS complexes")
    return res


def _apply_atrial(res: MeasurementResult, atr: AtrialActivity, p_present: bool) -> bool:
    """Take over the atrial fields from :func:`analyse_atrial_activity` where it is confident.

    Rules (see ``ATRIAL_OVERRIDE``): flutter only with a regular or regularly irregular
    ventricular response; non-conducted P waves (P:QRS > 1, AV block) with their rate, ratio and
    PR progression; a confident 1:1 relation fills a missing P:QRS. Fibrillatory, "none" and
    undecided results never override. Returns whether P waves are present afterwards.
    """
    g = res.global_
    conf = float(atr.confidence)
    if (
        atr.atrial_activity == "flutter"
        and conf >= ATRIAL_OVERRIDE["flutter_confidence"]
        and g.rr_irregularity != "irregularly_irregular"
    ):
        g.atrial_activity = "flutter"
        g.atrial_rate_bpm = _r1(atr.atrial_rate_bpm)
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
        return False
    ratio = atr.p_waves_per_qrs
    if (
        atr.atrial_activity == "p_waves"
        and ratio is not None
        and ratio >= ATRIAL_OVERRIDE["min_block_ratio"]
        and conf >= ATRIAL_OVERRIDE["block_confidence"]
    ):
        g.atrial_activity = "p_waves"
        g.atrial_rate_bpm = _r1(atr.atrial_rate_bpm)
        g.p_waves_per_qrs = round(float(ratio), 2)
        g.pr_progression = atr.pr_progression
        g.p_wave_present = True
        prs = [float(v) for v in atr.pr_intervals_ms if v is not None]
        n_waves = atr.atrial_wave_samples.size + atr.hidden_wave_samples.size
        g.p_wave_fraction = round(min(1.0, len(prs) / max(n_waves, 1)), 3)
        if prs:
            pr = min(prs) if atr.pr_progression in ("constant", "prolonging") else None
            if pr is not None:
                g.pr_interval_ms = _r1(pr)
            elif atr.pr_progression == "dissociated":
                g.pr_interval_ms = None
                g.reasons["pr_interval_ms"] = "P waves dissociated from the QRS complexes"
        if g.rr_irregularity == "irregularly_irregular":
            g.rr_irregularity = "regularly_irregular"
        for key in ("p_waves_per_qrs", "atrial_rate_bpm", "pr_progression", "p_wave_present"):
            g.reasons.pop(key, None)
        if g.pr_interval_ms is not None:
            g.reasons.pop("pr_interval_ms", None)
        return True
    if (
        ratio is not None
        and abs(ratio - 1.0) < 1e-9
        and conf >= ATRIAL_OVERRIDE["block_confidence"]
        and g.p_waves_per_qrs is None
        and p_present
    ):
        g.p_waves_per_qrs = 1.0
        g.reasons.pop("p_waves_per_qrs", None)
    return p_present


def _name_supraventricular_runs(
    beats: list[Beat], premature: np.ndarray, ectopic: np.ndarray, irregular: bool
) -> None:
    """Class premature supraventricular beats, single or in runs (couplets, salvos).

    Prematurity is relative to the sinus (dominant) cycle, so a run must start right after a
    dominant beat (after a ventricular beat the short interval is that beat's, e.g. an
    interpolated PVC; after an unclassified beat the expected cycle is unknown). A run is the
    consecutive premature beats not otherwise classed, and it must end with the pause of an
    ectopic beat (the sinus node reset), which an isolated PAC shows after itself. Nothing is
    named in an irregularly irregular rhythm.
    """
    if irregular:
        return
    b, nb = 1, len(beats)
    while b < nb:
        start = b
        while b < nb and beats[b].beat_class == "other" and premature[b]:
            b += 1
        if b > start and beats[start - 1].beat_class == "dominant" and ectopic[b - 1]:
            for i in range(start, b):
                beats[i].beat_class = "premature_supraventricular"
        b = max(b, start + 1)


def _full_rate_median_beat(
    clean_full: np.ndarray,
    dominant_anchors: np.ndarray,
    pre_full: int,
    post_full: int,
    tw: np.ndarray,
    k: int,
    half_block: float,
    dt: Delineation,
    tg: dict[str, float | None],
    usable: np.ndarray,
    ms_full: float,
) -> np.ndarray:
    """Median dominant beat at the full sampling rate, (leads, pre_full + post_full).

    The per-lead measurements read the median beat only between the earliest and the latest
    fiducial of the template (P onset ... T offset, plus the PR-segment baseline and J + 80 ms),
    so the median over beats, the costliest step here, is taken on that span only (with a
    ``SPAN_MARGIN_MS`` margin); outside it the window holds the edge values of the span.
    """
    if k == 1:
        return tw[:, 0, :]
    width = pre_full + post_full
    marks = [v for v in tg.values() if v is not None]
    for key in FIDUCIALS:
        v = dt.lead[key][usable, 0]
        v = v[np.isfinite(v)]
        if v.size:
            marks += [float(v.min() * k + half_block), float(v.max() * k + half_block)]
    margin = int(round(SPAN_MARGIN_MS * ms_full))
    lo = max(0, int(min(marks)) - margin) if marks else 0
    hi = min(width, int(max(marks)) + margin + 1) if marks else width
    if hi - lo < 2:
        lo, hi = 0, width
    wf = beat_windows(clean_full, dominant_anchors, pre_full - lo, hi - pre_full)
    span = median_along(wf, axis=1)
    return np.pad(span, ((0, 0), (lo, width - hi)), mode="edge")


def _delta_waves(
    res: MeasurementResult,
    templates: np.ndarray,
    tg: dict[str, float | None],
    fs: float,
    usable: np.ndarray,
) -> None:
    """Per-lead delta wave: short PR, wide QRS and a slow, yet real, initial QRS deflection."""
    g = res.global_
    if g.pr_interval_ms is None or g.qrs_duration_ms is None or tg.get("qrs_on") is None:
        g.reasons["delta_wave_leads"] = "needs PR interval and QRS duration"
        for name in res.leads:
            res.lead_measurements[name].reasons.setdefault(
                "delta_wave", "needs PR interval and QRS duration"
            )
        return
    criteria = g.pr_interval_ms < DELTA["max_pr_ms"] and g.qrs_duration_ms >= DELTA["min_qrs_ms"]
    on, off = int(tg["qrs_on"]), int(tg["qrs_off"])
    k = max(2, int(DELTA["initial_ms"] * fs / 1000))
    found = []
    for li, name in enumerate(res.leads):
        lm = res.lead_measurements[name]
        if not usable[li]:
            continue
        if not criteria:
            lm.delta_wave = False
            continue
        y = templates[li]
        seg = y[on : off + 1]
        if seg.size <= k + 2:
            lm.delta_wave = None
            lm.reasons["delta_wave"] = "QRS too short to judge"
            continue
        slope = np.abs(np.diff(seg))
        initial = float(slope[:k].mean())
        steepest = float(slope.max())
        rise = abs(float(seg[k] - seg[0]))
        lm.delta_wave = bool(
            steepest > 0
            and initial < DELTA["max_slope_ratio"] * steepest
            and rise >= DELTA["min_initial_mv"]
        )
        if lm.delta_wave:
            found.append(name)
    g.delta_wave_leads = found


def _voltage_criteria(res: MeasurementResult) -> None:
    """Sokolow-Lyon, Cornell voltage/product and maximal QRS voltages."""
    g = res.global_
    lm = res.lead_measurements

    def amp(lead: str, key: str) -> float | None:
        m = lm.get(lead)
        if m is None or getattr(m, key) is None:
            return None
        return abs(float(getattr(m, key)))

    def measured(lead: str) -> LeadMeasurements | None:
        m = lm.get(lead)
        return None if m is None or m.qrs_peak_to_peak_mv is None else m

    def s_or_zero(lead: str) -> float | None:
        m = measured(lead)
        if m is None:
            return None
        if m.qrs_morphology == "QS":
            return abs(m.q_amplitude_mv or 0.0)
        return abs(m.s_amplitude_mv) if m.s_amplitude_mv is not None else 0.0

    def r_or_zero(lead: str) -> float | None:
        m = measured(lead)
        if m is None:
            return None
        return float(m.r_amplitude_mv or 0.0)

    sv1, rv5, rv6 = s_or_zero("V1"), r_or_zero("V5"), r_or_zero("V6")
    if sv1 is not None and (rv5 is not None or rv6 is not None):
        g.sokolow_lyon_mv = round(sv1 + max(v for v in (rv5, rv6) if v is not None), 3)
    else:
        g.reasons["sokolow_lyon_mv"] = "needs V1 and V5 or V6"
    rv1, sv5, sv6 = r_or_zero("V1"), s_or_zero("V5"), s_or_zero("V6")
    if rv1 is not None and (sv5 is not None or sv6 is not None):
        g.sokolow_lyon_rvh_mv = round(rv1 + max(v for v in (sv5, sv6) if v is not None), 3)
    else:
        g.reasons["sokolow_lyon_rvh_mv"] = "needs V1 and V5 or V6"
    ravl, sv3 = r_or_zero("aVL"), s_or_zero("V3")
    if ravl is not None and sv3 is not None:
        g.cornell_voltage_mv = round(ravl + sv3, 3)
        sex = (res.sex or "").upper()[:1]
        if g.qrs_duration_ms is not None and sex in {"M", "F"}:
            adj = 0.6 if sex == "F" else 0.0  # Cornell product adds 6 mm in women
            g.cornell_product_mv_ms = round((g.cornell_voltage_mv + adj) * g.qrs_duration_ms, 1)
        else:
            g.reasons["cornell_product_mv_ms"] = "needs sex and QRS duration"
    else:
        g.reasons["cornell_voltage_mv"] = "needs aVL and V3"
        g.reasons["cornell_product_mv_ms"] = "needs aVL and V3"
    limb = [lm[k].qrs_peak_to_peak_mv for k in ("I", "II", "III", "aVR", "aVL", "aVF") if k in lm]
    limb = [v for v in limb if v is not None]
    prec = [lm[k].qrs_peak_to_peak_mv for k in ("V1", "V2", "V3", "V4", "V5", "V6") if k in lm]
    prec = [v for v in prec if v is not None]
    g.max_limb_qrs_peak_to_peak_mv = max(limb) if limb else None
    g.max_precordial_qrs_peak_to_peak_mv = max(prec) if prec else None
