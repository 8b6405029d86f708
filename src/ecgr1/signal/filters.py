"""Pre-processing filters that keep the ST segment where it is.

Three linear, zero-phase operations, all vectorised over leads:

* :func:`remove_baseline` - baseline wander removal. The baseline is estimated by a 2nd-order
  Butterworth low-pass (cut-off 0.5 Hz by default) run forwards and backwards (zero phase) on a
  block-averaged copy of the signal (about 50 Hz), interpolated back to the full rate and
  subtracted. This is a zero-phase high-pass with a cut-off below the 0.67 Hz the AHA
  recommendation allows for linear-phase filters, so ST levels are not distorted (a causal
  high-pass at this cut-off would shift the ST segment after large QRS complexes). Working on
  the decimated copy makes it cheap.
* :func:`remove_powerline` - a zero-phase IIR notch at 50 or 60 Hz (quality factor 30, about
  1.7 Hz wide), applied only when the mains component stands out of the neighbouring spectrum,
  so clean recordings are left untouched.
* :func:`smooth` - a two-pass centred moving average (triangular kernel), a cheap zero-phase
  low-pass used to build the delineation copy of the signal; it never feeds amplitude
  measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal as sps
from scipy.ndimage import uniform_filter1d

from ecgr1.signal.stats import block_mean, fast_clip

try:  # SciPy's compiled second-order-section filter (what sps.sosfilt runs)
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_c
except ImportError:  # pragma: no cover - a SciPy without it: the public function
    _sosfilt_c = None

BASELINE_CUTOFF_HZ = 0.5
BASELINE_DECIMATED_FS = 50.0
NOTCH_Q = 30.0
POWERLINE_PROMINENCE = 4.0  # mains peak power / neighbouring power needed before notching


@dataclass
class Preprocessed:
    """Filtered copies of a multi-lead signal (all shape (n_leads, n_samples), mV)."""

    clean: (
        np.ndarray
    )  # baseline (and mains, when present) removed: amplitudes and ST come from here
    baseline: np.ndarray  # the baseline that was removed
    powerline_hz: float | None = None
    notes: list[str] = field(default_factory=list)


def smooth(x: np.ndarray, width: int, axis: int = -1) -> np.ndarray:
    """Zero-phase triangular smoothing (two centred moving averages of ``width`` samples).

    Example
    -------
    >>> import numpy as np
    >>> smooth(np.ones(10), 3).round(6).tolist() == [1.0] * 10
    True
    """
    width = int(width)
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)  # float32 stays float32 (the delineation copy is float32)
    if width <= 1:
        return x
    y = uniform_filter1d(x, width, axis=axis, mode="nearest")
    # The second pass in place: SciPy reads each line into its buffer before writing it back,
    # so the values are those of a new output array, without another whole-array temporary.
    return uniform_filter1d(y, width, axis=axis, mode="nearest", output=y)


@lru_cache(maxsize=32)
def butter_sos(order: int, cutoff_hz: float | tuple[float, float], btype: str, fs: float):
    """Butterworth design in second-order sections (cached: every record reuses the same
    designs; callers must not modify the array)."""
    return sps.butter(order, cutoff_hz, btype=btype, fs=fs, output="sos")


@lru_cache(maxsize=32)
def butter_sos_zi(order: int, cutoff_hz: float | tuple[float, float], btype: str, fs: float):
    """``sosfilt_zi`` of :func:`butter_sos` (cached like the design)."""
    return sps.sosfilt_zi(butter_sos(order, cutoff_hz, btype, fs))


def _filtfilt_odd(sos: np.ndarray, zi: np.ndarray, x: np.ndarray, padlen: int) -> np.ndarray:
    """``sps.sosfiltfilt(sos, x, axis=1, padtype="odd", padlen=padlen)`` step for step (the
    same arithmetic, so the same values) for a 2-D float64 ``x`` with ``0 <= padlen <
    x.shape[1]``, without its argument checks and array-API wrapping (over half its cost on
    a 12 x 500 block) and with ``zi = sps.sosfilt_zi(sos)`` computed once."""
    if padlen > 0:
        ext = np.concatenate(
            (
                2 * x[:, :1] - x[:, padlen:0:-1],
                x,
                2 * x[:, -1:] - x[:, -2 : -(padlen + 2) : -1],
            ),
            axis=1,
        )
    else:
        ext = x
    zi = zi.reshape(sos.shape[0], 1, 2)
    y = _sosfilt_rows(sos, ext, zi * ext[:, :1])
    y = _sosfilt_rows(sos, y[:, ::-1], zi * y[:, -1:])
    y = y[:, ::-1]
    return y[:, padlen:-padlen] if padlen > 0 else y


def sosfiltfilt_rows(sos: np.ndarray, zi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sps.sosfiltfilt(sos, x, axis=1)`` (odd padding, SciPy's default pad length), the same
    values, for rows of samples; ``zi`` is ``sps.sosfilt_zi(sos)`` (callers cache both).

    A 2-D float64 ``x`` longer than the padding takes :func:`_filtfilt_odd` (SciPy's own
    arithmetic without its argument handling, about half of its cost on a few leads of 10 s);
    anything else goes to ``sps.sosfiltfilt`` itself (its dtype rules and its errors)."""
    # SciPy's default: three times the taps, less the zeros that end both sides' numerators.
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    padlen = 3 * ntaps
    x = np.asarray(x)
    if x.ndim == 2 and x.dtype == np.float64 and sos.dtype == np.float64 and x.shape[1] > padlen:
        return _filtfilt_odd(sos, zi, x, padlen)
    return sps.sosfiltfilt(sos, x, axis=1)


