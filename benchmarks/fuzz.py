"""Fuzzing benchmark: mutated real ECG files through ``read_record`` -> ``interpret_record``.

Usage::

    python benchmarks/fuzz.py [--inputs 10000] [--workers 2] [--seed 0] [--data DIR]
                              [--time-limit 30] [--show 5] [--jsonl FILE] [--markdown]
    python benchmarks/fuzz.py --replay INDEX [--seed 0] [--keep DIR]

Input ``i`` of a run is drawn from ``(seed, i)`` alone (an operator by weight, a source group
uniformly, a record of it, the operator's random stream), so any input can be rebuilt with
``--replay i``, which writes its files (and the unmutated reference beside them, in
``unmutated/``), judges it and prints a one-line reproduction. The mutation operators and the
oracle are documented in ``benchmarks/_fuzz_mutations.py``; in short, each input must give a
clear error (:class:`ecgr1.errors.ECGR1Error` or an ``OSError`` with a message) or an answer
that (a) cites no evidence from a lead marked unusable and (b) when its statements differ from
the unmutated record's, raises a damage flag (warning, quality, unusable lead, not-assessable
entry) that the unmutated record does not. A traceback, a timeout (``--time-limit`` seconds
per input), a finding from an unusable lead and an unflagged corrupted answer are failures; the
exit status is 1 when there is any.

Each worker is a separate process (one numeric thread, address space capped at 4 GiB) with its
own scratch folder; one that exceeds the time limit by 30 s or dies is replaced and the input
counted as a failure. The figures go to ``benchmarks/README.md`` ("Fuzzing").
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from multiprocessing.connection import Connection, wait  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fuzz_mutations as fm  # noqa: E402
from _common import data_root, markdown_table  # noqa: E402

MEMORY_LIMIT_BYTES = 4 * 2**30
HUNG_GRACE_S = 30.0
FAILS = fm.FAIL_CLASSES


# --------------------------------------------------------------------------- workers


def _worker(conn: Connection, root: str, seed: int, limit: float) -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    except (ImportError, ValueError, OSError):
        pass
    corpus = fm.Corpus(Path(root))
    scratch = Path(tempfile.mkdtemp(prefix="ecgr1-fuzz-"))
    oracle = fm.Oracle(corpus, scratch, limit)
    try:
        while True:
            index = conn.recv()
            if index is None:
                break
            start = time.perf_counter()
            try:
                mutation = corpus.draw(index, seed)
            except Exception as exc:  # noqa: BLE001 - a harness bug: report it, keep going
                out = {"verdict": "generator_error", "outcome": "generator_error",
                       "kind": fm.error_kind(exc), "traceback": traceback.format_exc(),
                       "op": "?", "family": "?", "label": f"input {index}"}  # fmt: skip
            else:
                try:
                    out = oracle.check(mutation)
                except Exception as exc:  # noqa: BLE001 - a harness bug: report it, keep going
                    out = {"verdict": "harness_error", "outcome": "harness_error",
                           "kind": fm.error_kind(exc), "traceback": traceback.format_exc(),
                           "op": mutation.op, "family": mutation.family, "label": mutation.label}  # fmt: skip
            out["index"] = index
            out["seconds"] = round(time.perf_counter() - start, 3)
            conn.send(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class Pool:
    """Worker processes fed one input index at a time; hung or dead workers are replaced."""

    def __init__(self, n: int, root: Path, seed: int, limit: float) -> None:
        self.args = (str(root), seed, limit)
        self.ctx = mp.get_context("fork")
        self.slots: list[dict[str, Any]] = [self._start() for _ in range(n)]
        self.limit = limit

    def _start(self) -> dict[str, Any]:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_worker, args=(child, *self.args), daemon=True)
        proc.start()
        child.close()
        return {"proc": proc, "conn": parent, "index": None, "since": 0.0}

    def run(self, indices: list[int], on_result: Any) -> None:
        todo = collections.deque(indices)
        while todo or any(s["index"] is not None for s in self.slots):
            for slot in self.slots:
                if slot["index"] is None and todo:
                    slot["index"] = todo.popleft()
                    slot["since"] = time.monotonic()
                    slot["conn"].send(slot["index"])
            busy = [s["conn"] for s in self.slots if s["index"] is not None]
            ready = wait(busy, timeout=1.0)
            for k, slot in enumerate(self.slots):
                if slot["index"] is None:
                    continue
                if slot["conn"] in ready:
                    try:
                        on_result(slot["conn"].recv())
                        slot["index"] = None
                        continue
                    except (EOFError, OSError):
                        code = slot["proc"].exitcode
                        self._replace(k, "traceback", f"worker died (exit code {code})", on_result)
                elif time.monotonic() - slot["since"] > self.limit + HUNG_GRACE_S:
                    self._replace(k, "timeout", "hung: killed by the parent", on_result)

    def _replace(self, k: int, verdict: str, kind: str, on_result: Any) -> None:
        slot = self.slots[k]
        slot["proc"].kill()
        slot["proc"].join(5)
        on_result(
            {"index": slot["index"], "verdict": verdict, "outcome": verdict, "kind": kind,
             "op": "?", "family": "?", "label": f"input {slot['index']}", "seconds": None}
        )  # fmt: skip
        self.slots[k] = self._start()

    def close(self) -> None:
        for slot in self.slots:
            with_suppress(lambda s=slot: s["conn"].send(None))
        for slot in self.slots:
            slot["proc"].join(10)
            if slot["proc"].is_alive():
                slot["proc"].kill()


def with_suppress(fn: Any) -> None:
    try:
        fn()
    except (OSError, ValueError):
        pass


# --------------------------------------------------------------------------- report


class Tally:
    def __init__(self) -> None:
        self.n = 0
        self.verdicts: collections.Counter[str] = collections.Counter()
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.errors: collections.Counter[str] = collections.Counter()
        self.error_classes: collections.Counter[str] = collections.Counter()
        self.by_op: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.by_family: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.checksum: collections.Counter[str] = collections.Counter()
        self.fails: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self.python_warnings: collections.Counter[str] = collections.Counter()
        self.baseline_problems: collections.Counter[str] = collections.Counter()
        self.slowest: list[tuple[float, int, str]] = []

    def add(self, out: dict[str, Any]) -> None:
        self.n += 1
        verdict = out["verdict"]
        self.verdicts[verdict] += 1
        outcome = out["outcome"]
        if outcome == "answer":
            outcome = "answer, changed" if out.get("changed") else "answer, same"
            if out.get("changed") and out.get("new_flags"):
                outcome = "answer, changed, flagged"
        self.outcomes[outcome] += 1
        if out["outcome"] == "error":
            self.errors[out["kind"]] += 1
            self.error_classes[out["kind"].split(":", 1)[0]] += 1
        column = verdict if verdict != "pass" else outcome
        self.by_op[out.get("op", "?")][column] += 1
        self.by_family[out.get("family", "?")][column] += 1
        if out.get("family") in ("data", "header") and out.get("checksum") != "n/a":
            self.checksum[out.get("checksum", "?")] += 1
        if verdict != "pass":
            self.fails[verdict].append(out)
        for w in out.get("python_warnings") or []:
            self.python_warnings[w] += 1
        if out.get("baseline_problem"):
            self.baseline_problems[f"{out['key']}: {out['baseline_problem']}"] += 1
        if out.get("seconds") is not None:
            self.slowest = sorted(self.slowest + [(out["seconds"], out["index"], out["label"])])[
                -5:
            ]


def _cols() -> list[str]:
    return ["error", "answer, same", "answer, changed, flagged", *FAILS, "unstable"]


def report(t: Tally, args: argparse.Namespace, seconds: float) -> str:
    n_fail = sum(t.verdicts[v] for v in FAILS)
    lines = [
        f"ecgr1 fuzz: {t.n} inputs tried (seed {args.seed}, {args.workers} worker(s), "
        f"limit {args.time_limit:g} s per input) in {seconds:.0f} s "
        f"({t.n / max(seconds, 1e-9):.1f} inputs/s)",
        "",
        "outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items())),
        "failures: " + ", ".join(f"{v} {t.verdicts[v]}" for v in FAILS) + f" (total {n_fail})",
        f"unstable answers of meaning-preserving rewrites (information): {t.verdicts['unstable']}",
        "checksum of data-changing mutations: "
        + ", ".join(f"{k} {v}" for k, v in sorted(t.checksum.items())),
    ]
    harness = t.verdicts["generator_error"] + t.verdicts["harness_error"]
    if harness:
        lines.append(f"HARNESS ERRORS (bugs of the fuzzer, not of ecgr1): {harness}")
    lines += ["", "errors by class:"]
    lines += [f"  {v:6d}  {k}" for k, v in t.error_classes.most_common()]
    lines += ["", "errors by kind:"]
    lines += [f"  {v:6d}  {k}" for k, v in t.errors.most_common()]
    lines += ["", "by operator:"]
    cols = _cols()
    rows = [[op, sum(c.values()), *(c[x] for x in cols)] for op, c in sorted(t.by_op.items())]
    lines.append(markdown_table(["operator", "inputs", *cols], rows))
    for verdict in (*FAILS, "unstable", "generator_error", "harness_error"):
        items = t.fails.get(verdict) or []
        if not items:
            continue
        groups: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for out in items:
            key = out.get("kind", "") if verdict in ("traceback", "timeout") else out["op"]
            groups[key].append(out)
        lines += ["", f"== {verdict}: {len(items)} input(s) in {len(groups)} group(s)"]
        for key, outs in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            lines.append(
                f"-- {key}: {len(outs)} input(s); indices {[o['index'] for o in outs][:12]}"
            )
            for out in outs[: args.examples]:
                lines.append(_indent(fm.explain(out) if "label" in out else str(out), 4))
                lines.append(f"    replay: python benchmarks/fuzz.py --seed {args.seed} "
                             f"--replay {out['index']}")  # fmt: skip
    tbs = [
        o
        for v in ("traceback", "generator_error", "harness_error")
        for o in t.fails.get(v, [])
        if o.get("traceback")
    ]
    if tbs:
        lines += ["", f"first {min(args.show, len(tbs))} traceback(s) in full:"]
        for out in tbs[: args.show]:
            lines += [f"--- input {out['index']}: {out['label']}", out["traceback"]]
    if t.python_warnings:
        lines += ["", "Python warnings emitted by ecgr1 (inputs):"]
        lines += [f"  {v:6d}  {k}" for k, v in t.python_warnings.most_common(15)]
    if t.baseline_problems:
        lines += ["", "seed records without a baseline answer:"]
        lines += [f"  {v:6d}  {k}" for k, v in t.baseline_problems.most_common()]
    lines += ["", "slowest inputs (s):"]
    lines += [f"  {s:7.2f}  input {i}: {label}" for s, i, label in reversed(t.slowest)]
    return "\n".join(lines)


def markdown(t: Tally, args: argparse.Namespace, seconds: float) -> str:
    n_fail = sum(t.verdicts[v] for v in FAILS)
    out = [
        f"{t.n} mutated inputs, seed {args.seed}, {args.workers} workers, "
        f"{seconds / 60:.1f} min ({t.n / max(seconds, 1e-9):.1f} inputs/s); "
        f"tracebacks {t.verdicts['traceback']}, timeouts {t.verdicts['timeout']}, "
        f"findings from unusable leads {t.verdicts['unusable_lead_finding']}, "
        f"unflagged corrupted answers {t.verdicts['unflagged_corrupted_answer']} "
        f"(failures in all: {n_fail}); unstable answers of meaning-preserving rewrites "
        f"{t.verdicts['unstable']} (information).",
        "",
        markdown_table(["outcome", "inputs"], [[k, v] for k, v in sorted(t.outcomes.items())]),
        "",
        markdown_table(
            ["family", "inputs", *_cols()],
            [
                [f, sum(c.values()), *(c[x] for x in _cols())]
                for f, c in sorted(t.by_family.items())
            ],
        ),
        "",
        "Failures by group (tracebacks by exception and place, answers by operator; "
        "rebuild an input with `--replay INDEX`):",
        "",
        markdown_table(["failure", "group", "inputs", "first inputs"], _fail_rows(t)),
        "",
        "Errors by class (kinds: the message with numbers and names masked):",
        "",
        markdown_table(["class", "inputs"], [[k, v] for k, v in t.error_classes.most_common()]),
        "",
        markdown_table(
            ["kind (top 25)", "inputs"],
            [[k.replace("|", "/"), v] for k, v in t.errors.most_common(25)],
        ),
    ]
    return "\n".join(out)


def _fail_rows(t: Tally) -> list[list[object]]:
    rows: list[list[object]] = []
    for verdict in (*FAILS, "unstable"):
        groups: dict[str, list[int]] = collections.defaultdict(list)
        for out in t.fails.get(verdict) or []:
            key = out.get("kind", "") if verdict in ("traceback", "timeout") else out["op"]
            groups[key].append(out["index"])
        for key, idx in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            first = ", ".join(str(i) for i in sorted(idx)[:4])
            rows.append([verdict, key.replace("|", "/"), len(idx), first])
    return rows or [["none", "", 0, ""]]


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


# --------------------------------------------------------------------------- replay


def replay(root: Path, args: argparse.Namespace) -> int:
    corpus = fm.Corpus(root)
    mutation = corpus.draw(args.replay, args.seed)
    keep = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ecgr1-fuzz-replay-"))
    keep.mkdir(parents=True, exist_ok=True)
    entry = mutation.write(keep)
    corpus.unmutated(mutation.key, mutation.variant).write(keep / "unmutated")
    with tempfile.TemporaryDirectory(prefix="ecgr1-fuzz-") as scratch:
        out = fm.Oracle(corpus, Path(scratch), args.time_limit).check(mutation)
    out["index"] = args.replay
    print(fm.explain(out))
    shown = {k: v for k, v in out.items() if k not in ("traceback", "label")}
    print(json.dumps(shown, indent=1, default=str))
    print(f"\nfiles: {keep} (unmutated reference in {keep / 'unmutated'})")
    print(
        'reproduce: python -c "from ecgr1.io import read_record; from ecgr1.pipeline import '
        f"interpret_record; r = read_record('{entry}'); o = interpret_record(r); "
        "print(r.warnings, [s.id for s in o.interpretation.statements], "
        'o.measurements.quality.overall, o.warnings)"'
    )
    return 1 if out["verdict"] in FAILS else 0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=10_000, help="number of mutated inputs")
    ap.add_argument("--start", type=int, default=0, help="first input index")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    ap.add_argument("--time-limit", type=float, default=fm.TIME_LIMIT_S, help="seconds per input")
    ap.add_argument("--show", type=int, default=5, help="tracebacks printed in full")
    ap.add_argument("--examples", type=int, default=2, help="examples printed per failure group")
    ap.add_argument("--jsonl", type=Path, default=None, help="write every outcome here")
    ap.add_argument("--markdown", action="store_true", help="also print the README tables")
    ap.add_argument("--replay", type=int, default=None, help="rebuild and judge one input")
    ap.add_argument("--keep", default=None, help="--replay: write its files here")
    args = ap.parse_args(argv)
    root = args.data or data_root()
    if root is None or not Path(root).is_dir():
        print("no shared data folder: nothing to fuzz", file=sys.stderr)
        return 2
    if args.replay is not None:
        return replay(Path(root), args)

    tally = Tally()
    sink = open(args.jsonl, "w") if args.jsonl else None  # noqa: SIM115
    started = time.perf_counter()
    step = max(100, args.inputs // 20)

    def on_result(out: dict[str, Any]) -> None:
        tally.add(out)
        if sink:
            slim = {k: v for k, v in out.items() if k not in ("flags",)}
            sink.write(json.dumps(slim, default=str) + "\n")
        if tally.n % step == 0:
            rate = tally.n / (time.perf_counter() - started)
            fails = sum(tally.verdicts[v] for v in FAILS)
            print(f"[{tally.n}/{args.inputs}] {rate:.1f} inputs/s, failures {fails}",
                  file=sys.stderr, flush=True)  # fmt: skip

    pool = Pool(args.workers, Path(root), args.seed, args.time_limit)
    try:
        pool.run(list(range(args.start, args.start + args.inputs)), on_result)
    finally:
        pool.close()
        if sink:
            sink.close()
    seconds = time.perf_counter() - started
    print(report(tally, args, seconds))
    if args.markdown:
        print("\n" + markdown(tally, args, seconds))
    harness = tally.verdicts["generator_error"] + tally.verdicts["harness_error"]
    return 1 if harness or any(tally.verdicts[v] for v in FAILS) else 0


if __name__ == "__main__":
    sys.exit(main())
