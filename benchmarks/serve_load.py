"""Load test of ``ecgr1 serve``: N concurrent clients on loopback posting real records.

Starts ``ecgr1 serve`` on a free loopback port (or uses ``--url``), then for each N in
``--clients`` runs N client threads for ``--seconds``, each posting CPSC 2018 records
(``.hea`` + ``.mat``, round robin) to ``POST /v1/interpret`` one after the other. A client told
503 waits the ``Retry-After`` the server sent, as a well-behaved client does. Reports, per N:
requests answered, throughput (interpretations per second), p50/p95/p99 latency of the answered
ones, 503 count and every other error (expected: none below ``jobs + max_queue`` clients; only
clean 503s above it).

    python benchmarks/serve_load.py --clients 1 8 32 --seconds 20 [--jobs 2] [--max-queue 16]
        [--records 10] [--url http://127.0.0.1:8000] [--out serve_load.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_root, markdown_table  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(jobs: int, max_queue: int, timeout_s: float) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "ecgr1", "serve", "--port", str(port), "--jobs", str(jobs)]
    cmd += ["--max-queue", str(max_queue), "--timeout", str(timeout_s), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/v1/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("ecgr1 serve did not start")


def load_records(folder: Path, n: int) -> list[list[tuple[str, tuple[str, bytes]]]]:
    heads = sorted(folder.glob("A*.hea"))[:n]
    return [
        [
            ("files", (p.name, p.read_bytes())),
            ("files", (p.stem + ".mat", p.with_suffix(".mat").read_bytes())),
        ]
        for p in heads
    ]


def run_level(url: str, records: list, clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        k = index
        with httpx.Client(timeout=300) as http:
            while time.monotonic() < stop_at:
                files = records[k % len(records)]
                k += clients
                started = time.monotonic()
                try:
                    response = http.post(
                        url + "/v1/interpret", files=files, data={"engine": "protocol"}
                    )
                    code = str(response.status_code)
                except httpx.HTTPError as exc:
                    response, code = None, type(exc).__name__
                took = time.monotonic() - started
                with lock:
                    statuses[code] = statuses.get(code, 0) + 1
                    if code == "200":
                        latencies.append(took)
                if code == "503" and response is not None:
                    time.sleep(float(response.headers.get("retry-after", "1")))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {
        "clients": clients,
        "wall_s": round(wall, 1),
        "answered": len(latencies),
        "throughput_per_s": round(len(latencies) / wall, 2),
        "p50_s": round(float(np.nanpercentile(lat, 50)), 2),
        "p95_s": round(float(np.nanpercentile(lat, 95)), 2),
        "p99_s": round(float(np.nanpercentile(lat, 99)), 2),
        "busy_503": statuses.get("503", 0),
        "other_errors": sum(v for k, v in statuses.items() if k not in ("200", "503")),
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--max-queue", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--records", type=int, default=10, help="CPSC 2018 records to cycle")
    parser.add_argument("--url", help="an ecgr1 serve already running (else one is started)")
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    root = args.data or data_root()
    if root is None:
        return 2
    records = load_records(root / "cpsc2018", args.records)
    if not records:
        raise SystemExit("no CPSC 2018 records found")
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args.jobs, args.max_queue, args.timeout)
    try:
        rows = [run_level(url, records, n, args.seconds) for n in args.clients]
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
    print(
        f"ecgr1 serve, jobs={args.jobs}, max_queue={args.max_queue}, cpu={os.cpu_count()}, "
        f"{len(records)} CPSC 2018 records, {args.seconds:g} s per level\n"
    )
    header = [
        "clients",
        "answered",
        "per second",
        "p50 s",
        "p95 s",
        "p99 s",
        "503 (busy)",
        "other errors",
    ]
    keys = [
        "clients",
        "answered",
        "throughput_per_s",
        "p50_s",
        "p95_s",
        "p99_s",
        "busy_503",
        "other_errors",
    ]
    print(markdown_table(header, [[r[k] for k in keys] for r in rows]))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    return 1 if any(r["other_errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
