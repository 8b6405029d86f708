"""Regularity of the underlying rhythm, judged between non-ectopic beats.

The record-level ``rr_irregularity`` (:func:`ecgr1.measure.beats.rr_statistics`) uses every RR
interval, so ventricular bigeminy (short coupling interval, long compensatory pause, again and
again) or a few premature beats make a sinus rhythm look "irregularly irregular". Rhythm
statements about the atria (atrial fibrillation above all) must be judged on the intervals
between consecutive non-ectopic beats (the "NN" intervals of heart-rate-variability practice):
an interval that starts or ends at a premature or paced beat says nothing about the underlying
rhythm.

Example
-------
>>> from ecgr1.measure.result import Beat
>>> rr = [640, 1108] * 6                       # ventricular bigeminy
>>> classes = ["dominant", "premature_ventricular"] * 6 + ["dominant"]
>>> beats = [Beat(index=i, r_peak_s=0.0, rr_prev_ms=None if i == 0 else rr[i - 1],
...               beat_class=c) for i, c in enumerate(classes)]
>>> underlying_rr_irregularity(beats) is None  # no interval between two sinus beats
True
"""

from __future__ import annotations

from collections.abc import Sequence

from ecgr1.measure.beats import classify_rr_irregularity
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.measure.result import Beat

__all__ = [
    "classify_rr_irregularity",
    "sinus_cycle_range_ms",
    "underlying_rr_intervals",
    "underlying_rr_irregularity",
]

# Beat classes whose adjacent intervals do not belong to the underlying rhythm.
ECTOPIC_CLASSES = frozenset({"premature_ventricular", "premature_supraventricular", "paced"})
# Fewest intervals between non-ectopic beats from which regularity is judged.
MIN_UNDERLYING_INTERVALS = 4
# Sinus-cycle variation is judged per 10-s strip, like a standard ECG.
SINUS_CYCLE_WINDOW_S = 10.0
# Fewest sinus cycles in a strip from which its variation is judged.
MIN_SINUS_CYCLES = 3


def underlying_rr_intervals(beats: Sequence[Beat]) -> list[float]:
    """RR intervals (ms) whose both ends are non-ectopic beats, in order."""
    out = []
    for prev, cur in zip(beats[:-1], beats[1:], strict=False):
        if cur.rr_prev_ms is None:
            continue
        if prev.beat_class in ECTOPIC_CLASSES or cur.beat_class in ECTOPIC_CLASSES:
            continue
        out.append(float(cur.rr_prev_ms))
    return out


def underlying_rr_irregularity(
    beats: Sequence[Beat], *, config: MeasureConfig = DEFAULT_CONFIG
) -> str | None:
    """Regularity class of the rhythm between non-ectopic beats.

    Without ectopic beats this equals the class of all RR intervals. With ectopic beats, the
    intervals touching them are left out; None when fewer than
    :data:`MIN_UNDERLYING_INTERVALS` intervals remain (e.g. bigeminy), because then the
    underlying rhythm cannot be judged from RR intervals. The thresholds are those of
    :func:`~ecgr1.measure.beats.classify_rr_irregularity` (``config.beat``).
    """
    rr = underlying_rr_intervals(beats)
    has_ectopy = any(b.beat_class in ECTOPIC_CLASSES for b in beats)
    if has_ectopy and len(rr) < MIN_UNDERLYING_INTERVALS:
        return None
    return classify_rr_irregularity(rr, config=config)


def _sinus_cycle_ms(prev: Beat, cur: Beat) -> float | None:
    """The sinus cycle ending at ``cur``: the P-P interval where both P waves were measured
    (sinus arrhythmia is a variation of the P-P interval; a changing PR must not count), the
    R-R interval otherwise (equal to it with 1:1 conduction at a constant PR)."""
    if prev.p_onset_s is not None and cur.p_onset_s is not None:
        return 1000.0 * (cur.p_onset_s - prev.p_onset_s)
    return None if cur.rr_prev_ms is None else float(cur.rr_prev_ms)


def sinus_cycle_range_ms(
    beats: Sequence[Beat], *, config: MeasureConfig = DEFAULT_CONFIG
) -> float | None:
    """Range (longest - shortest) of the sinus cycles between consecutive dominant beats, per
    10-s strip; the median over strips for longer records (so that slow rate drifts over
    minutes are not mistaken for phasic sinus arrhythmia).

    Cycles that start or end at a premature, paced or unclassified beat are left out: the
    coupling interval of a premature beat and the pause after it are not sinus cycles
    (Surawicz & Knilans, Chou's Electrocardiography: sinus arrhythmia is a variation of the P-P
    interval of sinus beats above 0.16 s). So are pauses, cycles of at least
    ``beat.pause_rr_ratio`` times the strip's median: a beat missed, blocked or hidden (a
    sinus pause, an undetected PVC) doubles one cycle, and sinus arrhythmia is a gradual,
    phasic variation.

    >>> rr = [800, 900, 1000, 900, 800]
    >>> beats, t = [Beat(index=0, r_peak_s=0.0, p_onset_s=-0.15)], 0.0
    >>> for i, x in enumerate(rr, start=1):
    ...     t += x / 1000
    ...     beats.append(Beat(index=i, r_peak_s=t, rr_prev_ms=x, p_onset_s=t - 0.15))
    >>> round(sinus_cycle_range_ms(beats))
    200
    >>> beats[3].p_onset_s -= 0.05  # a longer PR: the P-P cycles (950, 950), not the R-R
    >>> round(sinus_cycle_range_ms(beats))
    150
    """
    strips: dict[int, list[float]] = {}
    for prev, cur in zip(beats[:-1], beats[1:], strict=False):
        if prev.beat_class != "dominant" or cur.beat_class != "dominant":
            continue
        cycle = _sinus_cycle_ms(prev, cur)
        if cycle is not None:
            strips.setdefault(int(cur.r_peak_s // SINUS_CYCLE_WINDOW_S), []).append(cycle)
    pause = config.beat["pause_rr_ratio"]
    ranges = []
    for cycles in strips.values():
        limit = pause * sorted(cycles)[len(cycles) // 2]  # once per strip
        usual = [c for c in cycles if c < limit]
        if len(usual) >= MIN_SINUS_CYCLES:
            ranges.append(max(usual) - min(usual))
    if not ranges:
        return None
    return float(sorted(ranges)[len(ranges) // 2])
