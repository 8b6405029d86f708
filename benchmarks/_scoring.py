"""Scoring functions for ECG delineation benchmarks: plain functions on arrays of sample indices.

Everything here is independent of any delineator and of any data set reader, so the same code
scores the ecgr1 engine, neurokit2 and any future method, and can be unit-tested on hand-made
annotation sets (``tests/test_bench_scoring.py``).

Vocabulary
----------
fiducial kind
    One of :data:`FIDUCIAL_KINDS`: ``p_on p_peak p_off qrs_on qrs_peak qrs_off t_on t_peak t_off``.
marks
    A 1-D integer array of sample indices of one kind (expert or detected), any order.
beat table
    ``{kind: float array}`` aligned per beat (one entry per QRS complex), NaN where a fiducial is
    missing. Detectors produce these directly; expert annotations are turned into one by
    :func:`beat_table_from_waves`.

Matching rules (exactly what :func:`match_nearest` and :func:`score_kind` do)
------------------------------------------------------------------------------
* Expert marks and detections of the *same kind* are paired one-to-one: all (expert, detection)
  pairs closer than or equal to the tolerance (150 ms by default) are taken in order of increasing
  distance and accepted when neither member is already paired. Each detection is therefore paired
  with its nearest still-free expert mark, and no expert mark is counted twice.
* error = detection - expert, in milliseconds (positive: the algorithm is late).
* sensitivity = paired expert marks / expert marks.
* PPV = paired detections / (paired detections + unpaired detections inside the span), where the
  span is ``[first, last]`` expert mark of *any* kind in that lead (both ends included). Detections
  outside the span are not false positives, since the expert did not annotate there (LUDB leaves
  the first and last beat of each record unannotated).
* Pooling: errors, expert counts and detection counts are summed over all leads of all records
  before the mean, SD (``ddof=1``), sensitivity and PPV are computed.
* Best-lead scoring (QTDB, whose ``q1c`` marks are global, not per lead): each lead is paired
  one-to-one with the expert marks as above, and for each expert mark the lead whose paired
  detection is closest is kept (the classic QTDB practice of Martinez et al. 2004). An expert
  mark is detected when it is paired in at least one lead.

Intervals
---------
Per beat: P duration = P off - P on, PR = QRS on - P on, QRS duration = QRS off - QRS on,
QT = T off - QRS on, all from the same beat of the same lead. Per lead: the median over beats
where both ends exist. Record reference: the median over leads of the per-lead medians
(:func:`median_of_leads`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIDUCIAL_KINDS: tuple[str, ...] = (
    "p_on",
    "p_peak",
    "p_off",
    "qrs_on",
    "qrs_peak",
    "qrs_off",
    "t_on",
    "t_peak",
    "t_off",
)

#: Interval name -> (start kind, end kind), measured within one beat of one lead.
INTERVALS: dict[str, tuple[str, str]] = {
    "p_duration_ms": ("p_on", "p_off"),
    "pr_interval_ms": ("p_on", "qrs_on"),
    "qrs_duration_ms": ("qrs_on", "qrs_off"),
    "qt_interval_ms": ("qrs_on", "t_off"),
}

DEFAULT_TOLERANCE_MS = 150.0

# WFDB beat-label symbols that mark a QRS peak (LUDB uses only "N"; QTDB q1c also A, B, V, Q).
QRS_PEAK_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
# Wave-peak symbols of the ecgpuwave/LUDB convention; "u" waves are parsed but never scored.
_WAVE_PEAK_SYMBOLS = {"p": "p", "t": "t", "u": "u"}


@dataclass(frozen=True)
class Wave:
    """One annotated wave: its type (``"p"``, ``"qrs"``, ``"t"`` or ``"u"``) and sample indices."""

    wave: str
    peak: int
    onset: int | None = None
    offset: int | None = None


def parse_waves(samples: Sequence[int], symbols: Sequence[str]) -> list[Wave]:
    """Parse an ecgpuwave/LUDB-style annotation sequence into waves.

    A peak symbol (``p``, ``t``, ``u`` or a QRS beat label such as ``N``) starts a wave. The
    ``(`` immediately before it is that wave's onset and the ``)`` immediately after it is its
    offset; that adjacency is the convention, and it is what pairs an onset or offset with its
    wave type (``( p )`` gives P onset/peak/offset). Parentheses not adjacent to a peak (an empty
    ``()`` or a ``(`` cut by the end of the record) are ignored.

    Examples
    --------
    >>> waves = parse_waves([10, 20, 30, 40, 50, 60, 90], ["(", "p", ")", "(", "N", ")", "t"])
    >>> [(w.wave, w.onset, w.peak, w.offset) for w in waves]
    [('p', 10, 20, 30), ('qrs', 40, 50, 60), ('t', None, 90, None)]
    """
    samples = [int(s) for s in samples]
    symbols = list(symbols)
    order = np.argsort(samples, kind="stable")
    samples = [samples[i] for i in order]
    symbols = [symbols[i] for i in order]
    waves: list[Wave] = []
    for i, sym in enumerate(symbols):
        if sym in _WAVE_PEAK_SYMBOLS:
            kind = _WAVE_PEAK_SYMBOLS[sym]
        elif sym in QRS_PEAK_SYMBOLS:
            kind = "qrs"
        else:
            continue
        onset = samples[i - 1] if i > 0 and symbols[i - 1] == "(" else None
        offset = samples[i + 1] if i + 1 < len(symbols) and symbols[i + 1] == ")" else None
        waves.append(Wave(kind, samples[i], onset, offset))
    return waves


def marks_from_waves(waves: Iterable[Wave]) -> dict[str, np.ndarray]:
    """All expert marks per fiducial kind (sorted int arrays; empty when none).

    >>> m = marks_from_waves([Wave("p", 20, 10, 30), Wave("qrs", 50, 40, None)])
    >>> m["p_on"].tolist(), m["qrs_off"].tolist(), m["t_peak"].tolist()
    ([10], [], [])
    """
    out: dict[str, list[int]] = {k: [] for k in FIDUCIAL_KINDS}
    for w in waves:
        if w.wave not in ("p", "qrs", "t"):
            continue
        out[f"{w.wave}_peak"].append(w.peak)
        if w.onset is not None:
            out[f"{w.wave}_on"].append(w.onset)
        if w.offset is not None:
            out[f"{w.wave}_off"].append(w.offset)
    return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in out.items()}


def beat_table_from_waves(waves: Sequence[Wave]) -> dict[str, np.ndarray]:
    """Group expert waves into beats, one per QRS complex, for interval measurement.

    The P wave of a beat is the last P wave whose peak lies after the previous QRS peak and
    before this QRS peak; its T wave is the first T wave whose peak lies after this QRS peak and
    before the next one. A missing wave leaves NaN.

    >>> tbl = beat_table_from_waves(
    ...     [Wave("p", 20, 10, 30), Wave("qrs", 50, 40, 60), Wave("t", 90, 80, 100)])
    >>> tbl["p_on"].tolist(), tbl["t_off"].tolist()
    ([10.0], [100.0])
    """
    qrs = sorted((w for w in waves if w.wave == "qrs"), key=lambda w: w.peak)
    p_waves = sorted((w for w in waves if w.wave == "p"), key=lambda w: w.peak)
    t_waves = sorted((w for w in waves if w.wave == "t"), key=lambda w: w.peak)
    n = len(qrs)
    table = {k: np.full(n, np.nan) for k in FIDUCIAL_KINDS}

    def put(prefix: str, j: int, w: Wave | None) -> None:
        if w is None:
            return
        table[f"{prefix}_peak"][j] = w.peak
        if w.onset is not None:
            table[f"{prefix}_on"][j] = w.onset
        if w.offset is not None:
            table[f"{prefix}_off"][j] = w.offset

    for j, q in enumerate(qrs):
        lo = qrs[j - 1].peak if j > 0 else -math.inf
        hi = qrs[j + 1].peak if j + 1 < n else math.inf
        before = [w for w in p_waves if lo < w.peak < q.peak]
        after = [w for w in t_waves if q.peak < w.peak < hi]
        put("qrs", j, q)
        put("p", j, before[-1] if before else None)
        put("t", j, after[0] if after else None)
    return table


def beat_table_from_lists(
    fiducials: Mapping[str, Sequence[float | int | None]],
) -> dict[str, np.ndarray]:
    """A beat table from per-beat lists with ``None``/NaN for missing values (engine, neurokit2).

    Kinds absent from ``fiducials`` become all-NaN; lists of unequal length are padded with NaN.

    >>> beat_table_from_lists({"qrs_on": [5, None], "qrs_off": [9]})["qrs_off"].tolist()
    [9.0, nan]
    """
    n = max((len(v) for v in fiducials.values() if v is not None), default=0)
    table = {}
    for k in FIDUCIAL_KINDS:
        arr = np.full(n, np.nan)
        values = fiducials.get(k)
        values = [] if values is None else values
        for i, v in enumerate(values):
            if v is not None and np.isfinite(float(v)):
                arr[i] = float(v)
        table[k] = arr
    return table


def marks_from_table(table: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Flatten a beat table into marks per kind (NaN dropped, rounded to int samples)."""
    out = {}
    for k in FIDUCIAL_KINDS:
        arr = np.asarray(table.get(k, np.empty(0)), dtype=float)
        out[k] = np.sort(np.round(arr[np.isfinite(arr)]).astype(np.int64))
    return out


def expert_span(marks: Mapping[str, np.ndarray]) -> tuple[int, int] | None:
    """``(first, last)`` expert mark of any kind, or None when there are no marks."""
    allm = [np.asarray(v) for v in marks.values() if len(v)]
    if not allm:
        return None
    cat = np.concatenate(allm)
    return int(cat.min()), int(cat.max())


def match_nearest(
    expert: Sequence[int] | np.ndarray,
    detected: Sequence[int] | np.ndarray,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one nearest pairing of expert marks and detections within ``tolerance`` samples.

    Candidate pairs with ``|detected - expert| <= tolerance`` are accepted in order of
    increasing distance (ties: earlier expert, then earlier detection) when neither member is
    already paired.

    Returns
    -------
    (expert_idx, detected_idx) : index arrays into the inputs, sorted by expert index.

    Examples
    --------
    >>> e, d = match_nearest([100, 200], [105, 190, 400], tolerance=20)
    >>> e.tolist(), d.tolist()
    ([0, 1], [0, 1])
    """
    exp = np.asarray(expert, dtype=float).ravel()
    det = np.asarray(detected, dtype=float).ravel()
    if exp.size == 0 or det.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    d_order = np.argsort(det, kind="stable")
    d_sorted = det[d_order]
    lo = np.searchsorted(d_sorted, exp - tolerance, side="left")
    hi = np.searchsorted(d_sorted, exp + tolerance, side="right")
    cand: list[tuple[float, int, int]] = []
    for i in range(exp.size):
        for j in range(lo[i], hi[i]):
            cand.append((abs(d_sorted[j] - exp[i]), i, int(d_order[j])))
    cand.sort()
    used_e: set[int] = set()
    used_d: set[int] = set()
    pairs = []
    for _, i, j in cand:
        if i in used_e or j in used_d:
            continue
        used_e.add(i)
        used_d.add(j)
        pairs.append((i, j))
    pairs.sort()
    if not pairs:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    e_idx, d_idx = zip(*pairs)
    return np.asarray(e_idx, np.int64), np.asarray(d_idx, np.int64)


@dataclass
class KindScore:
    """Counts and errors for one fiducial kind (one lead, or pooled)."""

    errors_ms: np.ndarray = field(default_factory=lambda: np.empty(0))
    n_expert: int = 0
    n_matched: int = 0
    n_detected_counted: int = 0  # paired detections + unpaired detections inside the span
    n_detected_matched: int = 0

    def __iadd__(self, other: KindScore) -> KindScore:
        self.errors_ms = np.concatenate([self.errors_ms, other.errors_ms])
        self.n_expert += other.n_expert
        self.n_matched += other.n_matched
        self.n_detected_counted += other.n_detected_counted
        self.n_detected_matched += other.n_detected_matched
        return self

    @property
    def sensitivity(self) -> float | None:
        """Paired expert marks / expert marks (None without expert marks)."""
        return self.n_matched / self.n_expert if self.n_expert else None

    @property
    def ppv(self) -> float | None:
        """Paired detections / counted detections (None when nothing was counted)."""
        return (
            self.n_detected_matched / self.n_detected_counted if self.n_detected_counted else None
        )

    def summary(self) -> dict[str, float | int | None]:
        """JSON-ready summary: mean and SD (ddof=1) of the error in ms, counts, rates."""
        e = self.errors_ms
        return {
            "mean_ms": float(np.mean(e)) if e.size else None,
            "sd_ms": float(np.std(e, ddof=1)) if e.size > 1 else None,
            "median_abs_ms": float(np.median(np.abs(e))) if e.size else None,
            "n_expert": self.n_expert,
            "n_matched": self.n_matched,
            "sensitivity": self.sensitivity,
            "n_detected_counted": self.n_detected_counted,
            "ppv": self.ppv,
        }


def score_kind(
    expert: Sequence[int] | np.ndarray,
    detected: Sequence[int] | np.ndarray,
    fs: float,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
    span: tuple[int, int] | None = None,
) -> KindScore:
    """Score one fiducial kind in one lead (see the module docstring for the rules).

    Parameters
    ----------
    expert, detected : sample indices of the expert marks and of the detections.
    fs : sampling rate in Hz (converts samples to ms).
    tolerance_ms : pairing window, ± this many milliseconds.
    span : ``(first, last)`` expert mark of any kind in this lead; unpaired detections outside
        it are not counted against PPV. None counts every unpaired detection.

    Examples
    --------
    >>> s = score_kind([100, 600], [105, 900], fs=1000.0, span=(50, 650))
    >>> s.errors_ms.tolist(), s.sensitivity, s.ppv
    ([5.0], 0.5, 1.0)
    """
    exp = np.asarray(expert, dtype=float).ravel()
    det = np.asarray(detected, dtype=float).ravel()
    tol = tolerance_ms * fs / 1000.0
    e_idx, d_idx = match_nearest(exp, det, tol)
    errors = (det[d_idx] - exp[e_idx]) * 1000.0 / fs
    unpaired = np.ones(det.size, bool)
    unpaired[d_idx] = False
    if span is None:
        n_fp = int(unpaired.sum())
    else:
        inside = (det >= span[0]) & (det <= span[1])
        n_fp = int((unpaired & inside).sum())
    return KindScore(
        errors_ms=errors.astype(float),
        n_expert=int(exp.size),
        n_matched=int(e_idx.size),
        n_detected_counted=int(e_idx.size) + n_fp,
        n_detected_matched=int(e_idx.size),
    )


def score_kind_best_lead(
    expert: Sequence[int] | np.ndarray,
    detected_by_lead: Sequence[Sequence[int] | np.ndarray],
    fs: float,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
) -> KindScore:
    """Score global expert marks against several leads, keeping the closest lead per mark.

    Each lead is paired one-to-one with the expert marks (:func:`match_nearest`); for every
    expert mark the smallest-|error| pairing over the leads is kept. PPV is not defined here
    (``n_detected_counted`` stays 0) because the global marks cover selected beats only.

    Examples
    --------
    >>> s = score_kind_best_lead([100, 500], [[110, 480], [98]], fs=1000.0)
    >>> s.errors_ms.tolist(), s.sensitivity
    ([-2.0, -20.0], 1.0)
    """
    exp = np.asarray(expert, dtype=float).ravel()
    tol = tolerance_ms * fs / 1000.0
    best = np.full(exp.size, np.nan)
    for det_lead in detected_by_lead:
        det = np.asarray(det_lead, dtype=float).ravel()
        e_idx, d_idx = match_nearest(exp, det, tol)
        err = det[d_idx] - exp[e_idx]
        cur = best[e_idx]
        better = np.isnan(cur) | (np.abs(err) < np.abs(cur))
        best[e_idx[better]] = err[better]
    ok = np.isfinite(best)
    return KindScore(
        errors_ms=best[ok] * 1000.0 / fs,
        n_expert=int(exp.size),
        n_matched=int(ok.sum()),
    )


def score_lead(
    expert_marks: Mapping[str, np.ndarray],
    detected_marks: Mapping[str, np.ndarray],
    fs: float,
    tolerance_ms: float = DEFAULT_TOLERANCE_MS,
    kinds: Sequence[str] = FIDUCIAL_KINDS,
) -> dict[str, KindScore]:
    """Score every kind of one lead, with the PPV span taken from that lead's expert marks."""
    span = expert_span(expert_marks)
    empty = np.empty(0, np.int64)
    return {
        k: score_kind(
            expert_marks.get(k, empty), detected_marks.get(k, empty), fs, tolerance_ms, span
        )
        for k in kinds
    }


class Tally:
    """Pool :class:`KindScore` objects per kind (over leads and records).

    >>> t = Tally()
    >>> t.add({"qrs_on": score_kind([100], [102], fs=1000.0)})
    >>> t.add({"qrs_on": score_kind([300], [], fs=1000.0)})
    >>> t.summary()["qrs_on"]["sensitivity"]
    0.5
    """

    def __init__(self) -> None:
        self.scores: dict[str, KindScore] = {}

    def add(self, scores: Mapping[str, KindScore]) -> None:
        """Add one lead's (or record's) scores."""
        for k, s in scores.items():
            self.scores.setdefault(k, KindScore())
            self.scores[k] += s

    def summary(self) -> dict[str, dict[str, float | int | None]]:
        """Per-kind summaries (see :meth:`KindScore.summary`)."""
        return {k: s.summary() for k, s in self.scores.items()}

    def group_sensitivity(self, kinds: Sequence[str]) -> float | None:
        """Pooled sensitivity over several kinds (e.g. QRS onset and offset together)."""
        n_exp = sum(self.scores[k].n_expert for k in kinds if k in self.scores)
        n_hit = sum(self.scores[k].n_matched for k in kinds if k in self.scores)
        return n_hit / n_exp if n_exp else None


def beat_intervals_ms(table: Mapping[str, np.ndarray], fs: float) -> dict[str, np.ndarray]:
    """Per-beat intervals (ms) of one lead's beat table; NaN where an end is missing.

    >>> tbl = {"qrs_on": np.array([100.0, 600.0]), "qrs_off": np.array([150.0, np.nan])}
    >>> beat_intervals_ms(tbl, fs=500.0)["qrs_duration_ms"].tolist()
    [100.0, nan]
    """
    out = {}
    for name, (start, end) in INTERVALS.items():
        a = np.asarray(table.get(start, np.empty(0)), float)
        b = np.asarray(table.get(end, np.empty(0)), float)
        n = min(a.size, b.size)
        out[name] = (b[:n] - a[:n]) * 1000.0 / fs
    return out


def lead_intervals_ms(table: Mapping[str, np.ndarray], fs: float) -> dict[str, float]:
    """Median over beats of each interval in one lead (NaN when no beat has both ends)."""
    out = {}
    for name, values in beat_intervals_ms(table, fs).items():
        v = values[np.isfinite(values)]
        out[name] = float(np.median(v)) if v.size else math.nan
    return out


def median_of_leads(per_lead: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Record-level value of each interval: median over the leads that have one (else NaN).

    >>> median_of_leads([{"qt_interval_ms": 400.0}, {"qt_interval_ms": 410.0},
    ...                  {"qt_interval_ms": float("nan")}])["qt_interval_ms"]
    405.0
    """
    per_lead = list(per_lead)
    out = {}
    for name in INTERVALS:
        v = np.array([d.get(name, math.nan) for d in per_lead], float)
        v = v[np.isfinite(v)]
        out[name] = float(np.median(v)) if v.size else math.nan
    return out


def interval_agreement(
    reference: Sequence[float | None], measured: Sequence[float | None]
) -> dict[str, float | int | None]:
    """Agreement of record-level intervals: mean and SD (ddof=1) of measured - reference.

    Pairs where the reference is missing are skipped; ``n_missing`` counts pairs where the
    reference exists but the method gave no value.

    >>> interval_agreement([100.0, 90.0, None], [104.0, 96.0, 80.0])["mean_ms"]
    5.0
    """
    ref = np.array([math.nan if r is None else r for r in reference], float)
    mea = np.array([math.nan if m is None else m for m in measured], float)
    has_ref = np.isfinite(ref)
    both = has_ref & np.isfinite(mea)
    d = mea[both] - ref[both]
    return {
        "mean_ms": float(np.mean(d)) if d.size else None,
        "sd_ms": float(np.std(d, ddof=1)) if d.size > 1 else None,
        "mae_ms": float(np.mean(np.abs(d))) if d.size else None,
        "n": int(d.size),
        "n_missing": int((has_ref & ~np.isfinite(mea)).sum()),
    }


# QTDB analysis windows (the measure and verify benchmarks share them): 10 s, starting 1.5 s
# before the first mark a window is responsible for; detections within 1 s of an edge dropped.
QTDB_WINDOW_S = 10.0
QTDB_LEAD_IN_S = 1.5
QTDB_KEEP_MARGIN_S = 1.0


def qtdb_q1c_windows(base: str) -> tuple[Any, list[Wave], list[tuple[int, int, int, int]]]:
    """``(header, q1c waves, windows)`` of the QTDB record at ``base`` (path without extension):
    the windows of :func:`cover_with_windows` over cardiologist 1's marks."""
    import wfdb

    header = wfdb.rdheader(base)
    fs = float(header.fs)
    ann = wfdb.rdann(base, "q1c")
    waves = parse_waves(ann.sample, ann.symbol)
    marks = marks_from_waves(waves)
    all_marks = np.concatenate([v for v in marks.values() if len(v)])
    windows = cover_with_windows(
        all_marks,
        header.sig_len,
        window=int(round(QTDB_WINDOW_S * fs)),
        lead_in=int(round(QTDB_LEAD_IN_S * fs)),
        margin=int(round(QTDB_KEEP_MARGIN_S * fs)),
    )
    return header, waves, windows


def cover_with_windows(
    marks: Sequence[int] | np.ndarray, n_samples: int, window: int, lead_in: int, margin: int
) -> list[tuple[int, int, int, int]]:
    """Fixed-length analysis windows that cover sparse expert marks (QTDB), with keep regions.

    Marks are taken in order; a window starts ``lead_in`` samples before the first mark not yet
    covered (clipped to the record) and is responsible for every mark before
    ``start + window - lead_in``. Its keep region, where its detections are used, is
    ``[start + margin, start + window - margin)`` (not trimmed at the record's own ends),
    further cut at the midpoint between its last mark and the next window's first mark, so keep
    regions never overlap and each detection comes from exactly one window.

    Returns
    -------
    list of ``(start, stop, keep_lo, keep_hi)`` in samples; ``stop`` is exclusive.

    Examples
    --------
    >>> cover_with_windows([1000, 1500, 9000], n_samples=20000, window=2500, lead_in=375,
    ...                    margin=250)
    [(625, 3125, 875, 2875), (8625, 11125, 8875, 10875)]
    """
    m = np.sort(np.asarray(marks, np.int64))
    clusters: list[tuple[int, int, int]] = []  # (start, first mark, last mark)
    i = 0
    while i < m.size:
        start = max(0, min(int(m[i]) - lead_in, n_samples - window))
        j = i
        while j + 1 < m.size and m[j + 1] < start + window - lead_in:
            j += 1
        clusters.append((start, int(m[i]), int(m[j])))
        i = j + 1
    windows = []
    for c, (start, _, last) in enumerate(clusters):
        lo = start + margin if start > 0 else 0
        hi = start + window - margin if start + window < n_samples else n_samples
        if c > 0:
            lo = max(lo, (clusters[c - 1][2] + clusters[c][1]) // 2)
        if c + 1 < len(clusters):
            hi = min(hi, (last + clusters[c + 1][1]) // 2)
        windows.append((start, min(start + window, n_samples), lo, hi))
    return windows
