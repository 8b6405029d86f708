"""Paired CPU-time comparison of ``ecgr1.measure`` between two source trees.

On a shared machine the load swings by a third within a minute, so two runs one after the
other cannot resolve a change of a few percent. Here two worker processes (one per tree)
measure the same LUDB record alternately (A B, then B A on the next record or round), each
record ``--reps`` times; per record the minimum CPU time (``time.process_time``) counts::

    git worktree add /tmp/before <commit>     # or: git archive <commit> src | tar -x -C DIR
    python benchmarks/cpu_pair.py /tmp/before/src src --mode lib --reps 3
    python benchmarks/cpu_pair.py /tmp/before/src src --mode tuned --reps 3

``--mode tuned`` calls ``ecgr1.cli._allocator.tune_allocator()`` first in both workers (what
``ecgr1 measure`` does); ``lib`` leaves the allocator alone (the library's behaviour). Prints
both medians and the median of the per-record differences (B - A), and the mean number of
minor page faults per record (fresh memory pages each side's ``measure`` touched).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_root  # noqa: E402


def _records(limit: int) -> list[str]:
    """The first ``limit`` shared LUDB records (by number)."""
    root = data_root()
    if root is None:
        raise SystemExit(2)
    heads = sorted((root / "ludb" / "data").glob("*.hea"), key=lambda p: int(p.stem))
    return [str(p.with_suffix("")) for p in heads[:limit]]


def _worker(mode: str, limit: int) -> None:
    """Read the records, then measure record i for every i read from stdin; print CPU s."""
    if mode == "tuned":
        from ecgr1.cli._allocator import tune_allocator

        tune_allocator()
    from ecgr1.io import read_record
    from ecgr1.measure import measure

    recs = [read_record(p) for p in _records(limit)]
    measure(recs[0])  # warm up imports and caches
    print("ready", flush=True)
    for line in sys.stdin:
        rec = recs[int(line)]
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = time.process_time()
        measure(rec)
        t = time.process_time() - t
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        print(t, faults, flush=True)


def _start(src: str, mode: str, limit: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(Path(src).resolve()))
    argv = [sys.executable, __file__, "--worker", mode, "--records", str(limit)]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit(f"worker for {src} did not start")
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", nargs="?", help="source folder A (the one holding ecgr1/)")
    parser.add_argument("b", nargs="?", help="source folder B")
    parser.add_argument("--mode", choices=("lib", "tuned"), default="lib")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--worker", choices=("lib", "tuned"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.records)
        return 0
    n = len(_records(args.records))
    procs = [_start(args.a, args.mode, n), _start(args.b, args.mode, n)]
    best = np.full((2, n), np.inf)
    faults = np.zeros((2, n))

    def once(side: int, i: int) -> None:
        procs[side].stdin.write(f"{i}\n")
        procs[side].stdin.flush()
        cpu, flt = procs[side].stdout.readline().split()
        best[side, i] = min(best[side, i], float(cpu))
        faults[side, i] += int(flt) / args.reps

    for rep in range(args.reps):
        for i in range(n):
            first = (i + rep) % 2
            once(first, i)
            once(1 - first, i)
    for proc in procs:
        proc.stdin.close()
        proc.wait()
    a, b = best * 1000.0
    print(
        f"{args.mode}: A median {np.median(a):.2f} ms, B median {np.median(b):.2f} ms, "
        f"median paired difference {np.median(b - a):+.2f} ms ({100 * np.median((b - a) / a):+.1f} %); "
        f"minor page faults per record (mean) A {faults[0].mean():.0f}, B {faults[1].mean():.0f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
