"""Atrial activity analysis: discrete P waves anywhere in the cycle, flutter, AV relation.

The beat-by-beat delineator looks for one P wave before each QRS. This module looks at the
whole record instead, in the leads where atrial activity is best seen (II, III, aVF, V1, ...),
with the ventricular activity (QRS and ST-T, from QRS onset to T end) masked out, and answers:

* which atrial waves there are (positions in samples), and at what rate;
* whether they are discrete P waves with an isoelectric baseline, a regular sawtooth at
  flutter rates, or disorganised (fibrillatory) activity;
* how they relate to the QRS complexes: one P per QRS, non-conducted P waves (P:QRS > 1),
  PR constant / prolonging before a dropped beat (Mobitz II / Wenckebach), or P waves that
  march through at their own rate (AV dissociation, third-degree block).

P waves hidden inside a QRS or T wave are not detected directly: they are *predicted* from the
atrial rhythm found in the QRS-free intervals, and counted for the P:QRS ratio only when that
rhythm is regular. The analysis is deliberately conservative: a non-conducted P must match the
morphology of the record's other P waves, sit where the atrial rhythm predicts it, and lie in a
long RR interval (a pause), so a normal sinus record cannot produce an AV block from a T-wave
remnant. ``confidence`` says how much the caller should trust the result.

Use in the measurement engine (validated on the simulator and on 199 real sinus/non-AF records
with no false AV block, flutter or dissociation): call it after beats and delineation with the
beats' R peak / QRS onset / QRS offset / T offset in samples, then override the engine's own
atrial fields only when confident --

* ``atrial_activity == "flutter"`` with ``confidence >= 0.8`` and RR *not* irregularly
  irregular (coarse AF can look periodic): atrial_activity "flutter", atrial_rate_bpm from
  here, no P waves (p_wave_present False, PR / P:QRS / PR progression None with this reason);
* ``atrial_activity == "p_waves"`` with ``p_waves_per_qrs >= 1.2`` and ``confidence >= 0.7``
  (AV block): atrial_rate_bpm, p_waves_per_qrs and pr_progression from here, p_wave_present
  True, p_wave_fraction = conducted / all; for "constant" or "prolonging" progression the PR is
  the shortest conducted PR (the first of a group); an "irregularly_irregular" RR becomes
  "regularly_irregular" (group beating, not fibrillation);
* ``p_waves_per_qrs == 1.0`` with ``confidence >= 0.7``: every P conducts, which rules out
  second- and third-degree block (set p_waves_per_qrs 1.0 if the engine left it None);
* never for "fibrillatory", "none" or undecided results: the engine's classification stays.

Thresholds come from ``config.atrial_waves`` (:class:`ecgr1.measure.config.MeasureConfig`).
The work is split by concern: :mod:`.waves` finds the candidate atrial waves in QRS-T-free
signal and the P waves among them, :mod:`.rhythm` the atrial cycle and flutter-like activity,
:mod:`.conduction` the relation of the P waves to the QRS complexes.

Example
-------
>>> import numpy as np
>>> fs = 500.0; t = np.arange(5000) / fs; x = np.zeros((1, 5000))
>>> r = np.arange(0.6, 9.8, 0.8)
>>> for ri in r:
...     x[0] += np.exp(-((t - ri) / 0.012) ** 2) + 0.25 * np.exp(-((t - ri - 0.3) / 0.05) ** 2)
...     x[0] += 0.15 * np.exp(-((t - ri + 0.16) / 0.025) ** 2)
>>> rp = (r * fs).astype(int)
>>> res = analyse_atrial_activity(x, fs, ["II"], rp, rp - 20, rp + 25, rp + 200)
>>> res.atrial_activity, res.p_waves_per_qrs, res.pr_progression
('p_waves', 1.0, 'constant')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ecgr1.measure.atrial.conduction import Verdict, relate_p_waves_to_qrs
from ecgr1.measure.atrial.rhythm import (
    activity_without_p_waves,
    atrial_cycle,
    fibrillatory_possible,
    flutter_test,
    hidden_waves,
)
from ecgr1.measure.atrial.waves import (
    Beats,
    as_index,
    band_pass,
    candidate_waves,
    detrend_free_segments,
    match_p_template,
    ventricular_mask,
)
from ecgr1.measure.config import DEFAULT_CONFIG, MeasureConfig
from ecgr1.signal.filters import butter_sos, butter_sos_zi, sosfiltfilt_rows

__all__ = ["ATRIAL_LEADS", "AtrialActivity", "analyse_atrial_activity", "usable_atrial_rows"]

# Leads in which atrial activity is best seen, in order of preference.
ATRIAL_LEADS: tuple[str, ...] = ("II", "III", "aVF", "V1", "I", "V2")


@dataclass
class AtrialActivity:
    """Result of :func:`analyse_atrial_activity`.

    Attributes
    ----------
    atrial_activity : "p_waves" | "flutter" | "fibrillatory" | "none", or None when undecided.
    atrial_rate_bpm : rate of the atrial rhythm (P or F waves), None when not regular.
    p_waves_per_qrs : atrial cycles per ventricular cycle (1.0 with 1:1 conduction).
    pr_progression : "constant" | "prolonging" | "variable" | "dissociated" or None.
    pr_rise_ms : with non-conducted P waves, the median PR rise over their groups (the
        Wenckebach increment) that "prolonging" is judged on; None otherwise.
    pr_intervals_ms : per QRS, PR of its conducting P (P onset to QRS onset), None if none.
    atrial_wave_samples : sample positions (peaks) of the detected atrial waves.
    hidden_wave_samples : predicted positions of P waves hidden in QRS/T (regular rhythm only).
    non_conducted_samples : detected P waves not followed by a QRS at a conducting PR.
    confidence : 0-1, how much the classification should be trusted.
    reason : one sentence on why.
    """

    atrial_activity: str | None = None
    atrial_rate_bpm: float | None = None
    p_waves_per_qrs: float | None = None
    pr_progression: str | None = None
    pr_rise_ms: float | None = None
    pr_intervals_ms: list[float | None] = field(default_factory=list)
    atrial_wave_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    hidden_wave_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    non_conducted_samples: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    confidence: float = 0.0
    reason: str = ""


def analyse_atrial_activity(
    signal: np.ndarray,
    fs: float,
    leads: list[str],
    r_peaks: Sequence[int] | np.ndarray,
    qrs_onsets: Sequence[int | None] | np.ndarray | None,
    qrs_offsets: Sequence[int | None] | np.ndarray | None,
    t_offsets: Sequence[int | None] | np.ndarray | None,
    usable: np.ndarray | None = None,
    *,
    config: MeasureConfig = DEFAULT_CONFIG,
) -> AtrialActivity:
    """Find atrial waves in the whole record and relate them to the QRS complexes.

    Parameters
    ----------
    signal : (n_leads, n_samples) ECG in mV.
    fs : sampling rate (Hz).
    leads : lead names (II, III, aVF, V1, I, V2 are preferred when present).
    r_peaks : R-peak (or QRS anchor) sample of every beat, ascending.
    qrs_onsets, qrs_offsets, t_offsets : per beat, samples; None / -1 / NaN where unknown.
    usable : per-lead quality flag; unusable leads are ignored.
    config : the thresholds of the analysis are its ``atrial_waves`` section.

    Returns
    -------
    AtrialActivity (see its attributes); sample positions refer to ``signal``. See the module
    docstring for an example.
    """
    params = config.atrial_waves
    x = np.nan_to_num(np.asarray(signal, float))
    if x.ndim == 1:
        x = x[None, :]
    use = np.ones(x.shape[0], bool) if usable is None else np.asarray(usable, bool)
    # Only the leads the analysis reads are filtered (filters act on each lead alone).
    x = x[_atrial_lead_rows(list(leads), use)]
    # Atrial waves hold nothing above 25 Hz: analyse at about 250 Hz (anti-aliased first).
    x, step = _to_analysis_rate(x, fs, params)
    r = np.asarray(r_peaks, float).ravel() / step
    beats = Beats(
        r,
        as_index(qrs_onsets, r.size) / step,
        as_index(qrs_offsets, r.size) / step,
        as_index(t_offsets, r.size) / step,
    )
    res = _analyse(x, fs / step, beats, params, config.beat["irregular_rr_cv"])
    # Sample positions back at the rate of ``signal``.
    res.atrial_wave_samples = res.atrial_wave_samples * step
    res.hidden_wave_samples = res.hidden_wave_samples * step
    res.non_conducted_samples = res.non_conducted_samples * step
    return res


def _analyse(
    x: np.ndarray,
    fs: float,
    beats: Beats,
    params: Mapping[str, float],
    irregular_rr_cv: float,
) -> AtrialActivity:
    """:func:`analyse_atrial_activity` on the atrial leads ``x`` at the analysis rate ``fs``
    (``irregular_rr_cv``: the RR-regularity limit, ``config.beat``)."""
    n = x.shape[1]
    res = AtrialActivity(pr_intervals_ms=[None] * beats.count)
    if beats.count < 3 or n < int(3 * fs):
        res.reason = "fewer than three beats: atrial rhythm not analysed"
        return res
    if x.shape[0] == 0:
        res.reason = "no usable lead"
        return res
    mask = ventricular_mask(n, fs, beats, params)
    free = ~mask
    if free.sum() < int(1.0 * fs):
        res.reason = "too little signal outside QRS-T to analyse atrial activity"
        return res

    # ---- what the QRS-T-free signal holds: candidate waves, level, organisation ------------
    xs = detrend_free_segments(band_pass(x, fs, params), free, fs)
    candidates = candidate_waves(xs, free, fs, params)
    free_rms = float(np.sqrt(np.mean(xs[:, free] ** 2)))
    fibrillatory = fibrillatory_possible(free_rms, beats.rr_cv(), irregular_rr_cv, params)
    without_p = activity_without_p_waves(fibrillatory, free_rms, float(free.mean()), params)
    flutter = flutter_test(xs, free, fs, params)
    if candidates.peaks.size < 2:
        if flutter.flutter_like:
            return _flutter(res, fs, flutter.lag, flutter.autocorr, candidates.peaks, params)
        reason = "no discrete atrial waves found outside QRS-T"
        return _settle(res, Verdict(without_p, None, None, 0.3, reason))

    # ---- the P waves among them, and their cycle ---------------------------------------------
    p_waves = match_p_template(xs, candidates, beats, fs, params)
    res.atrial_wave_samples = p_waves.samples.astype(int)
    if p_waves.samples.size < 2:
        if flutter.flutter_like:
            return _flutter(res, fs, flutter.lag, flutter.autocorr, candidates.peaks, params)
        reason = "no consistent atrial wave shape outside QRS-T"
        return _settle(res, Verdict(without_p, None, None, 0.3, reason))
    cycle = atrial_cycle(p_waves.samples, candidates.whole_wave_free, fs, params)
    if flutter.flutter_like and not cycle.regular:
        return _flutter(res, fs, flutter.lag, flutter.autocorr, p_waves.samples, params)
    if flutter.flutter_like and cycle.rate_bpm >= params["flutter_min_bpm"]:
        # Regular waves at flutter rates: F waves, at the rate of their own cycle.
        lag = int(round(cycle.pp))
        return _flutter(res, fs, lag, flutter.autocorr, p_waves.samples, params)
    if flutter.flutter_like and _whole_cycles(cycle.pp, flutter.lag, params) >= 2:
        # Flutter with fixed conduction (e.g. 4:1): the F wave before each QRS matches as a
        # "P wave" at a whole multiple of the flutter cycle that fills the free signal.
        return _flutter(res, fs, flutter.lag, flutter.autocorr, p_waves.samples, params)

    # ---- P waves: relate each to the QRS complexes ------------------------------------------
    conduction = relate_p_waves_to_qrs(p_waves, cycle, beats, fs, fibrillatory, params)
    res.pr_intervals_ms = conduction.pr_intervals_ms
    res.non_conducted_samples = conduction.non_conducted
    if cycle.regular:
        res.atrial_rate_bpm = round(cycle.rate_bpm, 1)
        # Predicted P waves hidden by QRS-T (for display; the ratio uses the rates).
        res.hidden_wave_samples = hidden_waves(p_waves.samples, cycle.pp, mask, beats.r, fs, params)
    return _settle(res, conduction.verdict)


def _whole_cycles(pp: float, lag: int, params: Mapping[str, float]) -> int:
    """How many flutter cycles of ``lag`` samples make the P-wave cycle ``pp``: the nearest
    whole number when ``pp / lag`` is within ``grid_tolerance`` of it, else 0."""
    k = round(pp / lag)
    return int(k) if k >= 1 and abs(pp / lag - k) <= params["grid_tolerance"] else 0


def _atrial_lead_rows(leads: list[str], usable: np.ndarray) -> list[int]:
    """Rows of the leads the analysis reads: the usable ones of :data:`ATRIAL_LEADS`, in that
    order, else every usable lead."""
    rows = _pick_leads(leads, usable)
    # The analysis has always picked once more among the picked leads (kept: results stay as
    # they were). That changes nothing, except in a record that names two leads alike with only
    # the second copy usable: the fallback to every usable lead then narrows to that copy.
    again = _pick_leads([leads[i] for i in rows], usable[rows])
    return [rows[i] for i in again]


def usable_atrial_rows(leads: list[str], usable: np.ndarray) -> list[int]:
    """Rows of the first lead of each :data:`ATRIAL_LEADS` name (case-insensitive) that is
    usable, in that order."""
    upper = [name.upper() for name in leads]
    chosen = [upper.index(n.upper()) for n in ATRIAL_LEADS if n.upper() in upper]
    return [i for i in chosen if usable[i]]


def _pick_leads(leads: list[str], usable: np.ndarray) -> list[int]:
    """The usable atrial leads (:func:`usable_atrial_rows`); when there is none, every usable
    lead."""
    chosen = usable_atrial_rows(leads, usable)
    if not chosen:
        chosen = [i for i in range(len(leads)) if usable[i]]
    return chosen


def _to_analysis_rate(
    x: np.ndarray, fs: float, params: Mapping[str, float]
) -> tuple[np.ndarray, int]:
    """``x`` decimated to about ``analysis_fs`` (anti-aliased first), and the decimation step
    (1 when ``x`` is left as it is: already slow, or too short)."""
    step = max(1, int(fs // params["analysis_fs"]))
    if step > 1 and x.shape[1] > 30 * step:
        # sosfiltfilt_rows: SciPy's sosfiltfilt arithmetic (the same values), design and zi cached.
        cutoff = 0.4 * fs / step
        sos, zi = butter_sos(4, cutoff, "low", fs), butter_sos_zi(4, cutoff, "low", fs)
        return sosfiltfilt_rows(sos, zi, x)[:, ::step], step
    return x, 1


def _flutter(
    res: AtrialActivity,
    fs: float,
    lag: int,
    autocorr: float,
    waves: np.ndarray,
    params: Mapping[str, float],
) -> AtrialActivity:
    """``res`` as flutter with cycle ``lag`` (samples): F waves at ``waves``, no P waves."""
    res.atrial_activity = "flutter"
    res.atrial_rate_bpm = round(60.0 * fs / lag, 1)
    res.p_waves_per_qrs = None
    res.pr_progression = None
    res.atrial_wave_samples = np.asarray(waves, int)
    res.non_conducted_samples = np.zeros(0, int)
    res.confidence = float(min(1.0, 0.5 + (autocorr - params["flutter_autocorr"])))
    res.reason = (
        f"continuous regular atrial activity at {res.atrial_rate_bpm:.0f}/min "
        f"(autocorrelation {autocorr:.2f} at one cycle) without isoelectric baseline"
    )
    return res


def _settle(res: AtrialActivity, verdict: Verdict) -> AtrialActivity:
    """``res`` with the classification of ``verdict``."""
    res.atrial_activity = verdict.atrial_activity
    res.p_waves_per_qrs = verdict.p_waves_per_qrs
    res.pr_progression = verdict.pr_progression
    res.pr_rise_ms = verdict.pr_rise_ms
    res.confidence = verdict.confidence
    res.reason = verdict.reason
    return res
