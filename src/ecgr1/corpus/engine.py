"""The corpus build's execution engine: run a processing function over many records, in
shards, on a local process pool or on Ray, resumably, with byte-identical output.

The engine knows nothing of ECGs: :func:`run_tasks` takes :class:`Task` objects (a
:class:`~ecgr1.corpus.types.SourceEntry` and its split) and a picklable ``process(task)`` that
returns ``{"rows": {kind: row}, "summary": {...}, "timings": {stage: seconds}}``. Tasks are cut,
in the caller's order, into shards of ``shard_size``; a worker runs a whole shard and writes its
rows and then its done marker (layout and atomic writes: :mod:`ecgr1.corpus.manifest`). When all
shards are done the driver concatenates them, in shard order, into ``out/<kind>_<split>.jsonl``,
so the merged files depend only on the tasks and ``process``: not on the engine, the number of
workers, the order in which shards finished, nor on runs killed and resumed on the way.

Failures of one record do not stop the run: an :class:`~ecgr1.errors.ECGR1Error` or ``OSError``
from ``process`` means the record cannot be read or measured (status ``failed``), any other
exception is an internal error (status ``internal``, with its traceback in the marker); both are
logged with a one-line reason and the record is skipped. What no other record would escape
stops the run instead: an :class:`~ecgr1.errors.OutputError` or an ``OSError`` of a full or
read-only disk (``ENOSPC``, ``EDQUOT``, ``EROFS``) from ``process``, and any failure of the
machinery itself (a shard file that cannot be written, a worker process that dies);
``resume=True`` then carries on from the shards already done.

Local engine: :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start method:
each worker is a fresh interpreter that imports what it needs, so nothing of the driver (threads
such as tqdm's monitor, locks held by them, open files, an initialised BLAS or Ray) leaks into
it, and the behaviour is the same on Linux, macOS and Windows. Its start-up cost (an import of
ecgr1, well under a second, once per worker) is negligible against a corpus.

Ray engine: ``ray.init(address=...)`` to use a running cluster, else a local Ray started for the
run (``num_cpus=workers``) and shut down at the end; one task (``num_cpus=1``) per shard, with
about two tasks per worker in flight. Workers write straight into ``out_dir``, so on a cluster
of several machines ``out_dir`` must be on a filesystem every node mounts at the same path, and
ecgr1 (and the module of ``process``) must be importable on every node.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import hashlib
import json
import logging
import multiprocessing
import os
import re
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ecgr1.corpus import manifest as _disk
from ecgr1.corpus.manifest import RunSummary, SummaryBuilder, write_manifest
from ecgr1.corpus.types import SourceEntry
from ecgr1.errors import ECGR1Error, InvalidInputError, OutputError

__all__ = ["Task", "RunSummary", "run_tasks", "write_manifest", "merge_shards"]

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # row kinds and splits become file names
# OSErrors of the output, not of a record: they stop the run (as OutputError does).
_OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


@dataclass(frozen=True)
class Task:
    """One record's work: the entry to read and the split its rows go to (picklable)."""

    entry: SourceEntry
    split: str  # "train" | "test" (assigned by the caller)


# ------------------------------------------------------------------------------ worker side


