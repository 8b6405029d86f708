"""``ecgr1 corpus build``: dataset trees → SFT, RL and test rows, locally or on Ray.

The driver lists every source's entries (cheap: tables and headers, no signals), removes the
same ECG reached through two sources, assigns splits, then hands shards of records to the
engine (:mod:`ecgr1.corpus.engine`), whose workers run :func:`ecgr1.corpus.rows.process_task`.
At the end it writes the modality-missing and ECGBench-style test files and ``manifest.json``.

Output folder::

    out/
      sft_train.jsonl  sft_test.jsonl  rl_train.jsonl  rl_test.jsonl
      sft_test_ecg_missing25.jsonl ... sft_test_image_missing100.jsonl
      ecgbench/<source>_<kind>.jsonl       multi-label or single-choice test files
      images/<source>/<record_id>.png      paths in rows are relative to out/ (--image-root)
      ecg/<link>/...                       links to each source tree; objects.ecg is relative
                                           to out/ecg (--ecg-root); HDF5 sources exported here
      shards/ plan.json manifest.json
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ecgr1.corpus.config import CorpusConfig
from ecgr1.corpus.engine import Task, run_tasks
from ecgr1.corpus.rows import ECG_DIR, BuildSettings, process_task
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import InvalidInputError, OutputError

#: Row kinds the workers write (``<kind>_<split>.jsonl``).
ROW_KINDS: tuple[str, ...] = ("sft", "rl")


def list_entries(
    specs: Sequence[str], options: dict[str, dict[str, Any]] | None = None
) -> tuple[list[SourceEntry], list[tuple[Any, tuple[Any, ...]]]]:
    """Every entry of every source, each marked with the adapter that listed it (its
    ``origin``); also the opened sources with their origins.

    ``options`` gives adapter options per kind (e.g. ``{"ptbxl": {"rate": 100}}``).
    """
    from ecgr1.corpus.sources import open_sources

    entries: list[SourceEntry] = []
    sources = []
    for source in open_sources(list(specs), options):
        opts = dict((options or {}).get(source.kind, {}))
        origin = (source.kind, str(source.root), tuple(sorted(opts.items())))
        sources.append((source, origin))
        try:
            entries.extend(replace(e, origin=origin) for e in source.entries())
        except (ValueError, TypeError, KeyError) as exc:
            # a table cell the layout does not allow (an id that is not a number, an empty
            # subject_id...): the tree is not in its published form
            raise InvalidInputError(
                f"unreadable {source.kind} table entry ({type(exc).__name__}: {exc})",
                str(source.root),
            ) from None
    return entries, sources


def label_counts(entries: Sequence[SourceEntry]) -> dict[str, dict[str, Any]]:
    """Per source: answer labels mapped, source labels unmapped or ignored (never silently
    dropped), and records with no label that maps (they get no row)."""
    from ecgr1.corpus.labels import map_labels

    out: dict[str, dict[str, Any]] = {}
    for entry in entries:
        mapping = map_labels(entry.vocabulary, entry.labels)
        c = out.setdefault(
            entry.source,
            {"mapped": Counter(), "unmapped": Counter(), "ignored": Counter(), "no_label": 0},
        )
        c["mapped"].update(mapping.names)
        c["unmapped"].update(mapping.unmapped)
        c["ignored"].update(mapping.ignored)
        c["no_label"] += not mapping.names
    return {
        source: {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in c.items()}
        for source, c in sorted(out.items())
    }


#: MIMIC-IV-ECG machine measurement (``meta.machine``) -> our record-level value
#: (``meta.measured``), compared in the manifest's ``machine_cross_check``.
MACHINE_PAIRS: dict[str, str] = {
    "rr_ms": "rr_interval_ms",
    "pr_ms": "pr_interval_ms",
    "qrs_ms": "qrs_duration_ms",
    "qt_ms": "qt_interval_ms",
    "p_axis_deg": "p_axis_deg",
    "qrs_axis_deg": "qrs_axis_deg",
    "t_axis_deg": "t_axis_deg",
}


def machine_cross_check(rows: Iterable[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Our measurement minus the machine's, per quantity: n, mean, SD and mean absolute
    difference over the rows that carry both (axes as the signed angle between them)."""
    import numpy as np

    diffs: dict[str, list[float]] = {}
    for row in rows:
        machine, ours = row["meta"].get("machine"), row["meta"].get("measured")
        if not machine or not ours:
            continue
        for theirs_key, ours_key in MACHINE_PAIRS.items():
            a, b = ours.get(ours_key), machine.get(theirs_key)
            if a is None or b is None:
                continue
            d = float(a) - float(b)
            if theirs_key.endswith("_deg"):
                d = (d + 180.0) % 360.0 - 180.0
            diffs.setdefault(ours_key, []).append(d)
    out = {}
    for key, values in diffs.items():
        v = np.asarray(values)
        out[key] = {
            "n": int(v.size),
            "mean_diff": round(float(v.mean()), 2),
            "sd_diff": round(float(v.std(ddof=1)), 2) if v.size > 1 else None,
            "mean_abs_diff": round(float(np.abs(v).mean()), 2),
        }
    return out


