"""Bring any record to a fixed rate, window and lead order: the model input contract.

``/work/shared/spec/interchange.md`` section 3: 12 leads in the order I, II, III, aVR, aVL,
aVF, V1-V6; millivolts; float32; 5000 samples (10 s at 500 Hz); other rates resampled; shorter
records zero-padded; longer ones cropped (first 10 s by default); NaN/inf set to 0 and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ecgr1.io.finalize import derive_limb_leads
from ecgr1.io.leads import STANDARD_LEADS, canonical_lead_name
from ecgr1.io.record import ECGRecord

WINDOWS = ("first", "center", "last")


def resample(signal: np.ndarray, fs_in: float, fs_out: float) -> tuple[np.ndarray, float]:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``).

    The ratio ``fs_out / fs_in`` is approximated by a fraction with denominator at most 1000;
    the rate actually achieved is returned with the samples.

    >>> y, fs = resample(np.zeros((2, 360)), 360, 500)
    >>> y.shape, fs
    ((2, 500), 500.0)
    """
    if fs_in == fs_out:
        return np.asarray(signal, dtype=np.float64), float(fs_out)
    from scipy.signal import resample_poly

    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    up, down = ratio.numerator, ratio.denominator
    x = np.asarray(signal, dtype=np.float64)
    # Mirror-padding at the ends keeps the anti-alias filter from ringing into the record.
    y = resample_poly(x, up, down, axis=-1, padtype="line")
    return y, float(fs_in * up / down)


def standardize(
    record: ECGRecord,
    fs: float | None = 500.0,
    seconds: float | None = 10.0,
    leads: Sequence[str] | None = STANDARD_LEADS,
    window: str | float = "first",
) -> ECGRecord:
    """Resample, crop/pad and reorder a record; returns a new record.

    Parameters
    ----------
    record : the source record (millivolts).
    fs : target rate in Hz (None keeps the source rate).
    seconds : window length (None keeps the whole record, no padding).
    leads : output lead order; missing leads become zero rows with a warning (None keeps the
        record's leads and order).
    window : ``"first"`` (default), ``"center"``, ``"last"`` or a start time in seconds.

    What was done is stored in ``metadata["standardize"]``: ``source_fs``, ``fs``,
    ``source_samples``, ``start_sample`` (in the resampled record), ``pad_before``/``pad_after``
    (samples of zeros added), ``missing_leads``, ``dropped_leads`` and ``nonfinite_zeroed``.

    Example
    -------
    >>> rec = ECGRecord(np.ones((2, 720), np.float32), 360.0, ["I", "II"])
    >>> out = standardize(rec)
    >>> out.signal.shape, out.fs, out.metadata["standardize"]["pad_after"]
    ((12, 5000), 500.0, 4000)
    """
    sig = np.array(record.signal, dtype=np.float64, copy=True)
    names = list(record.leads)
    warns = list(record.warnings)
    info: dict[str, Any] = {
        "source_fs": record.fs,
        "source_samples": record.n_samples,
    }
    bad = ~np.isfinite(sig)
    n_bad = int(bad.sum())
    if n_bad:
        sig[bad] = 0.0
        warns.append(f"{n_bad} non-finite (NaN/inf) samples set to 0 mV")
    info["nonfinite_zeroed"] = n_bad

    target_fs = record.fs if fs is None else float(fs)
    if target_fs <= 0:
        raise ValueError(f"fs must be positive, got {fs}")
    sig, achieved = resample(sig, record.fs, target_fs)
    if abs(achieved - target_fs) > 1e-6 * target_fs:
        warns.append(f"resampled to {achieved:.6g} Hz (closest rational ratio to {target_fs:g} Hz)")
    elif record.fs != target_fs:
        warns.append(f"resampled from {record.fs:g} Hz to {target_fs:g} Hz (polyphase)")
    info["fs"] = target_fs

    n = sig.shape[1]
    start, pad_before, pad_after = 0, 0, 0
    if seconds is not None:
        want = int(round(seconds * target_fs))
        if want <= 0:
            raise ValueError(f"seconds must be positive, got {seconds}")
        if n >= want:
            if window == "first":
                start = 0
            elif window == "last":
                start = n - want
            elif window == "center":
                start = (n - want) // 2
            elif isinstance(window, (int, float)) and not isinstance(window, bool):
                start = min(max(int(round(float(window) * target_fs)), 0), n - want)
            else:
                raise ValueError(f"window must be one of {WINDOWS} or a start time, got {window!r}")
            sig = sig[:, start : start + want]
        else:
            pad_after = want - n
            if window == "center":
                pad_before = pad_after // 2
                pad_after -= pad_before
            elif window == "last":
                pad_before, pad_after = pad_after, 0
            sig = np.pad(sig, ((0, 0), (pad_before, pad_after)))
            warns.append(
                f"record is {n / target_fs:.3g} s, shorter than {seconds:g} s: "
                f"{pad_before + pad_after} zero samples added"
            )
    info.update(start_sample=start, pad_before=pad_before, pad_after=pad_after)

    missing: list[str] = []
    dropped: list[str] = []
    if leads is not None:
        wanted = [canonical_lead_name(x) for x in leads]
        if any(w not in names for w in wanted):
            sig, names, derived = derive_limb_leads(sig, names)
            if derived:
                warns.append(f"derived lead(s) {', '.join(derived)} (Einthoven/Goldberger)")
        rows = []
        for w in wanted:
            if w in names:
                rows.append(sig[names.index(w)])
            else:
                rows.append(np.zeros(sig.shape[1]))
                missing.append(w)
        dropped = [x for x in names if x not in wanted]
        sig = np.stack(rows) if rows else np.zeros((0, sig.shape[1]))
        names = wanted
        if missing:
            warns.append(f"lead(s) {', '.join(missing)} absent: filled with zeros")
    info.update(missing_leads=missing, dropped_leads=dropped)

    meta = dict(record.metadata)
    meta["standardize"] = info
    return ECGRecord(
        signal=sig.astype(np.float32),
        fs=target_fs,
        leads=names,
        record_id=record.record_id,
        metadata=meta,
        source_path=record.source_path,
        warnings=warns,
    )


