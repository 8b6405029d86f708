"""Audit of ``ecgr1 verify``: does it catch injected errors, and does it leave true texts alone?

Usage::

    python benchmarks/verify_bench.py                       # everything, markdown on stdout
    python benchmarks/verify_bench.py --limit 10 --sources ludb,qtdb
    python benchmarks/verify_bench.py --parts tolerance     # only the tolerance evidence
    python benchmarks/verify_bench.py --json out.json       # every figure and every verdict

Three parts (``--parts perturb,expert,tolerance``; data from ``$ECGR1_DATA`` or
``../shared/data``):

1. **Perturbation audit** (``perturb``; circular: the texts are ecgr1's own). For LUDB (100
   records, 10 s), CPSC 2018 (75 records, first 10 s) and QTDB (the first 10-s ``q1c`` window of
   each record, the window of part 2) the protocol's report is verified as is (false
   contradictions on unperturbed claims), then perturbed copies are verified, each with ONE
   error at a known character span (``_verify_texts.py``): a stated value changed by 30–100 %,
   a negation flipped, an invented diagnosis the measurements clearly exclude, a lead-bound
   statement moved to another territory, the rhythm of the summary sentence replaced by one the
   measurements exclude. Detected = a claim overlapping the span is "contradicted". Numeric
   errors are bucketed by |stated − measured| / tolerance (``ClaimVerdict.tolerance``).
2. **Texts ecgr1 did not write** (``expert``): LUDB reports written from the cardiologists'
   marks (intervals, heart rate) and ``ludb.csv`` labels (rhythm, axis, conduction,
   hypertrophy); QTDB reports from the ``q1c`` marks of the same 10-s window the verifier
   measures; PTB-XL: PULSE reference reports of ecg_id 6381 and 9867 and the English
   ``report`` texts of ``ptbxl_database.csv`` (German ones skipped, ``_verify_texts.is_german``).
   These texts are true by construction: every "contradicted" is a false contradiction.
3. **Tolerance evidence** (``tolerance``): ecgr1's record-level error (ecgr1 − expert) for heart
   rate, PR, QRS, QT, P duration and QTc (Bazett, from the expert QT and RR) on LUDB and on every
   QTDB ``q1c`` window; suggested tolerance = 2·SD.

Measurements (``interpret_record`` / ``measure``) are cached as pickles in
``/tmp/verify_bench_cache`` (``--cache``), keyed by a fingerprint of the ecgr1 measurement,
protocol and report sources, so reruns only re-verify.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import pickle  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _verify_texts as vt  # noqa: E402
from _common import markdown_table  # noqa: E402

from ecgr1.paths import shared_data_dir  # noqa: E402

ALL_SOURCES = ("ludb", "qtdb", "cpsc", "ptbxl")
ALL_PARTS = ("tolerance", "perturb", "expert", "speed")
SIZE_BUCKETS = ("<1×", "1–2×", "2–4×", ">4×", "no tolerance")
PULSE_IDS = {"ptb-report-06381_hr-0": 6381, "ptb-report-09867_hr-0": 9867}
TOLERANCE_QUANTITIES = (
    ("heart_rate_bpm", "heart_rate_bpm", "bpm"),
    ("pr_interval_ms", "pr_interval_ms", "ms"),
    ("qrs_duration_ms", "qrs_duration_ms", "ms"),
    ("qt_interval_ms", "qt_interval_ms", "ms"),
    ("p_duration_ms", "p_duration_ms", "ms"),
    ("qtc_bazett_ms", "qtc_bazett_ms", "ms"),
)
TARGET_NUMERIC_RECALL = 0.95  # numeric errors > 2x tolerance
TARGET_CATEGORICAL_RECALL = 0.90
TARGET_FALSE_CONTRADICTION = 0.02
CPSC_SECONDS = 10.0


# --------------------------------------------------------------------------- cache


def _fingerprint() -> str:
    """Hash of the sources that decide measurements and reports (not the verifier's)."""
    import ecgr1

    root = Path(ecgr1.__file__).resolve().parent
    h = hashlib.sha1()
    for sub in ("measure", "protocol", "report", "signal", "io", "pipeline.py"):
        p = root / sub
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file() and f.suffix in (".py", ".yaml", ".yml", ".json"):
                h.update(str(f.relative_to(root)).encode())
                h.update(f.read_bytes())
    h.update((Path(__file__).resolve().parent / "_verify_texts.py").read_bytes())  # references
    return h.hexdigest()[:12]


class Cache:
    """Pickles in ``root/<fingerprint>/``; ``get(key, make)`` computes on a miss."""

    def __init__(self, root: Path | None):
        self.dir = None if root is None else Path(root) / _fingerprint()
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if self.dir is None:
            return make()
        path = self.dir / (key.replace("/", "_") + ".pkl")
        if path.exists():
            try:
                with path.open("rb") as fh:
                    return pickle.load(fh)
            except Exception:
                pass
        value = make()
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            pickle.dump(value, fh)
        tmp.replace(path)
        return value


def _progress(items: list, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return items
    try:
        from tqdm import tqdm

        return tqdm(items, desc=desc, file=sys.stderr, leave=False)
    except ImportError:  # pragma: no cover
        return items


# --------------------------------------------------------------------------- records


def _interpret(record: Any) -> Any:
    from ecgr1.pipeline import interpret_record

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return interpret_record(record)


def _qtdb_window_record(qtdb_dir: Path, name: str, start: int, stop: int) -> Any:
    import wfdb

    from ecgr1.io.record import ECGRecord

    seg = wfdb.rdrecord(str(qtdb_dir / name), sampfrom=start, sampto=stop)
    sig = np.nan_to_num(seg.p_signal.T.astype(np.float32))
    return ECGRecord(sig, float(seg.fs), seg.sig_name, record_id=f"{name}_{start}")


def load_items(
    root: Path, sources: list[str], limit: int | None, cache: Cache, progress: bool
) -> dict[str, list[dict[str, Any]]]:
    """Per source, the records with their cached interpretation (``ri``: RecordInterpretation)
    and what the expert texts need (``labels``, ``reference``, ``window``, ``report``)."""
    import pandas as pd

    from ecgr1.io import first_seconds, read_record

    items: dict[str, list[dict[str, Any]]] = {}
    if "ludb" in sources and (root / "ludb" / "ludb.csv").exists():
        table = pd.read_csv(root / "ludb" / "ludb.csv", dtype=str).fillna("")
        table["ID"] = table["ID"].str.strip()
        rows = [r for _, r in table.iterrows() if (root / "ludb/data" / f"{r['ID']}.hea").exists()]
        rows = rows[:limit] if limit else rows
        out = []
        for r in _progress(rows, "LUDB", progress):
            rid = r["ID"]
            hea = root / "ludb" / "data" / f"{rid}.hea"
            ri = cache.get(f"ludb_{rid}_ri", lambda hea=hea: _interpret(read_record(hea)))
            ref = cache.get(
                f"ludb_{rid}_ref", lambda rid=rid: vt.ludb_reference(root / "ludb", rid)
            )
            out.append({"id": rid, "ri": ri, "labels": dict(r), "reference": ref})
        items["ludb"] = out
    if "cpsc" in sources and (root / "cpsc2018").is_dir():
        heas = sorted((root / "cpsc2018").glob("A*.hea"))
        heas = heas[:limit] if limit else heas
        out = []
        for hea in _progress(heas, "CPSC 2018", progress):
            ri = cache.get(
                f"cpsc_{hea.stem}_ri",
                lambda hea=hea: _interpret(first_seconds(read_record(hea), CPSC_SECONDS)),
            )
            out.append({"id": hea.stem, "ri": ri})
        items["cpsc"] = out
    if "qtdb" in sources and (root / "qtdb" / "RECORDS").exists():
        qdir = root / "qtdb"
        names = [n for n in (qdir / "RECORDS").read_text().split() if (qdir / f"{n}.q1c").exists()]
        names = names[:limit] if limit else names
        out = []
        for name in _progress(names, "QTDB", progress):
            wins = cache.get(f"qtdb_{name}_windows", lambda name=name: vt.qtdb_windows(qdir, name))
            w = wins[0]
            ri = cache.get(
                f"qtdb_{name}_{w['start']}_ri",
                lambda name=name, w=w: _interpret(
                    _qtdb_window_record(qdir, name, w["start"], w["stop"])
                ),
            )
            out.append({"id": name, "ri": ri, "window": w, "windows": wins})
        items["qtdb"] = out
    if "ptbxl" in sources and (root / "extra/ptbxl/ptbxl_database.csv").exists():
        pdir = root / "extra" / "ptbxl"
        db = pd.read_csv(pdir / "ptbxl_database.csv")
        pulse_path = root / "formats" / "pulse" / "ptb_report_generation_test.json"
        pulse = {}
        if pulse_path.exists():
            for x in json.loads(pulse_path.read_text()):
                if x.get("id") in PULSE_IDS:
                    pulse[PULSE_IDS[x["id"]]] = (x["id"], x["conversation"][-1]["value"])
        rows = [r for _, r in db.iterrows()]
        rows = rows[:limit] if limit else rows
        out = []
        for r in _progress(rows, "PTB-XL", progress):
            eid = int(r["ecg_id"])
            hea = pdir / f"{r['filename_hr']}.hea"
            if not hea.exists():
                continue
            texts = []
            report = str(r["report"]) if isinstance(r["report"], str) else ""
            if report and not vt.is_german(report):
                texts.append(("ptbxl_report", report))
            if eid in pulse:
                texts.append(("pulse", pulse[eid][1]))
            german = bool(report) and vt.is_german(report)
            ri = (
                cache.get(f"ptbxl_{eid}_ri", lambda hea=hea: _interpret(read_record(hea)))
                if texts
                else None
            )
            out.append({"id": str(eid), "ri": ri, "texts": texts, "german": german})
        items["ptbxl"] = out
    return items


# --------------------------------------------------------------------------- verification


def _verify(interp: Any, text: str) -> Any:
    from ecgr1.verify.api import verify_interpretation

    return verify_interpretation(interp, text)


def overlapping(verdicts: list[Any], start: int, end: int) -> list[Any]:
    """Verdicts whose claim span overlaps ``[start, end)`` (a zero-width span at ``start``
    overlaps a claim that contains it)."""
    out = []
    for v in verdicts:
        c = v.claim
        if end > start and c.start < end and c.end > start:
            out.append(v)
        elif end == start and c.start <= start < c.end:
            out.append(v)
    return out


def _as_float(x: Any) -> float | None:
    if isinstance(x, dict) and len(x) == 1:  # a per-lead measurement of one lead
        x = next(iter(x.values()))
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def size_bucket(size: float | None) -> str:
    """The error-size bucket of a numeric error measured in tolerances.

    >>> size_bucket(0.5), size_bucket(1.0), size_bucket(2.5), size_bucket(9), size_bucket(None)
    ('<1×', '1–2×', '2–4×', '>4×', 'no tolerance')
    """
    if size is None:
        return "no tolerance"
    if size < 1:
        return "<1×"
    if size < 2:
        return "1–2×"
    if size <= 4:
        return "2–4×"
    return ">4×"


def score_perturbation(p: vt.Perturbation, result: Any) -> dict[str, Any]:
    """Outcome of one perturbed text: detected (a claim overlapping the span is contradicted),
    the category of the claim scored (the contradicted one, else the first overlapping one,
    else ``"(no claim)"``) and, for numeric errors, the size in tolerances
    ``|stated − measured| / tolerance``."""
    ov = overlapping(result.verdicts, p.start, p.end)
    hit = [v for v in ov if v.verdict == "contradicted"]
    main = hit[0] if hit else (ov[0] if ov else None)
    row: dict[str, Any] = {
        "kind": p.kind,
        "concept": p.concept,
        "original": p.original,
        "new": p.new,
        "note": p.note,
        "detected": bool(hit),
        "clear": bool(p.clear),
        "n_overlapping": len(ov),
        "category": main.claim.category if main is not None else "(no claim)",
        "claim": main.claim.text if main is not None else None,
        "verdict": main.verdict if main is not None else None,
        "reason": main.reason if main is not None else None,
        "measured": main.measured if main is not None else None,
        "tolerance": main.tolerance if main is not None else None,
        "uncalibrated": bool(
            main is not None
            and main.verdict == "not_checkable"
            and str(main.reason).startswith("amplitudes not calibrated")
        ),
    }
    if p.kind == "numeric":
        tol = _as_float(main.tolerance) if main is not None else None
        meas = _as_float(main.measured) if main is not None else None
        new = p.new_value
        if tol and meas is not None and new is not None:
            row["size_tol"] = abs(new - meas) / tol
        elif tol and p.old_value is not None and new is not None:
            row["size_tol"] = abs(new - p.old_value) / tol
        else:
            row["size_tol"] = None
        row["bucket"] = size_bucket(row["size_tol"])
        row["factor"] = p.factor
    return row


def _recall(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Detected / copies, and the same leaving out the copies whose claim was not checkable
    because the record's amplitudes are not calibrated (LUDB files are rescaled per lead)."""
    n = len(rows)
    d = sum(r["detected"] for r in rows)
    unc = sum(bool(r.get("uncalibrated")) for r in rows)
    return {
        "n": n,
        "detected": d,
        "recall": d / n if n else None,
        "n_uncalibrated": unc,
        "recall_calibrated": d / (n - unc) if n - unc else None,
    }


def summarise_verdicts(verdicts: list[Any]) -> dict[str, Any]:
    """The verifier's own counts (:func:`ecgr1.verify.result.summarise`: claims, checkable,
    supported, contradicted) with ``rate`` = contradicted / checkable, which on true texts is
    the false-contradiction rate."""
    from ecgr1.verify.result import summarise

    out = summarise(verdicts)
    out["rate"] = out.pop("hallucination_rate")
    return out


def by_category(verdicts: list[Any]) -> dict[str, dict[str, Any]]:
    """:func:`summarise_verdicts` per claim category, plus ``"all"``."""
    groups: dict[str, list[Any]] = {}
    for v in verdicts:
        groups.setdefault(v.claim.category, []).append(v)
    out = {k: summarise_verdicts(groups[k]) for k in sorted(groups)}
    out["all"] = summarise_verdicts(verdicts)
    return out


def _contradiction_row(source: str, rid: str, v: Any) -> dict[str, Any]:
    c = v.claim
    return {
        "source": source,
        "record": rid,
        "claim": c.text,
        "concept": c.concept,
        "category": c.category,
        "value": c.value,
        "measured": v.measured,
        "tolerance": v.tolerance,
        "reason": v.reason,
    }


def run_perturb(items: dict, seed: int, progress: bool) -> dict[str, Any]:
    """Part 1: the protocol reports as is, and their single-error copies."""
    rows: list[dict[str, Any]] = []
    base_verdicts: dict[str, list[Any]] = {}
    base_contra: list[dict[str, Any]] = []
    errors: list[str] = []
    n_reports = 0
    for source in ("ludb", "cpsc", "qtdb"):
        for it in _progress(items.get(source, []), f"perturb {source}", progress):
            ri = it["ri"]
            rng = random.Random(f"{seed}-{source}-{it['id']}")
            text = ri.report
            interp = ri.interpretation
            meas = ri.measurements
            try:
                base = _verify(interp, text)
            except Exception as exc:
                errors.append(f"{source} {it['id']}: {type(exc).__name__}: {exc}")
                continue
            n_reports += 1
            base_verdicts.setdefault(source, []).extend(base.verdicts)
            base_contra += [
                _contradiction_row(source, it["id"], v)
                for v in base.verdicts
                if v.verdict == "contradicted"
            ]
            perts = vt.numeric_perturbations(text, rng, max_n=6)
            perts += vt.negation_perturbations(text, meas, rng)
            perts += vt.invention_perturbations(text, meas, rng, max_n=2)
            perts += vt.lead_swap_perturbations(text, meas, rng)
            perts += vt.rhythm_perturbations(text, meas, rng)
            for p in perts:
                try:
                    res = _verify(interp, p.text)
                except Exception as exc:
                    errors.append(f"{source} {it['id']} {p.kind}: {type(exc).__name__}: {exc}")
                    if os.environ.get("ECGR1_BENCH_TRACEBACK"):
                        traceback.print_exc()
                    continue
                row = score_perturbation(p, res)
                row.update({"source": source, "record": it["id"]})
                rows.append(row)
    kinds = sorted({r["kind"] for r in rows})
    numeric = [r for r in rows if r["kind"] == "numeric"]
    categorical = [r for r in rows if r["kind"] != "numeric"]
    all_base = [v for vs in base_verdicts.values() for v in vs]
    return {
        "n_reports": n_reports,
        "n_perturbed": len(rows),
        "by_kind": {k: _recall([r for r in rows if r["kind"] == k]) for k in kinds},
        "numeric_by_bucket": {
            b: _recall([r for r in numeric if r["bucket"] == b]) for b in SIZE_BUCKETS
        },
        "numeric_over_2x": _recall(
            [r for r in numeric if r["size_tol"] is not None and r["size_tol"] > 2]
        ),
        "categorical": _recall(categorical),
        # the injected error is refuted by the measurements beyond the criterion tolerance
        "categorical_clear": _recall([r for r in categorical if r["clear"]]),
        "by_kind_clear": {
            k: _recall([r for r in categorical if r["kind"] == k and r["clear"]])
            for k in sorted({r["kind"] for r in categorical})
        },
        "by_category": {
            c: _recall([r for r in rows if r["category"] == c])
            for c in sorted({r["category"] for r in rows})
        },
        "numeric_by_concept": {
            c: _recall([r for r in numeric if r["concept"] == c])
            for c in sorted({r["concept"] for r in numeric})
        },
        "unperturbed": {
            "by_source": {s: summarise_verdicts(v) for s, v in base_verdicts.items()},
            "by_category": by_category(all_base),
            "contradictions": base_contra,
        },
        "misses": [r for r in rows if not r["detected"]],
        "rows": rows,
        "errors": errors,
    }


def run_expert(items: dict, seed: int, progress: bool) -> dict[str, Any]:
    """Part 2: texts written from expert truth; every contradiction is a false one."""
    per_source: dict[str, list[Any]] = {}
    contra: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    errors: list[str] = []
    german = []

    def check(source: str, rid: str, interp: Any, text: str) -> None:
        try:
            res = _verify(interp, text)
        except Exception as exc:
            errors.append(f"{source} {rid}: {type(exc).__name__}: {exc}")
            return
        per_source.setdefault(source, []).extend(res.verdicts)
        contra.extend(
            _contradiction_row(source, rid, v) for v in res.verdicts if v.verdict == "contradicted"
        )
        texts.append(
            {
                "source": source,
                "record": rid,
                "text": text,
                "summary": summarise_verdicts(res.verdicts),
            }
        )

    for it in _progress(items.get("ludb", []), "expert LUDB", progress):
        rng = random.Random(f"{seed}-ludb-text-{it['id']}")
        et = vt.ludb_text(it["reference"], it["labels"], rng)
        check("ludb", it["id"], it["ri"].interpretation, et.text)
    for it in _progress(items.get("qtdb", []), "expert QTDB", progress):
        rng = random.Random(f"{seed}-qtdb-text-{it['id']}")
        et = vt.qtdb_text(it["window"]["reference"], rng)
        if et.text:
            check("qtdb", f"{it['id']}@{it['window']['start']}", it["ri"].interpretation, et.text)
    for it in _progress(items.get("ptbxl", []), "expert PTB-XL", progress):
        if it["german"]:
            german.append(it["id"])
        for kind, text in it["texts"]:
            src = "ptbxl_pulse" if kind == "pulse" else "ptbxl_report"
            check(src, it["id"], it["ri"].interpretation, text)
    return {
        "by_source": {s: by_category(v) for s, v in per_source.items()},
        "all": by_category([v for vs in per_source.values() for v in vs]),
        "false_contradictions": contra,
        "ptbxl_german_skipped": german,
        "texts": texts,
        "errors": errors,
    }


def _agreement(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    d = np.array([m - r for m, r in pairs if math.isfinite(m) and math.isfinite(r)], float)
    if d.size == 0:
        return {
            "n": 0,
            "mean": None,
            "sd": None,
            "mae": None,
            "p95_abs": None,
            "tol_2sd": None,
            "median": None,
            "robust_sd": None,
            "p90_abs": None,
            "p98_abs": None,
            "tol_3sd": None,
        }
    sd = float(np.std(d, ddof=1)) if d.size > 1 else None
    med = float(np.median(d))
    return {
        "n": int(d.size),
        "mean": float(d.mean()),
        "sd": sd,
        "mae": float(np.abs(d).mean()),
        "p95_abs": float(np.percentile(np.abs(d), 95)),
        "p90_abs": float(np.percentile(np.abs(d), 90)),
        "p98_abs": float(np.percentile(np.abs(d), 98)),
        "median": med,
        "robust_sd": float(1.4826 * np.median(np.abs(d - med))),
        "tol_2sd": 2 * sd if sd is not None else None,
        "tol_3sd": 3 * sd if sd is not None else None,
    }


def _measure_window(root: Path, name: str, w: dict) -> dict[str, float]:
    from ecgr1.measure.engine import measure

    rec = _qtdb_window_record(root / "qtdb", name, w["start"], w["stop"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = measure(rec).global_
    return {
        k: (math.nan if getattr(g, k, None) is None else float(getattr(g, k)))
        for k, _, _ in TOLERANCE_QUANTITIES
    }


def run_tolerance(root: Path, items: dict, cache: Cache, progress: bool) -> dict[str, Any]:
    """Part 3: ecgr1 − expert per quantity on LUDB records and on QTDB q1c windows."""
    out: dict[str, Any] = {}
    if items.get("ludb"):
        pairs: dict[str, list] = {k: [] for k, _, _ in TOLERANCE_QUANTITIES}
        for it in items["ludb"]:
            g = it["ri"].measurements.global_
            for key, ref_key, _ in TOLERANCE_QUANTITIES:
                m = getattr(g, key, None)
                pairs[key].append(
                    (math.nan if m is None else float(m), it["reference"].get(ref_key, math.nan))
                )
        out["ludb"] = {k: _agreement(v) for k, v in pairs.items()}
    if items.get("qtdb"):
        pairs = {k: [] for k, _, _ in TOLERANCE_QUANTITIES}
        n_win = 0
        jobs = [(it["id"], w) for it in items["qtdb"] for w in it["windows"]]
        for name, w in _progress(jobs, "QTDB windows", progress):
            got = cache.get(
                f"qtdb_{name}_{w['start']}_global",
                lambda name=name, w=w: _measure_window(root, name, w),
            )
            n_win += 1
            for key, ref_key, _ in TOLERANCE_QUANTITIES:
                pairs[key].append((got[key], w["reference"].get(ref_key, math.nan)))
        out["qtdb"] = {k: _agreement(v) for k, v in pairs.items()}
        out["qtdb_windows"] = n_win
    if "ludb" in out and "qtdb" in out:
        out["pooled"] = {}
        for key, _, _ in TOLERANCE_QUANTITIES:
            a, b = out["ludb"][key], out["qtdb"][key]
            out["pooled"][key] = {
                "tol_2sd_max": max(x for x in (a["tol_2sd"], b["tol_2sd"], 0) if x is not None)
            }
    return out


# --------------------------------------------------------------------------- markdown


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None, d: int = 1) -> str:
    return "–" if x is None else f"{x:+.{d}f}" if d >= 0 else str(x)


def _fmt(x: Any, d: int = 1) -> str:
    return "–" if x is None else f"{x:.{d}f}"


def md_tolerance(tol: dict[str, Any]) -> str:
    lines = [
        "### Tolerance evidence: ecgr1 − expert, record level (mean ± SD, n; |error| percentiles; "
        "k·SD, the tolerance of `tolerances.yaml`: k = 3 on 12 leads, 4 on fewer)",
        "",
    ]
    rows = []
    for key, _, unit in TOLERANCE_QUANTITIES:
        row = [f"{key} ({unit})"]
        for src in ("ludb", "qtdb"):
            a = tol.get(src, {}).get(key)
            if not a or not a["n"]:
                row += ["–", "–"]
                continue
            row.append(
                f"{a['mean']:+.1f} ± {_fmt(a['sd'])} (n {a['n']}; median {a['median']:+.1f}, "
                f"robust SD {a['robust_sd']:.1f}, p90/p95/p98 abs {a['p90_abs']:.0f}/"
                f"{a['p95_abs']:.0f}/{a['p98_abs']:.0f})"
            )
            # the tolerances.yaml factor: 3 SD on 12-lead records, 4 SD with fewer leads
            k = 3 if src == "ludb" else 4
            row.append(_fmt(k * a["sd"] if a["sd"] is not None else None))
        rows.append(row)
    lines.append(
        markdown_table(
            [
                "quantity",
                "LUDB error",
                "LUDB 3·SD",
                f"QTDB q1c error ({tol.get('qtdb_windows', 0)} windows)",
                "QTDB 4·SD",
            ],
            rows,
        )
    )
    return "\n".join(lines)


def _recall_cells(r: dict[str, Any]) -> list[str]:
    return [
        str(r["n"]),
        str(r["detected"]),
        _pct(r["recall"]),
        str(r["n_uncalibrated"]),
        _pct(r["recall_calibrated"]),
    ]


RECALL_HEAD = ["copies", "detected", "recall", "uncalibrated¹", "recall w/o uncalibrated"]


def md_perturb(p: dict[str, Any]) -> str:
    lines = [
        f"### Perturbation audit ({p['n_reports']} protocol reports, {p['n_perturbed']} "
        "single-error copies)",
        "",
        "Recall per error type:",
        "",
        markdown_table(
            ["error type"] + RECALL_HEAD,
            [[k] + _recall_cells(v) for k, v in p["by_kind"].items()]
            + [["**all categorical**"] + _recall_cells(p["categorical"])],
        ),
        "",
        "Categorical errors that the measurements refute beyond the criterion tolerance "
        "(inventions, wrong rhythms and lead swaps are drawn with such a margin; a negation "
        "only when `clearly_false`/`clearly_true` in `_verify_texts.py` says so; the rest "
        "negate findings near their threshold, which no honest checker can call wrong):",
        "",
        markdown_table(
            ["error type"] + RECALL_HEAD,
            [[k] + _recall_cells(v) for k, v in p["by_kind_clear"].items()]
            + [["**all clear categorical**"] + _recall_cells(p["categorical_clear"])],
        ),
        "",
        "Numeric errors by size (|stated − measured| / tolerance of the claim):",
        "",
        markdown_table(
            ["size"] + RECALL_HEAD,
            [[b] + _recall_cells(v) for b, v in p["numeric_by_bucket"].items()]
            + [["**> 2×**"] + _recall_cells(p["numeric_over_2x"])],
        ),
        "",
        "Numeric errors by concept (all sizes):",
        "",
        markdown_table(
            ["concept"] + RECALL_HEAD,
            [[k] + _recall_cells(v) for k, v in p["numeric_by_concept"].items()],
        ),
        "",
        "Recall per claim category (category of the claim at the span; “(no claim)”: nothing "
        "was extracted there):",
        "",
        markdown_table(
            ["category"] + RECALL_HEAD,
            [[k] + _recall_cells(v) for k, v in p["by_category"].items()],
        ),
        "",
        "¹ copies whose claim was “not checkable: amplitudes not calibrated” (LUDB stores "
        "every lead rescaled to one range, so no mV value, axis or voltage criterion can be "
        "checked there).",
        "",
        f"Targets: numeric > 2× tolerance ≥ {100 * TARGET_NUMERIC_RECALL:.0f} % "
        f"(got {_pct(p['numeric_over_2x']['recall'])}); categorical ≥ "
        f"{100 * TARGET_CATEGORICAL_RECALL:.0f} % (all: {_pct(p['categorical']['recall'])}; "
        f"clear errors on calibrated records: "
        f"{_pct(p['categorical_clear']['recall_calibrated'])}).",
        "",
        "False contradictions on the unperturbed reports (claim by claim):",
        "",
        _md_counts(p["unperturbed"]["by_source"], "source"),
        "",
        _md_counts(p["unperturbed"]["by_category"], "category"),
    ]
    if p["unperturbed"]["contradictions"]:
        lines += [
            "",
            "Contradicted claims of unperturbed reports:",
            "",
            _md_contra(p["unperturbed"]["contradictions"]),
        ]
    misses = p["misses"]
    if misses:
        lines += [
            "",
            f"Missed perturbations ({len(misses)}; first 60):",
            "",
            markdown_table(
                [
                    "source",
                    "record",
                    "type",
                    "original → new",
                    "claim at span",
                    "verdict",
                    "measured",
                    "tol",
                    "reason",
                ],
                [
                    [
                        m["source"],
                        m["record"],
                        m["kind"] + (f" {m['bucket']}" if m.get("bucket") else ""),
                        _cell(f"{m['original']} → {m['new']}"),
                        _cell(m["claim"]),
                        m["verdict"] or "–",
                        _cell(m["measured"]),
                        _cell(m["tolerance"]),
                        _cell(m["reason"]),
                    ]
                    for m in misses[:60]
                ],
            ),
        ]
    if p["errors"]:
        lines += ["", f"Errors ({len(p['errors'])}): " + "; ".join(p["errors"][:10])]
    return "\n".join(lines)


def _cell(x: Any, n: int = 90) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3g}"
    s = str(x).replace("|", "/").replace("\n", " ")
    return s if len(s) <= n else s[: n - 1] + "…"


def _md_counts(table: dict[str, dict[str, Any]], what: str) -> str:
    return markdown_table(
        [what, "claims", "checkable", "supported", "contradicted", "false-contradiction rate"],
        [
            [k, v["claims"], v["checkable"], v["supported"], v["contradicted"], _pct(v["rate"])]
            for k, v in table.items()
        ],
    )


def _md_contra(rows: list[dict[str, Any]]) -> str:
    return markdown_table(
        ["source", "record", "claim", "concept", "measured", "tolerance", "reason"],
        [
            [
                r["source"],
                r["record"],
                _cell(r["claim"]),
                r["concept"],
                _cell(r["measured"]),
                _cell(r["tolerance"]),
                _cell(r["reason"], 120),
            ]
            for r in rows
        ],
    )


def md_expert(e: dict[str, Any]) -> str:
    lines = [
        "### Texts ecgr1 did not write (expert truth: every contradiction is false)",
        "",
        _md_counts(
            {s: v["all"] for s, v in e["by_source"].items()} | {"**all**": e["all"]["all"]},
            "source",
        ),
        "",
        "Per source and category:",
        "",
    ]
    rows = []
    for s, cats in e["by_source"].items():
        for c, v in cats.items():
            if c != "all":
                rows.append(
                    [
                        s,
                        c,
                        v["claims"],
                        v["checkable"],
                        v["supported"],
                        v["contradicted"],
                        _pct(v["rate"]),
                    ]
                )
    lines.append(
        markdown_table(
            ["source", "category", "claims", "checkable", "supported", "contradicted", "rate"],
            rows,
        )
    )
    lines += [
        "",
        f"Target: ≤ {100 * TARGET_FALSE_CONTRADICTION:.0f} % (got {_pct(e['all']['all']['rate'])})."
        f" PTB-XL German reports skipped: {len(e['ptbxl_german_skipped'])}.",
        "",
        f"Every false contradiction ({len(e['false_contradictions'])}):",
        "",
        _md_contra(e["false_contradictions"]) if e["false_contradictions"] else "none",
    ]
    if e["errors"]:
        lines += ["", f"Errors ({len(e['errors'])}): " + "; ".join(e["errors"][:10])]
    return "\n".join(lines)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


SHORT_TEXT = "Sinus rhythm at 72 bpm. PR 160 ms, QRS 150 ms. Complete LBBB. No ST elevation."


def _per_call_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm caches (lexicon, tables)
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    return 1000 * (time.perf_counter() - t) / repeat


def run_speed(items: dict, n_reports: int = 20) -> dict[str, Any]:
    """Wall time of extraction and of verification (extraction + checking) per text, for the
    protocol's own six-step reports (about 5,000 characters) and a one-line statement, against
    an interpretation computed beforehand (as the reward and the batch CLI do)."""
    from ecgr1.verify.api import verify_interpretation
    from ecgr1.verify.extract import extract_claims

    its = [it for src in ("cpsc", "ludb") for it in items.get(src, [])][:n_reports]
    if not its:
        return {}
    chars = [len(it["ri"].report) for it in its]
    ext = [_per_call_ms(lambda it=it: extract_claims(it["ri"].report), 3) for it in its]
    ver = [
        _per_call_ms(
            lambda it=it: verify_interpretation(it["ri"].interpretation, it["ri"].report), 3
        )
        for it in its
    ]
    short = [
        _per_call_ms(lambda it=it: verify_interpretation(it["ri"].interpretation, SHORT_TEXT), 20)
        for it in its
    ]
    long_text = "no ST elevation or " * 2000  # one sentence of 2,000 findings (38,000 chars)
    return {
        "n": len(its),
        "long_sentence_ms": _per_call_ms(lambda: extract_claims(long_text), 1),
        "report_chars_median": float(np.median(chars)),
        "extract_report_ms": float(np.median(ext)),
        "verify_report_ms": float(np.median(ver)),
        "verify_short_ms": float(np.median(short)),
    }


def md_speed(sp: dict[str, Any]) -> str:
    if not sp:
        return "### Speed\n\n(no records)"
    return "\n".join(
        [
            f"### Speed (median over {sp['n']} records; one thread)",
            "",
            markdown_table(
                ["text", "extract (ms)", "verify: extract + check (ms)"],
                [
                    [
                        f"protocol six-step report (~{sp['report_chars_median']:.0f} characters)",
                        f"{sp['extract_report_ms']:.0f}",
                        f"{sp['verify_report_ms']:.0f}",
                    ],
                    [f"one line: “{SHORT_TEXT}”", "–", f"{sp['verify_short_ms']:.1f}"],
                    [
                        "one sentence of 2,000 findings (“no ST elevation or ” × 2000)",
                        f"{sp['long_sentence_ms']:.0f}",
                        "–",
                    ],
                ],
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="data folder (default $ECGR1_DATA)")
    ap.add_argument("--limit", type=int, default=None, help="first N records of each source")
    ap.add_argument(
        "--sources", default=",".join(ALL_SOURCES), help="comma list of " + ", ".join(ALL_SOURCES)
    )
    ap.add_argument(
        "--parts", default=",".join(ALL_PARTS), help="comma list of " + ", ".join(ALL_PARTS)
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/verify_bench_cache"))
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)

    root = args.data or shared_data_dir()
    if not root.is_dir():
        print(f"data folder not found: {root}", file=sys.stderr)
        return 2
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    parts = [s.strip() for s in args.parts.split(",") if s.strip()]
    bad = [s for s in sources if s not in ALL_SOURCES] + [p for p in parts if p not in ALL_PARTS]
    if bad:
        print(f"unknown sources/parts: {bad}", file=sys.stderr)
        return 2
    progress = not args.no_progress
    cache = Cache(None if args.no_cache else args.cache)
    t0 = time.perf_counter()
    need = set(sources)
    if parts == ["tolerance"]:
        need &= {"ludb", "qtdb"}
    items = load_items(root, sorted(need), args.limit, cache, progress)
    results: dict[str, Any] = {
        "meta": {
            "command": "python benchmarks/verify_bench.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "data": str(root),
            "sources": sources,
            "parts": parts,
            "seed": args.seed,
            "records": {s: len(v) for s, v in items.items()},
        }
    }
    text = []
    if "tolerance" in parts:
        results["tolerance"] = run_tolerance(root, items, cache, progress)
        text.append(md_tolerance(results["tolerance"]))
    if {"perturb", "expert", "speed"} & set(parts):
        try:
            import ecgr1.verify.api  # noqa: F401
        except ImportError as exc:
            print(f"error: the verifier cannot be imported ({exc})", file=sys.stderr)
            parts = [p for p in parts if p == "tolerance"]
    if "perturb" in parts:
        results["perturb"] = run_perturb(items, args.seed, progress)
        text.append(md_perturb(results["perturb"]))
    if "expert" in parts:
        results["expert"] = run_expert(items, args.seed, progress)
        text.append(md_expert(results["expert"]))
    if "speed" in parts:
        results["speed"] = run_speed(items)
        text.append(md_speed(results["speed"]))
    results["meta"]["elapsed_s"] = time.perf_counter() - t0
    print("\n\n".join(text))
    print(f"\n(elapsed {results['meta']['elapsed_s']:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_json_safe(results), indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
