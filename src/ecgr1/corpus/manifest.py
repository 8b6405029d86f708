"""What a corpus build leaves on disk, and the run's summary.

Layout of an output folder (``out/``) written by :func:`ecgr1.corpus.engine.run_tasks`::

    out/plan.json                      what the run was asked to do (written first)
    out/shards/<kind>/<k:05d>.jsonl    rows of kind <kind> of shard k, one JSON object a line
    out/shards/done/<k:05d>.json       shard k's done marker, written LAST (its rows' splits,
                                       per-record summaries, failures, timings, worker pid/host)
    out/<kind>_<split>.jsonl           merged rows, shards concatenated in shard order
    out/manifest.json                  written by the caller with :func:`write_manifest`
    out/.lock                          held (flock) by the driver while it runs

Every file is written atomically (:func:`atomic_open`: a temporary file in the same folder,
flush + fsync, ``os.replace``, fsync of the folder), so a reader, or a run resumed after a crash
or ``kill -9``, sees a file whole or not at all. A shard counts as done only when its marker
exists, and the marker is written after the shard's row files, so a shard killed half-way is
simply redone; shards are idempotent (same tasks, same bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import platform
import re
import secrets
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import ecgr1
from ecgr1.errors import InvalidInputError

#: Format version of plan.json and of the done markers.
FORMAT = 1

#: Test hook: called with the final path after a file's temporary copy is written and synced,
#: just before ``os.replace``. None in production; the engine tests set it (in every process,
#: through ``tests/corpus_stub.py``) to ``kill -9`` a run at a chosen file.
_before_replace: Callable[[Path], None] | None = None

_TMP_NAME = re.compile(r"^\..+\.\d+\.[0-9a-f]{8}\.tmp$")


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some filesystems refuse it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open ``path`` for writing (binary) so that it appears whole or not at all.

    Writes go to ``.<name>.<pid>.<random>.tmp`` in the same folder (created with the usual
    umask permissions), which is flushed, fsynced and renamed over ``path`` when the block ends;
    if the block raises, the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if _before_replace is not None:
            _before_replace(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as handle:
        handle.write(data)


def dumps_sorted(obj: Any, *, compact: bool = False) -> bytes:
    """``obj`` as JSON with sorted keys, UTF-8, final newline: indented for the files people
    read (plan, manifest), on one line when ``compact`` (done markers)."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 1}
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False, **layout)
    return (text + "\n").encode("utf-8")