def _sosfilt_rows(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> np.ndarray:
    """``sps.sosfilt(sos, x, axis=1, zi=zi)[0]`` for 2-D float64 ``x`` and ``zi`` of shape
    (sections, rows, 2): SciPy's own compiled filter on the copies ``sosfilt`` makes, without
    its argument handling; ``sps.sosfilt`` itself where that routine is not there."""
    if _sosfilt_c is not None:
        y = np.array(x, np.float64, order="C")  # filtered in place
        # np.moveaxis(zi, 0, -2) of the 3-D zi is this transpose (rows, sections, 2).
        state = np.ascontiguousarray(zi.transpose(1, 0, 2), dtype=np.float64)
        try:
            _sosfilt_c(np.asarray(sos, np.float64), y, state)
            return y
        except (TypeError, ValueError):  # a private routine may change with SciPy: the public one
            pass
    return sps.sosfilt(sos, x, axis=1, zi=zi)[0]


def estimate_baseline(
    x: np.ndarray, fs: float, cutoff_hz: float = BASELINE_CUTOFF_HZ, every: int = 1
) -> np.ndarray:
    """Zero-phase low-pass estimate of baseline wander, shape of ``x`` (leads x samples).

    ``every`` > 1 gives only every ``every``-th sample (``estimate_baseline(x, fs)[:, ::every]``,
    the same values), for callers that only need the baseline's range.

    Example
    -------
    >>> import numpy as np
    >>> t = np.arange(5000) / 500
    >>> b = estimate_baseline(np.sin(2 * np.pi * 0.1 * t)[None], 500.0)
    >>> bool(np.abs(b[0, 500:-500] - np.sin(2 * np.pi * 0.1 * t[500:-500])).max() < 0.05)
    True
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    n = x.shape[1]
    every = max(1, int(every))
    t = np.arange(0, n, every, dtype=np.float64)
    block = max(1, int(round(fs / BASELINE_DECIMATED_FS)))
    nb = n // block
    if nb < 16:
        return np.repeat(np.median(x, axis=1, keepdims=True), t.size, axis=1)
    dec = block_mean(x, block)
    fs_dec = fs / block
    sos = butter_sos(2, cutoff_hz, "low", fs_dec)
    padlen = min(nb - 1, int(3 * fs_dec / cutoff_hz))
    base_dec = _filtfilt_odd(sos, butter_sos_zi(2, cutoff_hz, "low", fs_dec), dec, padlen)
    # Linear interpolation back to every sample, all leads at once: block centres are evenly
    # spaced, so each sample's left neighbour is an integer division away (what np.interp does
    # lead by lead, with the same formula and the end values held outside the first and last).
    # The slope of each block interval is computed once and gathered per sample.
    t_dec = (np.arange(nb) + 0.5) * block - 0.5
    j = fast_clip(np.floor((t - t_dec[0]) / block).astype(np.int64), 0, nb - 2)
    slope = (base_dec[:, 1:] - base_dec[:, :-1]) / (t_dec[1:] - t_dec[:-1])
    out = np.take(slope, j, axis=1)
    out *= t - t_dec[j]
    out += np.take(base_dec, j, axis=1)
    out[:, t <= t_dec[0]] = base_dec[:, :1]
    out[:, t >= t_dec[-1]] = base_dec[:, -1:]
    return out


def remove_baseline(
    x: np.ndarray, fs: float, cutoff_hz: float = BASELINE_CUTOFF_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Subtract baseline wander; returns ``(clean, baseline)``.

    Example
    -------
    >>> import numpy as np
    >>> clean, base = remove_baseline(np.full((1, 5000), 2.0), 500.0)
    >>> float(abs(clean).max()) < 1e-6
    True
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    base = estimate_baseline(x, fs, cutoff_hz)
    return x - base, base


def detect_powerline(x: np.ndarray, fs: float) -> float | None:
    """Return 50.0 or 60.0 when a mains component stands out of the spectrum, else None."""
    x = np.atleast_2d(x)
    n = x.shape[1]
    if n < int(fs):
        return None
    seg = x[:, : min(n, int(4 * fs))]  # 4 s: 0.25 Hz resolution is enough to see the line
    spec = np.abs(np.fft.rfft(seg - seg.mean(axis=1, keepdims=True), axis=1)) ** 2
    spec = spec.sum(axis=0)
    freqs = np.fft.rfftfreq(seg.shape[1], 1.0 / fs)
    best, best_ratio = None, POWERLINE_PROMINENCE
    for f0 in (50.0, 60.0):
        if f0 >= fs / 2 - 2:
            continue
        peak = spec[np.abs(freqs - f0) <= 0.5].sum()
        near = (np.abs(freqs - f0) > 1.5) & (np.abs(freqs - f0) <= 4.0)
        width = max(1, int(np.sum(np.abs(freqs - f0) <= 0.5)))
        ref = spec[near].mean() * width if near.any() else 0.0
        ratio = peak / ref if ref > 0 else 0.0
        if ratio > best_ratio:
            best, best_ratio = f0, ratio
    return best


def remove_powerline(x: np.ndarray, fs: float, mains_hz: float) -> np.ndarray:
    """Zero-phase notch at ``mains_hz`` (Q = 30)."""
    b, a = sps.iirnotch(mains_hz, NOTCH_Q, fs=fs)
    return sps.filtfilt(b, a, np.atleast_2d(x), axis=1)


def preprocess(x: np.ndarray, fs: float) -> Preprocessed:
    """Baseline-wander removal plus, when needed, power-line notch.

    Parameters
    ----------
    x : (n_leads, n_samples) signal in mV.
    fs : sampling rate in Hz.

    Example
    -------
    >>> import numpy as np
    >>> p = preprocess(np.zeros((2, 2000)), 500.0)
    >>> p.clean.shape, p.powerline_hz
    ((2, 2000), None)
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))  # not modified below: no copy
    if not np.isfinite(x).all():
        x = np.nan_to_num(x)
    notes: list[str] = []
    mains = detect_powerline(x, fs)
    if mains is not None:
        x = remove_powerline(x, fs, mains)
        notes.append(f"{mains:.0f} Hz power-line interference removed by a zero-phase notch")
    clean, base = remove_baseline(x, fs)
    return Preprocessed(clean=clean, baseline=base, powerline_hz=mains, notes=notes)
