"""A real ``ecgr1 serve`` process on a free loopback port, for the serve tests.

``with ServeProcess(tmp_path, "--jobs", "1") as server: httpx.get(server.url + "/v1/health")``
starts ``python -m ecgr1 serve`` in a subprocess (its temporary files in ``tmp_path/tmp``, its
log in ``tmp_path/server.log``), waits until ``/v1/health`` answers, and stops it on exit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServeProcess:
    """``ecgr1 serve`` in a subprocess; ``url``, ``tmp`` (its TMPDIR) and :meth:`log`."""

    def __init__(self, folder: Path, *args: str, startup_s: float = 90.0) -> None:
        self.folder = Path(folder)
        self.tmp = self.folder / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.log_path = self.folder / "server.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)
        self.startup_s = startup_s
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        env = dict(os.environ, TMPDIR=str(self.tmp), PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "ecgr1", "serve", "--port", str(self.port), *self.args]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ecgr1 serve exited at start:\n{self.log()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"ecgr1 serve did not answer within {self.startup_s} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def record_files(folder: Path, name: str, *suffixes: str) -> list[tuple[str, tuple[str, bytes]]]:
    """Multipart ``files`` entries of record ``folder/name`` (e.g. ``.hea``, ``.mat``)."""
    return [("files", (name + s, (folder / (name + s)).read_bytes())) for s in suffixes]


def parse_events(lines: list[tuple[float, str]]) -> list[tuple[float, str, str]]:
    """``(arrival time, event name, data)`` of Server-Sent Event lines read with their
    arrival times; an event arrives with its blank line."""
    events, name, data = [], "message", ""
    for arrived, line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data += line[6:]
        elif not line and data:
            events.append((arrived, name, data))
            name, data = "message", ""
    return events
