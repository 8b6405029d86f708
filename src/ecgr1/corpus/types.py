"""The records a dataset adapter yields, and the labels they carry.

A :class:`SourceEntry` is small and picklable: the build lists every entry in the driver
process, assigns splits, then ships entries (not signals) to workers, which read them with the
adapter's ``read``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ecgr1.io.record import ECGRecord

#: Label vocabularies a source can speak (see ``ecgr1.corpus.labels``).
VOCABULARIES: tuple[str, ...] = ("cpsc", "snomed", "scp", "ludb", "mimic", "code15")


@dataclass(frozen=True)
class SourceEntry:
    """One ECG of a dataset, before it is read.

    Attributes
    ----------
    source : the source's name in the corpus (``ptbxl``, ``mimic``, ``code15``, ``ludb``,
        ``cpsc2018``, ``georgia``, ``ningbo``, ``chapman_shaoxing``, ``cpsc_extra``, ``ptb``,
        ``incart``,
        ``ptbxl_challenge``...); one dataset tree is one source.
    record_id : the record's id within its source (``00001``, ``E00001``, ``A0001``...).
    path : what the adapter's ``read`` needs (absolute WFDB base path without extension, or
        ``file.hdf5#exam_id``).
    ecg_relpath : the WFDB record path relative to the source root, without extension, as
        written to ``objects.ecg`` (under ``<source>/``); None when the record must first be
        exported to WFDB (HDF5 sources).
    labels : the source's labels in its own vocabulary (codes or text), in the source's order.
    vocabulary : one of :data:`VOCABULARIES`.
    patient_id : the dataset's patient id, when it has one (splits never separate a patient).
    age, sex : years (None unknown), ``"male"``/``"female"``/None.
    fold : the dataset's own fold (PTB-XL ``strat_fold``), else None.
    dedup_key : identity across sources (``ptbxl:<ecg_id>`` for PTB-XL and its Challenge copy
        ``HR<ecg_id>``, ``cpsc2018:<A-id>`` for CPSC 2018 and its copies); None if unique.
    extra : source-specific facts kept with the row (e.g. MIMIC machine measurements, PTB-XL
        SCP likelihoods). JSON-serialisable values only.
    origin : ``(kind, root, options)`` of the adapter that listed the entry; set by the corpus
        build so that a worker can reopen that adapter (adapters leave it empty).
    """

    source: str
    record_id: str
    path: str
    labels: tuple[str, ...]
    vocabulary: str
    ecg_relpath: str | None = None
    patient_id: str | None = None
    age: float | None = None
    sex: str | None = None
    fold: int | None = None
    dedup_key: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    origin: tuple[Any, ...] = ()

    @property
    def uid(self) -> str:
        """The row id: unique across the corpus (``<source>_<record_id>``)."""
        return f"{self.source}_{self.record_id}"


class Source(Protocol):
    """A dataset adapter: one dataset tree in its published layout."""

    kind: str  # ptbxl | mimic | code15 | challenge | ludb
    name: str  # SourceEntry.source of its entries
    root: str  # absolute path of the tree

    def entries(self) -> Iterator[SourceEntry]:
        """Every record of the tree, in a stable order (sorted by record id)."""
        ...

    def read(self, entry: SourceEntry) -> ECGRecord:
        """The record's signal (raises an ``ECGR1Error`` when it cannot be read)."""
        ...
