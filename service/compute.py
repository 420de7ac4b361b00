"""Bounded, off-event-loop execution of CPU-heavy domain work, admitted by what it costs.

A request first receives its whole body (counted against `BodyBudget` by the body guard, not here), and only
then asks `ComputePool.run` for a worker: so a slow sender holds no compute place. At most `workers` jobs run
in worker threads (numpy and torch release the GIL); up to `queue` more wait their turn in order, each for at
most `queue_timeout` seconds. A running job reports, before allocating, the memory it expands to (parsed JSON,
decompressed and densified arrays, the profile's temporaries, the replay state) and the work it is about to
do; `JobBudget` holds it to the pool's memory, to the per-request work limit and to a deadline. Past any of
these the request gets 413 (it can never fit) or 503 with Retry-After (it does not fit now).
"""

import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from optadvisor.profiler.limits import compute_budget
from optadvisor.service.allocator import release_free_memory
from optadvisor.service.metrics import Metrics
from optadvisor.service.problems import ProblemError

Params = ParamSpec("Params")
Result = TypeVar("Result")

MIB = 1024 * 1024
# After a job that held this much, freed memory is handed back to the OS.
RELEASE_AFTER_BYTES = 64 * MIB


def _mib(nbytes: int) -> str:
    return f"{nbytes / MIB:,.0f} MiB"


class MemoryBudget:
    """Bytes that running jobs may hold beyond their request bodies, shared by the pool's worker threads.

    A job that does not fit waits while another job runs (it will give memory back), at most until its
    timeout; when every other running job is itself waiting, nobody would give memory back, so it is refused
    at once instead (no deadlock).
    """

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self.metrics = metrics
        self.reserved = 0
        self.holders = 0
        self._waiting = 0
        self._changed = threading.Condition()

    def open(self) -> None:
        """A job starts holding memory."""
        with self._changed:
            self.holders += 1

    def take(self, nbytes: int, held: int, what: str, wait_until: float, retry_after: int) -> None:
        """Reserve `nbytes` more for `what` for a job that holds `held`, waiting until the monotonic time
        `wait_until` at most."""
        if held + nbytes > self.capacity:
            raise ProblemError(
                413,
                f"This request needs about {_mib(held + nbytes)} once {what} is counted, more than the "
                f"{_mib(self.capacity)} all running jobs may hold (OPTADVISOR_COMPUTE_MEMORY_BYTES); "
                "send fewer or smaller gradient groups.",
            )
        with self._changed:
            while self.reserved + nbytes > self.capacity:
                remaining = wait_until - time.monotonic()
                if remaining <= 0 or self._waiting + 1 >= self.holders:
                    raise _busy(
                        f"the memory for {what} ({_mib(nbytes)}) is held by other requests", retry_after
                    )
                self._waiting += 1
                try:
                    self._changed.wait(remaining)
                finally:
                    self._waiting -= 1
            self.reserved += nbytes
            self.metrics.compute_memory_reserved.set(self.reserved)

    def close(self, nbytes: int) -> None:
        """A job that held `nbytes` ends."""
        with self._changed:
            self.reserved -= nbytes
            self.holders -= 1
            self.metrics.compute_memory_reserved.set(self.reserved)
            self._changed.notify_all()


class JobBudget:
    """One running job's grant (a `profiler.limits.ComputeBudget`): memory from the pool, work up to the
    per-request limit, time up to the deadline."""

    def __init__(self, pool: "ComputePool") -> None:
        self.pool = pool
        self.reserved = 0
        self.work = 0
        started = time.monotonic()
        self.deadline = started + pool.compute_timeout
        self.wait_until = started + pool.queue_timeout

    def reserve_memory(self, nbytes: int, what: str) -> None:
        self.pool.memory.take(nbytes, self.reserved, what, self.wait_until, self.pool.retry_after_seconds)
        self.reserved += nbytes

    def charge_work(self, units: int, what: str) -> None:
        self.work += units
        if self.work > self.pool.max_work:
            raise ProblemError(
                413,
                f"This request asks for {self.work:,} units of work ({what}), more than the "
                f"{self.pool.max_work:,} one request may use (OPTADVISOR_MAX_COMPUTE_WORK; a unit is one "
                "coordinate through one optimizer step); send fewer runs, steps or distinct step counts.",
            )

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise _busy(
                f"the request ran out of its {self.pool.compute_timeout:g} s of compute time "
                "(OPTADVISOR_COMPUTE_TIMEOUT)",
                self.pool.retry_after_seconds,
            )


