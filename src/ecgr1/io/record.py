"""The ECG record: samples with their units, sampling rate and lead names, never implied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ecgr1.errors import InvalidInputError
from ecgr1.io.leads import canonical_lead_name


@dataclass
class ECGRecord:
    """A multi-lead ECG in millivolts.

    Attributes
    ----------
    signal : float32 array, shape (n_leads, n_samples), millivolts, each lead contiguous in
        memory (a transposed input such as wfdb's ``p_signal.T`` is copied once).
    fs : sampling rate in Hz.
    leads : canonical lead names, one per row of ``signal``.
    record_id : identifier (file stem, exam id, ...).
    metadata : ``age`` (years or None), ``sex`` ("M"/"F"/None), ``labels`` (list of
        diagnoses as found in the source), ``report`` (free text or None), plus any
        source-specific keys.
    source_path : where it was read from, if anywhere.
    warnings : things the reader noticed and repaired (NaN runs, derived leads, ...).

    Example
    -------
    >>> import numpy as np
    >>> r = ECGRecord(np.ones((2, 1000), np.float32), 500.0, ["I", "II"], record_id="x")
    >>> r.n_leads, r.n_samples, r.duration_s
    (2, 1000, 2.0)
    >>> r.lead("II").shape
    (1000,)
    >>> r
    ECGRecord(id='x', fs=500 Hz, 2 leads ['I', 'II'], 1000 samples (2 s), mV, 0 warning(s))
    """

    signal: np.ndarray
    fs: float
    leads: list[str]
    record_id: str = "record"
    metadata: dict[str, Any] = field(default_factory=dict)
    source_path: str | None = None
    warnings: list[str] = field(default_factory=list)
    units: str = "mV"

    def __post_init__(self) -> None:
        sig = np.asarray(self.signal)
        if sig.ndim == 1:
            sig = sig[None, :]
        if sig.ndim != 2:
            raise InvalidInputError(f"signal must be 2-D (leads x samples), got shape {sig.shape}")
        # Row-contiguous: every stage works lead by lead, and on a column-major array (wfdb's
        # p_signal.T) each of those passes strides through memory (~10 % slower measurement)
        # and its reductions may add in another order (last-digit differences in a result).
        self.signal = np.ascontiguousarray(sig, dtype=np.float32)
        self.leads = [canonical_lead_name(str(name)) for name in self.leads]
        if len(self.leads) != self.signal.shape[0]:
            raise InvalidInputError(
                f"{len(self.leads)} lead names for {self.signal.shape[0]} signal rows"
            )
        if len(set(self.leads)) != len(self.leads):
            raise InvalidInputError(f"duplicate lead names: {self.leads}")
        if not (np.isfinite(self.fs) and self.fs > 0):
            raise InvalidInputError(f"sampling rate must be positive, got {self.fs!r}")
        self.fs = float(self.fs)
        self.metadata.setdefault("age", None)
        self.metadata.setdefault("sex", None)
        self.metadata.setdefault("labels", [])
        self.metadata.setdefault("report", None)

    def __repr__(self) -> str:
        # The default dataclass repr prints the whole signal array: unreadable in a notebook.
        return (
            f"ECGRecord(id={self.record_id!r}, fs={self.fs:g} Hz, {self.n_leads} leads "
            f"{self.leads}, {self.n_samples} samples ({self.duration_s:g} s), {self.units}, "
            f"{len(self.warnings)} warning(s))"
        )

    @property
    def n_leads(self) -> int:
        """Number of leads (rows)."""
        return int(self.signal.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of samples per lead."""
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_samples / self.fs

    def has_lead(self, name: str) -> bool:
        """Whether the record holds lead ``name`` (any common spelling)."""
        return canonical_lead_name(name) in self.leads

    def lead(self, name: str) -> np.ndarray:
        """The samples of one lead, by name (any common spelling)."""
        key = canonical_lead_name(name)
        try:
            return self.signal[self.leads.index(key)]
        except ValueError:
            raise KeyError(f"record {self.record_id!r} has no lead {name!r}") from None

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary (the fields of ``ecgr1 info --json``)."""
        return {
            "id": self.record_id,
            "fs": self.fs,
            "n_samples": self.n_samples,
            "duration_s": round(self.duration_s, 6),
            "leads": list(self.leads),
            "units": self.units,
            "age": self.metadata.get("age"),
            "sex": self.metadata.get("sex"),
            "labels": list(self.metadata.get("labels") or []),
            "report": self.metadata.get("report"),
            "source_path": self.source_path,
            "warnings": list(self.warnings),
        }
