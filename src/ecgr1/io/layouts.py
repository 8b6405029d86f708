"""Dataset directory layouts whose labels live in a table beside the WFDB records.

- MIMIC-IV-ECG: ``<root>/files/pNNNN/pNNNNNNNN/sNNNNNNNN/NNNNNNNN.hea``; machine reports and
  measurements in ``<root>/machine_measurements.csv`` (one row per ``study_id``: ``report_0``
  .. ``report_17`` statements, ``rr_interval``, ``p_onset`` .. ``t_end`` in ms, axes).
- PTB-XL: ``<root>/records100|records500/NNNNN/NNNNN_lr|_hr.hea``; ``<root>/ptbxl_database.csv``
  (``scp_codes`` dict of SCP statement -> likelihood, ``report``, ``age``, ``sex`` 0 male /
  1 female); ``scp_statements.csv`` descriptions when present.

Tables are loaded once per process (cached by path and modification time).
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

from ecgr1.io.header import parse_age

_MIMIC_PARTS = (re.compile(r"^p\d{4}$"), re.compile(r"^p\d{8}$"), re.compile(r"^s\d{8}$"))
_MIMIC_REPORT_COLUMNS = [f"report_{k}" for k in range(18)]
_MIMIC_MEASUREMENTS = (
    "rr_interval", "p_onset", "p_end", "qrs_onset", "qrs_end", "t_end",
    "p_axis", "qrs_axis", "t_axis",
)  # fmt: skip
#: PTB-XL codes ages above 89 as 300 (de-identification).
PTBXL_AGE_OVER_89 = 300


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        return value.item()
    return value


@functools.lru_cache(maxsize=4)
def _table(csv_path: str, mtime: float, index: str) -> Any:
    import pandas as pd

    df = pd.read_csv(csv_path, low_memory=False)
    if index not in df.columns:
        return None
    # Indexed once; rows are looked up one at a time (tables have up to ~800k rows).
    return df.drop_duplicates(subset=[index]).set_index(index)


def _row(csv_path: Path, index: str, key: Any) -> dict[str, Any] | None:
    """One row of a cached table as a dict, or None."""
    df = _table(str(csv_path.resolve()), csv_path.stat().st_mtime, index)
    if df is None or key not in df.index:
        return None
    return df.loc[key].to_dict()


def mimic_metadata(hea_path: str | Path) -> dict[str, Any] | None:
    """Metadata for a MIMIC-IV-ECG record, or None when the path is not in that layout.

    Returns ``dataset``, ``subject_id``, ``study_id`` and, when ``machine_measurements.csv`` is
    found in the layout root (or the ``files`` folder), ``labels`` (the machine statements in
    order), ``report`` (them joined by ``"; "``), ``ecg_time``, ``machine_measurements`` (ms and
    degrees as in the table), ``bandwidth`` and ``filtering``.
    """
    p = Path(hea_path)
    parents = p.parents
    if len(parents) < 4:
        return None
    study, subject, group = parents[0].name, parents[1].name, parents[2].name
    if not (
        _MIMIC_PARTS[0].match(group)
        and _MIMIC_PARTS[1].match(subject)
        and _MIMIC_PARTS[2].match(study)
    ):
        return None
    meta: dict[str, Any] = {
        "dataset": "MIMIC-IV-ECG",
        "subject_id": int(subject[1:]),
        "study_id": int(study[1:]),
    }
    candidates = [parents[3] / "machine_measurements.csv"]
    if len(parents) > 4:
        candidates.insert(0, parents[4] / "machine_measurements.csv")
    csv = next((c for c in candidates if c.is_file()), None)
    if csv is None:
        meta["labels_note"] = "machine_measurements.csv not found in the layout root"
        return meta
    row = _row(csv, "study_id", meta["study_id"])
    if row is None:
        meta["labels_note"] = f"study {meta['study_id']} not in {csv.name}"
        return meta
    statements = [
        str(row[c]).strip()
        for c in _MIMIC_REPORT_COLUMNS
        if c in row and _clean(row[c]) is not None and str(row[c]).strip()
    ]
    meta["labels"] = statements
    meta["report"] = "; ".join(statements) if statements else None
    meta["ecg_time"] = _clean(row.get("ecg_time"))
    meta["machine_measurements"] = {
        k: _clean(row[k]) for k in _MIMIC_MEASUREMENTS if k in row and _clean(row[k]) is not None
    }
    for key in ("bandwidth", "filtering", "cart_id"):
        if _clean(row.get(key)) is not None:
            meta[key] = _clean(row[key])
    return meta


def ptbxl_metadata(hea_path: str | Path) -> dict[str, Any] | None:
    """Metadata for a PTB-XL record, or None when the path is not in that layout.

    ``labels`` are the SCP-ECG statement codes of ``scp_codes`` (as found, in table order);
    ``scp_codes`` keeps their likelihoods; ``label_descriptions`` maps codes to text when
    ``scp_statements.csv`` is present. Age 300 (PTB-XL's code for over 89) becomes 90 with
    ``age_note``.
    """
    p = Path(hea_path)
    parents = p.parents
    if len(parents) < 3 or parents[1].name not in {"records100", "records500"}:
        return None
    root = parents[2]
    meta: dict[str, Any] = {"dataset": "PTB-XL"}
    m = re.match(r"^(\d+)_(lr|hr)$", p.with_suffix("").name)
    if m:
        meta["ecg_id"] = int(m.group(1))
    csv = root / "ptbxl_database.csv"
    if not csv.is_file() or "ecg_id" not in meta:
        meta["labels_note"] = "ptbxl_database.csv not found in the layout root"
        return meta
    row = _row(csv, "ecg_id", meta["ecg_id"])
    if row is None:
        meta["labels_note"] = f"ecg_id {meta['ecg_id']} not in {csv.name}"
        return meta
    codes: dict[str, float] = {}
    raw = row.get("scp_codes")
    if isinstance(raw, str) and raw.strip():
        try:
            parsed = ast.literal_eval(raw)
            if isinstance(parsed, dict):
                codes = {str(k): float(v) for k, v in parsed.items()}
        except (ValueError, SyntaxError):
            meta["labels_note"] = f"unparseable scp_codes {raw!r}"
    meta["labels"] = list(codes)
    meta["scp_codes"] = codes
    meta["report"] = _clean(row.get("report"))
    age = _clean(row.get("age"))
    if age is not None and float(age) >= PTBXL_AGE_OVER_89:
        meta["age"] = 90
        meta["age_note"] = "PTB-XL codes ages over 89 as 300"
    else:
        meta["age"] = parse_age(age)
    sex = _clean(row.get("sex"))
    meta["sex"] = {0: "M", 1: "F"}.get(int(sex)) if sex is not None else None
    for key in ("patient_id", "heart_axis", "strat_fold", "recording_date", "device"):
        if _clean(row.get(key)) is not None:
            meta[key] = _clean(row[key])
    statements = root / "scp_statements.csv"
    if codes and statements.is_file():
        table = _load_statements(statements)
        meta["label_descriptions"] = {c: table[c] for c in codes if c in table}
    return meta


@functools.lru_cache(maxsize=2)
def _statements(csv_path: str, mtime: float) -> dict[str, str]:
    import pandas as pd

    df = pd.read_csv(csv_path, index_col=0)
    col = "description" if "description" in df.columns else df.columns[0]
    return {str(k): str(v) for k, v in df[col].items()}


def _load_statements(path: Path) -> dict[str, str]:
    return _statements(str(path.resolve()), path.stat().st_mtime)


def layout_metadata(hea_path: str | Path) -> dict[str, Any] | None:
    """Metadata from whichever known dataset layout ``hea_path`` sits in (None if none)."""
    return mimic_metadata(hea_path) or ptbxl_metadata(hea_path)
