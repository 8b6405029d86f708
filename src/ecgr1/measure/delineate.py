"""Wave delineation, vectorised over leads and beats.

Every routine works on beat windows ``X`` of shape (n_leads, n_beats, W) cut around the beat
anchors (R peak at index ``c``); outputs are sample offsets inside the window (float, NaN when
the wave is absent or cannot be placed).

Method (all leads at once, no per-beat Python loops):

* QRS: the spatial velocity (sum over usable leads of the absolute slope of the ~40 Hz
  delineation copy) gives the global onset/offset: from the steepest point before (after) the
  anchor, walk outwards until the velocity falls under a fraction of its QRS maximum above the
  isoelectric level. Per lead the same rule is applied to the lead's own slope and the result is
  kept within a tolerance of the global boundary (a lead whose QRS ends in an isoelectric
  segment must not report a boundary far away from the others).
* T wave: peak = largest deflection (relative to the level at J) after J + 60 ms; offset
  and onset by the trapezium-area method (Zhang et al., IEEE TBME 2006): from the steepest
  point ``tm`` on the flank, the boundary maximises the area of the trapezium spanned by
  ``tm``, the candidate and a far reference point; it does not need a threshold and is robust to
  noise and to flat endings.
* P wave: searched between the previous beat's repolarisation and QRS onset, on a smoother
  copy held constant outside that window, relative to the level just before QRS onset
  (``p_detrend`` can also remove part of the line joining the window ends); boundaries by the
  same trapezium rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d

from ecgr1.measure.criteria import WINDOWS
from ecgr1.signal.filters import smooth

FIDUCIALS = (
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

# Tunable delineation constants (fractions and ms), grouped here so they are documented once.
PARAMS: dict[str, float] = {
    "qrs_on_frac": 0.10,  # global onset: velocity below this fraction of its QRS peak
    "qrs_off_frac": 0.10,
    "lead_qrs_on_frac": 0.10,
    "lead_qrs_off_frac": 0.08,
    "lead_qrs_tol_ms": 40.0,
    "lead_qrs_on_amp_frac": 0.03,  # >0: amplitude rule for the per-lead onset
    "lead_qrs_on_amp_abs": 0.01,  # per-lead boundary kept within this of the global one
    "t_ref_ms": 80.0,
    "t_prior_weight": 0.9,  # 0..1: how much late deflections are discounted in the T search  # trapezium reference distance after the steepest T down-slope
    "t_on_ref_ms": 100.0,
    "p_on_ref_ms": 50.0,
    "p_off_ref_ms": 24.0,
    "p_detrend": 0.0,
    "p_smooth_ms": 24.0,
    "t_smooth_ms": 24.0,
    "qrs_smooth_ms": 8.0,
    "qrs_quiet_ms": 12.0,  # a boundary needs the slope to stay low this long
    # A terminal QRS component (R' in V1, wide S in I/V6: right bundle branch block) follows a
    # brief pause of the spatial velocity; a later velocity hump above this fraction of the QRS
    # maximum, within ``qrs_terminal_ms`` of the first pause, belongs to the QRS (CSE: the
    # global offset is the end of the last component in any lead).
    "qrs_terminal_frac": 0.12,
    "qrs_terminal_lead_frac": 0.15,  # the same, lead-normalised velocity
    "qrs_terminal_ms": 80.0,
    "qrs_terminal_end_ms": 30.0,  # and must be over (quiet) within this after that window
    "qrs_terminal_min_leads": 6,  # terminal-component rules only with this many usable leads
}


@dataclass
class Delineation:
    """Per-lead (L, B) and global (B,) fiducial offsets inside the beat windows."""

    lead: dict[str, np.ndarray]
    glob: dict[str, np.ndarray]
    p_amp: np.ndarray  # (L, B) signed P deflection, mV
    t_amp: np.ndarray  # (L, B) signed T deflection, mV
    p_noise: np.ndarray  # (L, B) noise estimate in the P window, mV


def beat_windows(x: np.ndarray, anchors: np.ndarray, pre: int, post: int) -> np.ndarray:
    """Cut windows (L, B, pre+post) around ``anchors``; samples beyond the record repeat the edge."""
    n = x.shape[1]
    idx = np.clip(anchors[:, None] + np.arange(-pre, post)[None, :], 0, n - 1)
    return x[:, idx]


def _column_span(start: np.ndarray, stop: np.ndarray, w: int) -> tuple[int, int]:
    """Smallest column range [lo, hi) of a width-``w`` window holding every row's
    [start, stop): the searches below only look at those columns (same result, less work)."""
    if start.size == 0:
        return 0, 0
    lo = max(int(np.floor(np.min(start))), 0)
    hi = min(int(np.ceil(np.max(stop))), w)
    return lo, max(hi, lo)


def _masked_arg(y: np.ndarray, start: np.ndarray, stop: np.ndarray, mode: str) -> np.ndarray:
    """Row-wise argmax/argmin of ``y`` (N, W) over [start, stop); -1 where the range is empty."""
    lo, hi = _column_span(start, stop, y.shape[-1])
    if hi == lo:
        return np.full(y.shape[0], -1)
    ar = np.arange(lo, hi)
    inside = (ar >= start[:, None]) & (ar < stop[:, None])
    fill = -np.inf if mode == "max" else np.inf
    z = np.where(inside, y[:, lo:hi], fill)
    out = np.argmax(z, axis=1) if mode == "max" else np.argmin(z, axis=1)
    return np.where(inside.any(axis=1), out + lo, -1)


def _last_true(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Last index in [start, stop) where mask is True, row-wise; -1 if none."""
    lo, hi = _column_span(start, stop, mask.shape[-1])
    if hi == lo:
        return np.full(mask.shape[0], -1)
    ar = np.arange(lo, hi)
    m = mask[:, lo:hi] & (ar >= start[:, None]) & (ar < stop[:, None])
    last = hi - 1 - np.argmax(m[:, ::-1], axis=1)
    return np.where(m.any(axis=1), last, -1)