def to_model_tensor(record: ECGRecord, window: str | float = "first") -> np.ndarray:
    """The ECG-R1 model input: float32 (12, 5000), 500 Hz, mV, standard lead order, NaN -> 0.

    >>> rec = ECGRecord(np.ones((12, 4096), np.float32), 400.0, list(STANDARD_LEADS))
    >>> x = to_model_tensor(rec); x.shape, x.dtype
    ((12, 5000), dtype('float32'))
    """
    out = standardize(record, fs=500.0, seconds=10.0, leads=STANDARD_LEADS, window=window).signal
    if out.shape != (12, 5000):  # pragma: no cover - guarded by standardize's arithmetic
        raise AssertionError(f"model tensor shape {out.shape}")
    return np.ascontiguousarray(out, dtype=np.float32)


def first_seconds(record: ECGRecord, seconds: float | None) -> ECGRecord:
    """The first ``seconds`` of a record (unchanged when shorter, or when ``seconds`` is falsy).

    Unlike :func:`standardize` nothing else changes (rate, leads, units); a warning records
    the crop so reports can say what was analysed.

    >>> import numpy as np
    >>> rec = ECGRecord(np.zeros((1, 5000)), 500.0, ["II"])
    >>> first_seconds(rec, 2).n_samples, first_seconds(rec, 2).warnings
    (1000, ['analysed the first 2 s only'])
    """
    if not seconds or seconds <= 0:
        return record
    n = int(round(seconds * record.fs))
    if n >= record.n_samples:
        return record
    return ECGRecord(
        record.signal[:, :n],
        record.fs,
        list(record.leads),
        record_id=record.record_id,
        metadata=dict(record.metadata),
        source_path=record.source_path,
        warnings=list(record.warnings) + [f"analysed the first {seconds:g} s only"],
        units=record.units,
    )
