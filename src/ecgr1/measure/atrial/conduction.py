"""How the P waves relate to the QRS complexes: which conduct (and at what PR), which do not,
and what that says about AV conduction (1:1, second-degree block with a constant or prolonging
PR, AV dissociation).

A claim of AV block rests on non-conducted P waves that have the conducted P's shape and size
and sit in a pause; AV dissociation on a regular escape rhythm whose P waves hold no PR to it,
or march through it (:func:`pr_marches`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ecgr1.measure.atrial.rhythm import AtrialCycle
from ecgr1.measure.atrial.waves import Beats, PWaves
from ecgr1.signal.stats import median_1d


@dataclass(frozen=True)
class Verdict:
    """The classification fields of :class:`ecgr1.measure.atrial.AtrialActivity`."""

    atrial_activity: str | None
    p_waves_per_qrs: float | None
    pr_progression: str | None
    confidence: float
    reason: str
    pr_rise_ms: float | None = None  # PR rise over a Wenckebach group (see pr_group_rise_ms)


@dataclass(frozen=True)
class Conduction:
    """The P waves related to the QRS complexes."""

    pr_intervals_ms: list[float | None]  # per QRS, PR of its conducting P; None if none
    non_conducted: np.ndarray  # samples of the P waves counted as not conducted
    verdict: Verdict


def relate_p_waves_to_qrs(
    p_waves: PWaves,
    cycle: AtrialCycle,
    beats: Beats,
    fs: float,
    fibrillatory: bool,
    params: Mapping[str, float],
) -> Conduction:
    """Relate the P waves to the QRS complexes and classify AV conduction.

    ``fibrillatory``: the QRS-T-free baseline may be fibrillatory (the verdict when irregular
    atrial waves do not drive the QRS complexes).
    """
    conducted, pr_ms = _conducting_p_waves(p_waves, beats, fs, params)
    blocked, unconducted = _non_conducted_p_waves(p_waves, conducted, beats.r, cycle, params)
    if not cycle.regular:
        verdict = _irregular_verdict(pr_ms, fibrillatory, params)
        return Conduction(pr_ms, np.array(blocked, int), verdict)
    return _regular_relation(pr_ms, blocked, unconducted, cycle, beats.r, fs, params)


def _conducting_p_waves(
    p_waves: PWaves, beats: Beats, fs: float, params: Mapping[str, float]
) -> tuple[np.ndarray, list[float | None]]:
    """Which P waves conduct, and the PR (P onset to QRS onset, ms) of each QRS.

    A QRS is conducted by the last P wave before it at a conducting PR, provided that P comes
    after the previous QRS (a P before that one conducted it).
    """
    ms = fs / 1000.0
    pw, r = p_waves.samples, beats.r
    qrs_on = beats.qrs_on_or_guess(fs)
    conducted = np.zeros(pw.size, bool)
    pr_ms: list[float | None] = [None] * beats.count
    pr_min, pr_max = params["pr_min_ms"] * ms, params["pr_max_ms"] * ms
    for i in range(beats.count):
        d = qrs_on[i] - pw
        ok = np.flatnonzero((d >= pr_min) & (d <= pr_max))
        if ok.size:
            j = ok[np.argmin(d[ok])]
            if i == 0 or pw[j] > r[i - 1]:
                conducted[j] = True
                p_onset = pw[j] - p_waves.onset_to_peak
                pr_ms[i] = round(float((qrs_on[i] - p_onset) / ms), 1)
    return conducted, pr_ms


def _non_conducted_p_waves(
    p_waves: PWaves,
    conducted: np.ndarray,
    r: np.ndarray,
    cycle: AtrialCycle,
    params: Mapping[str, float],
) -> tuple[list, list]:
    """The P waves between two QRS complexes that conduct neither, in a pause (an RR of at least
    ``pause_ratio`` atrial cycles) when the atrial rhythm is regular.

    Returns (blocked, unconducted): ``unconducted`` has all of them, with only the record's
    P-wave shape demanded (a dissociation claim rests on the march of the P waves as a whole,
    not on a few perfectly shaped blocked P); ``blocked`` only those with the conducted P's
    shape and size (a claim of AV block rests on these).
    """
    pw = p_waves.samples
    rr = np.diff(r)
    inside = (pw > r[0]) & (pw < r[-1])
    blocked, unconducted = [], []
    for j in np.flatnonzero(~conducted & inside):
        k = int(np.searchsorted(r, pw[j]))  # r[k-1] < p < r[k]
        if not (1 <= k < r.size):
            continue
        if cycle.regular and rr[k - 1] < params["pause_ratio"] * cycle.pp:
            continue
        unconducted.append(pw[j])
        if p_waves.shape_corr[j] < params["non_conducted_corr"] or not (
            params["non_conducted_amp_low"]
            <= p_waves.size_ratio[j]
            <= params["non_conducted_amp_high"]
        ):
            continue
        blocked.append(pw[j])
    return blocked, unconducted


def _irregular_verdict(
    pr_ms: list[float | None], fibrillatory: bool, params: Mapping[str, float]
) -> Verdict:
    """Irregular atrial waves: P waves that drive the QRS (sinus arrhythmia, ectopy) keep a
    constant PR (the one rule, :func:`pr_progression`); otherwise the activity is
    disorganised."""
    steady = pr_progression(pr_ms, [], np.zeros(0), params) == "constant"
    if _share_with_pr(pr_ms) >= 0.8 and steady:
        reason = "P waves before the QRS complexes at a constant PR, irregular rate"
        return Verdict("p_waves", 1.0, "constant", 0.5, reason)
    reason = "atrial waves found but neither regular nor locked to the QRS"
    return Verdict("fibrillatory" if fibrillatory else None, None, None, 0.3, reason)


def _regular_relation(
    pr_ms: list[float | None],
    blocked: list,
    unconducted: list,
    cycle: AtrialCycle,
    r: np.ndarray,
    fs: float,
    params: Mapping[str, float],
) -> Conduction:
    """A regular atrial rhythm: AV block (non-conducted P waves, or dissociation), 1:1
    conduction, or undecided."""
    rate_a = cycle.rate_bpm
    rr = np.diff(r)
    rate_v = 60.0 * fs / float(np.mean(rr))
    ratio_pq = rate_a / rate_v
    dissociated = _dissociated(pr_ms, ratio_pq, rr, params)
    # A P wave marching through: the PR of consecutive QRS complexes that have a P in front
    # changes steadily, one way, by a clear step each beat (PP and RR are unrelated). Conducted
    # beats keep their PR, and Wenckebach has a dropped QRS, which the regular escape RR
    # (``dissociated``) excludes.
    if dissociated and pr_marches(pr_ms, params) and len(blocked) < params["min_non_conducted"]:
        blocked = unconducted
    n_blocked = len(blocked)
    non_conducted = np.array(blocked, int)
    if (
        n_blocked >= params["min_non_conducted"]
        and ratio_pq >= params["min_p_waves_per_qrs"]
        and rate_a <= params["max_block_atrial_bpm"]
    ):
        if dissociated:
            progression = "dissociated"
            reason = (
                f"P waves at {rate_a:.0f}/min march through a regular ventricular rhythm at "
                f"{rate_v:.0f}/min with no fixed PR"
            )
        else:
            progression = pr_progression(pr_ms, blocked, r, params)
            reason = (
                f"{n_blocked} non-conducted P waves; atrial {rate_a:.0f}/min, ventricular "
                f"{rate_v:.0f}/min; PR {progression}"
            )
        confidence = float(min(1.0, 0.5 + 0.1 * n_blocked + 0.3 * (cycle.fit - 0.8) / 0.2))
        rise = None if dissociated else pr_group_rise_ms(pr_ms, blocked, r)
        verdict = Verdict("p_waves", round(ratio_pq, 2), progression, confidence, reason, rise)
        return Conduction(pr_ms, non_conducted, verdict)
    share_conducted = _share_with_pr(pr_ms)
    # 1:1 conduction; ectopic QRS complexes (PVCs) only lower the share of QRS with a P.
    if (
        ratio_pq < params["one_to_one_max_ratio"]
        and share_conducted >= 0.6
        and pr_progression(pr_ms, [], r, params) == "constant"
    ):
        confidence = float(min(1.0, 0.4 + 0.6 * share_conducted))
        reason = f"one P wave per QRS at {rate_a:.0f}/min, constant PR"
        return Conduction(
            pr_ms, non_conducted, Verdict("p_waves", 1.0, "constant", confidence, reason)
        )
    # Regular waves that neither conduct 1:1 at a steady PR nor show a clear block: undecided
    # (T-wave remnants locked to the QRS, organised fibrillation, hidden P waves).
    reason = (
        f"atrial waves at {rate_a:.0f}/min (ventricular {rate_v:.0f}/min) without a steady PR "
        "or enough non-conducted P waves to classify"
    )
    return Conduction(pr_ms, non_conducted, Verdict(None, None, None, 0.3, reason))


def _dissociated(
    pr_ms: list[float | None], ratio_pq: float, rr: np.ndarray, params: Mapping[str, float]
) -> bool:
    """AV dissociation: a regular escape rhythm, and P waves that do not hold a PR to it (PR
    scattered, or many QRS complexes with no P at a conducting PR). In second-degree block
    every QRS has its conducting P."""
    pr_known = _known(pr_ms)
    pr_sd = float(np.std(pr_known)) if pr_known.size >= 2 else 0.0
    return (
        ratio_pq >= 1.15
        and float(np.std(rr) / np.mean(rr)) < params["escape_rr_cv"]
        and (
            _share_with_pr(pr_ms) < params["dissociated_max_conducted"]
            or (pr_sd >= params["dissociated_pr_sd_ms"] and abs(ratio_pq - round(ratio_pq)) > 0.1)
        )
    )


def _known(pr_ms: list[float | None]) -> np.ndarray:
    """The PR intervals of the QRS complexes that have a conducting P."""
    return np.array([v for v in pr_ms if v is not None], float)


def _share_with_pr(pr_ms: list[float | None]) -> float:
    """Share of the QRS complexes that have a conducting P."""
    return float(np.mean([v is not None for v in pr_ms]))


def pr_marches(pr_ms: list[float | None], params: Mapping[str, float]) -> bool:
    """True when the PR of a run of consecutive QRS complexes changes steadily one way.

    In AV dissociation each P wave falls a fixed (RR - k * PP) later or earlier relative to
    the next QRS, so the PR of the visible P waves drifts monotonically beat after beat; a
    conducted rhythm holds its PR (or, in Wenckebach, rises and then drops a QRS)."""
    need = int(params["march_min_beats"])
    step = params["march_min_step_ms"]
    run: list[float] = []
    for v in list(pr_ms) + [None]:
        if v is not None:
            run.append(v)
            continue
        if len(run) >= need:
            d = np.diff(run)
            if (d >= step).all() or (d <= -step).all():
                return True
        run = []
    return False


def _pr_groups(pr_ms: list[float | None], non_conducted: list, r: np.ndarray) -> list[list]:
    """The conducted beats' PR split into groups at each non-conducted P (``r``: R peaks)."""
    vals = np.array([np.nan if v is None else v for v in pr_ms], float)
    breaks = set(int(np.searchsorted(np.asarray(r, float), p)) for p in non_conducted)
    groups, cur = [], []
    for i, v in enumerate(vals):
        if i in breaks and cur:
            groups.append(cur)
            cur = []
        if np.isfinite(v):
            cur.append(v)
    if cur:
        groups.append(cur)
    return [g for g in groups if len(g) >= 2]


