"""Score the protocol engine's statements against dataset labels (CPSC 2018, LUDB, and every
labelled source of a data folder).

Usage::

    python benchmarks/protocol_bench.py                  # all tables, markdown
    python benchmarks/protocol_bench.py --dataset cpsc --seconds 10
    python benchmarks/protocol_bench.py --json out.json  # also write every prediction
    # the simulated patterns, 20 seeds each, with the simulator's muscle noise added:
    python benchmarks/protocol_bench.py --dataset sim --sim-seeds 20 --sim-noise muscle
    # every labelled source of a folder laid out like ../shared/data, per source and
    # leave-one-source-out; measurements cached per record, so re-scoring a rules change
    # re-runs the protocol only:
    python benchmarks/protocol_bench.py --data DIR --cache /tmp/pb-cache --json after.json \
        --baseline before.json   # before/after and the keep rule
    git show HEAD:src/ecgr1/protocol/criteria.yaml > old.yaml
    python benchmarks/protocol_bench.py --data DIR --cache /tmp/pb-cache --criteria old.yaml \
        --json before.json       # the same records scored with an earlier rules table

Scoring goes through the package's label table (``ecgr1.corpus.labels``, data in
``src/ecgr1/corpus/labels.yaml``): each dataset label maps to a concept (CPSC 2018 classes through
the PhysioNet/CinC Challenge 2021 SNOMED CT mapping, whose equivalences, e.g. complete RBBB
713427006 = RBBB 59118001, the table honours), and a class is predicted when the positive
statements support its concept.

CPSC 2018 (A0001-A0075): per-class precision / recall / F1 and macro-F1 over the nine
classes; "Normal" is predicted when a sinus-family rhythm is stated and none of the other
eight classes is. LUDB (odd ids): primary-rhythm accuracy, F1 for selected conduction and
hypertrophy labels, and Spearman rho between the measured QRS axis and the LUDB axis class
order (left deviation < horizontal < normal < vertical < right deviation).

Statements come from ``ecgr1.protocol.interpret`` on ``ecgr1.measure.engine.measure``; the
record's own age and sex are used. Needs ``../shared/data`` (or ``$ECGR1_DATA``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import data_root, markdown_table

from ecgr1.corpus.labels import concepts_of_statements, map_labels, primary_rhythm, snomed_codes
from ecgr1.corpus.sources.ludb import DIAGNOSTIC_COLUMNS
from ecgr1.io import first_seconds, read_record
from ecgr1.pipeline import interpret_record

CPSC_CLASSES = ("Normal", "AF", "I-AVB", "LBBB", "RBBB", "PAC", "PVC", "STD", "STE")


def _concept(vocabulary: str, label: str) -> str:
    """The label table's concept of one source label (exactly one)."""
    mapped = map_labels(vocabulary, [label]).mapped
    if len(mapped) != 1:
        raise ValueError(f"{vocabulary} label {label!r} must map to exactly one concept")
    return mapped[0].concept


# CPSC 2018 class -> concept of the package's label table (ecgr1/corpus/labels.yaml: through the
# PhysioNet/CinC Challenge 2021 SNOMED CT mapping, whose equivalences are honoured there).
CPSC_CONCEPTS = {c: _concept("cpsc", c) for c in CPSC_CLASSES}


def cpsc_predicted(statement_ids: set[str]) -> set[str]:
    """CPSC classes predicted by a record's positive statements ("Normal" only alone: a
    sinus-family rhythm with none of the other eight classes, the table's CPSC rule)."""
    supported = concepts_of_statements(statement_ids, vocabulary="cpsc")
    return {c for c, concept in CPSC_CONCEPTS.items() if concept in supported}


# Certainties not counted as positive calls: the answer list leaves them out
# (ecgr1.protocol.types.CONFIDENT_CERTAINTIES).
NOT_POSITIVE = {"borderline"}


def positive_calls(statements: Any) -> list[Any]:
    """The statements that count as positive calls: the confident ones (``NOT_POSITIVE``
    certainties are left out: e.g. PR 201-210 ms is a borderline first-degree AV block)."""
    return [s for s in statements if s.certainty not in NOT_POSITIVE]


def scored_codes(result: Any) -> set[str]:
    """SNOMED CT codes of the positive calls."""
    return {s.code for s in positive_calls(result.interpretation.statements) if s.code}


