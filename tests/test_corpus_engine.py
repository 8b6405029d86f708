"""The corpus execution engine: the merged files are byte-identical whatever the engine, the
number of workers, and however often the build is killed (``kill -9``) and resumed; failures of
single records are recorded and skipped; a resumed run must follow the same plan.

The processing function is ``tests/corpus_stub.py`` (rows depend only on the task).
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import corpus_stub
import pytest

from ecgr1.corpus.engine import run_tasks, write_manifest
from ecgr1.errors import InvalidInputError, OutputError

N = 120
TASKS = corpus_stub.make_tasks(N)
PLAN = {"seed": 1, "config": "abc"}
TESTS_DIR = Path(__file__).resolve().parent
SLOW = functools.partial(corpus_stub.process, sleep=0.02)  # lets every worker get shards


def merged(out: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.glob("*.jsonl"))}


def temporaries(out: Path) -> list[Path]:
    return sorted(path for path in out.rglob(".*.tmp"))


def markers(out: Path) -> int:
    folder = out / "shards" / "done"
    return len(list(folder.glob("*.json"))) if folder.is_dir() else 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run: local engine, one worker."""
    out = tmp_path_factory.mktemp("reference") / "out"
    summary = run_tasks(
        TASKS, corpus_stub.process, out, workers=1, shard_size=8, progress=False, plan_info=PLAN
    )
    return out, summary


def test_rows_failures_and_counts(reference):
    out, summary = reference
    fates = {task.entry.uid: corpus_stub.fate(task) for task in TASKS}
    ok = [task for task in TASKS if fates[task.entry.uid] == "ok"]
    assert sorted(merged(out)) == [
        "rl_test.jsonl",
        "rl_train.jsonl",
        "sft_test.jsonl",
        "sft_train.jsonl",
    ]
    for split in ("train", "test"):
        sft = [
            json.loads(line)
            for line in (out / f"sft_{split}.jsonl").read_text("utf-8").splitlines()
        ]
        expected = [t.entry.uid for t in ok if t.split == split]
        assert [row["id"] for row in sft] == expected  # task order, no failure, no duplicate
        assert summary.rows["sft"][split] == len(expected)
        rl = [
            json.loads(line)["id"]
            for line in (out / f"rl_{split}.jsonl").read_text("utf-8").splitlines()
        ]
        assert rl == [uid for uid in expected if int(uid[-4:]) % 7]
    assert "µV" in (out / "sft_train.jsonl").read_text("utf-8")  # UTF-8, not \u escapes

    failures = {f["uid"]: f for f in summary.failures}
    assert set(failures) == {uid for uid, fate in fates.items() if fate != "ok"}
    assert failures["alpha_0018"]["reason"] == "/data/alpha/0018: header is truncated"
    assert (
        failures["beta_0007"]["error"] == "OSError"
        and "Input/output error" in failures["beta_0007"]["reason"]
    )
    bug = failures[corpus_stub.INTERNAL_UID]
    assert bug["internal"] and bug["reason"] == "RuntimeError: stub bug on two lines"
    assert sum(f["internal"] for f in summary.failures) == summary.records_internal == 1
    assert summary.records_ok == len(ok) and summary.records_ok + summary.records_failed + 1 == N
    records = [
        record
        for path in sorted((out / "shards" / "done").glob("*.json"))
        for record in json.loads(path.read_text())["records"]
    ]
    assert [r["uid"] for r in records] == [t.entry.uid for t in TASKS]
    assert "Traceback" in next(r["traceback"] for r in records if r["status"] == "internal")

    assert sum(c["ok"] for c in summary.by_source.values()) == len(ok)
    assert summary.by_split["test"]["ok"] == sum(t.split == "test" for t in ok)
    assert summary.by_label["NORM"] == sum("NORM" in t.entry.labels for t in ok)
    assert summary.agreement["records_with"]["extra"] == sum(
        int(t.entry.record_id) % 4 == 1 for t in ok
    )
    assert set(summary.stage_mean_s) == {"read", "measure"}
    assert summary.shards == 15 and summary.shards_run == 15 and summary.shards_skipped == 0
    assert not temporaries(out)


def test_two_workers_same_bytes_and_manifest(reference, tmp_path):
    out = tmp_path / "out"
    summary = run_tasks(TASKS, SLOW, out, workers=2, shard_size=8, progress=False, plan_info=PLAN)
    assert merged(out) == merged(reference[0])
    path = write_manifest(out, summary, {"seed": 1, "sources": ["alpha", "beta"]})
    manifest = json.loads(path.read_text())
    assert len(set(manifest["run"]["worker_pids"])) == 2
    assert os.getpid() not in manifest["run"]["worker_pids"]
    assert manifest["seed"] == 1 and manifest["plan"]["info"] == PLAN
    assert {"ecgr1", "python", "numpy"} <= set(manifest["versions"])
    assert manifest["run"]["records_internal"] == 1
    assert list(manifest) == sorted(manifest)


