"""Log lines as JSON objects (or plain text), each carrying the id of the request being served.

Records are formatted and written in batches by a background thread: the event loop only queues them, so a
slow or full stderr never stalls request handling, and the per-request access line costs the loop a few
microseconds instead of a JSON encoding and a write system call.
"""

import json
import logging
import logging.handlers
import queue
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the line.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        line.update({key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines with the request id."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return super().format(record)


class _RequestIdQueueHandler(logging.handlers.QueueHandler):
    """Queues each record with its message, traceback text and request id resolved now, in the request's
    context: the writer thread has no request context, and the arguments may change later. The record is
    changed in place (no copy): this is the only handler of every logger it serves."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg, record.args = record.getMessage(), None
        if record.exc_info:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
            record.exc_info = None
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        return record


_TRACEBACKS = logging.Formatter()


_LOGGERS = ("optadvisor", "uvicorn", "uvicorn.error")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr through its own block buffer; while `holding`, lines stay in the buffer, so a batch
    leaves in one write instead of one system call per line (sys.stderr is line-buffered)."""

    def __init__(self) -> None:
        # Lives as long as the process, and leaves fd 2 open when collected (closefd=False).
        stream = open(  # noqa: SIM115
            sys.stderr.fileno(),
            "w",
            buffering=1 << 16,
            encoding="utf-8",
            errors="backslashreplace",
            closefd=False,
        )
        super().__init__(stream)
        self.holding = False

    def flush(self) -> None:
        if not self.holding:
            super().flush()


# Under load a record arrives every few hundred microseconds. Woken for each (a QueueListener), the writer
# took the GIL and the CPU from the event loop: declared profiles ran at 2,400 requests/s, against 3,800
# with no access log, and 2,800 gathering for this long (a few dozen wake-ups a second; wrk, 32
# connections). Lines reach stderr at most this late.
_GATHER_SECONDS = 0.05
_STOP = logging.makeLogRecord({"msg": "stop"})


class BackgroundLogWriter:
    """Writes the service's and uvicorn's log records from a background thread while the app runs."""

    def __init__(self, writer: _StderrHandler, records: "queue.SimpleQueue[logging.LogRecord]") -> None:
        self._writer = writer
        self._records = records
        self._handler = _RequestIdQueueHandler(records)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Queue records from now on; the thread writes them."""
        self._thread = threading.Thread(target=self._write_batches, name="optadvisor-log-writer", daemon=True)
        self._thread.start()
        _route(self._handler)

    def stop(self) -> None:
        """Write what is queued, then write directly: uvicorn still logs after the app is gone (start-up
        failures, the end of the shutdown), when no thread would be left to write it."""
        if self._thread is not None:
            self._records.put(_STOP)
            self._thread.join()
            self._thread = None
        _route(self._writer)

    def _write_batches(self) -> None:
        while True:
            batch = [self._records.get()]
            time.sleep(_GATHER_SECONDS)
            while not self._records.empty():
                batch.append(self._records.get_nowait())
            self._writer.holding = True
            try:
                for record in batch:
                    if record is _STOP:
                        return
                    self._writer.handle(record)
            finally:
                self._writer.holding = False
                self._writer.flush()


def _route(handler: logging.Handler) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).handlers = [handler]


def configure_logging(log_format: Literal["json", "text"], level: str) -> BackgroundLogWriter:
    """Set the service's and uvicorn's loggers to `level`, written to stderr in the chosen format by the
    returned writer (records are written directly until it starts)."""
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = _StderrHandler()
    if log_format == "json":
        writer.setFormatter(JsonFormatter())
    else:
        writer.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    writer.addFilter(_stamp_request_id)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
    _route(writer)
    # The service writes its own access line with the request id; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
    return BackgroundLogWriter(writer, records)


def _stamp_request_id(record: logging.LogRecord) -> bool:
    # Written directly, a record is formatted in its request's context; queued ones were stamped already.
    if getattr(record, "request_id", None) is None:
        record.request_id = request_id_var.get()
    return True