def scored_ids(result: Any) -> set[str]:
    """Statement ids of the positive calls."""
    return {s.id for s in positive_calls(result.interpretation.statements)}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall, F1 (0 when undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def prf_row(tp: int, fp: int, fn: int) -> dict[str, Any]:
    """One table row: counts, precision, recall, F1 (``n`` = tp + fn labelled records)."""
    p, r, f = prf(tp, fp, fn)
    return {"n": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}


def run_cpsc(root: Path, seconds: float | None) -> dict[str, Any]:
    """Predict every CPSC record and score the nine classes (through the label table)."""
    rows = []
    t0 = time.perf_counter()
    for hea in sorted((root / "cpsc2018").glob("A*.hea")):
        rec = first_seconds(read_record(hea), seconds)
        truth = set()
        for line in hea.read_text().splitlines():
            if line.startswith("#Dx:"):
                truth = {x.strip() for x in line.split(":", 1)[1].split(",") if x.strip()}
        res = interpret_record(rec)
        ids = scored_ids(res)
        codes = scored_codes(res)
        rows.append(
            {
                "id": rec.record_id,
                "truth": sorted(truth),
                "truth_codes": sorted(c for x in truth for c in snomed_codes("cpsc", x)),
                "pred": sorted(cpsc_predicted(ids)),
                "statements": sorted(ids),
                "statement_codes": sorted(codes),
                "duration_s": rec.duration_s,
            }
        )
    elapsed = time.perf_counter() - t0
    table = {}
    for c in CPSC_CLASSES:
        tp = sum(c in r["truth"] and c in r["pred"] for r in rows)
        fp = sum(c not in r["truth"] and c in r["pred"] for r in rows)
        fn = sum(c in r["truth"] and c not in r["pred"] for r in rows)
        table[c] = prf_row(tp, fp, fn)
    macro = float(np.mean([v["f1"] for v in table.values()]))
    return {
        "records": len(rows),
        "seconds": seconds,
        "per_class": table,
        "macro_f1": macro,
        "elapsed_s": elapsed,
        "rows": rows,
    }


LUDB_AXIS_ORDER = {
    "left axis deviation": 0,
    "horizontal": 1,
    "normal": 2,
    "vertical": 3,
    "right axis deviation": 4,
}
LUDB_RHYTHMS = (
    "Sinus rhythm",
    "Sinus bradycardia",
    "Sinus tachycardia",
    "Sinus arrhythmia",
    "Atrial fibrillation",
    "Atrial flutter",
)
# The LUDB labels scored as findings -> concept of the label table (ludb.csv item -> concept in
# ecgr1/corpus/labels.yaml; a record has the label when one of its items maps to the concept).
LUDB_LABELS = {
    "1st degree AV block": _concept("ludb", "I degree av block"),
    "complete RBBB": _concept("ludb", "Complete right bundle branch block"),
    "complete LBBB": _concept("ludb", "Complete left bundle branch block"),
    "incomplete RBBB": _concept("ludb", "Incomplete right bundle branch block"),
    "LAFB": _concept("ludb", "Left anterior hemiblock"),
    "LVH": _concept("ludb", "Left ventricular hypertrophy"),
}
# Concept of each scored LUDB rhythm label (the primary rhythm is chosen by the table's order).
LUDB_RHYTHM_LABELS = {_concept("ludb", label): label for label in LUDB_RHYTHMS}


def ludb_concepts(row: Any) -> set[str]:
    """Concepts of the items a ludb.csv row lists (items one per line in each column)."""
    items = [x for col in DIAGNOSTIC_COLUMNS for x in str(row.get(col, "")).split("\n")]
    return set(map_labels("ludb", items).concepts)


def predicted_rhythm(statement_ids: set[str]) -> str:
    """The single primary rhythm label (LUDB vocabulary) from the positive statement ids."""
    return LUDB_RHYTHM_LABELS.get(primary_rhythm(concepts_of_statements(statement_ids)), "other")


def _spearman(x: list[float], y: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


# Bradycardia limits (bpm) for the rate-qualifier sensitivity analysis: AHA/ACCF/HRS 2009 (60,
# the packaged default), 2018 ACC/AHA/HRS bradycardia guideline (50), and the midpoint. The
# packaged table is not changed by this analysis; it shows how much of the LUDB rhythm score
# depends on where a labelling convention puts the sinus rhythm / bradycardia boundary.
BRADY_LIMITS = (50.0, 55.0, 60.0)


def _table_with_brady_limit(limit: float) -> Any:
    """The packaged criteria table with the sinus-bradycardia limit (and the lower end of the
    normal rate range) moved to ``limit`` bpm."""
    import yaml

    from ecgr1.protocol.table import DEFAULT_TABLE, parse_table

    data = yaml.safe_load(Path(DEFAULT_TABLE).read_text(encoding="utf-8"))
    for row in data["criteria"]:
        if row["id"] == "rate.bradycardia":
            row["threshold"] = limit
        elif row["id"] == "rate.normal":
            row["threshold"] = [limit, row["threshold"][1]]
    return parse_table(data, f"criteria.yaml with bradycardia < {limit:g} bpm")


def rate_limit_sensitivity(
    rows: list[dict[str, Any]], results: list[Any], limits: tuple[float, ...] = BRADY_LIMITS
) -> dict[str, float]:
    """LUDB rhythm accuracy with each bradycardia limit (same measurements, re-interpreted)."""
    from ecgr1.protocol import interpret

    out = {}
    for limit in limits:
        table = _table_with_brady_limit(limit)
        hits = []
        for row, res in zip(rows, results):
            if row["rhythm"] not in LUDB_RHYTHMS:
                continue
            interp = interpret(res.measurements, table=table)
            ids = {s.id for s in positive_calls(interp.statements)}
            hits.append(predicted_rhythm(ids) == row["rhythm"])
        out[f"{limit:g}"] = float(np.mean(hits)) if hits else math.nan
    return out


def run_ludb(root: Path) -> dict[str, Any]:
    """Predict every LUDB record and score rhythm, conduction/hypertrophy labels and axis."""
    import pandas as pd

    table = pd.read_csv(root / "ludb" / "ludb.csv", dtype=str).fillna("")
    table["ID"] = table["ID"].str.strip()
    rows = []
    results = []
    t0 = time.perf_counter()
    for _, row in table.iterrows():
        hea = root / "ludb" / "data" / f"{row['ID']}.hea"
        if not hea.exists():
            continue
        rec = read_record(hea)
        res = interpret_record(rec)
        results.append(res)
        ids = scored_ids(res)
        every = {s.id for s in res.interpretation.statements}
        supported = concepts_of_statements(ids)
        truth = ludb_concepts(row)
        rhythm = row["Rhythms"].split("\n")[0].strip()
        rhythm = "Atrial flutter" if rhythm.startswith("Atrial flutter") else rhythm
        axis_text = row["Electric axis of the heart"].split(":")[-1].strip().lower()
        rows.append(
            {
                "id": row["ID"],
                "rhythm": rhythm,
                "pred_rhythm": predicted_rhythm(every),
                "axis_class": axis_text,
                "qrs_axis_deg": res.measurements.global_.qrs_axis_deg,
                "heart_rate_bpm": res.measurements.global_.heart_rate_bpm,
                "labels": {k: (c in truth, c in supported) for k, c in LUDB_LABELS.items()},
                "statements": sorted(ids),
            }
        )
    elapsed = time.perf_counter() - t0
    scored = [r for r in rows if r["rhythm"] in LUDB_RHYTHMS]
    acc = float(np.mean([r["rhythm"] == r["pred_rhythm"] for r in scored])) if scored else math.nan

    def family(label: str) -> str:
        return "sinus" if label.startswith("Sinus") else label

    family_acc = (
        float(np.mean([family(r["rhythm"]) == family(r["pred_rhythm"]) for r in scored]))
        if scored
        else math.nan
    )
    confusion: dict[str, dict[str, int]] = {}
    for r in scored:
        confusion.setdefault(r["rhythm"], {}).setdefault(r["pred_rhythm"], 0)
        confusion[r["rhythm"]][r["pred_rhythm"]] += 1
    labels = {}
    for k in LUDB_LABELS:
        tp = sum(r["labels"][k] == (True, True) for r in rows)
        fp = sum(r["labels"][k] == (False, True) for r in rows)
        fn = sum(r["labels"][k] == (True, False) for r in rows)
        labels[k] = prf_row(tp, fp, fn)
    ax = [
        (LUDB_AXIS_ORDER[r["axis_class"]], r["qrs_axis_deg"])
        for r in rows
        if r["axis_class"] in LUDB_AXIS_ORDER and r["qrs_axis_deg"] is not None
    ]
    rho = _spearman([a for a, _ in ax], [b for _, b in ax]) if len(ax) > 2 else math.nan
    per_axis = {}
    for name, k in LUDB_AXIS_ORDER.items():
        vals = [b for a, b in ax if a == k]
        per_axis[name] = {
            "n": len(vals),
            "mean": float(np.mean(vals)) if vals else math.nan,
            "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else math.nan,
        }
    rate_by_label = {}
    for label in LUDB_RHYTHMS:
        hr = [r["heart_rate_bpm"] for r in scored if r["rhythm"] == label and r["heart_rate_bpm"]]
        if hr:
            rate_by_label[label] = {"n": len(hr), "min": min(hr), "max": max(hr)}
    return {
        "records": len(rows),
        "rhythm_scored": len(scored),
        "rhythm_rate_by_label": rate_by_label,
        "rhythm_accuracy_by_brady_limit": rate_limit_sensitivity(rows, results),
        "rhythm_accuracy": acc,
        "rhythm_family_accuracy": family_acc,
        "rhythm_confusion": confusion,
        "labels": labels,
        "axis_spearman_rho": rho,
        "axis_n": len(ax),
        "axis_per_class": per_axis,
        "elapsed_s": elapsed,
        "rows": rows,
    }


# Simulated pattern -> statement ids any of which counts as found (ecgr1.simulate ground truth).
SIM_EXPECTED = {
    "normal": {"normal_ecg"},
    "sinus_bradycardia": {"sinus_bradycardia"},
    "sinus_tachycardia": {"sinus_tachycardia"},
    "sinus_arrhythmia": {"sinus_arrhythmia"},
    "atrial_fibrillation": {"atrial_fibrillation"},
    "atrial_flutter": {"atrial_flutter"},
    "atrial_flutter_variable": {"atrial_flutter"},
    "av_block_1": {"first_degree_av_block"},
    "av_block_2_mobitz1": {"av_block_mobitz_1"},
    "av_block_2_mobitz2": {"av_block_mobitz_2"},
    "av_block_3": {"av_block_third_degree"},
    "pac": {"premature_atrial_contractions"},
    "pvc": {"premature_ventricular_contractions"},
    "rbbb": {"complete_rbbb"},
    "lbbb": {"complete_lbbb"},
    "lafb": {"lafb"},
    "lvh": {"lvh", "lvh_voltage"},  # the simulated pattern is LVH by voltage alone
    "low_voltage": {"low_qrs_voltage"},
    "inferior_stemi": {"ste_inferior"},
    "anterior_stemi": {"ste_anterior", "ste_septal"},
    "st_depression": {
        "std_inferior",
        "std_high_lateral",
        "std_lateral",
        "std_anterior",
        "std_septal",
    },
    "t_inversion": {
        "tinv_inferior",
        "tinv_high_lateral",
        "tinv_lateral",
        "tinv_anterior",
        "tinv_septal",
    },
    "long_qt": {"long_qt"},
    "ventricular_tachycardia": {"ventricular_tachycardia"},
}
BASE_RHYTHM = {"sinus_rhythm", "normal_ecg"}


def _noise_kinds(text: str) -> str:
    """``--sim-noise``: comma-separated kinds of the simulator's noise, or ``all``."""
    from ecgr1.simulate.noise import NOISE_KINDS

    unknown = [k for k in text.split(",") if k.strip() and k.strip() not in (*NOISE_KINDS, "all")]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown noise {', '.join(unknown)}; choose from {', '.join(NOISE_KINDS)} or all"
        )
    return text


def run_sim(seeds: int, noise: str = "") -> dict[str, Any]:
    """Each simulated pattern, ``seeds`` seeds of 10 s: is the expected statement made?
    ``noise`` (``ecgr1.simulate``'s: baseline, muscle, powerline, all) is added to each."""
    from ecgr1.simulate import PATTERNS, simulate

    table = {}
    t0 = time.perf_counter()
    for name in PATTERNS:
        expected = SIM_EXPECTED.get(name)
        if expected is None:
            continue
        hits, extras = 0, {}
        for seed in range(seeds):
            res = interpret_record(simulate(name, seconds=10, seed=seed, noise=noise).record)
            ids = scored_ids(res)
            hits += bool(ids & expected)
            for sid in ids - expected - BASE_RHYTHM:
                extras[sid] = extras.get(sid, 0) + 1
        table[name] = {"found": hits, "runs": seeds, "extra": extras}
    return {
        "patterns": table,
        "elapsed_s": time.perf_counter() - t0,
        "found_rate": float(np.mean([v["found"] / v["runs"] for v in table.values()])),
    }


def _md_prf(title: str, table: dict[str, dict[str, Any]]) -> str:
    rows = [
        [k, v["n"], v["tp"], v["fp"], v["fn"]]
        + [f"{v[m]:.2f}" for m in ("precision", "recall", "f1")]
        for k, v in table.items()
    ]
    return markdown_table([title, "n", "TP", "FP", "FN", "precision", "recall", "F1"], rows)


# ---------------------------------------------------------------------------- cross-source scoring
#
# Every labelled source of a folder laid out like ../shared/data, scored with ONE concept table:
# each source label maps to concepts through the package's label table (CPSC classes, LUDB items,
# SNOMED CT codes of the Challenge records, PTB-XL SCP codes), and each concept is scored as its
# PhysioNet/CinC Challenge 2021 class (codes the Challenge scores as the same diagnosis are one
# class: complete RBBB 713427006 = RBBB 59118001). Classes with >= 3 positives over all sources
# are scored; "normal" (normal ECG, and sinus rhythm, the Challenge's code for CPSC "Normal") is
# left out. A source only scores the classes its vocabulary can express.

MIN_POSITIVES = 3
NORMAL_UNITS = frozenset({"normal_ecg", "426783006"})
# PTB-XL likelihoods: diagnostic statements carry 15-100 (%), form and rhythm statements 0
# ("not given"). A statement counts when its likelihood is not given or at least 50 %.
PTBXL_MIN_LIKELIHOOD = 50.0


def _hash_files(paths: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _criteria_file(path: Path) -> Any:
    """A criteria table read from a file (same validation as the packaged one)."""
    import yaml

    from ecgr1.protocol.table import parse_table

    return parse_table(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))


def measurement_key() -> str:
    """What the cached measurements depend on: the measuring code (io, signal, measure) and the
    measurement settings the criteria table links into the engine. Protocol rules are not in
    it, so iterating the rules re-uses the cache."""
    import ecgr1
    from ecgr1.protocol.table import load_table

    pkg = Path(ecgr1.__file__).parent
    files = [p for sub in ("io", "signal", "measure") for p in (pkg / sub).rglob("*.py")]
    files += [pkg / "pipeline.py"]
    config = repr(sorted(load_table().measure_config_values().items()))
    return _hash_files(files) + config


class MeasurementCache:
    """Per-record measurements on disk (pickle), keyed by the record file and
    :func:`measurement_key`; ``None`` folder: no cache."""

    def __init__(self, folder: Path | None, frozen: bool = False) -> None:
        import hashlib

        self.folder = folder
        # frozen: keyed by the record only, so that measurements made once (e.g. with the last
        # commit's engine while the working tree's is being changed) are re-used as they are.
        key = "frozen" if frozen else measurement_key()
        self.key = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.hits = 0
        self.misses = 0
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def _file(self, hea: Path, seconds: float | None) -> Path | None:
        import hashlib

        if self.folder is None:
            return None
        st = hea.stat()
        ident = f"{hea.resolve()}|{st.st_size}|{st.st_mtime_ns}|{seconds}|{self.key}"
        return self.folder / (hashlib.sha256(ident.encode()).hexdigest()[:24] + ".pkl")

    def measure(self, hea: Path, seconds: float | None = None, **meta: Any) -> Any:
        """``(measurements, age, sex)`` of one record: from the cache, or measured and cached."""
        import pickle

        from ecgr1.pipeline import _normalise_age, _normalise_sex, measure_record
        from ecgr1.protocol.table import load_table

        path = self._file(hea, seconds)
        if path is not None and path.exists():
            self.hits += 1
            return pickle.loads(path.read_bytes())
        self.misses += 1
        rec = first_seconds(read_record(hea), seconds)
        age = _normalise_age(meta.get("age", rec.metadata.get("age")))
        sex = _normalise_sex(meta.get("sex", rec.metadata.get("sex")))
        res, _ = measure_record(rec, age=age, sex=sex, config=load_table().measure_config())
        out = (res, age, sex)
        if path is not None:
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(out))
            tmp.replace(path)
        return out