def remove_stale_temporaries(folders: Sequence[Path]) -> int:
    """Delete the temporary files :func:`atomic_open` left in ``folders`` (a killed run's)."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            if _TMP_NAME.match(child.name) and child.is_file():
                with contextlib.suppress(OSError):
                    child.unlink()
                    removed += 1
    return removed


# --------------------------------------------------------------------------------------- plan


def shard_name(index: int) -> str:
    """``00042``: the file stem of shard ``index``."""
    return f"{index:05d}"


def marker_path(out_dir: Path, index: int) -> Path:
    return out_dir / "shards" / "done" / f"{shard_name(index)}.json"


def shard_rows_path(out_dir: Path, kind: str, index: int) -> Path:
    return out_dir / "shards" / kind / f"{shard_name(index)}.jsonl"


def make_plan(
    pairs: Sequence[tuple[str, str]], shard_size: int, info: Mapping[str, Any] | None
) -> dict[str, Any]:
    """plan.json's content for tasks given as (uid, split) pairs in run order."""
    digest = hashlib.sha256()
    for uid, split in pairs:
        digest.update(f"{uid}\t{split}\n".encode())
    try:
        info_json = json.loads(json.dumps(dict(info or {}), sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"plan_info is not JSON-serialisable: {exc}") from None
    return {
        "format": FORMAT,
        "tasks": len(pairs),
        "tasks_sha256": digest.hexdigest(),
        "shard_size": shard_size,
        "shards": math.ceil(len(pairs) / shard_size),
        "splits": sorted({split for _, split in pairs}),
        "info": info_json,
    }


def plan_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between two plans, one phrase each (empty when they are the same plan)."""
    diffs: list[str] = []
    if old.get("tasks") != new["tasks"] or old.get("tasks_sha256") != new["tasks_sha256"]:
        diffs.append(
            f"tasks (was {old.get('tasks')} tasks, uid/split sha256 "
            f"{str(old.get('tasks_sha256'))[:12]}; now {new['tasks']} tasks, "
            f"{new['tasks_sha256'][:12]})"
        )
    for key in ("format", "shard_size"):
        if old.get(key) != new[key]:
            diffs.append(f"{key} (was {old.get(key)!r}, now {new[key]!r})")
    old_info = old.get("info") if isinstance(old.get("info"), dict) else {}
    for key in sorted(set(old_info) | set(new["info"])):
        if old_info.get(key, "<absent>") != new["info"].get(key, "<absent>"):
            was, now = old_info.get(key, "<absent>"), new["info"].get(key, "<absent>")
            diffs.append(f"{key} (was {_short(was)}, now {_short(now)})")
    return diffs


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ summary


@dataclass
class RunSummary:
    """What a build did, aggregated over every shard's done marker (resumed shards included).

    Counts cover records (tasks); ``rows`` and ``outputs`` cover the merged files. Timings are
    worker seconds: ``stage_total_s``/``stage_mean_s`` from the ``timings`` the processing
    function reports (mean over the records that report the stage), ``record_total_s``/
    ``record_mean_s`` the engine's own clock around each call (failed records included).
    ``wall_s`` and ``merge_s`` are this invocation's; ``shards_run`` the shards it processed.
    """

    engine: str
    workers: int
    shard_size: int
    tasks: int = 0
    shards: int = 0
    shards_run: int = 0
    shards_skipped: int = 0
    records_ok: int = 0
    records_failed: int = 0  # the record cannot be read or measured (ECGR1Error, OSError)
    records_internal: int = 0  # any other exception: a bug to look at
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    by_split: dict[str, dict[str, int]] = field(default_factory=dict)
    by_label: dict[str, int] = field(default_factory=dict)
    agreement: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, float] = field(default_factory=dict)  # sums of summaries' "counts"
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    worker_pids: list[int] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    stage_total_s: dict[str, float] = field(default_factory=dict)
    stage_mean_s: dict[str, float] = field(default_factory=dict)
    record_total_s: float = 0.0
    record_mean_s: float = 0.0
    shard_wall_s: float = 0.0
    merge_s: float = 0.0
    wall_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy."""
        return dataclasses.asdict(self)


class SummaryBuilder:
    """Accumulates done markers, in shard order, into a :class:`RunSummary`."""

    def __init__(self) -> None:
        self.by_source: dict[str, Counter[str]] = {}
        self.by_split: dict[str, Counter[str]] = {}
        self.by_label: Counter[str] = Counter()
        self.records_with: Counter[str] = Counter()
        self.agreement_by_label: dict[str, Counter[str]] = {}
        self.counts: Counter[str] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.pids: set[int] = set()
        self.hosts: set[str] = set()
        self.stage_total: Counter[str] = Counter()
        self.stage_count: Counter[str] = Counter()
        self.record_total = 0.0
        self.records = 0
        self.shard_wall = 0.0

    def add(self, marker: Mapping[str, Any]) -> None:
        self.pids.add(int(marker["pid"]))
        self.hosts.add(str(marker["host"]))
        self.shard_wall += float(marker["wall_s"])
        for record in marker["records"]:
            self.records += 1
            self.record_total += float(record.get("record_s", 0.0))
            status = record["status"]
            self.by_source.setdefault(record["source"], Counter())[status] += 1
            self.by_split.setdefault(record["split"], Counter())[status] += 1
            if status != "ok":
                continue
            for stage, seconds in (record.get("timings") or {}).items():
                self.stage_total[stage] += float(seconds)
                self.stage_count[stage] += 1
            self._add_summary(record.get("summary") or {})
        self.failures.extend(marker["failures"])

    def _add_summary(self, summary: Mapping[str, Any]) -> None:
        labels = summary.get("labels") or []
        for key, value in (summary.get("counts") or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.counts[str(key)] += value
        self.by_label.update(str(label) for label in dict.fromkeys(labels))
        agreement = summary.get("agreement") or {}
        if not isinstance(agreement, Mapping):
            return
        for category, labels_in in agreement.items():
            labels_in = list(dict.fromkeys(str(label) for label in labels_in or []))
            if labels_in:
                self.records_with[category] += 1
            for label in labels_in:
                self.agreement_by_label.setdefault(label, Counter())[category] += 1

    def build(self, summary: RunSummary) -> RunSummary:
        """Fill ``summary``'s aggregate fields; returns it."""
        statuses = ("ok", "failed", "internal")

        def counts(counter: Counter[str]) -> dict[str, int]:
            return {status: counter.get(status, 0) for status in statuses}

        summary.by_source = {key: counts(self.by_source[key]) for key in sorted(self.by_source)}
        summary.by_split = {key: counts(self.by_split[key]) for key in sorted(self.by_split)}
        total = Counter()
        for counter in self.by_source.values():
            total.update(counter)
        summary.records_ok = total.get("ok", 0)
        summary.records_failed = total.get("failed", 0)
        summary.records_internal = total.get("internal", 0)
        summary.by_label = dict(sorted(self.by_label.items()))
        summary.agreement = {
            "records_with": dict(sorted(self.records_with.items())),
            "by_label": {
                label: dict(sorted(self.agreement_by_label[label].items()))
                for label in sorted(self.agreement_by_label)
            },
        }
        summary.counts = dict(sorted(self.counts.items()))
        summary.failures = list(self.failures)
        summary.worker_pids = sorted(self.pids)
        summary.hosts = sorted(self.hosts)
        summary.stage_total_s = {k: round(v, 6) for k, v in sorted(self.stage_total.items())}
        summary.stage_mean_s = {
            k: round(v / self.stage_count[k], 6) for k, v in sorted(self.stage_total.items())
        }
        summary.record_total_s = round(self.record_total, 6)
        summary.record_mean_s = round(self.record_total / self.records, 6) if self.records else 0.0
        summary.shard_wall_s = round(self.shard_wall, 6)
        return summary


# ----------------------------------------------------------------------------------- manifest


def _versions(summary: RunSummary) -> dict[str, str]:
    versions = {"ecgr1": ecgr1.__version__, "python": platform.python_version()}
    with contextlib.suppress(ImportError):
        import numpy

        versions["numpy"] = numpy.__version__
    if summary.engine == "ray" or "ray" in sys.modules:
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions["ray"] = version("ray")
    return versions


def write_manifest(
    out_dir: str | os.PathLike[str], summary: RunSummary, extra: Mapping[str, Any] | None = None
) -> Path:
    """Write ``out/manifest.json`` (sorted keys, atomically) and return its path.

    It holds ``versions`` (ecgr1, python, numpy, ray when used), ``platform``, ``created_utc``,
    the run's ``plan`` (plan.json), ``run`` (``summary.to_dict()``) and, at the top level, every
    key of ``extra`` (seed, sources, config...), which must be JSON-serialisable and must not
    reuse one of those names.
    """
    out_dir = Path(out_dir)
    plan_file = out_dir / "plan.json"
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "versions": _versions(summary),
        "platform": platform.platform(),
        "plan": read_json(plan_file) if plan_file.is_file() else None,
        "run": summary.to_dict(),
    }
    clash = sorted(set(extra or {}) & set(manifest))
    if clash:
        raise ValueError(f"manifest extra keys clash with reserved keys: {clash}")
    manifest.update(extra or {})
    path = out_dir / "manifest.json"
    atomic_write_bytes(path, dumps_sorted(manifest))
    return path
