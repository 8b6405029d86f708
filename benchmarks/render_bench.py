"""Renderer benchmark: ecgr1's PNG path against a plain matplotlib rendering of the same record.

Usage::

    python benchmarks/render_bench.py [--repeats 30] [--dpi 100] [--record PATH] [--out results.json]

Each method renders the same 12-lead, 10 s record in the 3x4+II layout (1 mm / 5 mm grid,
calibration pulses, lead labels) and encodes a PNG in memory; the time per image is the
wall-clock time of that whole call. Every method runs ``--repeats`` times after one warm-up
call; the median and 90th percentile are reported. The process is pinned to one CPU core and
numeric libraries to one thread. Without ``--record`` the record is ``ecgr1.simulate``'s normal
sinus rhythm with baseline wander, muscle noise and mains interference (seed 0); with it, any
readable record (e.g. ``../shared/data/ludb/data/1.hea``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from ecgr1.io.record import ECGRecord  # noqa: E402
from ecgr1.render import build_page, render_record  # noqa: E402
from ecgr1.render.page import Page  # noqa: E402


def _pin_one_core() -> str:
    try:
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):  # not Linux
        return "not pinned (sched_setaffinity unavailable)"


def matplotlib_png(record: ECGRecord, dpi: float) -> bytes:
    """A plain matplotlib rendering of the same page (same geometry, grid, traces, labels)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    page: Page = build_page(record, "3x4+II")
    st = page.style
    fig = Figure(figsize=(page.width_mm / 25.4, page.height_mm / 25.4), dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, page.width_mm)
    ax.set_ylim(page.height_mm, 0)
    ax.axis("off")
    fig.patch.set_facecolor(np.array(st.paper) / 255)
    for step, colour, width in ((1, st.grid_minor, 0.3), (5, st.grid_major, 0.6)):
        xs = np.arange(0, page.width_mm + 0.01, step)
        ys = np.arange(0, page.height_mm + 0.01, step)
        segs = [((x, 0), (x, page.height_mm)) for x in xs]
        segs += [((0, y), (page.width_mm, y)) for y in ys]
        ax.add_collection(LineCollection(segs, colors=[np.array(colour) / 255], linewidths=width))
    for line in page.traces + page.marks:
        ax.plot(line.points[:, 0], line.points[:, 1], color=np.array(line.colour) / 255, lw=0.8)
    for text in page.texts:
        ax.text(text.x_mm, text.y_mm, text.text, fontsize=text.size_mm * 2.2, va="top")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _time(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    fn()  # warm-up: imports, font loading, grid cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2),
        "min_ms": round(times[0], 2),
    }


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--dpi", type=float, default=100.0)
    ap.add_argument("--record", help="a record to render instead of the simulated one")
    ap.add_argument("--out", help="write the results as JSON here")
    args = ap.parse_args()
    pinned = _pin_one_core()
    if args.record:
        from ecgr1.io import read_record

        record = read_record(args.record)
    else:
        from ecgr1.simulate import simulate

        record = simulate("normal", seed=0, noise="all").record
    dpi = args.dpi
    methods: dict[str, Callable[[], object]] = {
        "ecgr1 PNG (layout + draw + encode)": lambda: render_record(record, dpi=dpi).to_bytes(),
        "ecgr1 raster only (no PNG encode)": lambda: render_record(record, dpi=dpi).image,
        "ecgr1 PNG with header": lambda: render_record(record, dpi=dpi, header=True).to_bytes(),
        "ecgr1 augmented PNG (all effects)": lambda: render_record(
            record, dpi=dpi, augment_seed=1
        ).to_bytes(),
        "ecgr1 SVG": lambda: render_record(record, fmt="svg").to_bytes(),
        "ecgr1 PDF": lambda: render_record(record, fmt="pdf").to_bytes(),
        "matplotlib PNG (same page)": lambda: matplotlib_png(record, dpi),
    }
    results = {name: _time(fn, args.repeats) for name, fn in methods.items()}
    size = render_record(record, dpi=dpi).image.size
    meta = {
        "record": record.record_id,
        "dpi": dpi,
        "image_px": list(size),
        "repeats": args.repeats,
        "cpu": pinned,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(f"Record {record.record_id}, 12 leads x {record.duration_s:g} s, layout 3x4+II, "
          f"{dpi:g} DPI ({size[0]}x{size[1]} px), {args.repeats} repeats, {pinned}.\n")  # fmt: skip
    print("| method | median ms | p90 ms | min ms |\n|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['median_ms']} | {r['p90_ms']} | {r['min_ms']} |")
    base = results["ecgr1 PNG (layout + draw + encode)"]["median_ms"]
    mpl = results["matplotlib PNG (same page)"]["median_ms"]
    print(f"\necgr1 PNG median {base} ms (target <= 50 ms): "
          f"{'PASS' if base <= 50 else 'FAIL'}; matplotlib / ecgr1 = {mpl / base:.1f}x")  # fmt: skip
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