def pr_group_rise_ms(pr_ms: list[float | None], non_conducted: list, r: np.ndarray) -> float | None:
    """Median over the groups ended by a non-conducted P of the PR rise from the first to the
    last conducted beat (Wenckebach: the PR lengthens until a P is blocked); None without
    non-conducted P waves or groups of two beats.

    >>> pr_group_rise_ms([160, 220, 250, None, 160, 215, 245], [2500], np.arange(7) * 700)
    87.5
    """
    if not non_conducted:
        return None
    groups = _pr_groups(pr_ms, non_conducted, r)
    return float(np.median([g[-1] - g[0] for g in groups])) if groups else None


def pr_progression(
    pr_ms: list[float | None], non_conducted: list, r: np.ndarray, params: Mapping[str, float]
) -> str | None:
    """PR behaviour of conducted beats: constant, prolonging (within groups ended by a dropped
    P) or variable; the one rule of the engine (``pr_constant_sd_ms``,
    ``pr_prolonging_step_ms``, from the criteria table's ``av.pr_constant`` / ``av.pr_prolonging``)."""
    vals = np.array([np.nan if v is None else v for v in pr_ms], float)
    ok = vals[np.isfinite(vals)]
    if ok.size < 3:
        return None
    groups = _pr_groups(pr_ms, non_conducted, r) if non_conducted else []
    if groups:
        rises = [g[-1] - g[0] for g in groups]
        steps = np.concatenate([np.diff(g) for g in groups])
        if (
            np.median(rises) >= params["pr_prolonging_step_ms"]
            and np.mean(np.asarray(steps) > 0) >= 0.7
        ):
            return "prolonging"
    # Robust spread: one mis-timed P (noise, an ectopic beat) must not make PR "variable".
    robust_sd = 1.4826 * float(median_1d(np.abs(ok - median_1d(ok))))
    if robust_sd <= params["pr_constant_sd_ms"]:
        return "constant"
    return "variable"
