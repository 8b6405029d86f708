"""WFDB reading benchmark: ecgr1's fast decoder against the wfdb path and wfdb.rdrecord itself.

Usage::

    python benchmarks/read_bench.py [--data DIR] [--limit N] [--repeats K]

For each data set (LUDB, CPSC 2018, the Challenge ``extra/cinc_*`` sources, PTB-XL 500 and
100 Hz) every record (or the first ``--limit``) is read ``--repeats`` times by each method
after one warm-up read; a record's time is its fastest read, a data set's time the mean over
its records. Methods:

* ``read_record`` - ``ecgr1.io.read_record`` as shipped (fast decoder where it applies);
* ``read_record (wfdb)`` - the same call with ``read_wfdb(engine="wfdb")``, i.e. the samples
  come from ``wfdb.rdrecord`` as before the fast decoder existed;
* ``samples fast`` / ``samples wfdb`` - :func:`ecgr1.io.wfdb_reader.read_wfdb_samples` alone
  (header checks and samples, no unit/lead/NaN finalisation) with either engine;
* ``wfdb.rdrecord`` - wfdb's own reader, nothing else.

One process, one thread for numeric libraries; the times depend on the machine, compare rows of
one run only. Nothing is written.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wfdb  # noqa: E402
from _common import data_root, markdown_table  # noqa: E402

from ecgr1.io import read_record, readers, wfdb_reader  # noqa: E402

DATASETS = [
    ("LUDB", "ludb/data"),
    ("CPSC 2018", "cpsc2018"),
    ("Challenge extra/cinc_*", "extra/cinc_*"),
    ("PTB-XL records500", "extra/ptbxl/records500"),
    ("PTB-XL records100", "extra/ptbxl/records100"),
]


def _headers(root: Path, pattern: str, limit: int | None) -> list[Path]:
    found = sorted(h for folder in sorted(root.glob(pattern)) for h in folder.rglob("*.hea"))
    return found[:limit] if limit else found


def _read_record_wfdb(path: Path) -> object:
    """read_record with the samples taken from wfdb (read_record has no engine option)."""
    original = readers.read_wfdb
    readers.read_wfdb = functools.partial(wfdb_reader.read_wfdb, engine="wfdb")
    try:
        return read_record(path)
    finally:
        readers.read_wfdb = original


def _best_ms(fn: Callable[[Path], object], path: Path, repeats: int) -> float:
    fn(path)  # warm-up (imports, file cache)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(path)
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


METHODS: list[tuple[str, Callable[[Path], object]]] = [
    ("read_record", read_record),
    ("read_record (wfdb)", _read_record_wfdb),
    ("samples fast", functools.partial(wfdb_reader.read_wfdb_samples, engine="fast")),
    ("samples wfdb", functools.partial(wfdb_reader.read_wfdb_samples, engine="wfdb")),
    ("wfdb.rdrecord", lambda p: wfdb.rdrecord(str(p.with_suffix("")))),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="shared data folder")
    ap.add_argument("--limit", type=int, default=None, help="first N records of each data set")
    ap.add_argument("--repeats", type=int, default=3, help="timed reads per record (best kept)")
    args = ap.parse_args(argv)
    root = args.data or data_root()
    if root is None or not root.is_dir():
        return 2
    rows = []
    for label, pattern in DATASETS:
        headers = _headers(root, pattern, args.limit)
        if not headers:
            print(f"{label}: no records under {root / pattern}", file=sys.stderr)
            continue
        fast = sum(wfdb_reader.fast_path_reason(h) is None for h in headers)
        means = []
        for _, fn in METHODS:
            means.append(sum(_best_ms(fn, h, args.repeats) for h in headers) / len(headers))
        speedup = means[1] / means[0]
        rows.append(
            [label, f"{len(headers)} ({fast} fast)"]
            + [f"{m:.2f}" for m in means]
            + [f"{speedup:.1f}x"]
        )
    header = ["data set", "records"] + [f"{name} ms" for name, _ in METHODS]
    header.append("read_record speed-up")
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