def _first_true(mask: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """First index in [start, stop) where mask is True, row-wise; -1 if none."""
    lo, hi = _column_span(start, stop, mask.shape[-1])
    if hi == lo:
        return np.full(mask.shape[0], -1)
    ar = np.arange(lo, hi)
    m = mask[:, lo:hi] & (ar >= start[:, None]) & (ar < stop[:, None])
    first = np.argmax(m, axis=1) + lo
    return np.where(m.any(axis=1), first, -1)


def _hold_outside(y: np.ndarray, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    """Copy of ``y`` (N, W) held constant before ``a`` and after ``b`` (row-wise indices).

    Used before smoothing a P or T search region so that the large, steep QRS next to it cannot
    leak into the smoothed wave.
    """
    w = y.shape[-1]
    ar = np.arange(w)[None, :]
    out = y
    if a is not None:
        a = np.clip(a, 0, w - 1).astype(int)
        out = np.where(ar < a[:, None], np.take_along_axis(y, a[:, None], axis=1), out)
    if b is not None:
        b = np.clip(b, 0, w - 1).astype(int)
        out = np.where(ar > b[:, None], np.take_along_axis(y, b[:, None], axis=1), out)
    return out


def _quiet(sv: np.ndarray, thr: np.ndarray, k: int, forward: bool) -> np.ndarray:
    """True where ``sv`` stays at or below ``thr`` for ``k`` samples (ahead or behind)."""
    if k <= 1:
        return sv <= thr[:, None]
    if forward:
        m = maximum_filter1d(sv, k, axis=-1, origin=-(k // 2), mode="nearest")
    else:
        m = maximum_filter1d(sv, k, axis=-1, origin=(k - 1) // 2, mode="nearest")
    return m <= thr[:, None]


def _quiet_in_span(
    sv: np.ndarray, thr: np.ndarray, k: int, forward: bool, start: np.ndarray, stop: np.ndarray
) -> np.ndarray:
    """:func:`_quiet`, exact inside the columns holding every row's [start, stop) and False
    elsewhere: the max filter runs on those columns plus a ``k``-sample margin only."""
    w = sv.shape[-1]
    lo, hi = _column_span(start, stop, w)
    out = np.zeros(sv.shape, bool)
    if hi > lo:
        a, b = max(0, lo - k), min(w, hi + k)
        out[:, a:b] = _quiet(sv[:, a:b], thr, k, forward)
    return out


def _last_quiet(sv, thr, k, start, stop) -> np.ndarray:
    """Last index in [start, stop) where ``sv`` stays <= thr for the ``k`` samples up to it."""
    return _last_true(_quiet_in_span(sv, thr, k, False, start, stop), start, stop)


def _first_quiet(sv, thr, k, start, stop) -> np.ndarray:
    """First index in [start, stop) where ``sv`` stays <= thr for the ``k`` samples from it."""
    return _first_true(_quiet_in_span(sv, thr, k, True, start, stop), start, stop)


def _take(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """y[row, idx[row]] with idx clipped to the window."""
    w = y.shape[-1]
    return y[np.arange(y.shape[0]), np.clip(idx, 0, w - 1).astype(int)]


def _trapezium(
    y: np.ndarray, tm: np.ndarray, tr: np.ndarray, direction: int, sign: np.ndarray
) -> np.ndarray:
    """Trapezium-area boundary between ``tm`` and ``tr`` (row-wise).

    ``direction`` +1 searches after ``tm`` (offsets), -1 before it (onsets). ``sign`` is the
    polarity of the wave (+1 positive, -1 negative). Returns the index maximising the area.
    """
    n, w = y.shape
    span = np.abs(tr - tm)
    kmax = int(max(1, span.max())) + 1
    k = np.arange(kmax)[None, :]
    ti = tm[:, None] + direction * k
    valid = (k <= span[:, None]) & (ti >= 0) & (ti < w)
    ym = _take(y, tm)
    yi = np.take_along_axis(y, np.clip(ti, 0, w - 1).astype(int), axis=1)
    area = 0.5 * sign[:, None] * (ym[:, None] - yi) * (2 * np.abs(tr - tm)[:, None] - k)
    area = np.where(valid, area, -np.inf)
    best = np.argmax(area, axis=1)
    return tm + direction * best


def delineate(
    xq: np.ndarray,
    xw: np.ndarray,
    fs: float,
    c: int,
    prev_r: np.ndarray,
    next_r: np.ndarray,
    weights: np.ndarray | None = None,
) -> Delineation:
    """Delineate beat windows.

    Parameters
    ----------
    xq : (L, B, W) windows of the QRS delineation copy (baseline-free, ~40 Hz smooth), mV.
    xw : (L, B, W) windows of the clean signal (baseline-free), mV; P/T copies are made here.
    fs : sampling rate, Hz.
    c : index of the anchor (R) inside the window.
    prev_r, next_r : (B,) distance in samples to the previous / next anchor (inf if none).
    weights : (L,) lead weights for the spatial velocity (0 for unusable leads).
    """
    L, B, W = xq.shape
    ms = fs / 1000.0
    if weights is None:
        weights = np.ones(L)
    weights = np.asarray(weights, float)
    P = PARAMS

    # ---- QRS, global ---------------------------------------------------------------------
    # The QRS work needs only the window up to the latest possible QRS offset.
    Wq = min(W, c + int((WINDOWS["qrs_off_search_ms"] + 40.0) * ms) + 1)
    xq = xq[:, :, :Wq]
    d = np.diff(xq, axis=2, append=xq[:, :, -1:])
    ad = np.abs(d)
    sv = np.tensordot(weights, ad, axes=(0, 0))  # (B, W)
    sv = smooth(sv, max(1, int(round(P["qrs_smooth_ms"] * ms / 2))), axis=1)
    cc = np.full(B, c)
    on_lim = np.maximum(
        cc - int(WINDOWS["qrs_on_search_ms"] * ms), cc - (np.minimum(prev_r, 10 * fs) * 0.5)
    ).astype(int)
    off_lim = np.minimum(
        cc + int(WINDOWS["qrs_off_search_ms"] * ms), cc + np.minimum(next_r, 10 * fs) * 0.5
    ).astype(int)
    on_lim = np.maximum(on_lim, 0)
    off_lim = np.minimum(off_lim, Wq - 1)
    p0 = _masked_arg(sv, cc - int(80 * ms), cc + 1, "max")
    p1 = _masked_arg(sv, cc, cc + int(80 * ms), "max")
    svmax = np.maximum(_take(sv, p0), _take(sv, p1))
    iso_on = _take(sv, _masked_arg(sv, on_lim, p0, "min"))
    iso_off = _take(sv, _masked_arg(sv, p1, off_lim, "min"))
    thr_on = iso_on + P["qrs_on_frac"] * (svmax - iso_on)
    thr_off = iso_off + P["qrs_off_frac"] * (svmax - iso_off)
    kq = max(1, int(round(P["qrs_quiet_ms"] * ms)))
    g_on = _last_quiet(sv, thr_on, kq, on_lim, p0 + 1)
    g_on = np.where(g_on < 0, on_lim, g_on).astype(float)
    g_off = _first_quiet(sv, thr_off, kq, p1, off_lim + 1)
    g_off = np.where(g_off < 0, off_lim, g_off).astype(float)
    # Terminal components: the spatial velocity is dominated by the largest (usually mid-
    # precordial) leads, so a slow terminal R' or S confined to a few smaller leads is also
    # looked for in the lead-normalised velocity (each lead divided by its own steepest slope).
    late_lim = np.minimum(g_off + int(P["qrs_terminal_ms"] * ms), off_lim).astype(int)
    lead_max = ad.max(axis=2, keepdims=True)
    wn = weights / max(float(weights.sum()), 1e-12)
    nsv = np.tensordot(wn, ad / np.maximum(lead_max, 1e-9), axes=(0, 0))
    nsv = smooth(nsv, max(1, int(round(P["qrs_smooth_ms"] * ms / 2))), axis=1)
    nmax = _take(nsv, _masked_arg(nsv, g_on.astype(int), g_off.astype(int) + 1, "max"))
    n_iso = _take(nsv, _masked_arg(nsv, p1, off_lim, "min"))
    new_off = g_off.copy()
    rules = []
    if int((weights > 0).sum()) >= P["qrs_terminal_min_leads"]:
        # With few leads an early, steep T wave cannot be told from a terminal QRS component
        # (it is one lead's slope either way): the extension needs a multi-lead record.
        rules = [
            (sv, svmax, iso_off, P["qrs_terminal_frac"]),
            (nsv, nmax, n_iso, P["qrs_terminal_lead_frac"]),
        ]
    # A terminal component ends soon after it starts; a slope that goes on is the ST-T.
    end_lim = np.minimum(late_lim + int(P["qrs_terminal_end_ms"] * ms), off_lim).astype(int)
    for vel, top, iso, frac in rules:
        late = _last_true(
            vel > (iso + frac * (top - iso))[:, None], g_off.astype(int), late_lim + 1
        )
        thr_end = iso + P["qrs_off_frac"] * (top - iso)
        end = _first_quiet(vel, thr_end, kq, np.maximum(late, 0), end_lim + 1)
        new_off = np.where((late >= 0) & (end >= 0), np.maximum(new_off, end), new_off)
    g_off = new_off.astype(float)

    # ---- QRS, per lead ---------------------------------------------------------------------
    adl = smooth(ad, max(1, int(round(P["qrs_smooth_ms"] * ms / 2))), axis=2).reshape(L * B, Wq)
    gon_l = np.tile(g_on.astype(int), L)
    goff_l = np.tile(g_off.astype(int), L)
    tol = int(P["lead_qrs_tol_ms"] * ms)
    lo_on = np.maximum(gon_l - tol, 0)
    lmax = adl.max(axis=1, where=np.ones_like(adl, bool), initial=0)
    # restrict the peak to the QRS region
    qrs_region_max = _take(adl, _masked_arg(adl, gon_l, goff_l + 1, "max"))
    lmax = np.where(qrs_region_max > 0, qrs_region_max, lmax)
    lp0 = _masked_arg(adl, gon_l, np.minimum(gon_l + tol + 1, c + 1), "max")
    lthr_on = P["lead_qrs_on_frac"] * lmax
    l_on = _last_quiet(adl, lthr_on, kq, lo_on, np.maximum(lp0, lo_on + 1) + 1)
    l_on = np.where(l_on < 0, gon_l, l_on)
    xq2 = xq.reshape(L * B, Wq)
    if P["lead_qrs_on_amp_frac"] > 0:
        # Amplitude rule: the lead leaves its PR-segment level by more than a small fraction of
        # its QRS size (and more than an absolute floor) and does not come back.
        ar0 = np.arange(Wq)[None, :]
        pr_win = (ar0 >= (gon_l - int(30 * ms))[:, None]) & (ar0 < (gon_l - int(8 * ms))[:, None])
        lvl = (xq2 * pr_win).sum(axis=1) / np.maximum(pr_win.sum(axis=1), 1)
        dev = np.abs(xq2 - lvl[:, None])
        qrs_dev = _take(dev, _masked_arg(dev, gon_l, goff_l + 1, "max"))
        athr = np.maximum(P["lead_qrs_on_amp_abs"], P["lead_qrs_on_amp_frac"] * qrs_dev)
        pk = _masked_arg(dev, gon_l, goff_l + 1, "max")
        a_on = _last_quiet(dev, athr, kq, lo_on, np.maximum(pk, lo_on + 1))
        l_on = np.where(a_on >= 0, a_on, l_on)
    l_on = np.clip(l_on, gon_l - tol, gon_l + tol)
    hi_off = np.minimum(goff_l + tol, Wq - 1)
    lp1 = _masked_arg(adl, np.maximum(goff_l - tol, c), goff_l + 1, "max")
    lthr_off = P["lead_qrs_off_frac"] * lmax
    l_off = _first_quiet(adl, lthr_off, kq, np.maximum(lp1, 0), hi_off + 1)
    l_off = np.where(l_off < 0, goff_l, l_off)
    l_off = np.clip(l_off, goff_l - tol, goff_l + tol)
    # Lead QRS peak: largest absolute deflection relative to the onset level.
    base_q = _take(xq2, l_on)
    l_peak = _masked_arg(np.abs(xq2 - base_q[:, None]), l_on, l_off + 1, "max")

    # ---- T wave, per lead ------------------------------------------------------------------
    # Work on the part of the window after the anchor only (offset ``o``), held constant
    # before J so that the QRS cannot leak into the smoothed T wave.
    xw2 = xw.reshape(L * B, W)
    ar = np.arange(W)
    o = c
    Wt = W - o
    at = np.arange(Wt)
    j_t = goff_l - o
    xt = _hold_outside(xw2[:, o:], j_t, None)
    xt = smooth(xt, max(1, int(round(P["t_smooth_ms"] * ms / 2))), axis=1)
    dt = np.diff(xt, axis=1, append=xt[:, -1:])
    # Reference level: the (held) level at J, so that ST shifts do not count as T wave.
    ref_lvl = _take(xw2, goff_l)
    rr_next = np.tile(np.minimum(next_r, 2 * fs), L)
    t_lim = np.minimum(
        np.minimum(WINDOWS["t_max_after_r_ms"] * ms, np.maximum(0.72 * rr_next, 220 * ms)),
        Wt - 1,
    ).astype(int)
    t_a = (j_t + int(WINDOWS["t_min_after_j_ms"] * ms)).astype(int)
    t_a = np.minimum(t_a, t_lim - 1)
    yt = xt - ref_lvl[:, None]
    # Remove half of the line joining J and the end of the window (sloping ST / T-P segment).
    j_lvl = _take(yt, j_t)
    end_lvl = _take(yt, t_lim)
    frac = np.clip((at[None, :] - j_t[:, None]) / np.maximum(t_lim - j_t, 1)[:, None], 0, 1)
    yt_d = yt - (j_lvl[:, None] * (1 - frac) + end_lvl[:, None] * frac) * 0.5
    if P["t_prior_weight"] > 0:
        # Soft physiologic prior: deflections late in the window (beyond the T peak expected
        # for this RR from a QTc of ~400 ms) must be larger to win, so that small T waves are
        # not replaced by U waves, fibrillation waves or the next P wave.
        rr_s = np.minimum(rr_next, 2 * fs) / fs
        t_exp = (0.4 * np.sqrt(np.clip(rr_s, 0.3, 2.0)) - 0.12) * fs
        late = np.clip((at[None, :] - t_exp[:, None]) / np.maximum(t_lim - t_exp, 1)[:, None], 0, 1)
        yt_d = yt_d * (1.0 - P["t_prior_weight"] * late)
    t_pos = _masked_arg(yt_d, t_a, t_lim, "max")
    t_neg = _masked_arg(yt_d, t_a, t_lim, "min")
    vpos, vneg = _take(yt_d, t_pos), _take(yt_d, t_neg)
    use_pos = vpos >= -vneg
    t_peak = np.where(use_pos, t_pos, t_neg)
    t_sign = np.where(use_pos, 1.0, -1.0)
    t_amp = _take(yt, t_peak)
    # T offset: steepest return after the peak, then the trapezium.
    slope = -t_sign[:, None] * dt
    tm = _masked_arg(slope, t_peak, np.minimum(t_peak + int(200 * ms), t_lim + 1), "max")
    tm = np.where(tm < 0, t_peak, tm)
    tr = np.minimum(tm + int(P["t_ref_ms"] * ms), Wt - 1)
    t_off = _trapezium(yt, tm, tr, +1, t_sign) + o
    # T onset: steepest departure between J and the peak, trapezium backwards.
    tm_on = _masked_arg(
        t_sign[:, None] * dt, np.maximum(j_t, t_peak - int(150 * ms)), t_peak, "max"
    )
    tm_on = np.where(tm_on < 0, t_peak, tm_on)
    tr_on = np.maximum(tm_on - int(P["t_on_ref_ms"] * ms), j_t)
    t_on = _trapezium(yt, tm_on, tr_on, -1, t_sign) + o
    t_pos = np.where(t_pos >= 0, t_pos + o, t_pos)
    t_neg = np.where(t_neg >= 0, t_neg + o, t_neg)
    t_peak = t_peak + o

    # ---- P wave, per lead ------------------------------------------------------------------
    rr_prev = np.tile(np.minimum(prev_r, 3 * fs), L)
    p_end = (gon_l - int(WINDOWS["pr_min_gap_ms"] * ms)).astype(int)
    p_start = np.maximum(
        gon_l - int(WINDOWS["pr_max_ms"] * ms), (c - rr_prev + 0.62 * rr_prev)
    ).astype(int)
    p_start = np.clip(p_start, 0, np.maximum(p_end - int(40 * ms), 0))
    # Everything P happens before the QRS onset (<= c): work on that part of the window only.
    xw2p = xw2[:, : c + 1]
    arp = ar[: c + 1]
    xp = _hold_outside(xw2p, p_start, gon_l - int(2 * ms))
    xp = smooth(xp, max(1, int(round(P["p_smooth_ms"] * ms / 2))), axis=1)
    dp = np.diff(xp, axis=1, append=xp[:, -1:])
    ys = _take(xp, p_start)
    ye = _take(xp, gon_l)
    fr = np.clip((arp[None, :] - p_start[:, None]) / np.maximum(gon_l - p_start, 1)[:, None], 0, 1)
    # Partial detrending: a full line from the window start (possibly on the T tail) to the
    # PR segment would shift the P peak; ``p_detrend`` sets how much of it is removed.
    ys = ye + P["p_detrend"] * (ys - ye)
    yp = xp - (ys[:, None] * (1 - fr) + ye[:, None] * fr)
    p_hi = p_end
    p_pos = _masked_arg(yp, p_start + int(20 * ms), p_hi, "max")
    p_neg = _masked_arg(yp, p_start + int(20 * ms), p_hi, "min")
    ppos, pneg = _take(yp, p_pos), _take(yp, p_neg)
    use_pos_p = ppos >= -pneg
    p_peak = np.where(use_pos_p, p_pos, p_neg)
    p_sign = np.where(use_pos_p, 1.0, -1.0)
    p_amp = _take(xp, p_peak) - ye
    pm_off = _masked_arg(-p_sign[:, None] * dp, p_peak, np.maximum(p_end, p_peak + 1), "max")
    pm_off = np.where(pm_off < 0, p_peak, pm_off)
    pr_off = np.minimum(pm_off + int(P["p_off_ref_ms"] * ms), gon_l)
    p_off = _trapezium(yp, pm_off, np.maximum(pr_off, pm_off), +1, p_sign)
    pm_on = _masked_arg(p_sign[:, None] * dp, p_start, p_peak, "max")
    pm_on = np.where(pm_on < 0, p_peak, pm_on)
    pr_on = np.maximum(pm_on - int(P["p_on_ref_ms"] * ms), p_start)
    p_on = _trapezium(yp, pm_on, np.minimum(pr_on, pm_on), -1, p_sign)
    # Noise in the P window: residual of the smooth copy against a heavier smoothing.
    hf = xw2p - xp
    pw = (arp >= p_start[:, None]) & (arp < gon_l[:, None])
    p_noise = np.sqrt((hf * hf * pw).sum(axis=1) / np.maximum(pw.sum(axis=1), 1))
    bad_p = (p_pos < 0) | (p_neg < 0) | (p_end - p_start < int(60 * ms))

    def shape(a: np.ndarray, bad: np.ndarray | None = None) -> np.ndarray:
        a = a.astype(float)
        if bad is not None:
            a = np.where(bad, np.nan, a)
        return a.reshape(L, B)

    bad_t = (t_pos < 0) | (t_neg < 0)
    lead = {
        "qrs_on": shape(l_on),
        "qrs_peak": shape(l_peak),
        "qrs_off": shape(l_off),
        "t_on": shape(t_on, bad_t),
        "t_peak": shape(t_peak, bad_t),
        "t_off": shape(t_off, bad_t),
        "p_on": shape(p_on, bad_p),
        "p_peak": shape(p_peak, bad_p),
        "p_off": shape(p_off, bad_p),
    }
    glob = {"qrs_on": g_on, "qrs_off": g_off}
    return Delineation(
        lead=lead,
        glob=glob,
        p_amp=np.where(bad_p, 0.0, p_amp).reshape(L, B),
        t_amp=np.where(bad_t, 0.0, t_amp).reshape(L, B),
        p_noise=p_noise.reshape(L, B),
    )
