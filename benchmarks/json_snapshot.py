"""Snapshot the JSON that ``ecgr1 measure`` and ``ecgr1 interpret`` write for every readable
record in the shared data folder, and compare two snapshots.

A restructuring of the engine must leave these files identical (new fields aside). Take a
snapshot with the old tree, another with the new one, and compare::

    git worktree add /tmp/before HEAD~1
    PYTHONPATH=/tmp/before/src python benchmarks/json_snapshot.py take /tmp/snap-before
    python benchmarks/json_snapshot.py take /tmp/snap-after
    python benchmarks/json_snapshot.py compare /tmp/snap-before /tmp/snap-after

``compare`` lists every file whose content differs, and the JSON paths that differ in each;
keys present only in the newer snapshot are new fields and are not differences.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_root  # noqa: E402

# Groups of records: (name, folder relative to the data root). Every record with a header in
# these folders is read; recursive listing picks up PTB-XL's records500/records100 trees.
GROUPS = [
    ("ludb", "ludb/data"),
    ("qtdb", "qtdb"),
    ("cpsc2018", "cpsc2018"),
    ("mitdb", "mitdb"),
    ("cpsc2021", "cpsc2021"),
    ("extra_cinc", "extra"),
]


def _headers(folder: Path) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*.hea"))


def take(out: Path, commands: tuple[str, ...] = ("measure", "interpret"), workers: int = 1) -> None:
    """Write ``out/<group>/measure/*.json`` and ``out/<group>/interpret/*.json`` (the
    ``commands`` asked for; ``measure`` runs with ``--workers workers``)."""
    root = data_root()
    if root is None:
        raise SystemExit(2)
    env = dict(os.environ)
    for name, rel in GROUPS:
        files = _headers(root / rel)
        if not files:
            continue
        for command, flag in (("measure", "--json-dir"), ("interpret", "--out")):
            if command not in commands:
                continue
            dest = out / name / command
            dest.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, "-m", "ecgr1", command, *files, flag, str(dest)]
            if command == "interpret":
                argv += ["--format", "json"]
            elif workers != 1:
                argv += ["--workers", str(workers)]
            proc = subprocess.run(argv, env=env, capture_output=True, text=True)
            (out / name / f"{command}.stderr").write_text(proc.stderr)
            print(f"{name} {command}: {len(files)} records, exit {proc.returncode}", flush=True)


def _diff(a: object, b: object, path: str, out: list[str]) -> None:
    """JSON paths where ``b`` differs from ``a``; keys only in ``b`` are new fields."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b:
                out.append(f"{path}.{key}: removed")
            else:
                _diff(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {_short(a)} -> {_short(b)}")


def _short(v: object) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def compare(before: Path, after: Path, limit: int) -> int:
    """Print the differing files and paths; returns the number of differing files."""
    n_diff = n_files = 0
    for old in sorted(before.rglob("*.json")):
        rel = old.relative_to(before)
        new = after / rel
        n_files += 1
        if not new.exists():
            print(f"{rel}: missing in {after}")
            n_diff += 1
            continue
        diffs: list[str] = []
        _diff(json.loads(old.read_text()), json.loads(new.read_text()), "$", diffs)
        if diffs:
            n_diff += 1
            print(f"{rel}: {len(diffs)} differences")
            for line in diffs[:limit]:
                print(f"    {line}")
    extra = {p.relative_to(after) for p in after.rglob("*.json")} - {
        p.relative_to(before) for p in before.rglob("*.json")
    }
    for rel in sorted(extra):
        print(f"{rel}: only in {after}")
    print(f"{n_files} files compared, {n_diff} differ, {len(extra)} new")
    return n_diff + len(extra)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_take = sub.add_parser("take", help="write a snapshot")
    p_take.add_argument("out", type=Path)
    p_take.add_argument(
        "--commands", default="measure,interpret", help="comma list: measure, interpret"
    )
    p_take.add_argument("--workers", type=int, default=1, help="processes for ecgr1 measure")
    p_cmp = sub.add_parser("compare", help="compare two snapshots")
    p_cmp.add_argument("before", type=Path)
    p_cmp.add_argument("after", type=Path)
    p_cmp.add_argument("--limit", type=int, default=20, help="paths shown per file")
    args = parser.parse_args()
    if args.cmd == "take":
        take(args.out, tuple(c.strip() for c in args.commands.split(",")), args.workers)
        return 0
    return 1 if compare(args.before, args.after, args.limit) else 0


if __name__ == "__main__":
    raise SystemExit(main())