def ecg_links(
    sources: Sequence[tuple[Any, tuple[Any, ...]]], out_dir: Path
) -> dict[tuple[Any, ...], str]:
    """One link under ``out/ecg`` per source tree (``ptbxl``, ``challenge``, ``challenge2``...;
    stable for a given source list). Sources whose records are exported (HDF5) get none."""
    links: dict[tuple[Any, ...], str] = {}
    used: Counter[str] = Counter()
    base = out_dir / ECG_DIR
    base.mkdir(parents=True, exist_ok=True)
    for source, origin in sources:
        name = source.kind if not used[source.kind] else f"{source.kind}{used[source.kind] + 1}"
        used[source.kind] += 1
        target = base / name
        if hasattr(source, "export_wfdb"):
            continue  # records are exported under out/ecg/<kind>/, no link
        if target.is_symlink() and os.readlink(target) != str(source.root):
            raise OutputError(f"{target} links to another tree ({os.readlink(target)})")
        elif not target.is_symlink():
            if target.exists():
                raise OutputError(f"{target} exists and is not a link to {source.root}")
            target.symlink_to(Path(source.root).resolve(), target_is_directory=True)
        links[origin] = name
    return links


def build_corpus(
    sources: Sequence[str],
    out_dir: str | Path,
    config: CorpusConfig | None = None,
    *,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    resume: bool = False,
    progress: bool | None = None,
    source_options: dict[str, dict[str, Any]] | None = None,
    rephrase: Any = None,
    limit: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build a corpus; returns the manifest (also written to ``out/manifest.json``).

    Workers are spawned processes: a script that calls this needs the usual
    ``if __name__ == "__main__":`` guard.

    Example
    -------
    >>> manifest = build_corpus(["ludb:/data/ludb"], "corpus/", workers=8)  # doctest: +SKIP
    >>> manifest["run"]["records_ok"], manifest["files"]["sft_train.jsonl"]  # doctest: +SKIP
    (200, 180)
    """
    from ecgr1.corpus.manifest import write_manifest
    from ecgr1.corpus.splits import assign_splits, deduplicate

    config = config or CorpusConfig()
    out = Path(out_dir)
    t0 = time.perf_counter()
    entries, opened = list_entries(sources, source_options)
    listed = Counter(e.source for e in entries)
    kept, dropped = deduplicate(entries)
    kept = sorted(kept, key=lambda e: e.uid)
    if limit is not None:
        if limit < 1:
            raise InvalidInputError(f"limit must be at least 1, got {limit}")
        kept = kept[:limit]
    if not kept:
        raise InvalidInputError(f"no records found in {', '.join(sources)}")
    splits = assign_splits(kept, seed=config.seed, test_fraction=config.test_fraction)
    tasks = [Task(entry=e, split=splits[e.uid]) for e in kept]
    out.mkdir(parents=True, exist_ok=True)
    settings = BuildSettings(
        config=config, out_dir=str(out), ecg_links=ecg_links(opened, out), rephrase=rephrase
    )
    listing_s = time.perf_counter() - t0
    summary = run_tasks(
        tasks,
        functools.partial(process_task, settings=settings),
        out,
        engine=engine,
        workers=workers,
        address=address,
        shard_size=config.shard_size,
        resume=resume,
        progress=progress,
        plan_info={
            "config": config.to_dict(),
            "sources": list(sources),
            "rephrase": _rephrase_info(rephrase),
            "source_options": source_options or {},
        },
    )
    files = finalize(out, config, log=log)
    # streamed: a MIMIC-scale train file does not fit in memory as dicts
    written = (r for split in ("train", "test") for r in _iter_rows(out / f"sft_{split}.jsonl"))
    extra = {
        "config": config.to_dict(),
        "sources": list(sources),
        "ecg_root": str((out / ECG_DIR).resolve()),
        "image_root": str(out.resolve()),
        "listed": dict(sorted(listed.items())),
        "source_labels": label_counts(kept),
        "duplicates_removed": dropped,
        "files": files,
        "listing_s": listing_s,
        "rephrase": _rephrase_info(rephrase),
        "machine_cross_check": machine_cross_check(written),
    }
    path = write_manifest(out, summary, extra)
    import json

    return json.loads(Path(path).read_text(encoding="utf-8"))


def _rephrase_info(rephrase: Any) -> dict[str, Any] | None:
    if rephrase is None:
        return None
    return {"url": rephrase.url, "model": rephrase.model}


def _iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    import json

    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def finalize(
    out: Path, config: CorpusConfig, log: Callable[[str], None] | None = None
) -> dict[str, int]:
    """Write the modality-missing variants and the ECGBench files; returns rows per file."""
    from ecgr1.corpus.splits import missing_variants_of_file

    files: dict[str, int] = {}
    for kind in ROW_KINDS:
        for split in ("train", "test"):
            path = out / f"{kind}_{split}.jsonl"
            if path.exists():
                files[path.name] = sum(1 for line in path.open(encoding="utf-8") if line.strip())
    for kind in ROW_KINDS:
        test = out / f"{kind}_test.jsonl"
        n = files.get(test.name, 0)
        if n:
            written = missing_variants_of_file(
                test, f"{kind}_test", out, seed=config.seed, percents=config.missing_percents
            )
            files.update({Path(path).name: n for path in written})
    if config.ecgbench:
        files.update(write_ecgbench(out, config))
    return dict(sorted(files.items()))


#: ECGBench-style test sets (interchange.md §4). Multi-label: source -> (set name, the label
#: vocabulary whose names are the options); PTB-XL asks for its five superclasses.
MULTILABEL_SETS: dict[str, tuple[str, str]] = {
    "ptbxl": ("ptbxl_superclass", "ptbxl_superclass"),
    "cpsc2018": ("cpsc2018", "cpsc"),
    "code15": ("code15", "code15"),
}
#: Single-choice sets: the options are drawn from the other labels of the same source.
SINGLE_CHOICE_SOURCES: tuple[str, ...] = ("chapman_shaoxing", "georgia")


def labels_in_vocabulary(vocabulary: str) -> Callable[[dict[str, Any]], list[str]]:
    """A row's source labels as names of ``vocabulary`` (see
    :func:`ecgr1.corpus.labels.translate_labels`)."""
    from ecgr1.corpus.labels import translate_labels

    def key(row: dict[str, Any]) -> list[str]:
        meta = row["meta"]
        return translate_labels(meta["vocabulary"], meta["source_labels"], vocabulary)

    return key


def write_ecgbench(out: Path, config: CorpusConfig) -> dict[str, int]:
    """ECGBench-style files from the SFT test rows, under ``out/ecgbench`` (sets with no row
    are not written)."""
    from ecgr1.corpus.labels import PTBXL_SUPERCLASSES, candidate_names
    from ecgr1.corpus.splits import ecgbench_multilabel, ecgbench_single_choice, write_jsonl

    wanted = set(MULTILABEL_SETS) | set(SINGLE_CHOICE_SOURCES)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in _iter_rows(out / "sft_test.jsonl"):  # streamed: only the sets' sources are kept
        if row["meta"]["source"] in wanted:
            by_source.setdefault(row["meta"]["source"], []).append(row)
    made: dict[str, list[dict[str, Any]]] = {}
    for source, (name, vocabulary) in MULTILABEL_SETS.items():
        rows = by_source.get(source, [])
        if vocabulary == "ptbxl_superclass":
            made[f"{name}_multilabel"] = ecgbench_multilabel(
                rows, list(PTBXL_SUPERCLASSES), name, label_key="meta.superclasses"
            )
        else:
            made[f"{name}_multilabel"] = ecgbench_multilabel(
                rows, candidate_names(vocabulary), name, label_key=labels_in_vocabulary(vocabulary)
            )
    for source in SINGLE_CHOICE_SOURCES:
        rows = by_source.get(source, [])
        made[f"{source}_single_choice"] = ecgbench_single_choice(
            rows, seed=config.seed, set_name=source
        )
    files: dict[str, int] = {}
    for name, rows in made.items():
        if rows:
            (out / "ecgbench").mkdir(exist_ok=True)
            write_jsonl(rows, out / "ecgbench" / f"{name}.jsonl")
            files[f"ecgbench/{name}.jsonl"] = len(rows)
    return files
