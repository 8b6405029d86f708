"""Signal preparation and beat detection, at the detection rate.

The record is cleaned at its own rate (pacemaker spikes bridged first, then zero-phase baseline
and mains removal, :func:`ecgr1.signal.filters.preprocess`) and its leads graded; amplitudes
are later measured on this full-rate ``clean_full`` signal. Detection and delineation run at
about ``engine.delineation_fs`` (250 Hz): the clean signal is block-averaged by an integer
factor ``k``, which is ample for boundaries that experts judge to a few ms and halves the work
at 500 Hz. :class:`Detection` holds both rates and the beat anchors at the detection rate; its
:meth:`Detection.full_index` maps detection-rate positions back to full-rate samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ecgr1.io.record import ECGRecord
from ecgr1.measure.beats import detect_r_peaks, refine_anchor
from ecgr1.measure.config import MeasureConfig
from ecgr1.measure.pacing import align_anchors_to_pacing, blank_spikes, detect_pacing_spikes
from ecgr1.measure.result import MeasurementResult
from ecgr1.signal.filters import preprocess, smooth
from ecgr1.signal.quality import assess_quality
from ecgr1.signal.stats import block_mean


@dataclass
class PreparedSignal:
    """The record after spike removal and filtering, at its own rate ``fs``."""

    fs: float
    raw: np.ndarray  # (leads, samples) as recorded (non-finite samples set to 0)
    clean_full: np.ndarray  # baseline- and mains-free signal
    spikes: np.ndarray  # pacemaker spike sample indices
    usable: np.ndarray  # bool per lead


@dataclass
class Detection:
    """Beats detected at the detection rate ``fs_detect = fs / k``.

    ``clean`` is ``clean_full`` block-averaged by ``k`` (float32), ``xq`` its lightly smoothed
    copy that detection and the QRS delineation read. ``anchors`` are beat positions in
    ``clean``; a beat's window is ``anchors - pre ... anchors + post`` (detection-rate samples).
    """

    fs: float  # record (full) rate
    k: int  # decimation factor
    clean_full: np.ndarray
    clean: np.ndarray
    xq: np.ndarray
    usable: np.ndarray
    spikes: np.ndarray  # full-rate sample indices
    anchors: np.ndarray
    pre: int
    post: int

    @property
    def fs_detect(self) -> float:
        return self.fs / self.k

    @property
    def ms_detect(self) -> float:
        """Detection-rate samples per ms."""
        return self.fs_detect / 1000.0

    @property
    def ms_full(self) -> float:
        """Full-rate samples per ms."""
        return self.fs / 1000.0

    @property
    def half_block(self) -> float:
        """Centre of a block of ``k`` samples, in full-rate samples."""
        return (self.k - 1) / 2.0

    @property
    def starts(self) -> np.ndarray:
        """First sample of each beat's window (detection rate)."""
        return self.anchors - self.pre

    def full_index(self, v: np.ndarray) -> np.ndarray:
        """Full-rate sample position of detection-rate position(s) ``v``."""
        return v * self.k + self.half_block


def decimate_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Block means of ``k`` samples along the last axis (a trailing partial block is dropped)."""
    return x if k <= 1 else block_mean(x, k)


def prepare_signal(
    record: ECGRecord, res: MeasurementResult, config: MeasureConfig
) -> PreparedSignal:
    """Remove pacemaker spikes, filter, and grade the leads (``res.quality``, ``res.warnings``)."""
    fs = float(record.fs)
    raw = np.asarray(record.signal, np.float64)  # read only below: no copy needed
    if not np.isfinite(raw).all():
        raw = np.nan_to_num(raw)
    # Pacemaker spikes are found on the raw signal and bridged by straight lines before any
    # filtering, so that they neither become "QRS complexes" nor ring through the filters.
    spikes = detect_pacing_spikes(raw, fs, config=config)
    work = blank_spikes(raw, fs, spikes, config=config) if spikes.size >= 2 else raw
    pp = preprocess(work, fs)
    res.warnings.extend(pp.notes)
    res.quality = assess_quality(raw, pp.clean, pp.baseline, fs, list(record.leads))
    usable = np.array([res.quality.leads[name].usable for name in record.leads], bool)
    return PreparedSignal(fs=fs, raw=raw, clean_full=pp.clean, spikes=spikes, usable=usable)


def detect_beats(sig: PreparedSignal, config: MeasureConfig) -> Detection:
    """QRS anchors at the detection rate, on all usable leads together.

    Beats at the very edge of the record (their QRS cannot be delineated) are dropped; in a
    paced record the anchors follow the ventricular stimuli
    (:func:`~ecgr1.measure.pacing.align_anchors_to_pacing`).
    """
    k = max(1, int(sig.fs // config.engine["delineation_fs"]))
    # float32 is ample for delineation (uV resolution) and halves memory traffic.
    clean = decimate_mean(sig.clean_full, k).astype(np.float32)
    fs_detect = sig.fs / k
    ms_detect = fs_detect / 1000.0
    usable = sig.usable
    xq = smooth(clean, max(1, int(round(5 * ms_detect))))
    anchors = detect_r_peaks(clean, fs_detect, usable, config=config)
    anchors = refine_anchor(xq[usable], fs_detect, anchors, config=config)
    n = clean.shape[1]
    anchors = anchors[(anchors >= int(0.08 * fs_detect)) & (anchors < n - int(0.1 * fs_detect))]
    if sig.spikes.size >= 2:
        spikes_detect = np.rint(sig.spikes / k).astype(int)
        anchors = align_anchors_to_pacing(
            anchors, spikes_detect, xq[usable], fs_detect, config=config
        )
    return Detection(
        fs=sig.fs,
        k=k,
        clean_full=sig.clean_full,
        clean=clean,
        xq=xq,
        usable=usable,
        spikes=sig.spikes,
        anchors=anchors,
        pre=int(config.windows["pre_r_ms"] * ms_detect),
        post=int(config.windows["post_r_ms"] * ms_detect),
    )
