"""Bounded, off-event-loop execution of CPU-heavy domain work.

A request is admitted before its body is read (so a saturated server refuses it without buffering it),
then its work runs in a worker thread — numpy and torch release the GIL — while at most `workers` jobs run
and at most `queue` more wait. Past that the request gets 503 with Retry-After.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread

from optadvisor.service.metrics import Metrics
from optadvisor.service.problems import ProblemError

Params = ParamSpec("Params")
Result = TypeVar("Result")


class ComputePool:
    """Admission control plus a capacity limiter for worker threads."""

    def __init__(self, workers: int, queue: int, retry_after_seconds: int, metrics: Metrics) -> None:
        self.capacity = workers + queue
        self.retry_after_seconds = retry_after_seconds
        self.metrics = metrics
        self.admitted = 0
        self.running = 0
        self._workers = anyio.CapacityLimiter(workers)
        # Threads get their own limiter of the same size: the default one is shared with UploadFile I/O and
        # sync endpoints, and must not make admitted jobs queue a second time.
        self._threads = anyio.CapacityLimiter(workers)

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold one of the pool's places for a whole request, or refuse with 503 when none is left."""
        if self.admitted >= self.capacity:
            self.metrics.compute_rejected.inc()
            raise ProblemError(
                503,
                f"The server is busy: {self.admitted} compute jobs are running or waiting. Retry later.",
                headers={"Retry-After": str(self.retry_after_seconds)},
            )
        self.admitted += 1
        self._publish()
        try:
            yield
        finally:
            self.admitted -= 1
            self._publish()

    async def run(
        self, function: Callable[Params, Result], *args: Params.args, **kwargs: Params.kwargs
    ) -> Result:
        """Run `function` in a worker thread once a worker is free (call inside `admit`)."""
        async with self._workers:
            self.running += 1
            self._publish()
            try:
                return await anyio.to_thread.run_sync(
                    lambda: function(*args, **kwargs), limiter=self._threads
                )
            finally:
                self.running -= 1
                self._publish()

    def _publish(self) -> None:
        self.metrics.compute_running.set(self.running)
        self.metrics.compute_waiting.set(self.admitted - self.running)