def _one_line(text: str, limit: int = 500) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _check_result(result: Any) -> tuple[dict[str, bytes], Any, dict[str, float]]:
    """Validate ``process``'s return value; rows encoded as JSON lines (``TypeError`` if bad)."""
    if not isinstance(result, Mapping) or not isinstance(result.get("rows"), Mapping):
        raise TypeError(f"process returned {type(result).__name__}, not a dict with 'rows'")
    lines: dict[str, bytes] = {}
    for kind, row in result["rows"].items():
        if not isinstance(kind, str) or not _NAME.match(kind) or kind == "done":
            raise TypeError(f"row kind {kind!r} is not a plain name")
        if not isinstance(row, Mapping):
            raise TypeError(f"row {kind!r} is {type(row).__name__}, not a dict")
        text = json.dumps(row, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        lines[kind] = text.encode("utf-8") + b"\n"
    summary = result.get("summary") or {}
    json.dumps(summary, allow_nan=False)  # the marker must be JSON
    timings = {str(k): round(float(v), 6) for k, v in (result.get("timings") or {}).items()}
    return lines, summary, timings


def _run_one(task: Task, process: Callable[[Task], Any]) -> tuple[dict, dict[str, bytes]]:
    """(marker record, encoded rows) for one task; never raises for the record's own errors."""
    uid, source = task.entry.uid, task.entry.source
    record: dict[str, Any] = {"uid": uid, "source": source, "split": task.split}
    start = time.perf_counter()
    try:
        lines, summary, timings = _check_result(process(task))
    except OutputError:
        raise  # the output cannot be written: no record will fare better, the run stops
    except OSError as exc:
        if exc.errno in _OUTPUT_ERRNOS:
            raise
        record.update(status="failed", reason=_one_line(str(exc) or type(exc).__name__))
        record["error"] = type(exc).__name__
        lines = {}
    except ECGR1Error as exc:
        record.update(status="failed", reason=_one_line(str(exc) or type(exc).__name__))
        record["error"] = type(exc).__name__
        lines = {}
    except Exception as exc:  # a bug in process (or in what it calls): counted apart
        record.update(status="internal", reason=_one_line(f"{type(exc).__name__}: {exc}"))
        record["error"] = type(exc).__name__
        record["traceback"] = "".join(traceback.format_exception(exc)[-6:])
        lines = {}
    else:
        record.update(status="ok", summary=summary, timings=timings)
    record["record_s"] = round(time.perf_counter() - start, 6)
    return record, lines


def _run_shard(
    index: int, tasks: Sequence[Task], process: Callable[[Task], Any], out_dir: str
) -> dict[str, Any]:
    """Process one shard and write its row files, then its done marker; return the marker."""
    start = time.perf_counter()
    out = Path(out_dir)
    records: list[dict[str, Any]] = []
    rows: dict[str, list[bytes]] = {}
    splits: dict[str, list[str]] = {}
    for task in tasks:
        record, lines = _run_one(task, process)
        records.append(record)
        for kind, line in lines.items():
            rows.setdefault(kind, []).append(line)
            splits.setdefault(kind, []).append(task.split)
    digests = {}
    for kind in sorted(rows):
        data = b"".join(rows[kind])
        digests[kind] = hashlib.sha256(data).hexdigest()
        _disk.atomic_write_bytes(_disk.shard_rows_path(out, kind, index), data)
    stage_sums: dict[str, float] = {}
    for record in records:
        for stage, seconds in (record.get("timings") or {}).items():
            stage_sums[stage] = stage_sums.get(stage, 0.0) + seconds
    failures = [
        {k: r[k] for k in ("uid", "source", "split", "reason", "error")}
        | {"internal": r["status"] == "internal"}
        for r in records
        if r["status"] != "ok"
    ]
    marker = {
        "format": _disk.FORMAT,
        "shard": index,
        "tasks": len(tasks),
        "first_uid": tasks[0].entry.uid if tasks else None,
        "rows": {kind: splits[kind] for kind in sorted(splits)},
        "rows_sha256": digests,
        "records": records,
        "failures": failures,
        "timings": {stage: round(total, 6) for stage, total in sorted(stage_sums.items())},
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "wall_s": round(time.perf_counter() - start, 6),
    }
    _disk.atomic_write_bytes(
        _disk.marker_path(out, index), _disk.dumps_sorted(marker, compact=True)
    )
    return marker


# ------------------------------------------------------------------------------ driver side


def _shard_slices(n_tasks: int, shard_size: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + shard_size, n_tasks)) for lo in range(0, n_tasks, shard_size)]


