"""One record → its corpus rows: read, measure, apply the protocol, write the text, render.

:func:`process_task` is what every worker runs (local pool or Ray). It is a pure function of
the task and the :class:`BuildSettings`: the same record and seed give byte-identical rows and
image files on any engine and worker count. Row formats: ``../shared/spec/interchange.md`` §1.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ecgr1.corpus.config import QUESTIONS, CorpusConfig
from ecgr1.corpus.engine import Task
from ecgr1.corpus.labels import map_labels
from ecgr1.corpus.text import annotated_report
from ecgr1.corpus.types import SourceEntry
from ecgr1.io import STANDARD_LEADS, first_seconds
from ecgr1.report.writer import Report

#: Folder of ``out`` holding the images; rows give paths relative to ``out``.
IMAGE_DIR = "images"
#: Folder of ``out`` holding links to each source tree (and WFDB exports of HDF5 sources);
#: ``objects.ecg`` paths are relative to it (the ``--ecg-root`` of train, infer and check).
ECG_DIR = "ecg"


@dataclass
class BuildSettings:
    """What a worker needs besides the task: the config, the output folder, the link name of
    each source tree under ``out/ecg`` (keyed by its ``origin``) and the optional rephraser."""

    config: CorpusConfig
    out_dir: str
    ecg_links: dict[tuple[Any, ...], str] = field(default_factory=dict)
    rephrase: Any = None  # ecgr1.corpus.rephrase.RephraseConfig


def rng_for(seed: int, uid: str, purpose: str) -> random.Random:
    """A generator fixed by seed, row id and purpose (independent of order and worker)."""
    digest = hashlib.sha256(f"{seed}|{uid}|{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


_SOURCES: dict[tuple[Any, ...], Any] = {}
_REPHRASERS: dict[Any, Any] = {}


def source_of(entry: SourceEntry) -> Any:
    """The adapter that listed the entry, opened once per worker process."""
    if not entry.origin:
        raise ValueError(f"entry {entry.uid} has no origin: list entries with list_entries()")
    if entry.origin not in _SOURCES:
        from ecgr1.corpus.sources import open_source

        kind, root, options = entry.origin
        _SOURCES[entry.origin] = open_source(kind, root, **dict(options))
    return _SOURCES[entry.origin]


def _atomic_write(path: Path, data: bytes) -> None:
    # Whole or absent like the shard files, but without their fsync: an image is rewritten by
    # a resumed shard anyway, and one fsync per image would cost more than drawing it.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _layout(record: Any, config: CorpusConfig, rng: random.Random) -> str:
    if not all(record.has_lead(name) for name in STANDARD_LEADS):
        return "auto"  # a layout of the mix needs the 12 standard leads
    names = list(config.layouts)
    return rng.choices(names, weights=[config.layouts[n] for n in names])[0]


def render_image(record: Any, entry: SourceEntry, settings: BuildSettings) -> tuple[str, dict]:
    """Render and write the record's PNG; returns its path relative to ``out`` and facts."""
    from ecgr1.render import render_record

    cfg = settings.config
    rng = rng_for(cfg.seed, entry.uid, "image")
    layout = _layout(record, cfg, rng)
    augmented = rng.random() < cfg.augment_share
    rendering = render_record(
        record,
        layout=layout,
        dpi=cfg.dpi,
        augment_seed=rng.randrange(2**31) if augmented else None,
    )
    rel = f"{IMAGE_DIR}/{entry.source}/{entry.record_id}.png"
    data = rendering.to_bytes()
    _atomic_write(Path(settings.out_dir) / rel, data)
    return rel, {"layout": rendering.sidecar["layout"], "augmented": augmented, "bytes": len(data)}


def ecg_path(entry: SourceEntry, record: Any, settings: BuildSettings) -> str:
    """``objects.ecg`` of the row: the WFDB record under ``out/ecg`` (exported when needed)."""
    if entry.ecg_relpath is not None:
        return f"{settings.ecg_links[entry.origin]}/{entry.ecg_relpath}"
    # HDF5 sources: written once as WFDB under out/ecg/<kind>/ (the adapter states the
    # padding policy); the path it returns is relative to out/ecg.
    return source_of(entry).export_wfdb(entry, record, Path(settings.out_dir) / ECG_DIR)


def measure_and_interpret(
    record: Any, entry: SourceEntry, timings: dict[str, float] | None = None
) -> tuple[Any, Any]:
    """The record's measurements and the protocol's interpretation (the entry's age and sex;
    the packaged criteria table); ``timings`` gets the seconds of "measure" and "protocol".
    A record that cannot be measured raises MeasurementError, which the build logs as a
    failure: a corpus row needs measured evidence."""
    from ecgr1.measure import engine as measure_engine
    from ecgr1.protocol import interpret
    from ecgr1.protocol.table import load_table

    timings = {} if timings is None else timings
    table = load_table()
    sex = {"male": "M", "female": "F"}.get(entry.sex or "", entry.sex)
    t = time.perf_counter()
    measured = measure_engine.measure(record, age=entry.age, sex=sex, config=table.measure_config())
    measure_engine.carry_record_notes(measured, record)
    timings["measure"] = time.perf_counter() - t
    t = time.perf_counter()
    interp = interpret(measured, table=table, age=entry.age, sex=sex)
    timings["protocol"] = time.perf_counter() - t
    return measured, interp


def _messages(settings: BuildSettings, question: str, answer: str | None) -> list[dict]:
    cfg = settings.config
    out = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
    out.append({"role": "user", "content": question})
    if answer is not None:
        out.append({"role": "assistant", "content": answer})
    return out


