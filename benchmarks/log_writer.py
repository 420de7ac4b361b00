"""Does the service's batched log writer earn its place over the standard library's queue handlers?

A stand-in for the event loop (one thread doing pure-Python work (about 30 µs) per "request", then
writing that request's access line with ``service.logs.log_access``) runs for ``--seconds`` in a child
process whose stderr is a file, once per mode:

- ``none``: the access log disabled (the ceiling);
- ``batched``: ``service.logs`` as the service runs it (lines formatted where logged, written by one
  thread in batches every 50 ms);
- ``queue_listener``: ``logging.handlers.QueueHandler`` formatting the same JSON line where it is logged,
  and a ``QueueListener`` thread writing each line to stderr as it arrives.

The modes take turns within each of ``--repeats`` rounds; a round's figure is requests per second over the
``none`` mode's in the same round, and the report gives the median and range of each mode's ratios.

    python benchmarks/log_writer.py             # 5 rounds of 3 s per mode (about a minute)
    python benchmarks/log_writer.py --smoke     # 1 round of 0.5 s
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODES = ("none", "batched", "queue_listener")
_PAYLOAD = {
    "method": "adagrad",
    "framework": "torch",
    "kwargs": {"lr": 0.01, "eps": 1e-10},
    "plan": list(range(16)),
}


def _request_work() -> None:
    """Pure-Python work standing for a request's share of the event loop (about 30 µs unloaded)."""
    for _ in range(3):
        json.loads(json.dumps(_PAYLOAD))


def _configure(mode: str) -> logging.handlers.QueueListener | object | None:
    from optadvisor.service import logs

    writer = logs.configure_logging("json", "INFO")
    if mode == "none":
        logs.access_log.disabled = True
        return None
    if mode == "batched":
        writer.start()
        return writer
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = logging.handlers.QueueHandler(lines)
    handler.setFormatter(logs.JsonFormatter())
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter("%(message)s"))
    listener = logging.handlers.QueueListener(lines, stream)
    listener.start()
    logs.access_log.handlers = [handler]
    logs.access_log.propagate = False
    return listener


def child(mode: str, seconds: float) -> None:
    """Run one mode and print its requests per second."""
    from optadvisor.service.logs import log_access

    running = _configure(mode)
    served, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        _request_work()
        log_access(
            "POST", "/v1/recommendations", 200, route="/v1/recommendations", duration_ms=0.4, request_id="x"
        )
        served += 1
    elapsed = time.perf_counter() - start
    if isinstance(running, logging.handlers.QueueListener):
        running.stop()
    elif running is not None:
        running.stop()  # type: ignore[attr-defined]
    print(served / elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    seconds = arguments.seconds or (0.5 if arguments.smoke else 3.0)
    if arguments.child:
        child(arguments.child, seconds)
        return
    repeats = arguments.repeats or (1 if arguments.smoke else 5)
    ratios: dict[str, list[float]] = {mode: [] for mode in MODES}
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    for round_index in range(repeats):
        order = MODES if round_index % 2 == 0 else tuple(reversed(MODES))
        measured = {}
        for mode in order:
            with tempfile.TemporaryFile() as stderr:
                result = subprocess.run(
                    [sys.executable, __file__, "--child", mode, "--seconds", str(seconds)],
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    check=True,
                )
            measured[mode] = float(result.stdout)
        for mode in MODES:
            rates[mode].append(measured[mode])
            ratios[mode].append(measured[mode] / measured["none"])
    for mode in MODES:
        values = ratios[mode]
        print(
            f"{mode:15s} {statistics.median(rates[mode]):9.0f} requests/s  ratio to none "
            f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f}) over {repeats} rounds"
        )


if __name__ == "__main__":
    main()