@contextlib.contextmanager
def _lock(out_dir: Path) -> Iterator[None]:
    """Hold ``out/.lock`` so that two drivers never build into one folder at once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    handle = open(out_dir / ".lock", "a+b")  # held for the whole run
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(
                "another corpus build is writing into this folder", str(out_dir)
            ) from None
        yield
    finally:
        handle.close()


def _prepare(out_dir: Path, plan: dict[str, Any], resume: bool) -> None:
    """Check ``out_dir`` against ``resume`` and the plan; write plan.json for a new run."""
    plan_file = out_dir / "plan.json"
    used = (out_dir / "shards").exists()
    if used and not resume:
        raise InvalidInputError(
            "the folder holds a previous run; pass --resume or choose an empty folder",
            str(out_dir),
        )
    if resume and plan_file.exists():
        try:
            old = _disk.read_json(plan_file)
        except (OSError, ValueError) as exc:
            raise InvalidInputError(
                f"cannot read plan.json to resume: {exc}", str(out_dir)
            ) from None
        diffs = _disk.plan_differences(old if isinstance(old, dict) else {}, plan)
        if diffs:
            raise InvalidInputError(
                "cannot resume: the previous run had a different plan: " + "; ".join(diffs),
                str(out_dir),
            )
        return
    if used:
        raise InvalidInputError(
            "cannot resume: shards/ exists but plan.json does not", str(out_dir)
        )
    _disk.atomic_write_bytes(plan_file, _disk.dumps_sorted(plan))


def _done_shards(out_dir: Path, n_shards: int) -> set[int]:
    folder = out_dir / "shards" / "done"
    if not folder.is_dir():
        return set()
    names = {p.name for p in folder.iterdir()}
    return {k for k in range(n_shards) if f"{_disk.shard_name(k)}.json" in names}


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """One BLAS/OpenMP thread per worker (``workers`` processes already use the cores), unless
    the user set the variables; the driver's environment is restored afterwards."""
    saved = {name: os.environ.get(name) for name in _THREAD_VARS}
    for name in _THREAD_VARS:
        os.environ.setdefault(name, "1")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_local(
    todo: list[int],
    shard_tasks: Callable[[int], list[Task]],
    process: Callable[[Task], Any],
    out_dir: str,
    workers: int,
    on_done: Callable[[int, dict], None],
) -> None:
    in_flight = 2 * workers
    context = multiprocessing.get_context("spawn")
    queue = iter(todo)
    with (
        _single_threaded_children(),  # the pool starts its processes on demand, so for its lifetime
        concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool,
    ):
        pending: dict[concurrent.futures.Future, int] = {}
        try:
            while True:
                while len(pending) < in_flight:
                    index = next(queue, None)
                    if index is None:
                        break
                    future = pool.submit(_run_shard, index, shard_tasks(index), process, out_dir)
                    pending[future] = index
                if not pending:
                    break
                finished, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in sorted(finished, key=pending.__getitem__):
                    on_done(pending.pop(future), future.result())
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _ray_python_path() -> str:
    """The driver's import path, for the workers of a local Ray (as spawn gives the pool's)."""
    paths = [os.path.abspath(p or os.curdir) for p in sys.path]
    return os.pathsep.join(dict.fromkeys(p for p in paths if os.path.isdir(p)))


def _run_ray(
    todo: list[int],
    shard_tasks: Callable[[int], list[Task]],
    process: Callable[[Task], Any],
    out_dir: str,
    workers: int,
    address: str | None,
    on_done: Callable[[int, dict], None],
) -> None:
    import ray  # ModuleNotFoundError when not installed: the CLI says `pip install 'ecgr1[ray]'`

    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {
            "include_dashboard": False,
            "log_to_driver": False,
            "logging_level": logging.WARNING,
        }
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(  # Ray itself gives each num_cpus=1 task one BLAS/OpenMP thread
                address="local",  # never a cluster named by RAY_ADDRESS
                num_cpus=workers,
                object_store_memory=256 * 1024**2,  # shards travel as files, not objects
                runtime_env={"env_vars": {"PYTHONPATH": _ray_python_path()}},
                **options,
            )
        started = True  # ours to shut down (a local Ray) or to disconnect from (a cluster)
    pending: dict[Any, int] = {}
    try:
        remote = ray.remote(num_cpus=1)(_run_shard)
        process_ref = ray.put(process)
        in_flight = 2 * workers
        queue = iter(todo)
        while True:
            while len(pending) < in_flight:
                index = next(queue, None)
                if index is None:
                    break
                ref = remote.remote(index, shard_tasks(index), process_ref, out_dir)
                pending[ref] = index
            if not pending:
                break
            finished, _ = ray.wait(list(pending), num_returns=1)
            for ref in finished:
                on_done(pending.pop(ref), ray.get(ref))
    except BaseException:
        for ref in pending:
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        raise
    finally:
        if started:
            ray.shutdown()


