"""The vectorised quality checks and statistics give exactly what their plain definitions give.

Each fast path of issue 19 (engine speed) is compared, bit for bit, with a loop written from
its docstring's definition, on signals built to exercise it (frozen stretches entered by a jump,
one-sample glitches, quantised staircases, records shorter than the windows).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import signal as sps
from synthetic_ecg import spiky_leads

from ecgr1.signal import filters
from ecgr1.signal.filters import estimate_baseline
from ecgr1.signal.quality import _frozen_with_jump, _glitches, _row_runs, _runs, local_damage
from ecgr1.signal.stats import median_along, median_partition, percentile_along


def _ecg_like(rows: int, n: int, fs: float, seed: int) -> np.ndarray:
    """ECG-shaped leads (spikes, T-like bumps, a slow sine, a little noise; mV)."""
    return spiky_leads(rows, n, fs, seed)


# --------------------------------------------------------------- references (plain loops)


def _frozen_reference(raw: np.ndarray, still: np.ndarray) -> tuple[int, int]:
    """The definition of :func:`_frozen_with_jump`, run by run and lead by lead."""
    n = raw.shape[1]
    starts, stops = _runs(still.all(axis=0))
    total, first = 0, -1
    for a, b in zip(starts, stops, strict=True):
        if b - a + 1 < 3:
            continue
        for k in range(raw.shape[0]):
            lo, hi = a, b
            while lo > 0 and still[k, lo - 1] and a - lo < 8:
                lo -= 1
            while hi < n - 1 and still[k, hi] and hi - b < 8:
                hi += 1
            if lo < 4 or hi + 5 > n:
                continue
            entry, leave = raw[k, lo] - raw[k, lo - 1], raw[k, hi + 1] - raw[k, hi]
            outside = max(
                np.abs(np.diff(raw[k, lo - 4 : lo])).max(),
                np.abs(np.diff(raw[k, hi + 1 : hi + 5])).max(),
            )
            step = min(abs(entry), abs(leave))
            if entry * leave < 0 and step > 0.05 and step > 5.0 * outside:
                total += int(b - a + 1)
                first = int(a) if first < 0 else first
                break
    return total, first


def _glitch_reference(x: np.ndarray) -> np.ndarray:
    """The definition of :func:`_glitches`, sample by sample (context 6, rel 10, 0.05 mV)."""
    rows, n = x.shape
    c = 6
    d2 = np.zeros_like(x)
    d2[:, 1:-1] = x[:, :-2] - 2 * x[:, 1:-1] + x[:, 2:]
    slope = np.zeros_like(x)
    slope[:, 1:] = 0.5 * np.abs(np.diff(x, axis=1))
    weak = np.zeros(x.shape, bool)
    strong = np.zeros(x.shape, bool)
    for k in range(rows):
        for i in range(n):
            left = d2[k, i - 1] if i >= 1 else 0.0
            right = d2[k, i + 1] if i + 1 < n else 0.0
            g = min(abs(left), abs(right)) if np.sign(left) * np.sign(right) > 0 else 0.0
            ctx = max(
                [abs(d2[k, j]) for j in range(i - c, i + c + 1) if abs(j - i) >= 2 and 0 <= j < n]
                + [slope[k, j] for j in range(i - c + 1, i) if 0 <= j < n]
                + [slope[k, j] for j in range(i + 2, i + c + 1) if 0 <= j < n]
                + [0.0]
            )
            weak[k, i] = g > 0.025 and g > 5.0 * ctx
            strong[k, i] = weak[k, i] and g > 0.05 and g > 10.0 * ctx
    out = strong.copy()
    for k in range(rows):
        for i in np.flatnonzero(strong[k]):
            others = [j for j in range(rows) if j != k and weak[j, max(0, i - 1) : i + 2].any()]
            out[k, i] = not others
    return out


# --------------------------------------------------------------------------------- tests


def test_median_partition_is_numpy_median_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    for trial in range(400):
        shape = [int(v) for v in rng.integers(1, 6, size=rng.integers(1, 4))]
        axis = int(rng.integers(-1, len(shape)))
        shape[axis] = int(rng.integers(1, 160))
        x = np.round(rng.normal(size=shape), 1)  # ties and signed zeros
        if trial % 7 == 0:
            x.flat[int(rng.integers(0, x.size))] = np.nan
        if trial % 11 == 0:
            x[...] = -0.0
        if trial % 3 == 0 and x.shape[-1] > 1:
            x = x[..., ::2]  # strided
        for keepdims in (False, True):
            want = np.median(x, axis=axis, keepdims=keepdims)
            fast = [median_partition(x, axis=axis, keepdims=keepdims)]
            if x.shape[axis] > 64:  # median_along hands long axes to median_partition
                fast.append(median_along(x, axis=axis, keepdims=keepdims))
            for got in fast:
                assert got.shape == want.shape
                assert np.array_equal(got, want, equal_nan=True)
                assert np.array_equal(np.signbit(got), np.signbit(want))


def test_percentile_along_equals_numpy_percentile() -> None:
    rng = np.random.default_rng(5)
    for trial in range(300):
        shape = [int(v) for v in rng.integers(1, 6, size=rng.integers(1, 4))]
        axis = int(rng.integers(-1, len(shape)))
        shape[axis] = int(rng.integers(1, 400))
        x = rng.normal(size=shape)
        if trial % 3 == 0:
            x = np.round(x, 1)  # ties
        if trial % 4 == 0 and x.shape[-1] > 1:
            x = x[..., ::2]
        q = [0.0, 0.5, 1.0, 49.9, 50.0, 50.1, 99.0, 99.5, 100.0, float(rng.uniform(0, 100))]
        for qq in (q, q[int(trial) % len(q)]):
            got, want = percentile_along(x, qq, axis=axis), np.percentile(x, qq, axis=axis)
            assert np.shape(got) == np.shape(want)
            assert np.array_equal(got, want)  # (+0.0 == -0.0: the sign of a zero may differ)


@pytest.mark.parametrize("compiled", [True, False])
def test_zero_phase_filter_is_scipys_sosfiltfilt(compiled: bool, monkeypatch) -> None:
    if not compiled:
        monkeypatch.setattr(filters, "_sosfilt_c", None)  # the public sosfilt fallback
    rng = np.random.default_rng(6)
    for fs_dec, n, padlen in ((50.0, 500, 300), (50.0, 40, 39), (25.0, 200, 1), (50.0, 30, 0)):
        sos, zi = (
            filters.butter_sos(2, 0.5, "low", fs_dec),
            filters.butter_sos_zi(2, 0.5, "low", fs_dec),
        )
        x = rng.normal(size=(3, n)).cumsum(axis=1)
        want = sps.sosfiltfilt(sos, x, axis=1, padtype="odd", padlen=padlen)
        assert np.array_equal(filters._filtfilt_odd(sos, zi, x, padlen), want)


@pytest.mark.parametrize("fs", [100.0, 250.0, 500.0])
def test_baseline_at_a_stride_is_the_full_baseline_subsampled(fs: float) -> None:
    x = _ecg_like(3, int(10 * fs) + 7, fs, seed=1) + np.linspace(0, 2, int(10 * fs) + 7)
    full = estimate_baseline(x, fs)
    for every in (1, 3, 8):
        assert np.array_equal(estimate_baseline(x, fs, every=every), full[:, ::every])
    block = int(round(fs / 50.0))
    short = x[:, : 10 * block]  # fewer than 16 blocks: the median held
    assert np.array_equal(
        estimate_baseline(short, fs, every=4), estimate_baseline(short, fs)[:, ::4]
    )


def test_frozen_with_jump_matches_its_definition() -> None:
    fs = 500.0
    rng = np.random.default_rng(2)
    base = np.round(_ecg_like(5, 3000, fs, seed=2) * 200) / 200  # quantised: many still runs
    cases = [base]
    for _ in range(12):
        x = base.copy()
        a = int(rng.integers(2, 2980))
        length = int(rng.integers(3, 12))
        x[:, a : a + length] = x[:, a : a + 1]  # every lead frozen
        lead = int(rng.integers(0, 5))
        x[lead, a - int(rng.integers(0, 3)) : a + length] += rng.choice([-1, 1]) * rng.uniform(
            0.02, 0.5
        )  # one lead jumps into its own stretch (sometimes a sample early) and back
        cases.append(x)
    for a in (3, 4, 5, 2989, 2990, 2991):  # stretches whose outside steps reach the ends
        x = base.copy()
        x[:, a : a + 6] = x[:, a : a + 1]
        x[0, a : a + 6] += 0.3
        cases.append(x)
    for before, after in ((0.2, 0.0), (0.0, 0.2)):  # a large step 3 samples outside: no jump
        x = base.copy()
        x[:, 1500:1506] = x[:, 1500:1501]
        x[0, 1500:1506] += 0.3
        x[0, :1497] -= before  # step x[1497] - x[1496]: 3 samples before the stretch
        x[0, 1509:] += after  # step x[1509] - x[1508]: 3 samples after it
        cases.append(x)
    found = 0
    for x in cases:
        still = np.abs(np.diff(x, axis=1)) < 1e-6
        want = _frozen_reference(x, still)
        assert _frozen_with_jump(x, still) == want
        found += want[0] > 0
    assert found >= 3  # the cases do exercise the flag


def test_glitches_match_their_definition() -> None:
    fs = 250.0
    rng = np.random.default_rng(3)
    x = _ecg_like(4, 1500, fs, seed=3)
    for _ in range(25):  # single-lead bit errors, some at the very ends
        x[
            int(rng.integers(0, 4)), int(rng.choice([0, 1, 2, 1497, 1498, 1499, *range(3, 1497)]))
        ] += rng.choice([-1, 1]) * rng.uniform(0.03, 0.6)
    x[:, 1130] += 0.8  # in every lead at once: a recorded event
    x[1, 1220] += 0.8
    x[2, 1221] += 0.8  # one sample apart in two leads: also an event
    want = _glitch_reference(x)
    assert want.sum() >= 5
    assert not want[:, 1130].any() and not want[1:3, 1220:1222].any()
    assert np.array_equal(_glitches(x), want)
    # Alone in its lead, the same jump is a glitch: the cross-lead rule is what removed them.
    x[[0, 2, 3], 1130] -= 0.8
    x[2, 1221] -= 0.8
    assert _glitches(x)[1, 1130] and _glitches(x)[1, 1220]


def test_row_runs_match_runs_row_by_row() -> None:
    rng = np.random.default_rng(4)
    mask = rng.random((5, 300)) < 0.6
    mask[2] = True
    mask[3] = False
    r, starts, stops = _row_runs(mask)
    for k in range(5):
        s, e = _runs(mask[k])
        assert np.array_equal(starts[r == k], s) and np.array_equal(stops[r == k], e)


def test_dropout_found_in_a_lead_with_one_long_run_only() -> None:
    # The drop-out search skips leads without a whole aligned half-run block: a run exactly
    # one second long that straddles block edges must still be found.
    fs = 500.0
    x = _ecg_like(4, 5000, fs, seed=5)
    x[2, 1251 : 1251 + 501] = x[2, 1251]  # 501 equal samples: a 500-step still run
    found = local_damage(x, x - x.mean(axis=1, keepdims=True), fs)
    assert "dropout" in found[2]
    assert "first at 2.50 s" in found[2]["dropout"]
    assert all("dropout" not in found[k] for k in (0, 1, 3))


def test_allocator_tuning_is_opt_out_and_changes_no_result() -> None:
    code = (
        "import ecgr1, numpy as np\n"
        "from ecgr1.cli._allocator import tune_allocator\n"
        "r = ecgr1.simulate('normal', seed=1).record\n"
        "res = ecgr1.measure(r)\n"
        "print(tune_allocator(), res.global_.qrs_duration_ms, res.global_.qt_interval_ms)\n"
    )
    outs = {}
    for setting in ("1", "0"):
        env = {**os.environ, "ECGR1_MALLOC_TUNING": setting}
        for name in ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"):
            env.pop(name, None)
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs[setting] = proc.stdout.split()
    assert outs["0"][0] == "False"
    if sys.platform.startswith("linux"):
        assert outs["1"][0] in ("True", "False")  # True on glibc
    assert outs["1"][1:] == outs["0"][1:]


@pytest.mark.parametrize("k", range(2, 10))
def test_decimate_mean_is_numpys_block_mean(k: int) -> None:
    from ecgr1.measure.detection import decimate_mean

    rng = np.random.default_rng(k)
    for shape in ((12, 5003), (2, 1001), (1, 77)):
        x = rng.normal(size=shape)
        x[:, :20] = 0.0
        x[:, 20:40] = -0.0  # the sign of a zero sum is NumPy's too
        x[0, ::7] = -0.0
        n = shape[1] // k
        want = x[:, : n * k].reshape(shape[0], n, k).mean(axis=-1)
        got = decimate_mean(x, k)
        assert np.array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want))


def _omit_nan_reference(x: np.ndarray, q: float, axis: int) -> np.ndarray:
    """``percentile_along(..., nan_policy="omit")`` from its docstring, slice by slice: the
    finite values sorted, ``lo * (1 - g) + hi * g`` at ``pos = (n - 1) q / 100``."""
    moved = np.moveaxis(x, axis, 0)
    out = np.full(moved.shape[1:], np.nan)
    for idx in np.ndindex(*moved.shape[1:]):
        v = np.sort(moved[(slice(None), *idx)])
        v = v[np.isfinite(v)]
        if v.size:
            pos = (v.size - 1) * (q / 100.0)
            lo = int(np.floor(pos))
            hi, g = min(lo + 1, v.size - 1), pos - lo
            out[idx] = v[lo] * (1.0 - g) + v[hi] * g
    return out


def test_nan_omitting_percentile_fast_path_matches_its_definition() -> None:
    # Finite blocks take the shared-position path, blocks with NaN the per-slice one: both
    # must give the definition bit for bit, whatever the shape, axis and q.
    rng = np.random.default_rng(11)
    for trial in range(400):
        shape = [int(v) for v in rng.integers(1, 14, size=rng.integers(1, 3))]
        axis = int(rng.integers(0, len(shape)))
        x = rng.normal(size=shape) * (1e-3, 1.0, 1e3)[trial % 3]
        if trial % 4 == 0:
            x = np.round(x, 1)  # ties
        if trial % 5 == 0:
            x[rng.random(x.shape) < 0.3] = np.nan
        qs = [0.0, 20.0, 50.0, 80.0, 100.0, float(rng.uniform(0, 100))]
        got = percentile_along(x, qs, axis=axis, nan_policy="omit")
        for row, q in zip(got, qs, strict=True):
            assert np.array_equal(row, _omit_nan_reference(x, q, axis), equal_nan=True)
        one = percentile_along(x, qs[-1], axis=axis, nan_policy="omit")
        assert isinstance(one, np.ndarray) and one.shape == got[-1].shape


def _spike_residual_reference(x: np.ndarray, width: int, limit: np.ndarray) -> np.ndarray:
    """:func:`_spike_residual`'s definition on the edge-padded signal, sample by sample (every
    sample's residual when more than 5 % of them pass the screen)."""
    h = width // 2
    resid, screened = np.zeros_like(x), np.zeros(x.shape, bool)
    for k in range(x.shape[0]):
        p = np.pad(x[k], h, mode="edge")
        for j in range(x.shape[1]):
            screened[k, j] = abs(x[k, j] - 0.5 * (p[j] + p[j + 2 * h])) > 0.5 * limit[k]
            resid[k, j] = abs(x[k, j] - np.median(p[j : j + width]))
    return resid if screened.sum() > 0.05 * x.size else np.where(screened, resid, 0.0)


