"""A stand-in processing function for the corpus engine tests (importable by worker processes).

Rows depend only on the task, so every engine and every kill/resume must merge to the same
bytes. Some records fail on purpose: ``record_id % 13 == 5`` raises an ``InvalidInputError``
(unreadable), ``% 19 == 7`` an ``OSError``, and record ``0011`` a ``RuntimeError`` (an internal
error). Records with ``record_id % 7 == 0`` yield no ``rl`` row (kinds may be missing).

With ``ECGR1_STUB_KILL_AT=<suffix>`` in the environment, importing this module (as the driver
and every spawned worker does) makes the engine SIGKILL its whole process group just before it
renames a finished temporary file to a path ending with ``<suffix>``.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from ecgr1.corpus import manifest
from ecgr1.corpus.engine import Task
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import InvalidInputError, OutputError

LABELS = ("AF", "LBBB", "NORM", "PVC", "RBBB", "STACH")
INTERNAL_UID = "beta_0011"


def make_tasks(n: int) -> list[Task]:
    """``n`` tasks over two sources, sorted by uid; every fifth record in the test split."""
    tasks = []
    for i in range(n):
        source = ("alpha", "beta")[i % 2]
        labels = (LABELS[i % len(LABELS)], LABELS[(i * 7 + 3) % len(LABELS)])
        entry = SourceEntry(
            source=source,
            record_id=f"{i:04d}",
            path=f"/data/{source}/{i:04d}",
            labels=tuple(dict.fromkeys(labels)),
            vocabulary="scp",
            extra={"i": i},
        )
        tasks.append(Task(entry=entry, split="test" if i % 5 == 0 else "train"))
    return sorted(tasks, key=lambda t: t.entry.uid)


def fate(task: Task) -> str:
    """What :func:`process` does with ``task``: ``ok``, ``failed`` or ``internal``."""
    i = int(task.entry.record_id)
    if task.entry.uid == INTERNAL_UID:
        return "internal"
    return "failed" if i % 13 == 5 or i % 19 == 7 else "ok"


def process(task: Task, sleep: float = 0.0) -> dict:
    """Deterministic rows for ``task`` (``sleep`` seconds of pretend work first)."""
    start = time.perf_counter()
    if sleep:
        time.sleep(sleep)
    entry = task.entry
    i = int(entry.record_id)
    if entry.uid == INTERNAL_UID:
        raise RuntimeError("stub bug\non two lines")
    if i % 13 == 5:
        raise InvalidInputError("header is truncated", path=entry.path)
    if i % 19 == 7:
        raise OSError(5, "Input/output error", entry.path)
    read = time.perf_counter() - start
    labels = list(entry.labels)
    rows = {
        "sft": {
            "id": entry.uid,
            "source": entry.source,
            "messages": [{"role": "user", "content": f"ECG {entry.record_id} — µV, 12 leads"}],
            "labels": labels,
            "x": i / 7,
        }
    }
    if i % 7:
        rows["rl"] = {"id": entry.uid, "answer": labels, "weight": (i % 3) + 0.5}
    agreement = {
        "supported": labels[:1],
        "unsupported": labels[1:] if i % 3 == 0 else [],
        "extra": ["PVC"] if i % 4 == 1 else [],
    }
    return {
        "rows": rows,
        "summary": {"labels": labels, "agreement": agreement},
        "timings": {"read": read, "measure": time.perf_counter() - start - read},
    }


def process_disk_full(task: Task, fail_uid: str = "alpha_0040") -> dict:
    """:func:`process`, but writing the record ``fail_uid``'s image fails: the disk is full."""
    if task.entry.uid == fail_uid:
        raise OSError(28, "No space left on device", f"/out/images/{fail_uid}.png")
    return process(task)


def process_output_error(task: Task, fail_uid: str = "alpha_0040") -> dict:
    """:func:`process`, but the output folder refuses the record ``fail_uid``."""
    if task.entry.uid == fail_uid:
        raise OutputError("cannot create the images folder", "/out/images")
    return process(task)


def _kill_at(suffix: str):
    def hook(path: Path) -> None:
        if str(path).endswith(suffix):
            os.killpg(os.getpgrp(), signal.SIGKILL)

    return hook


if os.environ.get("ECGR1_STUB_KILL_AT"):
    manifest._before_replace = _kill_at(os.environ["ECGR1_STUB_KILL_AT"])
