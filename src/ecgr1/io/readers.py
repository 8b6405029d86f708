"""Readers. PROVISIONAL minimal WFDB reader; the foundation work replaces this module."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from ecgr1.errors import MissingFileError
from ecgr1.io.record import ECGRecord


def read_record(path: str | Path) -> ECGRecord:
    """Read a record (WFDB for now); ``path`` may include or omit the ``.hea`` extension."""
    p = Path(path)
    base = p.with_suffix("") if p.suffix in {".hea", ".dat", ".mat"} else p
    if not base.with_suffix(".hea").exists():
        raise MissingFileError("no such record (missing .hea)", str(path))
    rec = wfdb.rdrecord(str(base), physical=True)
    sig = np.nan_to_num(rec.p_signal.T.astype(np.float32))
    units = [u.lower() for u in rec.units]
    for k, u in enumerate(units):
        if u in {"uv", "µv"}:
            sig[k] /= 1000.0
    return ECGRecord(sig, rec.fs, rec.sig_name, record_id=base.name, source_path=str(path))