@pytest.mark.parametrize("n", [7, 12, 40, 600])
def test_spike_residual_matches_its_definition(n: int) -> None:
    # The screen is computed without a padded copy; the end samples still count as repeated
    # beyond the ends (spikes placed at and near both ends of short and long signals).
    from ecgr1.signal.quality import _spike_residual

    rng = np.random.default_rng(n)
    fs = 250.0  # 20 ms: width 5, h 2; 60 ms: width 15, h 7
    for width_ms, width in ((20.0, 5), (60.0, 15)):
        if n <= width:
            continue
        x = np.cumsum(rng.normal(0, 0.02, (4, n)), axis=1)
        for k, j in ((0, 0), (1, n - 1), (2, 1), (3, n - 2), (0, n // 2)):
            x[k, j] += 4.0 * (-1) ** j
        limit = np.array([1.0, 1.5, 2.0, 0.8])
        got = _spike_residual(x, fs, width_ms, limit)
        want = _spike_residual_reference(x, width, limit)
        assert np.count_nonzero(want) >= 5
        assert np.array_equal(got, want)


def test_result_dict_equals_the_generic_conversion() -> None:
    # ``to_dict`` dispatches on exact built-in types first; numpy scalars, NaN, inf, tuples
    # and nested dataclasses must come out as the generic field-by-field conversion gives.
    import dataclasses
    import math

    from ecgr1.measure.result import Beat, GlobalMeasurements, MeasurementResult

    def generic(value):
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: generic(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {str(k): generic(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [generic(v) for v in value]
        if hasattr(value, "item") and not isinstance(value, (str, bytes)):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            return None
        return value

    beats = [
        Beat(index=0, r_peak_s=np.float64(0.5), rr_next_ms=float("nan"), wide_qrs=np.bool_(True)),
        Beat(index=np.int64(1), r_peak_s=1.25, qrs_duration_ms=float("inf"), p_present=True),
    ]
    res = MeasurementResult(
        id="x",
        fs=500.0,
        duration_s=10.0,
        lead_names=["I", "II"],
        global_=GlobalMeasurements(),
        beats=beats,
        lead_fiducials={"II": {"qrs_on": (0.1, float("nan"), np.float64(-0.0)), 3: [np.nan]}},
    )
    got = res.to_dict()
    for key, part in (("global", res.global_), ("beats", beats), ("lead_fiducials", None)):
        want = generic(res.lead_fiducials if part is None else part)
        assert json.dumps(got[key], indent=1) == json.dumps(want, indent=1)
    assert got["beats"][0]["rr_next_ms"] is None and got["beats"][1]["qrs_duration_ms"] is None
    assert type(got["beats"][1]["index"]) is int and type(got["beats"][0]["wide_qrs"]) is bool


@pytest.mark.parametrize("fs", [100.0, 250.0, 500.0])
def test_typical_span_and_hf_noise_match_their_definitions(fs: float) -> None:
    # Both are computed in fewer buffers (in place, or at the kept samples only); the values
    # must be the plain definitions' (a 3-point running median; the residual above ~40 Hz
    # at every third sample), on records long and short enough for each branch.
    from ecgr1.signal.quality import _hf_noise, _typical_qrs_span

    # 12 leads are taken in parts of a few rows (fewer whole-record buffers at once).
    for n, seed, rows in ((int(10 * fs), 1, 12), (int(10 * fs), 4, 3), (int(2.5 * fs), 2, 5),
                          (250, 3, 3)):  # fmt: skip
        x = _ecg_like(rows, n, fs, seed)
        x[1, n // 3] += 5.0  # a corrupt sample: the running median ignores it
        x[-1] *= 3.0  # the leads differ: a part returned in the wrong place shows
        med3 = np.median(np.stack([x[:, :-2], x[:, 1:-1], x[:, 2:]]), axis=0)
        win = int(fs)
        nw = med3.shape[1] // win
        spans = np.ptp(med3[:, : nw * win].reshape(rows, nw, win), axis=2) if nw else None
        want = np.median(spans, axis=1) if nw else np.ptp(med3, axis=1)
        assert np.array_equal(_typical_qrs_span(x, fs), want)
        width = int(round(fs / 80.0))
        if width >= 2:
            hf = x - filters.smooth(x, width, axis=-1)
        else:
            hf = np.diff(x, n=2, axis=-1) / np.sqrt(6.0)
        hf = hf[:, ::3] if hf.shape[1] >= 300 else hf
        mad = np.median(np.abs(hf - np.median(hf, axis=1, keepdims=True)), axis=1)
        assert np.array_equal(_hf_noise(x, fs), 1.4826 * mad)


# --------------------------------------------------------------- delineation and JSON text


def _masked_arg_reference(y: np.ndarray, start, stop, mode: str) -> np.ndarray:
    """Row by row: argmax/argmin of ``y`` over [start, stop) (first on ties), -1 if empty."""
    out = np.full(y.shape[0], -1)
    for k in range(y.shape[0]):
        a, b = max(int(np.ceil(start[k])), 0), min(int(np.ceil(stop[k])), y.shape[1])
        if b > a:
            seg = y[k, a:b]
            out[k] = a + (int(np.argmax(seg)) if mode == "max" else int(np.argmin(seg)))
    return out


@pytest.mark.parametrize("mode", ["max", "min"])
def test_masked_arg_matches_its_definition(mode: str) -> None:
    # The common-anchor fast path (every row's range covers the span) and the masked path must
    # both give the first extreme of each row's range; ties are made on purpose (quantised).
    from ecgr1.measure.delineate import _masked_arg

    rng = np.random.default_rng(7)
    y = np.round(rng.normal(size=(30, 80)), 1)
    cases = [
        (np.full(30, 10), np.full(30, 50)),  # one common range: the fast path
        (np.full(30, -5), np.full(30, 200)),  # beyond the window on both sides
        (rng.integers(0, 60, 30), rng.integers(20, 90, 30)),  # per-row ranges, some empty
        (np.full(30, 10.0), np.r_[np.full(28, 50.0), 49.0, 50.0]),  # one row a sample shorter
        (np.r_[np.full(29, 10.0), 10.5], np.full(30, 50.0)),  # one row starting later
    ]
    # The extremes sit just outside the ranges of the last two rows.
    y[-2, 49] = y[-1, 10] = 9.0 if mode == "max" else -9.0
    for start, stop in cases:
        assert np.array_equal(
            _masked_arg(y, start, stop, mode), _masked_arg_reference(y, start, stop, mode)
        )


def test_t_search_signal_matches_the_plain_expressions() -> None:
    # The detrended, prior-weighted T search signal is computed in place in two buffers; it
    # must equal the plain expressions of its definition bit for bit.
    from ecgr1.measure.config import DEFAULT_CONFIG
    from ecgr1.measure.delineate import _t_search_signal, _take

    fs, c = 500.0, 225
    x = _ecg_like(6, 6000, fs, 11)
    anchors = np.arange(300, 5600, 410)
    rows = x[:, anchors[:, None] + np.arange(-c, 375)[None, :]].reshape(-1, 600)
    rng = np.random.default_rng(3)
    qrs_off = c + rng.integers(10, 60, rows.shape[0])
    next_rr = rng.uniform(150, 1200, rows.shape[0])
    params, windows = DEFAULT_CONFIG.delineation, DEFAULT_CONFIG.windows
    got = _t_search_signal(rows, qrs_off, next_rr, fs, c, params, windows)
    level, j, stop = got.level, got.j, got.stop
    columns = np.arange(level.shape[1])
    frac = np.clip((columns[None, :] - j[:, None]) / np.maximum(stop - j, 1)[:, None], 0, 1)
    j_level, stop_level = _take(level, j), _take(level, stop)
    want = level - (j_level[:, None] * (1 - frac) + stop_level[:, None] * frac) * 0.5
    rr_s = np.minimum(next_rr, 2 * fs) / fs
    expected_peak = (0.4 * np.sqrt(np.clip(rr_s, 0.3, 2.0)) - 0.12) * fs
    late = np.clip(
        (columns[None, :] - expected_peak[:, None]) / np.maximum(stop - expected_peak, 1)[:, None],
        0,
        1,
    )
    assert params["t_prior_weight"] > 0
    want = want * (1.0 - params["t_prior_weight"] * late)
    assert np.array_equal(got.weighted, want)


def test_measure_json_text_is_json_dumps_indent_1() -> None:
    # ``ecgr1 measure`` writes its JSON with its own writer: the text must be json.dumps(...,
    # indent=1)'s, for every kind of value and key json accepts, and the same error otherwise.
    from ecgr1.cli._json_text import dumps_indent1

    nan, inf = float("nan"), float("inf")
    values = [
        {
            "ints": [1, -2, 10**30],
            "floats": [0.1, -0.0, 1e-300, 2.5e17],
            "special": [nan, inf, -inf],
            "mixed": [1, 2.5, True, None, "x", [], {}, (), [[1], {"a": ()}]],
            "numbers and booleans": [1, True, 2.0, False],
            "numbers and nan": [1, 2.0, nan],
            "strings": ["plain", "é ü 漢", 'quote " and \\ and\nnewline', "\x00"],
            "scalars": {"t": True, "f": False, "n": None, "s": "", "np": np.float64(0.3)},
            1: "int key",
            2.5: "float key",
            nan: "nan key",
            None: "none key",
        },
        {True: "bool key", False: "bool key", 0.5: [], "x": {}},
        [],
        {},
        "top",
        3,
        -1.5,
        None,
        False,
        (1, (2,)),
        [np.float64(1.25), np.float64("nan")],
    ]
    for value in values:
        assert dumps_indent1(value) == json.dumps(value, indent=1)
    loop: list = []
    loop.append(loop)
    for bad in ({"x": np.int64(1)}, {(1, 2): 3}, [object()], loop):
        with pytest.raises((TypeError, ValueError)) as theirs:
            json.dumps(bad, indent=1)
        with pytest.raises(theirs.type, match=str(theirs.value).split("(")[0][:20]):
            dumps_indent1(bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_smooth_in_place_second_pass_is_two_moving_averages(dtype) -> None:
    # The second moving average writes into the first one's output: the values must be those
    # of two plain moving averages, along every axis and for the float32 delineation copy.
    from scipy.ndimage import uniform_filter1d

    x = _ecg_like(4, 900, 250.0, 5).astype(dtype)
    for y, axis in ((x, -1), (x.reshape(4, 6, 150), 2), (x.reshape(4, 6, 150), 1), (x[0], 0)):
        for width in (2, 3, 8):
            once = uniform_filter1d(y, width, axis=axis, mode="nearest")
            want = uniform_filter1d(once, width, axis=axis, mode="nearest")
            got = filters.smooth(y, width, axis=axis)
            assert got.dtype == want.dtype and np.array_equal(got, want)


def test_sosfiltfilt_rows_is_scipys_sosfiltfilt() -> None:
    # The atrial band-pass runs SciPy's filter arithmetic without its argument handling: the
    # values must be sps.sosfiltfilt's (default odd padding), and the fallbacks (float32 rows,
    # too short a record) must behave as SciPy does.
    x = _ecg_like(3, 2500, 250.0, 9)
    for order, band, btype in ((2, (0.5, 25.0), "band"), (4, 40.0, "low"), (2, 0.7, "high")):
        sos = sps.butter(order, band, btype=btype, fs=250.0, output="sos")
        zi = sps.sosfilt_zi(sos)
        for y in (x, x[:, :100], x.astype(np.float32)):
            want = sps.sosfiltfilt(sos, y, axis=1)
            got = filters.sosfiltfilt_rows(sos, zi, y)
            assert got.dtype == want.dtype and np.array_equal(got, want)
        with pytest.raises(ValueError):
            filters.sosfiltfilt_rows(sos, zi, x[:, :5])


@pytest.mark.parametrize("dead", [None, 0, 3])
def test_local_damage_frozen_check_reads_the_live_leads_steps(dead: int | None) -> None:
    # local_damage hands its own np.diff(raw) (the live rows of it) to the frozen-stretch
    # check instead of letting it take another: the finding must be the definition's on the
    # live leads, with every lead live (no copies) and with a flat lead before or after the
    # lead that jumps.
    fs = 500.0
    x = np.round(_ecg_like(5, 3000, fs, seed=4) * 200) / 200
    x[:, 1200:1206] = x[:, 1200:1201]  # every lead frozen ...
    x[2, 1200:1206] += 0.3  # ... lead 2 jumping into its stretch and back
    if dead is not None:
        x[dead] = 0.0  # not live: left out of the check
    live = np.ptp(x, axis=1) >= 0.02
    still = np.abs(np.diff(x[live], axis=1)) < 1e-6
    total, first = _frozen_reference(x[live], still)
    assert total > 0
    found = local_damage(x, x - x.mean(axis=1, keepdims=True), fs)
    for k in np.flatnonzero(live):
        assert f"over {total / fs:.3f} s (first at {first / fs:.2f} s)" in found[k]["dropout"]
    rng = np.random.default_rng(0)
    y = x[live] + rng.normal(0, 1e-3, x[live].shape) * (rng.random(x[live].shape) < 0.5)
    still = np.abs(np.diff(y, axis=1)) < 1e-6
    assert _frozen_with_jump(y, still, np.diff(y, axis=1)) == _frozen_with_jump(y, still)


def test_envelope_in_place_equals_the_plain_expressions() -> None:
    # The beat detector's slope-energy envelope is computed in place: the values must be the
    # plain expressions', for the float32 detection copy and for float64.
    from scipy.ndimage import uniform_filter1d

    from ecgr1.measure.beats import _envelope

    for dtype, fs in ((np.float32, 250.0), (np.float64, 500.0)):
        x = _ecg_like(4, int(10 * fs), fs, seed=6).astype(dtype)
        x[3] = 0.0  # a flat lead: its scale is replaced by 1
        xs = filters.smooth(x, max(1, int(round(fs * 0.008))))
        d = np.diff(xs, axis=1, prepend=xs[:, :1])
        d = d - uniform_filter1d(d, max(1, int(fs * 0.06)), axis=1, mode="nearest")
        e = d * d
        scale = np.percentile(e, 99, axis=1, keepdims=True)
        scale[scale <= 0] = 1.0
        per_lead = e / scale
        e = per_lead.sum(axis=0)
        env = uniform_filter1d(e, max(1, int(fs * 0.08)), mode="nearest")
        # Without the largest lead at each sample (the multi-lead detection envelope).
        several = uniform_filter1d(e - per_lead.max(axis=0), max(1, int(fs * 0.08)), mode="nearest")
        got_e, got_env, got_several = _envelope(x, fs)
        assert got_e.dtype == e.dtype and np.array_equal(got_e, e)
        assert np.array_equal(got_env, env)
        assert np.array_equal(got_several, several)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_line_removal_and_window_rms_match_the_plain_expressions(dtype) -> None:
    # The P and T searches remove a line (all of it, or half) and the P noise is an rms over a
    # window, each computed in place: the values must be the plain expressions', for the
    # float32 delineation copy and for float64.
    from ecgr1.measure.delineate import _minus_line, _window_rms

    rng = np.random.default_rng(8)
    y = rng.normal(size=(40, 120)).astype(dtype)
    smoothed = (y + rng.normal(0, 0.1, y.shape)).astype(dtype)
    columns = np.arange(120)
    a = rng.integers(-5, 100, 40)
    b = a + rng.integers(-3, 60, 40)  # some lines of zero or negative length
    level_a, level_b = y[:, 0].copy(), y[:, -1].copy()
    frac = np.clip((columns[None, :] - a[:, None]) / np.maximum(b - a, 1)[:, None], 0, 1)
    for share in (1.0, 0.5):
        got, _ = _minus_line(y, columns, a, b, level_a, level_b, share)
        line = level_a[:, None] * (1 - frac) + level_b[:, None] * frac
        want = y - (line * share if share != 1.0 else line)
        assert got.dtype == want.dtype and np.array_equal(got, want)
    in_window = (columns >= a[:, None]) & (columns < b[:, None])
    residual = y - smoothed
    want = np.sqrt((residual * residual * in_window).sum(axis=1) / np.maximum(in_window.sum(1), 1))
    got = _window_rms(y, smoothed, in_window)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_median_or_none_is_numpys_median_of_the_finite_values() -> None:
    # median_or_none takes its median from one partition instead of np.median: the value must
    # be np.median's of the finite values, for odd and even counts, signed zeros and integers.
    from ecgr1.measure._numeric import median_or_none

    rng = np.random.default_rng(12)
    cases = [rng.normal(size=n) * 10 ** rng.uniform(-3, 3) for n in range(1, 40)]
    cases += [np.array([-0.0]), np.array([-0.0, -0.0]), np.array([0.0, -0.0, np.nan, -0.0])]
    cases += [np.array([3, 1, 2, 8]), np.array([np.inf, 1.0, 2.0, -np.inf, 7.0])]
    for v in cases:
        finite = np.asarray(v, float)[np.isfinite(np.asarray(v, float))]
        want = float(np.median(finite))
        got = median_or_none(v)
        assert np.array_equal(np.array(got), np.array(want)) and np.signbit(got) == np.signbit(want)
    assert median_or_none(np.array([np.nan, np.inf])) is None


def test_template_fiducials_in_full_rate_samples_match_each_value_alone() -> None:
    # The median beat's per-lead fiducials are converted to full-rate samples for all leads at
    # once: each must be float(v * k + half_block) of its own value, None where absent.
    from types import SimpleNamespace

    from ecgr1.measure.delineate import FIDUCIALS
    from ecgr1.measure.median_beat import _template_fiducials_full

    rng = np.random.default_rng(13)
    lead = {key: rng.uniform(0, 300, (12, 1)) for key in FIDUCIALS}
    lead["p_on"][[2, 7], 0] = np.nan
    lead["t_off"][:, 0] = np.nan
    for k, half_block in ((2, 0.5), (1, 0.0), (4, 1.5), (3, 1.0)):
        det = SimpleNamespace(k=k, half_block=half_block)
        got = _template_fiducials_full(det, SimpleNamespace(lead=lead))
        for key in FIDUCIALS:
            for li in range(12):
                v = lead[key][li, 0]
                want = float(v * k + half_block) if np.isfinite(v) else None
                assert got[key][li] == want and type(got[key][li]) is type(want)


def test_still_mask_by_two_comparisons_is_the_absolute_step_test() -> None:
    # local_damage finds constant stretches with step < t and step > -t instead of
    # |step| < t: the mask must be the same for every value, signed zeros, NaN, infinities
    # and values at the threshold included; and a drop-out must still be found with it.
    special = np.array([0.0, -0.0, 1e-6, -1e-6, 9.9e-7, -9.9e-7, np.nan, np.inf, -np.inf, 5e-324])
    raw = np.concatenate([[0.0], np.cumsum(special)])[None, :]
    step = np.diff(raw, axis=1)
    step[0] = special  # the steps themselves, whatever the running sum made of them
    assert np.array_equal((step < 1e-6) & (step > -1e-6), np.abs(step) < 1e-6)
    fs = 500.0
    x = _ecg_like(3, 5000, fs, seed=7)
    x[1, 2000:2600] = x[1, 2000]
    x[2, 3000:3800] = np.linspace(1.0, -1.0, 800)  # a long steady fall: not constant
    x[0, 500:1300] = x[0, 500] + 5e-6 * np.arange(800)  # a slow drift of 5 nV per sample
    found = local_damage(x, x - x.mean(axis=1, keepdims=True), fs)
    assert "dropout" in found[1] and "over 1.20 s, first at 4.00 s" in found[1]["dropout"]
    assert "dropout" not in found[0] and "dropout" not in found[2]


@pytest.mark.parametrize("fs", [1000.0, 500.0, 360.0, 257.0])
def test_atrial_analysis_rate_is_scipys_anti_aliased_decimation(fs: float) -> None:
    # The atrial analysis decimates through sosfiltfilt_rows with a cached design and zi: the
    # samples must be SciPy's sosfiltfilt of the 4th-order low-pass, every step-th, as before
    # (and a record too short or already slow is left as it is).
    from ecgr1.measure.atrial import _to_analysis_rate
    from ecgr1.measure.config import DEFAULT_CONFIG

    params = DEFAULT_CONFIG.atrial_waves
    x = _ecg_like(4, int(10 * fs), fs, seed=11)
    step = max(1, int(fs // params["analysis_fs"]))
    got, got_step = _to_analysis_rate(x, fs, params)
    assert got_step == step
    if step > 1:
        sos = sps.butter(4, 0.4 * fs / step, btype="low", fs=fs, output="sos")
        want = sps.sosfiltfilt(sos, x, axis=1)[:, ::step]
        assert got.dtype == want.dtype and np.array_equal(got, want)
        short, short_step = _to_analysis_rate(x[:, : 30 * step], fs, params)
        assert short_step == 1 and short is not None
    else:
        assert got is x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("win,n", [(250, 5000), (250, 5123), (125, 2500), (125, 2561), (9, 27)])
def test_second_difference_windows_is_the_whole_record_d2_sampled(win, n, dtype) -> None:
    # local_damage levels the second difference only at the samples its robust level
    # reads: they must be the whole-record d2's (zero at both ends), for even windows (strided
    # views) and odd ones (the whole-record d2 sampled, the last sample of the record included).
    from ecgr1.signal.quality import _second_difference_windows

    x = _ecg_like(3, n, 500.0, seed=win + n).astype(dtype)
    d2 = np.zeros_like(x)
    d2[:, 1:-1] = (x[:, 2:] - 2 * x[:, 1:-1]) + x[:, :-2]
    nw = n // win
    want = d2[:, : nw * win].reshape(3, nw, win)[:, :, ::2]
    got = _second_difference_windows(x, win)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    if nw * win == n and win % 2:
        assert got[:, -1, -1].tolist() == [0.0] * 3  # the record's last sample: d2 is zero


@pytest.mark.parametrize("half", [0, 1, 5, 12, 25])
def test_whole_window_free_is_the_convolution_count(half: int) -> None:
    # candidate_waves keeps peaks only where a whole wave window lies in QRS-T-free signal:
    # the running-sum count must give the convolution's answer, with free runs that touch the
    # record's ends, runs one sample short of a window, all-free and no-free records, and a
    # record shorter than the window (the convolution's own, longer, answer).
    from ecgr1.measure.atrial.waves import _whole_window_free

    rng = np.random.default_rng(half)
    width = 2 * half + 1
    lengths = rng.integers(1, 3 * width + 2, 400)
    runs = np.repeat(np.arange(lengths.size) % 2 == 0, lengths)
    cases = [runs, ~runs, rng.random(997) < 0.9, np.ones(300, bool), np.zeros(300, bool)]
    cases += [np.ones(width - 1, bool), np.ones(width, bool)] if half else []
    short_run = np.ones(60 + width, bool)
    short_run[30 + width - 1 :] = False  # free: samples 30 .. 30 + width - 2, one short
    short_run[:30] = False
    cases.append(short_run)
    for free in cases:
        want = np.convolve(free.astype(float), np.ones(width), mode="same") >= width
        got = _whole_window_free(free, half)
        assert got.shape == want.shape and np.array_equal(got, want)


def test_beyond_together_is_the_minimum_and_maximum_test() -> None:
    """``_glitches`` marks a candidate where both one-sided extrapolation errors are beyond the
    floor with one sign; the boolean form equals the min/max form for every value."""
    from ecgr1.signal.quality import _beyond_together

    t = 0.025
    edge = [
        0.0,
        t,
        -t,
        np.nextafter(t, 1),
        np.nextafter(-t, -1),
        0.3,
        -0.3,
        np.nan,
        np.inf,
        -np.inf,
    ]
    left, right = (np.array(v) for v in zip(*[(a, b) for a in edge for b in edge], strict=True))
    rng = np.random.default_rng(5)
    left = np.concatenate([left, rng.normal(0, 0.05, 4000)]).reshape(2, -1)
    right = np.concatenate([right, rng.normal(0, 0.05, 4000)]).reshape(2, -1)
    out = np.zeros(left.shape, bool)
    with np.errstate(invalid="ignore"):
        want = (np.minimum(left, right) > t) | (np.maximum(left, right) < -t)
        _beyond_together(left, right, t, out=out)
    assert want.sum() > 100 and (~want).sum() > 100
    assert np.array_equal(out, want)


def test_spike_messages_quote_the_largest_residual_of_their_lead() -> None:
    """``local_damage`` keeps only the hits and each lead's largest residual of the two spike
    residuals (each freed before the next is made): the messages quote the residual's maximum
    over the hits, as the whole-record arrays gave it."""
    import re

    from ecgr1.signal.quality import QUALITY_THRESHOLDS as th
    from ecgr1.signal.quality import _spike_residual, _typical_qrs_span

    fs = 500.0
    x = _ecg_like(3, 5000, fs, seed=11)
    x[0, 1200] += 4.0  # one sample: a spike (20 ms median)
    x[0, 3100] += 2.5
    x[1, 2400:2411] += 32.0  # 22 ms: a short burst (60 ms median)
    clean = x - x.mean(axis=1, keepdims=True)
    typical = _typical_qrs_span(clean, fs)
    narrow = _spike_residual(clean, fs)
    narrow_hits = narrow > np.maximum(th["spike_rel"] * typical, th["spike_min_mv"])[:, None]
    wide_limit = np.maximum(th["wide_spike_rel"] * typical, th["wide_spike_min_mv"])
    wide = _spike_residual(clean, fs, th["wide_spike_ms"], wide_limit)
    wide_hits = wide > wide_limit[:, None]
    found = local_damage(x, clean, fs)
    quoted = [float(re.search(r"up to ([0-9.]+) mV", f["spikes"]).group(1)) for f in found[:2]]
    assert quoted[0] == float(f"{narrow[0, narrow_hits[0]].max():.1f}")
    assert not narrow_hits[1].any() and "short burst" in found[1]["spikes"]
    assert quoted[1] == float(f"{wide[1, wide_hits[1]].max():.1f}")
    assert quoted[0] != quoted[1] and "spikes" not in found[2]


def test_lobes_in_one_python_pass_equal_the_array_form() -> None:
    """QRS lobes (start, stop, signed peak, peak index) from one pass over Python floats equal
    the array form's for every value: zeros and -0.0 (positive), ties (the first sample),
    huge values whose sum overflows, NaN and infinities (the array form itself)."""
    from ecgr1.measure.features import _lobes, _lobes_array

    rng = np.random.default_rng(1)
    special = [0.0, -0.0, 1.0, -1.0, 1e308, -1e308, np.nan, np.inf, -np.inf]
    for _ in range(3000):
        y = rng.normal(0, 1, int(rng.integers(1, 80))) * rng.choice([1.0, 0.01])
        if rng.random() < 0.3:
            y = np.round(y, 0)  # zeros, -0.0 and ties
        for _ in range(int(rng.integers(0, 3))):
            y[rng.integers(0, y.size)] = rng.choice(special)
        assert repr(_lobes(y)) == repr(_lobes_array(y)), y
    assert _lobes(np.array([])) == []
    y = np.array([-0.1, 0.0, 0.3, 0.3, -0.2, -0.0, 0.1])
    assert _lobes(y) == [(0, 1, -0.1, 0), (1, 4, 0.3, 2), (4, 5, -0.2, 4), (5, 7, 0.1, 6)]


def test_notch_humps_in_python_floats_equal_the_array_form() -> None:
    """Notched waves (R, P) found from Python floats give the array form's humps on notched,
    single-humped, flat, negative, quantised and non-finite waves."""
    from ecgr1.measure.features import _notch_humps_array, notch_humps

    rng = np.random.default_rng(2)
    found = 0
    for _ in range(4000):
        n = int(rng.integers(0, 60))
        x = np.arange(n)
        y = np.sin(x / rng.uniform(1.5, 8)) * rng.uniform(-1, 1) + rng.normal(0, 0.05, n)
        if rng.random() < 0.3:
            y = np.round(y, 1)  # ties between neighbours, zeros
        if rng.random() < 0.05 and n:
            y[rng.integers(0, n)] = rng.choice([np.nan, np.inf, -np.inf, 1e308])
        got = notch_humps(y, 500.0)
        assert got == _notch_humps_array(y, 500.0), y
        found += got is not None
    assert found > 100
    notched = np.concatenate([np.hanning(12), 0.7 * np.ones(3), np.hanning(12)])
    assert notch_humps(notched, 500.0) == (5, 20) and notch_humps(-notched, 500.0) == (5, 20)


def test_median_1d_is_numpy_median_bit_for_bit() -> None:
    """The sort-based median of RR and PR intervals equals ``np.median``: the value, the sign of
    a zero, NaN, its type; other dtypes and shapes go to ``np.median`` itself."""
    from ecgr1.signal.stats import median_1d

    rng = np.random.default_rng(0)
    special = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(5000):
            n = int(rng.integers(1, 70))
            x = rng.normal(0, 1, n)
            if rng.random() < 0.3:
                x = np.round(x)  # ties and zeros
            for _ in range(int(rng.integers(0, 3))):
                x[rng.integers(0, n)] = rng.choice(special)
            want, got = np.median(x), median_1d(x)
            assert type(got) is type(want)
            assert (np.isnan(want) and np.isnan(got)) or (
                got == want and np.signbit(got) == np.signbit(want)
            ), x
    assert median_1d(np.array([-0.0])) == 0.0 and not np.signbit(median_1d(np.array([-0.0])))
    assert median_1d(np.array([3, 1, 2, 10])) == 2.5  # integers: np.median's own path
    assert np.array_equal(median_1d(np.ones((2, 3))), np.median(np.ones((2, 3))))


def test_fast_clip_is_np_clip_for_sample_indices() -> None:
    # The delineation's index clipping (formerly delineate._clip_index) is fast_clip(i, 0, last).
    from ecgr1.signal.stats import fast_clip

    rng = np.random.default_rng(4)
    ints = rng.integers(-50, 150, (7, 40))
    assert np.array_equal(fast_clip(ints, 0, 99), np.clip(ints, 0, 99))
    floats = np.concatenate([rng.uniform(-50, 150, 200), [-0.0, 0.0, 99.0, 99.5, -0.5]])
    assert np.array_equal(fast_clip(floats, 0, 99).astype(int), np.clip(floats, 0, 99).astype(int))


def test_mean_of_is_numpy_mean() -> None:
    """The PR-segment level (every lead's amplitude reference) is ``np.mean``'s value."""
    from ecgr1.measure._numeric import mean_of

    rng = np.random.default_rng(6)
    for _ in range(3000):
        x = rng.normal(0, 1, int(rng.integers(1, 40))) * 10 ** rng.uniform(-5, 5)
        for v in (x, x.astype(np.float32)):
            assert mean_of(v) == float(np.mean(v))


def test_merging_small_lobes_compares_signs_as_np_sign_did(monkeypatch) -> None:
    # Zeros (kept when the size limit is 0), signed zeros, infinities and NaN (never kept): the
    # same merged lobes as with np.sign, the comparison _sign replaced.
    from ecgr1.measure import features
    from ecgr1.measure.features import _merge_small

    def with_np_sign(lobes, min_mv):
        with monkeypatch.context() as m:
            m.setattr(features, "_sign", np.sign)
            return _merge_small(lobes, min_mv)

    rng = np.random.default_rng(13)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan]
    for _ in range(300):
        amps = list(np.round(rng.normal(0, 0.3, rng.integers(1, 9)), 2))
        for k in range(len(amps)):
            if rng.uniform() < 0.2:
                amps[k] = specials[rng.integers(len(specials))]
        lobes = [(3 * k, 3 * k + 3, float(a), 3 * k + 1) for k, a in enumerate(amps)]
        for min_mv in (0.0, 0.05, 0.2):
            assert _merge_small(lobes, min_mv) == with_np_sign(lobes, min_mv)


def test_window_argmax_equals_the_loop_over_clipped_windows() -> None:
    # Centres at both ends (clipped windows), ties and NaN: the same sample as the per-centre
    # loop the detector used (a + argmax over v[a:b]), in the centres' dtype.
    from ecgr1.measure.beats import _window_argmax

    rng = np.random.default_rng(14)
    for _ in range(100):
        n = int(rng.integers(5, 200))
        v = np.round(rng.normal(size=n), 1)
        if rng.uniform() < 0.3:
            v[rng.integers(n)] = np.nan
        half = int(rng.integers(0, 30))
        centres = np.sort(rng.integers(0, n, int(rng.integers(0, 12)))).astype(
            rng.choice([np.int64, np.int32])
        )
        want = np.empty_like(centres)
        for i, p in enumerate(centres):
            a, b = max(0, p - half), min(n, p + half + 1)
            want[i] = a + int(np.argmax(v[a:b]))
        got = _window_argmax(v, centres, half)
        assert got.dtype == want.dtype and np.array_equal(got, want)
