"""Log lines as JSON objects (or plain text), each carrying the id of the request being served.

Records are formatted and written by a background thread (QueueHandler -> QueueListener): the event loop
only queues them, so a slow or full stderr never stalls request handling, and the per-request access
line costs the loop a few microseconds instead of a JSON encoding and a write system call.
"""

import copy
import json
import logging
import logging.handlers
import queue
import sys
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
    """Queues a copy of each record with its message, traceback text and request id resolved now, in the
    request's context: the writer thread has no request context, and the arguments may change later."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        prepared = copy.copy(record)
        prepared.msg, prepared.args = record.getMessage(), None
        if record.exc_info:
            prepared.exc_text = _TRACEBACKS.formatException(record.exc_info)
            prepared.exc_info = None
        if getattr(record, "request_id", None) is None:
            prepared.request_id = request_id_var.get()
        return prepared


_TRACEBACKS = logging.Formatter()


_LOGGERS = ("optadvisor", "uvicorn", "uvicorn.error")


class BackgroundLogWriter:
    """Writes the service's and uvicorn's log records from a background thread while the app runs."""

    def __init__(self, writer: logging.Handler) -> None:
        self._writer = writer
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._handler = _RequestIdQueueHandler(records)
        self._listener = logging.handlers.QueueListener(records, writer)

    def start(self) -> None:
        """Queue records from now on; the thread writes them."""
        self._listener.start()
        _route(self._handler)

    def stop(self) -> None:
        """Write what is queued, then write directly: uvicorn still logs after the app is gone (start-up
        failures, the end of the shutdown), when no thread would be left to write it."""
        self._listener.stop()
        _route(self._writer)


def _route(handler: logging.Handler) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).handlers = [handler]


def configure_logging(log_format: Literal["json", "text"], level: str) -> BackgroundLogWriter:
    """Set the service's and uvicorn's loggers to `level`, written to stderr in the chosen format by the
    returned writer (records are written directly until it starts)."""
    writer = logging.StreamHandler(sys.stderr)
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
    return BackgroundLogWriter(writer)


def _stamp_request_id(record: logging.LogRecord) -> bool:
    # Written directly, a record is formatted in its request's context; queued ones were stamped already.
    if getattr(record, "request_id", None) is None:
        record.request_id = request_id_var.get()
    return True