def _descendants() -> list[str]:
    """Command lines of this process's live descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if state != "Z":
                parents[int(entry.name)] = int(ppid)
                commands[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier}
        found += [commands[pid] for pid in frontier]
    return found


@pytest.mark.slow
def test_ray_same_bytes_and_shut_down(reference, tmp_path):
    ray = pytest.importorskip("ray")
    if ray.is_initialized():
        pytest.skip("Ray already initialised in this process")
    out = tmp_path / "out"
    summary = run_tasks(
        TASKS, SLOW, out, engine="ray", workers=2, shard_size=8, progress=False, plan_info=PLAN
    )
    assert merged(out) == merged(reference[0])
    assert summary.engine == "ray" and summary.records_internal == 1
    assert summary.worker_pids and os.getpid() not in summary.worker_pids
    assert not ray.is_initialized()
    if Path("/proc/self/stat").exists():
        deadline = time.monotonic() + 15
        while (left := [c for c in _descendants() if "ray" in c]) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == []
        assert not any(Path(f"/proc/{pid}").exists() for pid in summary.worker_pids)


def _build(out: Path, kill_at: str | None = None) -> subprocess.Popen:
    """The build in a subprocess, in its own process group (resume=True, 2 workers)."""
    code = (
        "import functools, json, sys\n"
        f"sys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "import corpus_stub\n"
        "from ecgr1.corpus.engine import run_tasks\n"
        f"summary = run_tasks(corpus_stub.make_tasks({N}), "
        "functools.partial(corpus_stub.process, sleep=0.005), "
        f"{str(out)!r}, workers=2, shard_size=4, resume=True, progress=False, plan_info={PLAN!r})\n"
        "print(json.dumps(summary.to_dict()))\n"
    )
    env = dict(os.environ)
    env.pop("ECGR1_STUB_KILL_AT", None)
    if kill_at:
        env["ECGR1_STUB_KILL_AT"] = kill_at
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(out: Path) -> dict:
    proc = _build(out)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    return json.loads(stdout)


def _check_complete(out: Path, reference_out: Path) -> None:
    assert merged(out) == merged(reference_out)
    ids = [
        json.loads(line)["id"]
        for name in ("sft_train.jsonl", "sft_test.jsonl")
        for line in (out / name).read_text("utf-8").splitlines()
    ]
    assert len(ids) == len(set(ids))
    assert set(ids) == {t.entry.uid for t in TASKS if corpus_stub.fate(t) == "ok"}
    assert not temporaries(out)


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume(reference, tmp_path):
    out = tmp_path / "out"
    rng = random.Random(20240613)
    killed = 0
    for _ in range(4):
        before = markers(out)
        proc = _build(out)
        deadline = time.monotonic() + 60
        while proc.poll() is None and markers(out) <= before and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3))
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate(timeout=30)
        killed += proc.returncode == -signal.SIGKILL
    assert killed >= 2
    summary = _finish(out)
    assert summary["shards_skipped"] > 0 and summary["shards"] == 30
    assert len(summary["worker_pids"]) > 2  # shards of the killed runs' workers count too
    _check_complete(out, reference[0])


@pytest.mark.slow
@pytest.mark.parametrize(
    "kill_at", ["shards/rl/00002.jsonl", "shards/done/00002.json", "rl_train.jsonl"]
)
def test_kill_9_before_a_rename_then_resume(reference, tmp_path, kill_at):
    out = tmp_path / "out"
    proc = _build(out, kill_at=kill_at)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, stderr
    target = out / kill_at
    assert not target.exists()  # a file appears whole (after its rename) or not at all
    assert list(target.parent.glob(f".{target.name}.*.tmp"))  # killed with its copy written
    if kill_at.startswith("shards/"):
        assert not (out / "shards" / "done" / "00002.json").exists()
    if kill_at == "shards/done/00002.json":
        assert (out / "shards" / "rl" / "00002.jsonl").exists()
    if kill_at == "rl_train.jsonl":
        assert markers(out) == 30
    _finish(out)
    _check_complete(out, reference[0])


def test_refuses_a_used_folder_and_another_plan(reference, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(reference[0], out)
    process = corpus_stub.process
    with pytest.raises(InvalidInputError, match="holds a previous run; pass --resume"):
        run_tasks(TASKS, process, out, shard_size=8, plan_info=PLAN)
    with pytest.raises(InvalidInputError, match=r"shard_size \(was 8, now 4\)"):
        run_tasks(TASKS, process, out, shard_size=4, resume=True, plan_info=PLAN)
    with pytest.raises(InvalidInputError, match=r"tasks \(was 120 tasks.*now 119 tasks"):
        run_tasks(TASKS[:-1], process, out, shard_size=8, resume=True, plan_info=PLAN)
    with pytest.raises(InvalidInputError, match=r"seed \(was 1, now 2\)"):
        run_tasks(TASKS, process, out, shard_size=8, resume=True, plan_info={**PLAN, "seed": 2})
    with pytest.raises(InvalidInputError, match="duplicate task uid"):
        run_tasks(TASKS + TASKS[:1], process, tmp_path / "other", shard_size=8)
    assert merged(out) == merged(reference[0])
    summary = run_tasks(TASKS, process, out, shard_size=8, resume=True, plan_info=PLAN)
    assert (summary.shards_run, summary.shards_skipped) == (0, 15)
    assert summary.failures == reference[1].failures
    assert merged(out) == merged(reference[0])


@pytest.mark.parametrize(
    "broken, error",
    [(corpus_stub.process_disk_full, OSError), (corpus_stub.process_output_error, OutputError)],
)
def test_an_output_error_stops_the_run_and_resume_finishes(reference, tmp_path, broken, error):
    out = tmp_path / "out"
    with pytest.raises(error):
        run_tasks(TASKS, broken, out, shard_size=8, plan_info=PLAN)
    assert markers(out) < 15 and not merged(out)
    summary = run_tasks(TASKS, corpus_stub.process, out, shard_size=8, resume=True, plan_info=PLAN)
    assert summary.shards_skipped > 0
    assert merged(out) == merged(reference[0])