def statement_ids(measured: Any, table: Any = None) -> tuple[set[str], set[str]]:
    """(positive, all surviving) statement ids of cached measurements (the protocol re-run
    only). The rhythm is named from all of them: a borderline sinus tachycardia is still the
    rhythm the report names."""
    from ecgr1.protocol import interpret

    res, age, sex = measured
    interp = interpret(res, age=age, sex=sex, table=table)
    return {s.id for s in positive_calls(interp.statements)}, {s.id for s in interp.statements}


def _unit(concept: str) -> str:
    """The scoring class of a concept: its Challenge 2021 class, else the concept itself."""
    from ecgr1.corpus.labels import challenge_group, get_concept

    for code in get_concept(concept).codes:
        group = challenge_group(code)
        if group:
            return group
    return concept


def unit_name(unit: str) -> str:
    """A readable name of a scoring class."""
    from ecgr1.corpus.labels import load_label_table

    table = load_label_table()
    code = unit.split("|")[0]
    cid = table.code_concept.get(code, unit)
    return table.concepts[cid].name if cid in table.concepts else unit


def predicted_concepts(ids: set[str], vocabulary: str) -> set[str]:
    """Concepts the positive statements support, as ``vocabulary`` can express them: exact
    concepts for SNOMED CT (incomplete RBBB is not the Challenge's RBBB); for the other
    vocabularies, through ``broader`` where the source label is broader (CPSC's RBBB includes
    incomplete RBBB)."""
    from ecgr1.corpus.labels import load_label_table

    table = load_label_table()
    exact = {c.id for c in table.concepts.values() if c.statements & ids}
    if vocabulary == "snomed":
        return exact
    return concepts_of_statements(ids, vocabulary=vocabulary)