def _busy(reason: str, retry_after: int) -> ProblemError:
    return ProblemError(
        503, f"The server is busy: {reason}. Retry later.", headers={"Retry-After": str(retry_after)}
    )


class ComputePool:
    """Admission to the worker threads, and the budgets of the jobs running in them."""

    def __init__(  # noqa: PLR0913  keyword-only settings the app passes by name
        self,
        *,
        workers: int,
        queue: int,
        queue_timeout: float,
        memory_bytes: int,
        max_work: int,
        compute_timeout: float,
        retry_after_seconds: int,
        metrics: Metrics,
    ) -> None:
        self.workers = workers
        self.queue = queue
        self.queue_timeout = queue_timeout
        self.max_work = max_work
        self.compute_timeout = compute_timeout
        self.retry_after_seconds = retry_after_seconds
        self.metrics = metrics
        self.memory = MemoryBudget(memory_bytes, metrics)
        self.running = 0
        self.waiting = 0
        # FIFO: anyio's limiter wakes waiters in arrival order, so small jobs are not overtaken.
        self._workers = anyio.CapacityLimiter(workers)
        # Threads get their own limiter of the same size: the default one is shared with UploadFile I/O and
        # sync endpoints, and must not make admitted jobs queue a second time.
        self._threads = anyio.CapacityLimiter(workers)

    async def run(
        self,
        function: Callable[Params, Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        """Run `function` in a worker thread once a worker is free, under a `JobBudget` that the profiler
        and the body parser report to (`profiler.limits.compute_budget`)."""
        if self.running >= self.workers and self.waiting >= self.queue:
            self.metrics.compute_rejected.inc()
            raise _busy(
                f"{self.running} compute jobs are running and {self.waiting} waiting",
                self.retry_after_seconds,
            )
        self.waiting += 1
        self._publish()
        queued = time.monotonic()
        try:
            with anyio.fail_after(self.queue_timeout):
                await self._workers.acquire()
            self.metrics.compute_wait.observe(time.monotonic() - queued)
        except TimeoutError:
            self.metrics.compute_rejected.inc()
            raise _busy(
                f"no compute worker became free within {self.queue_timeout:g} s", self.retry_after_seconds
            ) from None
        finally:
            self.waiting -= 1
            self._publish()
        try:
            self.running += 1
            self._publish()
            return await anyio.to_thread.run_sync(
                lambda: self._within_budget(function, *args, **kwargs), limiter=self._threads
            )
        finally:
            self.running -= 1
            self._workers.release()
            self._publish()

    def _within_budget(
        self,
        function: Callable[Params, Result],
        *args: Params.args,
        **kwargs: Params.kwargs,
    ) -> Result:
        budget = JobBudget(self)
        self.memory.open()
        try:
            with compute_budget(budget):
                return function(*args, **kwargs)
        finally:
            self.memory.close(budget.reserved)
            # What a large job freed goes back to the OS rather than staying in the allocator's free lists,
            # so the process returns to its idle size between bursts.
            if budget.reserved >= RELEASE_AFTER_BYTES:
                release_free_memory()

    def _publish(self) -> None:
        self.metrics.compute_running.set(self.running)
        self.metrics.compute_waiting.set(self.waiting)


class BodyBudget:
    """Bytes of request bodies held in memory at once (being received, waiting or being worked on), counted
    by the body guard as they arrive. Used only on the event loop."""

    def __init__(self, capacity: int, metrics: Metrics) -> None:
        self.capacity = capacity
        self.metrics = metrics
        self.held = 0

    def fits(self, nbytes: int) -> bool:
        """Whether `nbytes` more would fit now."""
        return self.held + nbytes <= self.capacity

    def take(self, nbytes: int) -> bool:
        """Hold `nbytes` more, or return False (holding nothing more) when they do not fit."""
        if not self.fits(nbytes):
            return False
        self.held += nbytes
        self.metrics.body_bytes_held.set(self.held)
        return True

    def give_back(self, nbytes: int) -> None:
        self.held -= nbytes
        self.metrics.body_bytes_held.set(self.held)
