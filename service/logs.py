"""Log lines as JSON objects (or plain text), each carrying the id of the request being served.

Records are formatted where they are logged and written in batches by a background thread: the event loop
only queues lines, so a slow or full stderr never stalls request handling, and the per-request access line
costs the loop its formatting but no write system call.

Why not the standard library's ``logging.handlers.QueueHandler`` and ``QueueListener``, which do the
queueing: the listener wakes for every record and writes it with its own system call, and under load that
thread took the GIL and the CPU from the event loop. Measured with ``benchmarks/service_throughput.py``'s
wrk load (declared target, 32 connections, 10 s runs; benchmarks/README.md): 2,422 requests/s with a
``QueueListener``, 2,825 requests/s with this writer gathering lines for 50 ms and writing each batch in one
system call (+17%), and about 3,800 with no access log at all. Re-measured without the server by
``benchmarks/log_writer.py`` (a loop of ~30 µs requests, each writing its access line; 7 alternating rounds,
two runs at load average 1.6-3.0): this writer 0.62 (0.46-0.69) and 0.54 (0.50-0.58) of the no-log rate,
``QueueListener`` 0.42 (0.35-0.53) and 0.43 (0.38-0.46). Those figures are what keep this writer.
"""

import contextlib
import json
import logging
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


class _FormattingQueueHandler(logging.Handler):
    """Formats each record at once, in the context that logged it (the writer thread has no request
    context, and a record's arguments may change later), and queues the line for the writer. Formatting in
    the writer thread instead measured no cheaper for the event loop: both hold the same GIL."""

    def __init__(self, lines: "queue.SimpleQueue[str | None]", formatter: logging.Formatter) -> None:
        super().__init__()
        self.lines = lines
        self.setFormatter(formatter)
        self.addFilter(_stamp_request_id)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.put(self.format(record))
        except Exception:
            self.handleError(record)

    def handle(self, record: logging.LogRecord) -> bool:
        # No lock: SimpleQueue.put is thread-safe, and the formatter keeps no state between records.
        if not self.filter(record):
            return False
        self.emit(record)
        return True


_LOGGERS = ("optadvisor", "uvicorn", "uvicorn.error")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr through its own block buffer, so that a batch leaves in one write instead of one
    system call per line (sys.stderr is line-buffered)."""

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

    def write_lines(self, lines: list[str | None]) -> None:
        """Write formatted lines (skipping the writer's stop marker, None) and flush them."""
        with self.lock or contextlib.nullcontext():
            try:
                self.stream.write("".join(line + self.terminator for line in lines if line is not None))
                self.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": "writing the log lines failed"}))


# Under load a record arrives every few hundred microseconds. Woken for each (a QueueListener), the writer
# took the GIL and the CPU from the event loop: declared profiles ran at 2,400 requests/s, against 3,800
# with no access log, and 2,800 gathering for this long (a few dozen wake-ups a second; wrk, 32
# connections). Lines reach stderr at most this late.
_GATHER_SECONDS = 0.05


class BackgroundLogWriter:
    """Writes the service's and uvicorn's log lines from a background thread while the app runs."""

    def __init__(self, writer: _StderrHandler) -> None:
        self._writer = writer
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._handler = _FormattingQueueHandler(self._lines, writer.formatter or logging.Formatter())
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Queue lines from now on; the thread writes them."""
        self._thread = threading.Thread(target=self._write_batches, name="optadvisor-log-writer", daemon=True)
        self._thread.start()
        _route(self._handler)

    def stop(self) -> None:
        """Write what is queued, then write directly: uvicorn still logs after the app is gone (start-up
        failures, the end of the shutdown), when no thread would be left to write it."""
        if self._thread is not None:
            self._lines.put(None)
            self._thread.join()
            self._thread = None
        _route(self._writer)
        # Lines other threads queued after the stop marker.
        self._writer.write_lines(self._drain([]))

    def _drain(self, queued: list[str | None]) -> list[str | None]:
        """`queued` followed by every line in the queue now."""
        while not self._lines.empty():
            queued.append(self._lines.get_nowait())
        return queued

    def _write_batches(self) -> None:
        while True:
            first = self._lines.get()
            if first is not None:
                time.sleep(_GATHER_SECONDS)
            batch = self._drain([first])
            self._writer.write_lines(batch)
            if None in batch:
                return


def _route(handler: logging.Handler) -> None:
    for name in _LOGGERS:
        logging.getLogger(name).handlers = [handler]


def configure_logging(log_format: Literal["json", "text"], level: str) -> BackgroundLogWriter:
    """Set the service's and uvicorn's loggers to `level`, written to stderr in the chosen format by the
    returned writer (records are written directly until it starts)."""
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
    return BackgroundLogWriter(writer)


access_log = logging.getLogger("optadvisor.access")


def log_access(
    method: str, path: str, status: int, *, route: str, duration_ms: float, request_id: str
) -> None:
    """Write the access line of one served request.

    The record is built directly: `Logger.info`'s caller lookup and `extra` checks cost as much again as
    the record itself, on every request.
    """
    if not access_log.isEnabledFor(logging.INFO):
        return
    record = logging.LogRecord(access_log.name, logging.INFO, "", 0, "%s %s %d", (method, path, status), None)
    record.__dict__.update(status=status, route=route, duration_ms=duration_ms, request_id=request_id)
    access_log.handle(record)


def _stamp_request_id(record: logging.LogRecord) -> bool:
    if getattr(record, "request_id", None) is None:
        record.request_id = request_id_var.get()
    return True
