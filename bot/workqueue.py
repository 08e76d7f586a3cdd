"""The bounded work queue behind "acknowledge first" (DESIGN.md §2; issue: ack within 3 s).

The adapters acknowledge a request on the event loop before any database or Web API call, then
hand the work here. Two limits keep a burst from turning into timeouts or unbounded memory:

- `limit` jobs admitted at once (queued or running). Past it `admit()` says no and the adapter
  answers "busy, try again in a moment" through the acknowledgement itself.
- `workers` threads for the synchronous core (the database, and the core's own platform calls).
  Everything else an adapter waits on (lookups, replies) is awaited on the loop and holds no
  thread, so the thread count only has to match the database pool.
- A form lane of its own (`FORM_WORKERS` threads) for work whose answer is a form, which has to
  reach the platform within 3 s whatever else is queued.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger("dojo.work")
T = TypeVar("T")

BUSY = "I'm busy with a burst of requests right now: please try again in a moment."
DEFAULT_WORKERS = 8
FORM_WORKERS = 2  # threads of the form lane (the database pool counts them too)
DEFAULT_LIMIT = 200  # about 2 s of work at the rate one process keeps up with: past it, say so


@dataclass
class WorkStats:
    admitted: int = 0
    refused: int = 0
    failed: int = 0


class WorkQueue:
    """Admission, a bounded thread pool and the set of running jobs, for one process."""

    def __init__(self, workers: int = DEFAULT_WORKERS, limit: int = DEFAULT_LIMIT) -> None:
        if workers < 1 or limit < 1:
            raise ValueError("workers and limit must be at least 1")
        self.workers = workers
        self.limit = limit
        self.stats = WorkStats()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dojo-core")
        # work that opens a form: the platform's trigger expires in 3 s (Slack `trigger_id`,
        # Discord's first response), so it must not queue behind a burst of other work
        self._forms = ThreadPoolExecutor(max_workers=FORM_WORKERS, thread_name_prefix="dojo-form")
        self._jobs: set[asyncio.Task[None]] = set()
        self._reserved = 0

    @property
    def in_flight(self) -> int:
        """Jobs admitted and not finished (queued for a worker, running, or answering)."""
        return self._reserved

    def full(self) -> bool:
        return self._reserved >= self.limit

    def admit(self, force: bool = False) -> bool:
        """Reserve a place for one job; False (counted as refused) when the queue is full.
        `force`: for work already acknowledged that cannot be refused any more (an event Slack
        will not send again); it may pass the limit by the few that slipped past the gate.
        Call on the event loop; every True must be followed by `spawn`."""
        if self.full() and not force:
            self.stats.refused += 1
            return False
        self._reserved += 1
        self.stats.admitted += 1
        return True

    def spawn(self, job: Coroutine[Any, Any, None], what: str) -> None:
        """Run an admitted job as a task; its place is freed when it ends, however it ends.
        An exception is logged here (the request was acknowledged long ago)."""

        async def tracked() -> None:
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception:
                self.stats.failed += 1
                log.exception("failed to handle a %s", what)
            finally:
                self._reserved -= 1

        task = asyncio.get_running_loop().create_task(tracked())
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)

    async def run_sync(self, call: Callable[..., T], *args: Any, opens_form: bool = False) -> T:
        """`call(*args)` on one of the core's worker threads; waits without holding the loop.
        `opens_form`: on the form lane, which a burst of other work does not hold up."""
        pool = self._forms if opens_form else self._pool
        return await asyncio.get_running_loop().run_in_executor(pool, call, *args)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let running jobs finish (a shutdown must not cut a vote in half), then stop the
        pool. Jobs still running after `timeout` seconds are cancelled."""
        if self._jobs:
            _, pending = await asyncio.wait(set(self._jobs), timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("cancelled %d job(s) still running at shutdown", len(pending))
                await asyncio.wait(pending, timeout=1.0)
        for pool in (self._pool, self._forms):
            await asyncio.to_thread(pool.shutdown, True, cancel_futures=True)


def shutdown_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT, so a server stops the way `drain` expects (stop
    taking requests, finish those in flight) instead of dying mid-request. Call on the loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