def stateable_units() -> set[str]:
    """Scoring classes the protocol has a statement for (the others are listed, not scored)."""
    from ecgr1.corpus.labels import load_label_table

    table = load_label_table()
    return {_unit(b) for c in table.concepts.values() if c.statements for b in table.closure[c.id]}


def expressible_units(vocabulary: str) -> set[str]:
    from ecgr1.corpus.labels import vocabulary_concepts

    return {_unit(c) for c in vocabulary_concepts(vocabulary)}


def _header_field(hea: Path, name: str) -> str:
    for line in hea.read_text(errors="replace").splitlines():
        if line.startswith(f"#{name}:"):
            return line.split(":", 1)[1].strip()
    return ""


def source_records(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every labelled record of a data folder: source -> [{hea, vocabulary, truth concepts,
    meta}]. Sources absent from the folder are skipped."""
    import ast

    import pandas as pd

    out: dict[str, list[dict[str, Any]]] = {}
    cpsc = sorted((root / "cpsc2018").glob("A*.hea"))
    if cpsc:
        rows = []
        for hea in cpsc:
            labels = [x.strip() for x in _header_field(hea, "Dx").split(",") if x.strip()]
            rows.append({"hea": hea, "vocabulary": "cpsc", "labels": labels})
        out["cpsc2018"] = rows
    ludb_csv = root / "ludb" / "ludb.csv"
    if ludb_csv.exists():
        table = pd.read_csv(ludb_csv, dtype=str).fillna("")
        rows = []
        for _, row in table.iterrows():
            hea = root / "ludb" / "data" / f"{row['ID'].strip()}.hea"
            if hea.exists():
                items = [x for col in DIAGNOSTIC_COLUMNS for x in str(row.get(col, "")).split("\n")]
                rows.append({"hea": hea, "vocabulary": "ludb", "labels": items, "ludb_row": row})
        out["ludb"] = rows
    for folder in sorted((root / "extra").glob("cinc_*")):
        rows = []
        for hea in sorted(folder.glob("*.hea")):
            codes = [x.strip() for x in _header_field(hea, "Dx").split(",") if x.strip()]
            rows.append({"hea": hea, "vocabulary": "snomed", "labels": codes})
        if rows:
            out[folder.name] = rows
    db = root / "extra" / "ptbxl" / "ptbxl_database.csv"
    if db.exists():
        rows = []
        for _, row in pd.read_csv(db).iterrows():
            hea = root / "extra" / "ptbxl" / f"{row['filename_hr']}.hea"
            if not hea.exists():
                continue
            scp = ast.literal_eval(row["scp_codes"])
            codes = [c for c, lk in scp.items() if lk == 0 or lk >= PTBXL_MIN_LIKELIHOOD]
            meta = {"age": row.get("age"), "sex": {0: "M", 1: "F"}.get(row.get("sex"))}
            rows.append({"hea": hea, "vocabulary": "scp", "labels": codes, "meta": meta})
        if rows:
            out["ptbxl"] = rows
    for rows in out.values():
        for r in rows:
            mapped = map_labels(r["vocabulary"], r["labels"]).mapped
            r["truth"] = {_unit(m.concept) for m in mapped} - NORMAL_UNITS
    return out


# Rate classes and the textbook limit each is named by: a record whose measured rate lies within
# RATE_MARGIN_BPM of the limit counts as either neighbouring label (the LUDB convention,
# applied to every source), so it is not scored for that class.
RATE_LIMITS = {"sinus_bradycardia": 60.0, "sinus_tachycardia": 100.0}
RATE_MARGIN_BPM = 5.0


def _near_rate_limit(unit: str, hr: float | None) -> bool:
    for concept, limit in RATE_LIMITS.items():
        if unit == _unit(concept) and hr is not None:
            return abs(hr - limit) <= RATE_MARGIN_BPM
    return False


def score_units(rows: list[dict[str, Any]], units: list[str]) -> dict[str, dict[str, Any]]:
    """Precision / recall / F1 per scoring class over ``rows`` (each with truth, pred and the
    classes its source can express; rate classes leave out records at their limit +- 5 bpm)."""
    table = {}
    for u in units:
        rs = [
            r
            for r in rows
            if u in r["expressible"] and not _near_rate_limit(u, r.get("heart_rate_bpm"))
        ]
        tp = sum(u in r["truth"] and u in r["pred"] for r in rs)
        fp = sum(u not in r["truth"] and u in r["pred"] for r in rs)
        fn = sum(u in r["truth"] and u not in r["pred"] for r in rs)
        table[u] = prf_row(tp, fp, fn)
    return table


def macro_f1(table: dict[str, dict[str, Any]]) -> float:
    """Mean F1 over the classes with at least one positive (nan when none)."""
    f = [v["f1"] for v in table.values() if v["n"] > 0]
    return float(np.mean(f)) if f else math.nan


def one_record_worth(table: dict[str, dict[str, Any]]) -> float:
    """How much one record can move the macro-F1: the largest change of one class's F1 from one
    more false negative or false positive, over the number of classes averaged."""
    scored = [v for v in table.values() if v["n"] > 0]
    if not scored:
        return math.nan
    worst = 0.0
    for v in scored:
        f = v["f1"]
        worst = max(
            worst,
            abs(f - prf(v["tp"] - 1, v["fp"], v["fn"] + 1)[2]) if v["tp"] else 0.0,
            abs(f - prf(v["tp"], v["fp"] + 1, v["fn"])[2]),
        )
    return worst / len(scored)


def rhythm_correct(truth: str, pred: str, hr: float | None, margin: float = 5.0) -> bool:
    """LUDB rhythm scoring with the textbook 60 and 100 bpm limits: a sinus rhythm measured
    within ``margin`` bpm of a limit counts as either neighbouring label."""
    if truth == pred:
        return True
    if hr is None:
        return False
    pair = {truth, pred}
    if pair == {"Sinus rhythm", "Sinus bradycardia"}:
        return abs(hr - 60.0) <= margin
    if pair == {"Sinus rhythm", "Sinus tachycardia"}:
        return abs(hr - 100.0) <= margin
    return False


def run_sources(
    root: Path, cache: MeasurementCache, table: Any = None, seconds: float | None = None
) -> dict[str, Any]:
    """Score every labelled source of ``root`` with one class table, per source, pooled over the
    Challenge sources, and leave-one-source-out; CPSC 2018 also on its nine classes and LUDB
    also on its primary rhythm."""
    t0 = time.perf_counter()
    sources = source_records(root)
    rows_by_source: dict[str, list[dict[str, Any]]] = {}
    for name, recs in sources.items():
        expressible = expressible_units(recs[0]["vocabulary"]) - NORMAL_UNITS
        rows = []
        for r in recs:
            measured = cache.measure(r["hea"], seconds, **r.get("meta", {}))
            ids, every = statement_ids(measured, table)
            pred = {_unit(c) for c in predicted_concepts(ids, r["vocabulary"])} - NORMAL_UNITS
            res = measured[0]
            rows.append(
                {
                    "source": name,
                    "id": r["hea"].stem,
                    "truth": r["truth"] & expressible,
                    "pred": pred & expressible,
                    "expressible": expressible,
                    "statements": sorted(ids),
                    "all_statements": sorted(every),
                    "labels": r["labels"],
                    "heart_rate_bpm": res.global_.heart_rate_bpm,
                    "ludb_row": r.get("ludb_row"),
                }
            )
        rows_by_source[name] = rows
    all_rows = [r for rows in rows_by_source.values() for r in rows]
    counts: dict[str, int] = {}
    for r in all_rows:
        for u in r["truth"]:
            counts[u] = counts.get(u, 0) + 1
    stateable = stateable_units()
    # Ties in name order: the counts come from sets, whose order changes with the hash seed.
    frequent = sorted(
        (u for u, n in counts.items() if n >= MIN_POSITIVES), key=lambda u: (-counts[u], u)
    )
    units = [u for u in frequent if u in stateable]
    per_source = {}
    for name, rows in rows_by_source.items():
        t = score_units(rows, units)
        per_source[name] = {
            "records": len(rows),
            "macro_f1": macro_f1(t),
            "one_record": one_record_worth(t),
            "per_class": t,
            "false_positives": sum(len(r["pred"] - r["truth"]) for r in rows),
        }
    challenge = [r for r in all_rows if r["source"].startswith("cinc_")]
    ch_table = score_units(challenge, units)
    pooled_table = score_units(all_rows, units)
    loso = {}
    for name in rows_by_source:
        rest = [r for r in all_rows if r["source"] != name]
        loso[name] = {
            "rest_macro_f1": macro_f1(score_units(rest, units)),
            "held_out_macro_f1": per_source[name]["macro_f1"],
        }
    out: dict[str, Any] = {
        "units": {u: {"name": unit_name(u), "positives": counts[u]} for u in units},
        "not_stateable": {unit_name(u): counts[u] for u in frequent if u not in stateable},
        "per_source": per_source,
        "challenge": {
            "records": len(challenge),
            "macro_f1": macro_f1(ch_table),
            "per_class": ch_table,
        },
        "pooled": {"records": len(all_rows), "macro_f1": macro_f1(pooled_table)},
        "per_class": pooled_table,
        "loso": loso,
    }
    if "cpsc2018" in rows_by_source:
        out["cpsc_nine"] = _cpsc_nine(rows_by_source["cpsc2018"], sources["cpsc2018"])
    if "ludb" in rows_by_source:
        out["ludb_rhythm"] = _ludb_rhythm(rows_by_source["ludb"])
    out["errors"] = {unit_name(u): _errors(all_rows, u) for u in units}
    out["rows"] = [
        {k: (sorted(v) if isinstance(v, set) else v) for k, v in r.items() if k != "ludb_row"}
        for r in all_rows
    ]
    for r in out["rows"]:
        r.pop("expressible", None)
    out["elapsed_s"] = time.perf_counter() - t0
    out["cache"] = {"hits": cache.hits, "misses": cache.misses}
    return out


def _errors(rows: list[dict[str, Any]], unit: str) -> dict[str, list[str]]:
    """The records behind one class's false positives and negatives, counted as
    :func:`score_units` counts them (sources that can express the class; rate classes without
    the records within 5 bpm of their limit)."""
    scored = [
        r
        for r in rows
        if unit in r["expressible"] and not _near_rate_limit(unit, r.get("heart_rate_bpm"))
    ]
    return {
        "fp": [f"{r['source']}/{r['id']}" for r in scored if unit in r["pred"] - r["truth"]],
        "fn": [f"{r['source']}/{r['id']}" for r in scored if unit in r["truth"] - r["pred"]],
    }


def _cpsc_nine(rows: list[dict[str, Any]], recs: list[dict[str, Any]]) -> dict[str, Any]:
    """CPSC 2018 on its own nine classes (as :func:`run_cpsc`), from the same statements."""
    table = {}
    preds = [cpsc_predicted(set(r["statements"])) for r in rows]
    truths = [set(rec["labels"]) for rec in recs]
    for c in CPSC_CLASSES:
        tp = sum(c in t and c in p for t, p in zip(truths, preds))
        fp = sum(c not in t and c in p for t, p in zip(truths, preds))
        fn = sum(c in t and c not in p for t, p in zip(truths, preds))
        table[c] = prf_row(tp, fp, fn)
    return {"per_class": table, "macro_f1": float(np.mean([v["f1"] for v in table.values()]))}


def _ludb_rhythm(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """LUDB primary-rhythm accuracy, exact and with the +-5 bpm rate-limit margin."""
    exact, margin, wrong = [], [], []
    for r in rows:
        truth = r["ludb_row"]["Rhythms"].split("\n")[0].strip()
        truth = "Atrial flutter" if truth.startswith("Atrial flutter") else truth
        if truth not in LUDB_RHYTHMS:
            continue
        pred = predicted_rhythm(set(r["all_statements"]))
        exact.append(truth == pred)
        ok = rhythm_correct(truth, pred, r["heart_rate_bpm"])
        margin.append(ok)
        if not ok:
            wrong.append(f"{r['id']}: {truth} -> {pred} ({r['heart_rate_bpm']})")
    return {
        "records": len(exact),
        "accuracy": float(np.mean(exact)) if exact else math.nan,
        "accuracy_5bpm": float(np.mean(margin)) if margin else math.nan,
        "errors": wrong,
    }


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Sources whose macro-F1 dropped by more than one record's worth (the keep rule)."""
    bad = []
    for name, b in before["per_source"].items():
        a = after["per_source"].get(name)
        if a is None or math.isnan(b["macro_f1"]):
            continue
        if b["macro_f1"] - a["macro_f1"] > b["one_record"] + 1e-9:
            bad.append(f"{name}: {b['macro_f1']:.3f} -> {a['macro_f1']:.3f}")
    return bad


def print_sources(x: dict[str, Any], before: dict[str, Any] | None = None) -> None:
    """The cross-source tables (markdown), with the before figures when given."""

    def fmt(v: float) -> str:
        return "-" if v is None or math.isnan(v) else f"{v:.2f}"

    print(
        f"## Cross-source ({x['pooled']['records']} records, {len(x['units'])} classes with "
        f">= {MIN_POSITIVES} positives; {x['elapsed_s']:.1f} s, cache {x['cache']})\n"
    )
    head = ["source", "records", "macro-F1"] + (["before"] if before else [])
    head += ["one record", "false positives"]
    rows = []
    for name, s in x["per_source"].items():
        row = [name, s["records"], fmt(s["macro_f1"])]
        if before:
            b = before["per_source"].get(name)
            row.append(fmt(b["macro_f1"]) if b else "-")
        row += [fmt(s["one_record"]), s["false_positives"]]
        rows.append(row)
    ch = x["challenge"]
    row = ["Challenge sources pooled", ch["records"], fmt(ch["macro_f1"])]
    if before:
        row.append(fmt(before["challenge"]["macro_f1"]))
    rows.append(row + ["", ""])
    print(markdown_table(head, rows))
    print(
        "\nClasses with >= 3 positives that the protocol has no statement for (not scored): "
        + ", ".join(f"{k} ({v})" for k, v in x["not_stateable"].items())
    )
    print("\nLeave-one-source-out (macro-F1 of the other sources pooled / of the held-out one):\n")
    head = ["held out", "rest", "held out"] + (["rest before", "held out before"] if before else [])
    rows = []
    for name, v in x["loso"].items():
        row = [name, fmt(v["rest_macro_f1"]), fmt(v["held_out_macro_f1"])]
        if before and name in before["loso"]:
            b = before["loso"][name]
            row += [fmt(b["rest_macro_f1"]), fmt(b["held_out_macro_f1"])]
        rows.append(row)
    print(markdown_table(head, rows))
    print("\nPer class, Challenge sources pooled:\n")
    named = {
        f"{unit_name(u)} ({x['units'][u]['positives']})": v for u, v in ch["per_class"].items()
    }
    print(_md_prf("class (positives, all sources)", named))
    if "cpsc_nine" in x:
        c = x["cpsc_nine"]
        print(f"\nCPSC 2018 nine classes: macro-F1 = {c['macro_f1']:.3f}\n")
        print(_md_prf("class", c["per_class"]))
    if "ludb_rhythm" in x:
        lu = x["ludb_rhythm"]
        print(
            f"\nLUDB rhythm accuracy = {lu['accuracy']:.3f}, with the 60/100 bpm limits +-5 bpm "
            f"= {lu['accuracy_5bpm']:.3f} ({lu['records']} records)"
        )
    if before:
        bad = compare(before, x)
        print(
            "\nkeep rule: "
            + ("; ".join(bad) if bad else "no source dropped by more than one record")
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=("cpsc", "ludb", "sim", "sources", "all"), default="all")
    ap.add_argument(
        "--data",
        type=Path,
        help="data folder laid out like ../shared/data (default: the shared data folder); "
        "given alone, scores every labelled source (--dataset sources)",
    )
    ap.add_argument(
        "--cache",
        type=Path,
        help="folder for per-record measurements (re-used while the measuring code and its "
        "linked settings are unchanged, so iterating protocol rules only re-runs the protocol)",
    )
    ap.add_argument(
        "--frozen-cache",
        action="store_true",
        help="re-use the cached measurements whatever the measuring code (keyed by record only)",
    )
    ap.add_argument(
        "--criteria",
        type=Path,
        help="score with this criteria table instead of the packaged one (e.g. an earlier "
        "version: git show HEAD:src/ecgr1/protocol/criteria.yaml > old.yaml)",
    )
    ap.add_argument("--baseline", type=Path, help="--json of an earlier sources run: before/after")
    ap.add_argument("--sim-seeds", type=int, default=3, help="seeds per simulated pattern")
    ap.add_argument(
        "--sim-noise",
        default="",
        type=_noise_kinds,
        metavar="KINDS",
        help="noise added to the simulated records (baseline, muscle, powerline, comma-separated, "
        "or all; default none)",
    )
    ap.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="CPSC: analyse only the first N seconds (default: whole record)",
    )
    ap.add_argument("--json", help="write all results (with per-record predictions) here")
    args = ap.parse_args(argv)
    if args.data is not None and "--dataset" not in " ".join(argv or sys.argv[1:]):
        args.dataset = "sources"
    root = args.data if args.data is not None else data_root()
    if root is None:
        return 2
    if not root.is_dir():
        print(f"protocol_bench: error: data folder not found: {root}", file=sys.stderr)
        return 2
    out: dict[str, Any] = {}
    if args.dataset in ("sources", "all"):
        before = json.loads(args.baseline.read_text()) if args.baseline else None
        before = before.get("sources", before) if before else None
        table = _criteria_file(args.criteria) if args.criteria else None
        if not source_records(root):
            print(f"protocol_bench: error: no labelled source in {root}", file=sys.stderr)
            return 1
        cache = MeasurementCache(args.cache, frozen=args.frozen_cache)
        x = run_sources(root, cache, table=table, seconds=args.seconds)
        out["sources"] = x
        print_sources(x, before)
        print()
    if args.dataset in ("cpsc", "all"):
        c = run_cpsc(root, args.seconds)
        out["cpsc2018"] = c
        span = f"first {args.seconds:g} s" if args.seconds else "whole record"
        print(
            f"## CPSC 2018 A0001-A0075 ({c['records']} records, {span}; {c['elapsed_s']:.1f} s)\n"
        )
        print(_md_prf("class", c["per_class"]))
        print(f"\nmacro-F1 = {c['macro_f1']:.3f}\n")
    if args.dataset in ("ludb", "all"):
        lu = run_ludb(root)
        out["ludb"] = lu
        print(f"## LUDB odd ids ({lu['records']} records; {lu['elapsed_s']:.1f} s)\n")
        print(f"rhythm accuracy = {lu['rhythm_accuracy']:.3f} over {lu['rhythm_scored']} records")
        print(
            f"(rhythm family sinus / AF / flutter, ignoring the rate qualifier: "
            f"{lu['rhythm_family_accuracy']:.3f})\n"
        )
        print("| LUDB rhythm | predicted (count) |\n|---|---|")
        for k, v in sorted(lu["rhythm_confusion"].items()):
            print(f"| {k} | {', '.join(f'{p}: {n}' for p, n in sorted(v.items()))} |")
        print("\n| LUDB rhythm | n | measured heart rate, min-max (bpm) |\n|---|---|---|")
        for k, v in lu["rhythm_rate_by_label"].items():
            print(f"| {k} | {v['n']} | {v['min']:.1f}-{v['max']:.1f} |")
        print(
            "\nrhythm accuracy if sinus bradycardia were < L bpm (packaged table: L = 60): "
            + ", ".join(
                f"L = {k}: {v:.3f}" for k, v in lu["rhythm_accuracy_by_brady_limit"].items()
            )
        )
        print()
        print(_md_prf("label", lu["labels"]))
        print(
            f"\nQRS axis vs LUDB class order: Spearman rho = {lu['axis_spearman_rho']:.3f} (n = {lu['axis_n']})\n"
        )
        print("| LUDB axis class | n | measured QRS axis mean ± SD (°) |\n|---|---|---|")
        for k, v in lu["axis_per_class"].items():
            print(f"| {k} | {v['n']} | {v['mean']:.1f} ± {v['sd']:.1f} |")
    if args.dataset in ("sim", "all"):
        sim = run_sim(args.sim_seeds, args.sim_noise)
        out["simulated"] = sim
        noise = f", noise: {args.sim_noise}" if args.sim_noise else ""
        print(
            f"\n## Simulated patterns ({args.sim_seeds} seeds x 10 s each{noise}; "
            f"{sim['elapsed_s']:.1f} s)\n"
        )
        print(f"expected statement made in {sim['found_rate']:.0%} of runs (mean over patterns)\n")
        print("| pattern | expected statement made | other statements (runs) |\n|---|---|---|")
        for k, v in sim["patterns"].items():
            extra = ", ".join(f"{e} ({n})" for e, n in sorted(v["extra"].items())) or "-"
            print(f"| {k} | {v['found']}/{v['runs']} | {extra} |")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
