"""Pacemaker stimuli: spikes on the raw signal, their removal, and paced beats.

Spikes are found on the raw signal (before any filter could smear them) as very sharp, short
deflections in several leads at once, and bridged by straight lines so that they neither become
"QRS complexes" nor ring through the filters. In dual-chamber pacing the beat anchors are then
aligned with the ventricular stimuli (an atrial event the QRS detector picked up is dropped),
and a beat is paced when a spike comes shortly before its QRS onset.

Thresholds are ``config.pacing`` (:class:`~ecgr1.measure.config.MeasureConfig`); sample indices
are at the rate ``fs`` given to each function.
"""

from __future__ import annotations

import numpy as np

from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.signal.stats import percentile_along


def detect_pacing_spikes(
    raw: np.ndarray, fs: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Sample indices of pacemaker spikes (very sharp, short deflections in the raw signal)."""
    pacing = config.pacing
    x = np.atleast_2d(np.asarray(raw, float))
    if x.shape[1] < 5:
        return np.zeros(0, int)
    # Curvature per sample (second difference): a spike is a one-or-two-sample jump and back.
    # (x[2:] - 2 x[1:-1]) + x[:-2], evaluated in place in that order.
    d2 = 2.0 * x[:, 1:-1]
    np.subtract(x[:, 2:], d2, out=d2)
    d2 += x[:, :-2]
    np.abs(d2, out=d2)
    if not np.any(d2 > pacing["spike_abs_mv"]):
        return np.zeros(0, int)
    need = 2 if x.shape[0] >= 3 else 1
    p99 = spike_free_p99(d2, fs, config=config)
    thr = np.maximum(pacing["spike_abs_mv"], pacing["spike_rel_p99"] * p99)
    hits = (d2 > thr).sum(axis=0)
    idx = np.flatnonzero(hits >= need) + 1
    if idx.size:
        idx = idx[np.concatenate(([True], np.diff(idx) > int(0.02 * fs)))]
    return idx


def spike_free_p99(
    d2: np.ndarray, fs: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Each lead's 99th percentile of the curvature ``d2`` (leads, samples), the reference a
    spike must stand ``pacing.spike_rel_p99`` times above, as a column.

    The reference is the sharpest 1 % of the signal (QRS notches, noise). A pacemaker whose
    large stimulus artefact rings for several samples (10 samples per stimulus at 60 /min is
    2 % of a record) fills that 1 % with its own stimuli and would hide every one of them; so
    the samples where two leads or more curve more than
    ``pacing.spike_certain_mv`` (unmistakable stimuli) and the ``pacing.blank_after_ms`` after
    them are left out of it.

    >>> d2 = np.full((2, 1000), 0.01)
    >>> ring = np.array([5.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.8, 0.6, 0.4, 0.2])
    >>> for s in range(50, 1000, 100):
    ...     d2[:, s : s + 10] = ring                # 10 stimuli ringing for 10 samples
    >>> float(np.percentile(d2[0], 99)) > 1.0      # the plain reference: on the stimuli
    True
    >>> spike_free_p99(d2, 500.0).ravel().tolist()
    [0.01, 0.01]
    """
    pacing = config.pacing
    # Two leads at least, even where one lead detects spikes: one lead's glitch is not
    # unmistakable.
    certain = (d2 > pacing["spike_certain_mv"]).sum(axis=0) >= 2
    rest = d2
    if certain.any():
        after = max(1, int(round(pacing["blank_after_ms"] * fs / 1000.0)))
        # Each certain sample and the samples up to ``after`` later.
        covered = np.convolve(certain.astype(float), np.ones(after + 1))[: certain.size] > 0
        if (~covered).sum() >= 100:  # too few samples left: the plain reference
            rest = d2[:, ~covered]
    return percentile_along(rest[:, ::2], 99, axis=1)[:, None]


def blank_spikes(
    raw: np.ndarray, fs: float, spikes: np.ndarray, *, config: MeasureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Replace [spike - 4 ms, spike + ``pacing.blank_after_ms``] by a straight line (all leads)."""
    x = np.array(raw, dtype=np.float64, copy=True)
    n = x.shape[1]
    before = max(1, int(round(0.004 * fs)))
    after = max(2, int(round(config.pacing["blank_after_ms"] * fs / 1000)))
    for s in spikes:
        a, b = max(0, s - before), min(n - 1, s + after)
        if b - a < 2:
            continue
        ramp = np.linspace(0.0, 1.0, b - a + 1)
        x[:, a : b + 1] = x[:, a : a + 1] * (1 - ramp) + x[:, b : b + 1] * ramp
    return x


def atrial_events_before_paced_qrs(
    anchors: np.ndarray, spikes: np.ndarray, fs: float, *, config: MeasureConfig = DEFAULT_CONFIG
) -> np.ndarray:
    """Which detected "beats" are atrial events (an atrial pacing stimulus, the atrial wave it
    paces) followed, after an AV delay, by a ventricular stimulus that captures.

    A ventricular pacemaker is inhibited by a sensed QRS, and the ventricles cannot be
    captured again within their refractory period; so when a pacing spike followed by a QRS
    comes one AV delay (``pacing.av_delay_min_ms`` to ``pacing.av_delay_max_ms``) after a
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
    pacing = config.pacing
    anchors = np.asarray(anchors)
    out = np.zeros(anchors.size, bool)
    if anchors.size < 2 or len(spikes) == 0:
        return out
    ms = fs / 1000.0
    lo_av, hi_av = pacing["av_delay_min_ms"], pacing["av_delay_max_ms"]
    spikes = np.sort(np.asarray(spikes, float))
    for i in range(anchors.size - 1):
        a, nxt = float(anchors[i]), float(anchors[i + 1])
        # A stimulus one AV delay after this detection, captured by the next detection (the
        # paced QRS peaks at most max_spike_to_peak_ms after its stimulus).
        cand = spikes[(spikes >= a + lo_av * ms) & (spikes <= a + hi_av * ms) & (spikes < nxt)]
        out[i] = bool(np.any(nxt - cand <= pacing["max_spike_to_peak_ms"] * ms))
    return out


def align_anchors_to_pacing(
    anchors: np.ndarray,
    spikes: np.ndarray,
    x: np.ndarray,
    fs: float,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> np.ndarray:
    """Beat anchors of a paced record: one at each captured ventricular stimulus, none at the
    atrial events of dual-chamber pacing.

    The QRS detector keeps the larger of two candidates closer than the refractory period, and
    a blurred atrial stimulus can out-size the wide paced QRS that follows it one AV delay
    later. So: a stimulus followed within ``pacing.max_spike_to_peak_ms`` by QRS-sized
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
    reach = int(config.pacing["max_spike_to_peak_ms"] * ms)
    refractory = int(config.beat["refractory_ms"] * ms)
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
    return anchors[~atrial_events_before_paced_qrs(anchors, spikes, fs, config=config)]


def spike_in_window(
    spikes: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, last: bool = True
) -> np.ndarray:
    """Per window [``lo``, ``hi``] (positions at one rate, ``spikes`` at the same): the last (or,
    with ``last=False``, the first) spike inside it, NaN where none.

    >>> spike_in_window(np.array([95.0, 345.0]), np.array([40.0, 300.0, 500.0]),
    ...                 np.array([100.0, 350.0, 600.0])).tolist()
    [95.0, 345.0, nan]
    """
    s = np.sort(np.asarray(spikes, float))
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    out = np.full(lo.shape, np.nan)
    if s.size == 0:
        return out
    if last:
        i = np.searchsorted(s, hi, side="right") - 1
        ok = i >= 0
    else:
        i = np.searchsorted(s, lo, side="left")
        ok = i < s.size
    cand = s[np.clip(i, 0, s.size - 1)]
    ok &= (cand >= lo) & (cand <= hi)
    out[ok] = cand[ok]
    return out


def paced_beats(
    spikes_detect: np.ndarray,
    qrs_on_detect: np.ndarray,
    ms_detect: float,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> tuple[np.ndarray, bool]:
    """(paced mask, whether the record is paced): a beat is paced when a spike comes at most
    ``pacing.max_spike_to_qrs_ms`` before (or 5 ms after) its QRS onset; the record is paced when
    at least ``pacing.min_beat_fraction`` of its beats are, and otherwise no beat is.

    ``spikes_detect`` and ``qrs_on_detect`` (one per beat) are positions in the record at the
    detection rate (fractional samples), ``ms_detect`` its samples per ms.

    >>> mask, paced = paced_beats(np.array([95.0, 345.0]), np.array([100.0, 350.0, 600.0]), 0.25)
    >>> mask.tolist(), paced
    ([True, True, False], True)
    """
    nb = qrs_on_detect.size
    paced = np.zeros(nb, bool)
    if spikes_detect.size == 0:
        return paced, False
    max_before = config.pacing["max_spike_to_qrs_ms"] * ms_detect
    for b in range(nb):
        dist = qrs_on_detect[b] - spikes_detect
        paced[b] = np.any((dist >= -5 * ms_detect) & (dist <= max_before))
    detected = bool(paced.mean() >= config.pacing["min_beat_fraction"])
    if not detected:
        paced[:] = False
    return paced, detected
