"""Corpus build throughput end to end (read → measure → protocol → report → render PNG → rows),
local process pool and Ray with 1 and 2 workers, in one run, plus an estimate for MIMIC-IV-ECG.

Usage::

    python benchmarks/corpus_bench.py                       # shared data, all engines
    python benchmarks/corpus_bench.py --limit 100 --engines local --workers 1
    python benchmarks/corpus_bench.py --json corpus_bench.json

Sources: LUDB, CPSC 2018, every ``extra/cinc_*`` Challenge tree and PTB-XL (``extra/ptbxl``)
from ``../shared/data`` (or ``$ECGR1_DATA``), with the default corpus settings (100 dpi, the
default layout mix, 10 % of images augmented). Each configuration builds into a fresh folder;
the first build is repeated at the end so the order of runs does not favour one engine.

Per-core throughput is given two ways: from wall time (everything: listing the trees, starting
the pool or Ray, merging, the modality-missing and ECGBench files) divided by the workers, and
from the worker time per record (the steady state a long run approaches).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import data_root, markdown_table

from ecgr1.corpus.build import build_corpus
from ecgr1.corpus.config import CorpusConfig

#: Stages a worker times per record (ecgr1.corpus.rows.process_task), in pipeline order.
STAGES = ("read", "measure", "protocol", "report", "render", "export")
MIMIC_RECORDS = 800_000
CLUSTER_CORES = 64


def shared_sources(root: Path) -> list[str]:
    """The labelled trees of ``../shared/data`` in their published layouts."""
    sources = [f"ludb:{root / 'ludb'}", f"challenge:{root / 'cpsc2018'}"]
    sources += [f"challenge:{p}" for p in sorted((root / "extra").glob("cinc_*"))]
    return sources + [f"ptbxl:{root / 'extra' / 'ptbxl'}"]


def folder_bytes(folder: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in folder.rglob(pattern) if p.is_file())


def one_build(sources: list[str], engine: str, workers: int, limit: int | None) -> dict[str, Any]:
    """Build into a temporary folder; wall time and what the manifest says."""
    out = Path(tempfile.mkdtemp(prefix=f"corpus-{engine}-{workers}-"))
    try:
        t0 = time.perf_counter()
        manifest = build_corpus(
            sources, out, CorpusConfig(), engine=engine, workers=workers, limit=limit,
            progress=False,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        run = manifest["run"]
        written = run["counts"].get("image:count", 0)
        rows_bytes = sum(
            (out / name).stat().st_size for name in ("sft_train.jsonl", "sft_test.jsonl",
                                                     "rl_train.jsonl", "rl_test.jsonl")
        )  # fmt: skip
        return {
            "engine": engine,
            "workers": workers,
            "records": run["records_ok"] + run["records_failed"] + run["records_internal"],
            "written": written,
            "failed": run["records_failed"] + run["records_internal"],
            "wall_s": wall,
            "listing_s": manifest["listing_s"],
            "stage_mean_s": run["stage_mean_s"],
            "record_mean_s": run["record_mean_s"],
            # shard wall minus the records' own time: writing the shard files and markers
            "write_mean_s": max(run["shard_wall_s"] - run["record_total_s"], 0.0)
            / max(run["records_ok"], 1),
            "merge_s": run["merge_s"],
            "png_bytes_mean": run["counts"].get("image:bytes", 0) / max(written, 1),
            "augmented": run["counts"].get("image:augmented", 0),
            "rows_bytes_per_record": rows_bytes / max(written, 1),
            "layouts": {
                k.split(":")[-1]: v
                for k, v in run["counts"].items()
                if k.startswith("image:layout:")
            },  # fmt: skip
        }
    finally:
        shutil.rmtree(out, ignore_errors=True)


def rate_rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for r in results:
        per_core_wall = r["records"] / r["wall_s"] / r["workers"]
        rows.append([
            r["engine"], r["workers"], r["records"], r["failed"], f"{r['wall_s']:.1f}",
            f"{r['records'] / r['wall_s']:.1f}", f"{per_core_wall:.1f}",
            f"{1000 * r['record_mean_s']:.1f}", f"{1 / r['record_mean_s']:.1f}",
        ])  # fmt: skip
    return rows


def stage_rows(r: dict[str, Any]) -> list[list[Any]]:
    rows = [[s, f"{1000 * r['stage_mean_s'].get(s, 0.0):.2f}"] for s in STAGES]
    rows.append(["write (shard rows + marker)", f"{1000 * r['write_mean_s']:.2f}"])
    rows.append(["total per record (worker)", f"{1000 * r['record_mean_s']:.2f}"])
    return rows


def mimic_estimate(r: dict[str, Any]) -> dict[str, Any]:
    """MIMIC-IV-ECG on a 64-core cluster at the steady-state per-core rate measured here
    (MIMIC records are read in place through the ecg/ link: no export)."""
    per_core = 1 / (r["record_mean_s"] + r["write_mean_s"])
    seconds = MIMIC_RECORDS / (per_core * CLUSTER_CORES)
    images = MIMIC_RECORDS * r["png_bytes_mean"]
    rows = MIMIC_RECORDS * r["rows_bytes_per_record"]
    return {
        "per_core_records_s": per_core,
        "minutes": seconds / 60,
        "images_gb": images / 1e9,
        "rows_gb": rows / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engines", default="local,ray", help="comma-separated: local, ray")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--limit", type=int, help="only the first N records (by id)")
    ap.add_argument("--json", help="write every result here")
    args = ap.parse_args(argv)
    root = data_root()
    if root is None:
        return 2
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    sources = shared_sources(root)
    configs = [(e, int(w)) for e in args.engines.split(",") for w in args.workers.split(",")]
    results = [one_build(sources, e, w, args.limit) for e, w in configs]
    # the first configuration again, last: the machine's state has no favourite
    results.append(one_build(sources, *configs[0], args.limit) | {"repeat": True})
    print(f"## Corpus build throughput ({results[0]['records']} records, default image settings)\n")
    print(markdown_table(
        ["engine", "workers", "records", "failed", "wall s", "records/s", "records/s per core (wall)",
         "worker ms/record", "records/s per core (steady)"],
        rate_rows(results),
    ))  # fmt: skip
    base = results[0]
    print(f"\n### Stages (ms per record, {base['engine']} engine, {base['workers']} worker)\n")
    print(markdown_table(["stage", "ms"], stage_rows(base)))
    print(
        f"\nPNG: {base['png_bytes_mean'] / 1e3:.0f} kB per image on average "
        f"({base['augmented']} of {base['written']} augmented; layouts {base['layouts']}); "
        f"rows: {base['rows_bytes_per_record'] / 1e3:.1f} kB per record (SFT + RL)."
    )
    est = mimic_estimate(base)
    print(
        f"\nMIMIC-IV-ECG estimate ({MIMIC_RECORDS:,} records, {CLUSTER_CORES} cores): "
        f"{est['per_core_records_s']:.1f} records/s per core -> {est['minutes']:.1f} min; "
        f"images {est['images_gb']:.0f} GB, rows {est['rows_gb']:.1f} GB."
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "mimic": est}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
