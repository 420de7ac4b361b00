"""Group commit for new studies: one transaction holds the studies of every request waiting at that moment.

A request hands its row to `GroupWriter.insert` and awaits it; a single writer thread takes everything queued,
inserts it in one transaction, commits, and only then lets each request answer. So every 2xx names a
committed study, each request still costs one small insert, and under load many requests share one commit
(the database's slowest step) instead of queueing for their own.
"""

import asyncio
import logging
import queue
import threading
from typing import Any

from optadvisor.service.storage.store import Store

logger = logging.getLogger("optadvisor.storage")

# Rows per transaction at most: bounds a batch's statement and how long its first request waits.
MAX_BATCH = 256

# A study's row, its advice's row, who waits for it.
_Item = tuple[dict[str, Any], dict[str, Any], asyncio.Future[None], asyncio.AbstractEventLoop]


class StorageError(RuntimeError):
    """The database refused or failed a write; nothing of that write was committed."""


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # the request was cancelled (its client went away); its row is committed anyway
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(StorageError(str(error)))


class GroupWriter:
    """The one thread that inserts studies, in batches of whatever is waiting."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="optadvisor-study-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Write everything queued, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    async def insert(self, row: dict[str, Any], advice: dict[str, Any]) -> None:
        """Return once the study `row` (and its `advice`, unless stored already) is committed; raise
        StorageError if it could not be."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put((row, advice, future, loop))
        await future

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            error: BaseException | None = None
            try:
                self.store.insert_studies([row for row, *_ in batch], [advice for _, advice, *_ in batch])
            except Exception as failure:  # any driver error: the requests get 503, the writer goes on
                logger.error("could not store %d studies", len(batch), exc_info=failure)
                error = failure
            # One wake-up per event loop for the whole batch, not one per request.
            waiting: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
            for *_, future, loop in batch:
                waiting.setdefault(loop, []).append(future)
            for loop, futures in waiting.items():
                try:
                    loop.call_soon_threadsafe(_settle, futures, error)
                except RuntimeError:  # that event loop is closed: nobody waits for these
                    continue
