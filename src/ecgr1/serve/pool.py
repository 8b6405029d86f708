"""CPU work off the event loop: a pool of spawned worker processes with a bounded queue.

Each slot is a one-process :class:`~concurrent.futures.ProcessPoolExecutor` (``spawn``) with
its own event queue. A request leases one slot for all its jobs (:meth:`WorkerPool.lease`);
when the pool has no free slot the request waits, unless ``max_queue`` requests already wait:
then :class:`QueueFull` (the app answers 503 with ``Retry-After``). A job that outlives the
request's deadline, or whose client went away, is stopped for real: the slot's process is
killed and a fresh one started in its place (:meth:`Slot.restart`).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from typing import Any

from ecgr1.serve import jobs


class QueueFull(Exception):
    """Every worker is busy and ``max_queue`` requests already wait."""


class TimeLimit(Exception):
    """The request ran past its time limit; its worker process was stopped."""


class WorkerLost(Exception):
    """The worker process died during a job (killed, out of memory)."""


class Slot:
    """One worker process and the queue its events come back on."""

    def __init__(self, index: int, kit: dict[str, Callable[..., Any]] | None = None) -> None:
        self.index = index
        self.kit = dict(kit or {})
        self.restarts = 0
        self.listener: tuple[asyncio.AbstractEventLoop, asyncio.Queue, str] | None = None
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.events = ctx.Queue()
        self.executor = ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=jobs.init, initargs=(self.events, self.kit)
        )
        threading.Thread(target=self._forward, args=(self.events,), daemon=True).start()

    def _forward(self, events: Any) -> None:
        """Hand the events of this slot's process to the request that leases it."""
        while True:
            try:
                item = events.get(timeout=0.5)
            except queue.Empty:
                if events is not self.events:
                    return  # the process was replaced
                continue
            except (EOFError, OSError, ValueError):
                return
            listener = self.listener
            if listener is not None and item[0] == listener[2]:
                loop, target, _ = listener
                loop.call_soon_threadsafe(target.put_nowait, item)

    def pids(self) -> list[int]:
        """Process ids of the slot's live worker (empty before it started)."""
        procs = getattr(self.executor, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.pid is not None and p.is_alive()]

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        return self.executor.submit(fn, *args, **kwargs)

    def _kill(self) -> None:
        old = self.executor
        for proc in list((getattr(old, "_processes", None) or {}).values()):
            proc.kill()  # SIGKILL: a numeric loop in C does not stop for anything gentler
        old.shutdown(wait=False, cancel_futures=True)
        try:
            self.events.close()
        except (OSError, ValueError):
            pass

    def restart(self) -> Future:
        """Stop the worker process now and start a fresh one; returns the future of its first
        job, done when the new process has started and imported the pipeline."""
        self._kill()
        self.restarts += 1
        self._start()
        return self.submit(jobs.ping)

    def close(self) -> None:
        self._kill()


class Lease:
    """A request's hold on one slot until its deadline (event-loop time)."""

    def __init__(self, slot: Slot, rid: str, deadline: float) -> None:
        self.slot, self.rid, self.deadline = slot, rid, deadline
        self.stopped = False
        self.ready: Future | None = None  # the restarted process's first job

    def remaining(self) -> float:
        return self.deadline - asyncio.get_running_loop().time()

    def listen(self) -> asyncio.Queue:
        """An asyncio queue receiving this request's events ``(rid, name, data, time)``."""
        target: asyncio.Queue = asyncio.Queue()
        self.slot.listener = (asyncio.get_running_loop(), target, self.rid)
        return target

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(rid, *args, **kwargs)`` in the slot's process; stop it at the deadline."""
        if self.stopped:
            raise WorkerLost("the worker of this request was stopped")
        if self.remaining() <= 0:
            self.stop()
            raise TimeLimit()
        future = self.slot.submit(fn, self.rid, *args, **kwargs)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.remaining())
        except (asyncio.TimeoutError, TimeoutError):
            self.stop()
            raise TimeLimit() from None
        except asyncio.CancelledError:  # the client went away
            if not future.done():
                self.stop()
            raise
        except BrokenProcessPool:
            self.stop()
            raise WorkerLost("the worker process died during the request") from None

    def stop(self) -> None:
        """Kill the slot's process (and start a fresh one), once."""
        if not self.stopped:
            self.stopped = True
            self.ready = self.slot.restart()


class WorkerPool:
    """``jobs`` worker processes and a queue of at most ``max_queue`` waiting requests."""

    def __init__(
        self, jobs: int, max_queue: int, kit: dict[str, Callable[..., Any]] | None = None
    ) -> None:
        self.max_queue = max_queue
        self.slots = [Slot(i, kit) for i in range(jobs)]
        self.waiting = 0
        self._free: asyncio.Queue | None = None
        self._restarting: set[asyncio.Future] = set()

    def _queue(self) -> asyncio.Queue:
        if self._free is None:
            self._free = asyncio.Queue()
            for slot in self.slots:
                self._free.put_nowait(slot)
        return self._free

    async def start(self) -> None:
        """Start every worker process and wait until each has imported the pipeline."""
        await asyncio.gather(*(asyncio.wrap_future(s.submit(jobs.ping)) for s in self.slots))

    def stats(self) -> dict[str, Any]:
        free = self._queue().qsize()
        return {
            "workers": len(self.slots),
            "busy": len(self.slots) - free,
            "waiting": self.waiting,
            "max_queue": self.max_queue,
            "restarts": sum(s.restarts for s in self.slots),
            "pids": [pid for s in self.slots for pid in s.pids()],
        }

    @asynccontextmanager
    async def lease(self, rid: str, deadline: float) -> AsyncIterator[Lease]:
        """Hold a worker for request ``rid`` (waiting in the queue until ``deadline``)."""
        free = self._queue()
        # Checked and counted in one step of the event loop: requests that arrive together
        # cannot all see the same free worker.
        if self.waiting >= free.qsize() + self.max_queue:
            raise QueueFull()
        self.waiting += 1
        try:
            remaining = deadline - asyncio.get_running_loop().time()
            slot = await asyncio.wait_for(free.get(), max(remaining, 0.001))
        except (asyncio.TimeoutError, TimeoutError):
            raise TimeLimit() from None
        finally:
            self.waiting -= 1
        held = Lease(slot, rid, deadline)
        try:
            yield held
        finally:
            slot.listener = None
            if held.stopped:  # free again once its new process is ready, not before
                self._restarting.add(asyncio.ensure_future(self._when_ready(slot, held.ready)))
            else:
                slot.submit(jobs.forget, rid)
                free.put_nowait(slot)

    async def _when_ready(self, slot: Slot, ready: Future | None) -> None:
        """Put a restarted slot back in the free queue when its process has started (so that
        a request never spends its time limit on a cold start, and is never stopped in it)."""
        for _ in range(3):
            try:
                if ready is not None:
                    await asyncio.wrap_future(ready)
                break
            except Exception:  # noqa: BLE001 - the new process died at start: try once more
                ready = slot.restart()
        self._queue().put_nowait(slot)

    def close(self) -> None:
        for slot in self.slots:
            slot.close()
