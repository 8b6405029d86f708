"""Round 5a of issue 19 (engine speed): each fast path equals, bit for bit, the plain code it
replaced (kept here as the reference) on random and ECG-like signals with the edge cases
(NaN, infinities, candidates at the record's ends, short records, several sampling rates)."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_ecg import spiky_leads

from ecgr1.signal.quality import QUALITY_THRESHOLDS, _glitches, _long_run_fraction, _nonzero_2d
from ecgr1.signal.stats import block_mean, percentile_along


def _ecg_like(rows: int, n: int, fs: float, seed: int) -> np.ndarray:
    """Leads of narrow spikes every ~0.8 s plus slow waves and a little noise (mV)."""
    return spiky_leads(rows, n, fs, seed, t_wave_mv=0.0, noise_mv=0.02)


# ------------------------------------------------------------ the replaced code, verbatim


def _glitches_before(clean: np.ndarray) -> np.ndarray:
    """:func:`_glitches` as it was: candidates by ``np.nonzero`` and 2-D gathers."""
    th = QUALITY_THRESHOLDS
    rows, n = clean.shape
    out = np.zeros(clean.shape, bool)
    c = int(th["glitch_context"])
    if n < 2 * c + 3:
        return out
    d2 = np.multiply(clean[:, 1:-1], 2)
    np.subtract(clean[:, :-2], d2, out=d2)
    d2 += clean[:, 2:]
    left, right = d2[:, :-2], d2[:, 2:]
    t = 0.5 * th["glitch_min_mv"]
    weak = np.zeros(clean.shape, bool)
    inner = weak[:, 2:-2]
    both = np.minimum(left, right)
    np.greater(both, t, out=inner)
    np.maximum(left, right, out=both)
    inner |= both < -t
    if not weak.any():
        return out
    r, i = np.nonzero(weak)
    g = np.minimum(np.abs(left[r, i - 2]), np.abs(right[r, i - 2]))
    rr = r[:, None]
    j = i[:, None] + np.r_[-c:-1, 2 : c + 1]
    inside = (j >= 1) & (j <= n - 2)
    ctx = np.where(inside, np.abs(d2[rr, np.clip(j - 1, 0, n - 3)]), 0.0).max(axis=1)
    j = i[:, None] + np.r_[-c + 1 : 0, 2 : c + 1]
    inside = (j >= 1) & (j <= n - 1)
    jc = np.clip(j, 1, n - 1)
    steps = np.where(inside, 0.5 * np.abs(clean[rr, jc] - clean[rr, jc - 1]), 0.0)
    ctx = np.maximum(ctx, steps.max(axis=1))
    keep = g > 0.5 * th["glitch_rel"] * ctx
    big = keep & (g > th["glitch_min_mv"]) & (g > th["glitch_rel"] * ctx)
    if not big.any():
        return out
    weak[r[~keep], i[~keep]] = False
    rb, ib = r[big], i[big]
    if rows >= 2:
        w = np.zeros((rows, n + 2), bool)
        w[:, 1:-1] = weak
        near = w[:, ib] | w[:, ib + 1] | w[:, ib + 2]
        alone = near.sum(axis=0) == 1
        rb, ib = rb[alone], ib[alone]
    out[rb, ib] = True
    return out


def _long_run_fraction_before(mask: np.ndarray, min_len: int) -> np.ndarray:
    """:func:`_long_run_fraction` as it was (its own run finding by ``np.nonzero``)."""
    mask = np.atleast_2d(mask)
    rows, n = mask.shape
    padded = np.zeros((rows, n + 2), np.int8)
    padded[:, 1:-1] = mask
    d = np.diff(padded, axis=1)
    r_s, c_s = np.nonzero(d == 1)
    _, c_e = np.nonzero(d == -1)
    lengths = c_e - c_s
    keep = lengths >= min_len
    total = np.bincount(r_s[keep], weights=lengths[keep], minlength=rows)
    return total / max(n, 1)


def _percentile_omit_nan_before(a: np.ndarray, q: float | list[float], axis: int) -> np.ndarray:
    """``percentile_along(..., nan_policy="omit")`` as it was (NumPy scalars throughout)."""
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, 0)
    qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    if a.shape[0] == 0:
        out = np.full((qs.size, *a.shape[1:]), np.nan)
        return out if np.ndim(q) else out[0]
    s = np.sort(a, axis=0)
    if np.isfinite(s[-1]).all() and np.isfinite(s[0]).all():
        last = s.shape[0] - 1
        rows = []
        for qi in qs:
            pos = np.float64(last) * (qi / 100.0)
            lo = int(np.floor(pos))
            hi = min(lo + 1, last)
            frac = pos - np.float64(lo)
            rows.append(np.asarray(s[lo] * (1.0 - frac) + s[hi] * frac))
        return np.stack(rows) if np.ndim(q) else rows[0]
    n = np.isfinite(s).sum(axis=0)
    last = np.maximum(n - 1, 0)
    rows = []
    for qi in qs:
        pos = last * (qi / 100.0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, last)
        frac = pos - lo
        with np.errstate(invalid="ignore"):
            v = (
                np.take_along_axis(s, lo[None], axis=0)[0] * (1.0 - frac)
                + np.take_along_axis(s, hi[None], axis=0)[0] * frac
            )
        rows.append(np.where(n > 0, v, np.nan))
    return np.stack(rows) if np.ndim(q) else rows[0]


# ------------------------------------------------------------------------------- tests


def test_percentile_omit_nan_equals_the_code_it_replaces() -> None:
    rng = np.random.default_rng(11)
    qs = (50, 20.0, 99.5, 0, 100, np.float64(37.3), [5, 50, 95], [12.5], np.array([1.0, 99.0]))
    for shape in ((12, 10), (12, 1), (1, 7), (8, 22), (30,), (3, 4, 5), (0, 4), (4, 0)):
        x = rng.normal(size=shape) * 40
        cases = [x]
        if x.size > 4:
            y = x.copy()
            y.flat[::3] = np.nan
            z = x.copy()
            z.flat[1] = np.inf
            z.flat[-1] = -np.inf
            cases += [y, z]
        for v in cases:
            for axis in range(-v.ndim, v.ndim):
                for q in qs:
                    with np.errstate(invalid="ignore"):
                        want = _percentile_omit_nan_before(v, q, axis)
                        got = percentile_along(v, q, axis=axis, nan_policy="omit")
                    assert np.shape(got) == np.shape(want)
                    assert np.asarray(got).dtype == np.asarray(want).dtype
                    assert np.array_equal(got, want, equal_nan=True)


def test_long_run_fraction_equals_the_code_it_replaces() -> None:
    rng = np.random.default_rng(7)
    for shape, p in (
        ((5, 300), 0.9),
        ((3, 5000), 0.99),
        ((2, 1), 0.5),
        ((2, 0), 0.5),
        ((40,), 0.8),
    ):
        mask = rng.random(shape) < p
        if mask.ndim == 2 and mask.shape[1] > 2:
            mask[0] = True
            mask[-1, ::2] = False
        for min_len in (1, 2, 5, 50):
            want = _long_run_fraction_before(mask, min_len)
            got = _long_run_fraction(mask, min_len)
            assert got.dtype == want.dtype and np.array_equal(got, want)


def _glitch_cases() -> list[np.ndarray]:
    """ECG-like leads at 100/250/500 Hz with single-sample errors (some at the very ends and
    within the context of the ends), white noise, NaN and infinities, and short records."""
    rng = np.random.default_rng(51)
    cases = []
    for fs, n, rows in ((100.0, 1000, 12), (250.0, 2500, 3), (500.0, 5000, 12), (500.0, 15, 2)):
        x = _ecg_like(rows, n, fs, seed=int(fs))
        for _ in range(40):
            k = int(rng.integers(0, rows))
            i = int(rng.choice([0, 1, 2, 3, 4, 5, 6, 7, n - 8, n - 5, n - 3, n - 2, n - 1]))
            i = i if rng.random() < 0.5 else int(rng.integers(0, n))
            x[k, i] += rng.choice([-1, 1]) * rng.uniform(0.03, 0.9)
        cases.append(x)
        cases.append(rng.normal(0, 0.05, (rows, n)))  # many candidates
        bad = x.copy()
        bad[0, 3] = np.nan
        bad[-1, n - 4] = np.inf
        bad[-1, n // 2] = -np.inf
        bad[0, n // 3] = np.nan
        cases.append(bad)
        # Non-finite end samples next to candidates that read beyond that end.
        for first, last in ((np.inf, np.nan), (np.nan, -np.inf), (-np.inf, np.inf)):
            ends = x.copy()
            ends[:, 0], ends[:, -1] = first, last
            ends[:, [3, 4, n - 4, n - 5]] += 0.7 * (-1) ** np.arange(rows)[:, None]
            cases.append(ends)
    cases.append(_ecg_like(1, 500, 250.0, seed=9))
    cases.append(np.zeros((3, 14)))  # too short to judge
    cases.append(np.zeros((2, 0)))
    return cases


def test_glitches_equal_the_code_they_replace() -> None:
    found = 0
    with np.errstate(invalid="ignore"):
        for x in _glitch_cases():
            want = _glitches_before(x)
            got = _glitches(x)
            assert got.dtype == want.dtype and np.array_equal(got, want)
            found += int(want.sum())
    assert found >= 10  # the cases do exercise the flag


def test_nonzero_2d_is_numpys() -> None:
    rng = np.random.default_rng(2)
    for shape, p in (((12, 5000), 0.01), ((3, 7), 0.5), ((4, 0), 0.5), ((0, 5), 0.5)):
        mask = rng.random(shape) < p
        for got, want in zip(_nonzero_2d(mask), np.nonzero(mask), strict=True):
            assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("k", [1, 2, 3, 5, 7, 8, 9, 10, 15, 16, 17, 20, 24, 33, 64, 128, 129])
def test_block_mean_is_numpys_mean(k: int) -> None:
    rng = np.random.default_rng(k)
    for shape in ((12, 5003), (2, 1001), (1, 77), (3,), (2, 2, 301), (2, 0)):
        x = rng.normal(size=shape) * rng.uniform(1e-3, 1e3)
        if x.size > 60:
            x[..., :20] = 0.0
            x[..., 20:40] = -0.0  # the sign of a zero sum is NumPy's too
            x[..., ::7] = -0.0
            x.flat[-3] = np.nan
            x.flat[-60] = np.inf
        n = shape[-1] // k
        want = x[..., : n * k].reshape(*shape[:-1], n, k).mean(axis=-1)
        got = block_mean(x, k)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(want))
    # Not contiguous (the reduction order may differ): np.mean itself.
    x = rng.normal(size=(40, 12)).T
    n = 40 // k
    assert np.array_equal(block_mean(x, k), x[:, : n * k].reshape(12, n, k).mean(axis=-1))
    x32 = rng.normal(size=(3, 500)).astype(np.float32)
    n = 500 // k
    want32 = x32[:, : n * k].reshape(3, n, k).mean(axis=-1)
    got32 = block_mean(x32, k)
    assert got32.dtype == want32.dtype and np.array_equal(got32, want32)


def test_float32_percentile_is_numpys() -> None:
    rng = np.random.default_rng(12)
    qs = (99, 98, 50, 0, 0.5, 99.5, 12.5, 100, 99.99, 1e-9, 37)
    for shape in ((12, 2500), (2500,), (3, 7), (1, 2), (5, 1), (2,), (2, 3, 40)):
        for scale in (1e-3, 1.0, 1e4):
            x = (rng.normal(size=shape) ** 2 * scale).astype(np.float32)
            x.flat[:: max(1, x.size // 5)] = 0.0  # ties
            if x.size > 3:
                x.flat[1] = np.inf
            for axis in range(-x.ndim, x.ndim):
                for q in qs:
                    with np.errstate(invalid="ignore"):
                        want = np.percentile(x, q, axis=axis)
                        got = percentile_along(x, q, axis=axis)
                    assert type(got) is type(want) and np.shape(got) == np.shape(want)
                    assert np.asarray(got).dtype == np.asarray(want).dtype == np.float32
                    assert np.array_equal(got, want, equal_nan=True)
    # A list of q, NaN, or other types: np.percentile itself (float64 weights).
    x = rng.normal(size=(4, 50)).astype(np.float32)
    assert np.array_equal(percentile_along(x, [5, 95], axis=1), np.percentile(x, [5, 95], axis=1))
    assert percentile_along(x, [5, 95], axis=1).dtype == np.float64
    x[0, 3] = np.nan
    assert np.array_equal(percentile_along(x, 5, axis=1), np.percentile(x, 5, axis=1), True)


def _envelope_before(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """``beats._envelope`` as it was (its scale from ``np.percentile``)."""
    from scipy.ndimage import uniform_filter1d

    from ecgr1.signal.filters import smooth

    xs = smooth(x, max(1, int(round(fs * 0.008))))
    d = np.diff(xs, axis=1, prepend=xs[:, :1])
    d -= uniform_filter1d(d, max(1, int(fs * 0.06)), axis=1, mode="nearest")
    e = np.multiply(d, d, out=d)
    scale = np.percentile(e, 99, axis=1, keepdims=True)
    scale[scale <= 0] = 1.0
    if np.result_type(e, scale) == e.dtype:
        e /= scale
    else:
        e = e / scale
    e = e.sum(axis=0)
    env = uniform_filter1d(e, max(1, int(fs * 0.08)), mode="nearest")
    return e, env


@pytest.mark.parametrize("fs", [100.0, 250.0, 500.0])
def test_envelope_equals_the_code_it_replaces(fs: float) -> None:
    from ecgr1.measure.beats import _envelope

    for dtype in (np.float32, np.float64):
        x = _ecg_like(12, int(10 * fs), fs, seed=int(fs)).astype(dtype)
        x[3] = 0.0  # a flat lead: zero scale
        # The summed energy and its envelope; the third output (without the largest lead) is
        # checked against its plain expression in test_speed_exactness.py.
        for got, want in zip(_envelope(x, fs)[:2], _envelope_before(x, fs), strict=True):
            assert got.dtype == want.dtype and np.array_equal(got, want)


def test_finalize_repairs_only_when_needed_and_checks_the_policy() -> None:
    from ecgr1.io.finalize import finalize_record, repair_nonfinite

    rng = np.random.default_rng(13)
    x = rng.normal(size=(3, 400)) * 1000
    leads = ["I", "II", "V1"]
    for policy in ("interpolate", "zero"):
        rec = finalize_record(x, 500.0, leads, nan_policy=policy, derive_leads=False)
        want, _ = repair_nonfinite(x, leads, policy)
        assert np.array_equal(rec.signal, want.astype(np.float32))
        assert not any("non-finite" in w for w in rec.warnings)
    y = x.copy()
    y[1, 10:13] = np.nan
    rec = finalize_record(y, 500.0, leads, derive_leads=False)
    assert any("3 non-finite" in w for w in rec.warnings)
    assert np.isfinite(rec.signal).all()
    for signal in (x, y):
        with pytest.raises(ValueError, match="nan_policy"):
            finalize_record(signal, 500.0, leads, nan_policy="drop")


def _clean_before(value: object) -> object:
    """``result._clean`` as it was (every list element through the function)."""
    import dataclasses
    import math

    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) in (str, int, bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _clean_before(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean_before(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _clean_before(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _same_typed(a: object, b: object) -> bool:
    """Equal with the same types all the way down (1, 1.0 and True differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_typed(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_typed(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_clean_equals_the_code_it_replaces() -> None:
    import ecgr1
    from ecgr1.measure.result import _clean

    odd = [1, None, True, 2.5, np.int64(3), np.float64(np.nan), np.bool_(False), "s", (4, None)]
    values = [odd, tuple(odd), {"a": odd, 1: [np.float32(1.5), [None, 7]]}, [[1, 2], [np.inf]]]
    for value in values:
        assert _same_typed(_clean(value), _clean_before(value))
    res = ecgr1.measure(ecgr1.simulate("normal", seed=3).record)
    for part in (res.global_, res.leads, res.beats, res.lead_fiducials, res.quality.leads):
        assert _same_typed(_clean(part), _clean_before(part))


def test_count_in_runs_equals_the_loop_it_replaces() -> None:
    from ecgr1.signal.quality import _count_in_runs, _runs

    rng = np.random.default_rng(14)
    for size, p in ((4999, 0.7), (4999, 0.97), (10, 0.5), (1, 1.0), (0, 0.5), (300, 1.0)):
        mask = rng.random(size) < p
        runs = _runs(mask)
        for min_len in (2, 3, 10, 125):
            joint = np.zeros(size, np.int64)
            for a, b in zip(*runs, strict=True):
                if b - a + 1 >= min_len:
                    joint[a:b] = 1
            want = np.concatenate(([0], np.cumsum(joint)))
            got = _count_in_runs(runs, min_len, size)
            assert got.dtype == want.dtype and np.array_equal(got, want)


def test_stretch_width_equals_the_code_it_replaces() -> None:
    from ecgr1.signal.quality import _stretch_width

    def before(still: np.ndarray, pos: np.ndarray, step: int, cap: int) -> np.ndarray:
        idx = pos[None, :] + step * np.arange(cap)[:, None]
        inside = (idx >= 0) & (idx < still.shape[1])
        run = still[:, np.clip(idx, 0, still.shape[1] - 1)] & inside
        return np.cumprod(run, axis=1, dtype=np.int64).sum(axis=1)

    rng = np.random.default_rng(15)
    for rows, n, p in ((12, 4999, 0.4), (3, 50, 0.9), (2, 5, 1.0), (1, 30, 0.0), (0, 20, 0.5)):
        still = rng.random((rows, n)) < p
        pos = np.r_[-1, 0, 1, 2, rng.integers(0, n, 40), n - 2, n - 1, n]
        for pos_ in (pos, pos[:0]):
            for step in (1, -1):
                for cap in (1, 3, 8):
                    want = before(still, pos_, step, cap)
                    got = _stretch_width(still, pos_, step, cap)
                    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_frozen_with_jump_equals_the_code_it_replaces() -> None:
    from ecgr1.signal.quality import _frozen_with_jump, _runs

    def before(raw: np.ndarray, still: np.ndarray) -> tuple[int, int]:
        n = raw.shape[1]
        starts, stops = _runs(still.all(axis=0))
        keep = stops - starts + 1 >= 3
        a, b = starts[keep], stops[keep]
        if not a.size:
            return 0, -1

        def width(pos: np.ndarray, step: int) -> np.ndarray:
            idx = pos[None, :] + step * np.arange(8)[:, None]
            inside = (idx >= 0) & (idx < still.shape[1])
            run = still[:, np.clip(idx, 0, still.shape[1] - 1)] & inside
            return np.cumprod(run, axis=1, dtype=np.int64).sum(axis=1)

        lo = a[None, :] - width(a - 1, -1)
        hi = b[None, :] + width(b, 1)
        ok = (lo >= 4) & (hi + 5 <= n)
        lo, hi = np.where(ok, lo, 4), np.where(ok, hi, n - 5)
        d = np.diff(raw, axis=1)
        rows = np.arange(raw.shape[0])[:, None]
        entry, leave = d[rows, lo - 1], d[rows, hi]
        outside = np.abs(d[rows, lo - 4])
        for j in (lo - 3, lo - 2, hi + 1, hi + 2, hi + 3):
            outside = np.maximum(outside, np.abs(d[rows, j]))
        step = np.minimum(np.abs(entry), np.abs(leave))
        jump = ok & (entry * leave < 0) & (step > 0.05) & (step > 5.0 * outside)
        hit = jump.any(axis=0)
        if not hit.any():
            return 0, -1
        return int(np.sum(b[hit] - a[hit] + 1)), int(a[hit][0])

    rng = np.random.default_rng(16)
    base = np.round(_ecg_like(5, 3000, 500.0, seed=16) * 200) / 200  # many still runs
    found = 0
    for trial in range(30):
        x = base.copy()
        for _ in range(3):
            a, length = int(rng.integers(0, 2990)), int(rng.integers(3, 12))
            x[:, a : a + length] = x[:, a : a + 1]
            lead = int(rng.integers(0, 5))
            x[lead, max(0, a - int(rng.integers(0, 3))) : a + length] += rng.uniform(-0.5, 0.5)
        if trial % 5 == 0:
            x[int(rng.integers(0, 5)), int(rng.integers(0, 3000))] = np.nan
        with np.errstate(invalid="ignore"):
            step = np.diff(x, axis=1)
            still = (step < 1e-6) & (step > -1e-6)
            want = before(x, still)
            assert _frozen_with_jump(x, still) == want
            assert _frozen_with_jump(x, still, step, _runs(still.all(axis=0))) == want
        found += want[0] > 0
    assert found >= 5
