"""Score the protocol engine's statements against dataset labels (CPSC 2018, LUDB).

Usage::

    python benchmarks/protocol_bench.py                  # both datasets, markdown tables
    python benchmarks/protocol_bench.py --dataset cpsc --seconds 10
    python benchmarks/protocol_bench.py --json out.json  # also write every prediction

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


def positive_calls(statements: Any) -> list[Any]:
    """The statements that count as positive calls: every surviving statement except those of
    "borderline" certainty (e.g. PR 201-210 ms), which the report states as borderline."""
    return [s for s in statements if s.certainty != "borderline"]


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
        supported = concepts_of_statements(ids)
        truth = ludb_concepts(row)
        rhythm = row["Rhythms"].split("\n")[0].strip()
        rhythm = "Atrial flutter" if rhythm.startswith("Atrial flutter") else rhythm
        axis_text = row["Electric axis of the heart"].split(":")[-1].strip().lower()
        rows.append(
            {
                "id": row["ID"],
                "rhythm": rhythm,
                "pred_rhythm": predicted_rhythm(ids),
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
    "lvh": {"lvh"},
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
}
BASE_RHYTHM = {"sinus_rhythm", "normal_ecg"}


def run_sim(seeds: int) -> dict[str, Any]:
    """Each simulated pattern, ``seeds`` seeds of 10 s: is the expected statement made?"""
    from ecgr1.simulate import PATTERNS, simulate

    table = {}
    t0 = time.perf_counter()
    for name in PATTERNS:
        expected = SIM_EXPECTED.get(name)
        if expected is None:
            continue
        hits, extras = 0, {}
        for seed in range(seeds):
            res = interpret_record(simulate(name, seconds=10, seed=seed).record)
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=("cpsc", "ludb", "sim", "all"), default="all")
    ap.add_argument("--sim-seeds", type=int, default=3, help="seeds per simulated pattern")
    ap.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="CPSC: analyse only the first N seconds (default: whole record)",
    )
    ap.add_argument("--json", help="write all results (with per-record predictions) here")
    args = ap.parse_args(argv)
    root = data_root()
    if root is None:
        return 2
    out: dict[str, Any] = {}
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
        sim = run_sim(args.sim_seeds)
        out["simulated"] = sim
        print(
            f"\n## Simulated patterns ({args.sim_seeds} seeds x 10 s each; {sim['elapsed_s']:.1f} s)\n"
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