def _rephrased(text: str, result: Any, entry: SourceEntry, settings: BuildSettings) -> tuple:
    if settings.rephrase is None:
        return text, None
    # One client per worker and configuration (the config is a frozen, hashable value: every
    # shard unpickles a new copy of it, so an identity key would open a pool per shard).
    key = settings.rephrase
    if key not in _REPHRASERS:
        from ecgr1.corpus.rephrase import Rephraser

        for old in _REPHRASERS.values():
            old.close()
        _REPHRASERS.clear()
        _REPHRASERS[key] = Rephraser(settings.rephrase)
    outcome = _REPHRASERS[key].rephrase(text, result, record_id=entry.uid)
    return outcome.text, outcome


def solution_for(report: Report, text: str) -> str:
    """The RL ``solution`` of ``text``: the report's key-evidence phrases that occur in the
    matching step of ``text`` (all of them unless the text is an accepted rewrite)."""
    if text == report.text:
        return report.solution
    from ecgr1.corpus.check import step_texts

    steps = step_texts(text)
    kept = [
        replace(s, evidence_phrases=[p for p in s.evidence_phrases if p in steps.get(k, "")])
        for k, s in enumerate(report.steps, start=1)
    ]
    return replace(report, steps=kept).solution


def process_task(task: Task, settings: BuildSettings) -> dict[str, Any]:
    """Read, measure, interpret, write and render one record; return its rows and summary."""
    entry, cfg = task.entry, settings.config
    timings: dict[str, float] = {}
    mapping = map_labels(entry.vocabulary, entry.labels)
    if not mapping.names:
        # No answer can be written: skipped by rule (counted in the manifest), not a failure.
        summary = {"labels": [], "counts": {"skipped:no source label": 1}}
        return {"rows": {}, "summary": summary, "timings": timings}
    t = time.perf_counter()
    record = first_seconds(source_of(entry).read(entry), cfg.seconds)
    timings["read"] = time.perf_counter() - t
    measured, interp = measure_and_interpret(record, entry, timings)
    t = time.perf_counter()
    seed = int.from_bytes(hashlib.sha256(f"{cfg.seed}|{entry.uid}".encode()).digest()[:4], "big")
    report, agreement = annotated_report(
        interp, mapping, entry.vocabulary, style=cfg.style, seed=seed
    )
    text, rephrase = _rephrased(report.text, interp, entry, settings)
    timings["report"] = time.perf_counter() - t
    counts: dict[str, int] = {f"quality:{measured.quality.overall}": 1}
    summary: dict[str, Any] = {
        "labels": list(mapping.names),
        "agreement": agreement.to_dict(),
        "counts": counts,
    }
    if rephrase is not None:
        counts["rephrase:" + ("accepted" if rephrase.accepted else f"rejected:{rephrase.kind}")] = 1
        summary["rephrase"] = {"accepted": rephrase.accepted, "reason": rephrase.reason}
    if agreement.unsupported and cfg.disagreement == "drop":
        counts["dropped:unsupported label"] = 1
        return {"rows": {}, "summary": summary, "timings": timings}
    t = time.perf_counter()
    image = None
    if cfg.images:
        image, facts = render_image(record, entry, settings)
        counts.update({"image:count": 1, "image:bytes": facts["bytes"]})
        counts[f"image:layout:{facts['layout']}"] = 1
        counts["image:augmented"] = int(facts["augmented"])
    timings["render"] = time.perf_counter() - t
    t = time.perf_counter()
    ecg = ecg_path(entry, record, settings)
    timings["export"] = time.perf_counter() - t
    question_rng = rng_for(cfg.seed, entry.uid, "question")
    tags = "<ecg><image>" if image else "<ecg>"
    question = f"{tags}\n{question_rng.choice(QUESTIONS)}"
    common: dict[str, Any] = {
        "images": [image] if image else [],
        "objects": {"ecg": [ecg]},
        "labels": report.labels,
        "agreement": agreement.to_dict(),
        "meta": _meta(entry, task.split, mapping, measured),
    }
    if agreement.unsupported and cfg.disagreement == "flag":
        common["flagged"] = True
        counts["flagged"] = 1
    sft = {"id": entry.uid, "messages": _messages(settings, question, text), **common}
    rl = {
        "id": entry.uid,
        "messages": _messages(settings, question, None),
        **common,
        "solution": solution_for(report, text),
    }
    return {"rows": {"sft": sft, "rl": rl}, "summary": summary, "timings": timings}


def _meta(entry: SourceEntry, split: str, mapping: Any, measured: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": entry.source,
        "record_id": entry.record_id,
        "split": split,
        "vocabulary": entry.vocabulary,
        "source_labels": list(entry.labels),
        "unmapped_labels": list(mapping.unmapped),
        "patient_id": entry.patient_id,
        "age": entry.age,
        "sex": entry.sex,
        "quality": measured.quality.overall,
    }
    if entry.fold is not None:
        meta["fold"] = entry.fold
    if entry.extra.get("superclasses") is not None:
        meta["superclasses"] = list(entry.extra["superclasses"])
    if "machine" in entry.extra:
        meta["machine"] = dict(entry.extra["machine"])
        meta["measured"] = _cross_check_fields(measured)
    return meta


def _cross_check_fields(measurements: Any) -> dict[str, Any]:
    """Our record-level values beside a dataset's machine measurements (MIMIC-IV-ECG)."""
    g = measurements.global_
    return {
        "rr_interval_ms": g.rr_mean_ms,
        "pr_interval_ms": g.pr_interval_ms,
        "qrs_duration_ms": g.qrs_duration_ms,
        "qt_interval_ms": g.qt_interval_ms,
        "p_axis_deg": g.p_axis_deg,
        "qrs_axis_deg": g.qrs_axis_deg,
        "t_axis_deg": g.t_axis_deg,
    }
