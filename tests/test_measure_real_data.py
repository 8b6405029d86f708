"""Every record in ../shared/data is measured without exception, NaN or absurd values.

Long records (QTDB 15 min, MIT-BIH 30 min, CPSC 2021 up to 9 min, CPSC 2018 up to 60 s) are
measured on their first 20 s, as interpretation pipelines do, to keep the test fast; the engine
itself accepts any length.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ecgr1.io import read_record
from ecgr1.io.record import ECGRecord
from ecgr1.measure.engine import measure

WINDOW_S = 20.0


def _records(root: Path) -> list[Path]:
    paths: list[Path] = []
    for sub in ("ludb/data", "qtdb", "cpsc2018", "mitdb", "cpsc2021"):
        paths += sorted((root / sub).glob("*.hea"))
    paths += sorted((root / "cpsc2019" / "data").glob("*.mat"))
    return paths


def _first_window(rec: ECGRecord) -> ECGRecord:
    n = int(WINDOW_S * rec.fs)
    if rec.n_samples <= n:
        return rec
    return ECGRecord(rec.signal[:, :n], rec.fs, rec.leads, record_id=rec.record_id)


def _finite_everywhere(obj) -> bool:
    if isinstance(obj, float):
        return math.isfinite(obj)
    if isinstance(obj, dict):
        return all(_finite_everywhere(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite_everywhere(v) for v in obj)
    return True


def test_every_shared_record_measures_cleanly(shared_data):
    paths = _records(shared_data)
    if not paths:
        pytest.skip("no records found in the shared data folder")
    problems: list[str] = []
    n_with_beats = 0
    for path in paths:
        target = path.with_suffix("") if path.suffix == ".hea" else path
        try:
            rec = _first_window(read_record(target))
        except Exception as exc:  # reading is not under test here
            problems.append(f"{target}: unreadable: {exc}")
            continue
        try:
            res = measure(rec)
            payload = res.to_dict()
            json.dumps(payload, allow_nan=False)
        except Exception as exc:
            problems.append(f"{target}: {type(exc).__name__}: {exc}")
            continue
        if not _finite_everywhere(payload):
            problems.append(f"{target}: non-finite value")
        g = res.global_
        if res.beats:
            n_with_beats += 1
            if g.heart_rate_bpm is None or not 20 <= g.heart_rate_bpm <= 250:
                problems.append(f"{target}: heart rate {g.heart_rate_bpm}")
            qrs = g.qrs_duration_ms
            # Plausibility of QRS width is asked of multi-lead records only: some single-lead
            # CPSC 2019 records are mostly noise, where any width is as good as another.
            if rec.n_leads >= 2 and qrs is not None and not 30 <= qrs <= 250:
                problems.append(f"{target}: QRS {qrs} ms")
            for lead, fid in res.lead_fiducials.items():
                on = np.array([v if v is not None else -1 for v in fid["qrs_on"]])
                off = np.array([v if v is not None else -1 for v in fid["qrs_off"]])
                both = (on >= 0) & (off >= 0)
                if np.any(off[both] < on[both]):
                    problems.append(f"{target}: {lead} QRS offset before onset")
                    break
    assert not problems, "\n".join(problems[:20])
    assert n_with_beats >= 0.95 * len(paths)