def merge_shards(out_dir: str | os.PathLike[str], builder: SummaryBuilder | None = None) -> dict:
    """Concatenate every shard's rows, in shard order, into ``out/<kind>_<split>.jsonl``.

    Needs only plan.json and the shards (every one done). Each shard file is checked against
    its marker (row count, sha256). Returns ``{"rows": {kind: {split: n}}, "outputs":
    {file name: {"rows", "sha256"}}}``; ``builder``, if given, receives every marker.
    """
    out = Path(out_dir)
    plan = _disk.read_json(out / "plan.json")
    splits: list[str] = plan["splits"]
    handles: dict[tuple[str, str], IO[bytes]] = {}
    digests: dict[tuple[str, str], Any] = {}
    counts: dict[tuple[str, str], int] = {}
    with contextlib.ExitStack() as stack:

        def writer(kind: str, split: str) -> IO[bytes]:
            key = (kind, split)
            if key not in handles:
                handles[key] = stack.enter_context(_disk.atomic_open(out / f"{kind}_{split}.jsonl"))
                digests[key], counts[key] = hashlib.sha256(), 0
            return handles[key]

        for index in range(plan["shards"]):
            path = _disk.marker_path(out, index)
            try:
                marker = _disk.read_json(path)
            except (OSError, ValueError) as exc:
                raise InvalidInputError(
                    f"done marker unreadable ({exc}); delete it and resume", str(path)
                ) from None
            if marker.get("shard") != index:
                raise InvalidInputError("marker of another shard; delete it and resume", str(path))
            if builder is not None:
                builder.add(marker)
            for kind, row_splits in marker["rows"].items():
                rows_path = _disk.shard_rows_path(out, kind, index)
                data = rows_path.read_bytes()
                lines = data.splitlines(keepends=True)
                if (
                    len(lines) != len(row_splits)
                    or hashlib.sha256(data).hexdigest() != marker["rows_sha256"][kind]
                ):
                    raise InvalidInputError(
                        f"rows differ from the done marker {path.name}; delete it and resume",
                        str(rows_path),
                    )
                for line, split in zip(lines, row_splits):
                    writer(kind, split).write(line)
                    digests[(kind, split)].update(line)
                    counts[(kind, split)] += 1
        for kind in sorted({kind for kind, _ in handles}):
            for split in splits:  # every kind gets a file for every split, even an empty one
                writer(kind, split)
    rows: dict[str, dict[str, int]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for kind, split in sorted(handles):
        rows.setdefault(kind, {})[split] = counts[(kind, split)]
        outputs[f"{kind}_{split}.jsonl"] = {
            "rows": counts[(kind, split)],
            "sha256": digests[(kind, split)].hexdigest(),
        }
    return {"rows": rows, "outputs": outputs}


def _validate(tasks: Sequence[Task], engine: str, workers: int, shard_size: int) -> None:
    if engine not in ENGINES:
        raise InvalidInputError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    if not isinstance(workers, int) or workers < 1:
        raise InvalidInputError(f"workers must be an integer >= 1, not {workers!r}")
    if not isinstance(shard_size, int) or shard_size < 1:
        raise InvalidInputError(f"shard_size must be an integer >= 1, not {shard_size!r}")
    seen: set[str] = set()
    for task in tasks:
        if not isinstance(task.split, str) or not _NAME.match(task.split):
            raise InvalidInputError(f"{task.entry.uid}: split {task.split!r} is not a plain name")
        if task.entry.uid in seen:
            raise InvalidInputError(f"duplicate task uid {task.entry.uid!r}")
        seen.add(task.entry.uid)


def _log_failures(marker: Mapping[str, Any]) -> None:
    for failure in marker["failures"]:
        level = logging.WARNING if failure["internal"] else logging.INFO
        kind = "internal error" if failure["internal"] else "skipped"
        log.log(level, "%s %s: %s", kind, failure["uid"], failure["reason"])


def run_tasks(
    tasks: Sequence[Task],
    process: Callable[[Task], Any],
    out_dir: str | os.PathLike[str],
    *,
    engine: str = "local",
    workers: int = 1,
    address: str | None = None,
    shard_size: int = 64,
    resume: bool = False,
    progress: bool | None = None,
    plan_info: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Run ``process`` over ``tasks`` in shards and merge the rows; see the module docstring.

    Parameters
    ----------
    tasks : in the order the merged files follow (the caller sorts them); uids unique.
    process : a picklable module-level function (or ``functools.partial`` of one) of a module
        the workers can import; ``process(task)`` returns ``{"rows": {kind: dict}, "summary":
        {"labels": [...], "agreement": {category: [labels]}, ...}, "timings": {stage: s}}``.
    out_dir : created if needed; must be empty of a previous run unless ``resume``.
    engine, workers : ``"local"`` (a spawn process pool of ``workers``) or ``"ray"``.
    address : Ray only: a running cluster's address; None starts a local Ray of ``workers``
        CPUs for the run. When Ray is already initialised in this process it is used as is
        (and left running).
    shard_size : tasks per shard (and per done marker).
    resume : skip the shards already done (the plan must be the same: tasks, splits,
        ``shard_size``, ``plan_info``); without it an ``out_dir`` holding ``shards/`` is an
        :class:`~ecgr1.errors.InvalidInputError`.
    progress : a tqdm bar on stderr; None shows it when stderr is a terminal.
    plan_info : JSON-able facts that must match to resume (seed, config hash...).

    Raises
    ------
    InvalidInputError : bad options, a used ``out_dir`` without ``resume``, a different plan.
    OutputError : another build holds ``out_dir``.
    ModuleNotFoundError : ``engine="ray"`` without Ray installed.
    """
    wall_start = time.perf_counter()
    tasks = list(tasks)
    _validate(tasks, engine, workers, shard_size)
    if engine == "ray":
        import ray  # noqa: F401  (fail before touching out_dir)
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise OutputError("not a folder", str(out))
    out.mkdir(parents=True, exist_ok=True)
    plan = _disk.make_plan([(t.entry.uid, t.split) for t in tasks], shard_size, plan_info)
    slices = _shard_slices(len(tasks), shard_size)
    summary = RunSummary(engine=engine, workers=workers, shard_size=shard_size)
    summary.tasks, summary.shards = len(tasks), len(slices)
    with _lock(out):
        _prepare(out, plan, resume)
        shard_dir = out / "shards"
        (shard_dir / "done").mkdir(parents=True, exist_ok=True)
        folders = [out, *(p for p in shard_dir.iterdir() if p.is_dir())]
        _disk.remove_stale_temporaries(folders)
        done = _done_shards(out, len(slices))
        todo = [k for k in range(len(slices)) if k not in done]
        summary.shards_skipped = len(done)

        def shard_tasks(index: int) -> list[Task]:
            lo, hi = slices[index]
            return tasks[lo:hi]

        show = sys.stderr.isatty() if progress is None else progress
        from tqdm import tqdm

        with tqdm(
            total=len(tasks),
            initial=sum(slices[k][1] - slices[k][0] for k in done),
            unit="rec",
            desc="corpus",
            file=sys.stderr,
            disable=not show,
            smoothing=0.05,
            dynamic_ncols=True,
        ) as bar:

            def on_done(index: int, marker: dict) -> None:
                summary.shards_run += 1
                _log_failures(marker)
                bar.update(marker["tasks"])

            if todo and engine == "local":
                _run_local(todo, shard_tasks, process, str(out), workers, on_done)
            elif todo:
                _run_ray(todo, shard_tasks, process, str(out), workers, address, on_done)

        merge_start = time.perf_counter()
        builder = SummaryBuilder()
        merged = merge_shards(out, builder)
        builder.build(summary)
        summary.rows, summary.outputs = merged["rows"], merged["outputs"]
        summary.merge_s = round(time.perf_counter() - merge_start, 6)
    summary.wall_s = round(time.perf_counter() - wall_start, 6)
    return summary
