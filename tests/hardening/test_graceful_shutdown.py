"""SIGTERM while 20 requests are in flight: every one of them finishes with 200, then the process exits."""

import io
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from benchmarks.server import RunningServer, running_server

IN_FLIGHT = 20
GRACEFUL_SECONDS = 60
# Twenty profiles of this size keep 4 workers busy for a few seconds on a 2-core machine.
STEPS, COORDINATES = 96, 16384


def _gradient_file() -> bytes:
    values = np.random.default_rng(0).normal(0.0, 0.01, (STEPS, COORDINATES)).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()


def _admitted(server: RunningServer) -> int:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    gauges = re.findall(r"^optadvisor_compute_(?:running|waiting) (\S+)$", text, re.MULTILINE)
    return int(sum(float(value) for value in gauges))


def _wait_for_admitted(server: RunningServer, count: int) -> None:
    deadline = time.monotonic() + 60
    while _admitted(server) < count:
        assert time.monotonic() < deadline, "the requests were never all admitted"
        time.sleep(0.02)


def test_sigterm_lets_in_flight_requests_finish(tmp_path: Path) -> None:
    settings = {
        "compute_workers": "4",
        "compute_queue": str(IN_FLIGHT - 4),
        "timeout_graceful_shutdown": str(GRACEFUL_SECONDS),
        "log_format": "text",
    }
    upload = _gradient_file()
    with running_server(tmp_path, settings) as server:

        def profile() -> int:
            files = {"gradients": ("layer.npy", upload)}
            return httpx.post(f"{server.url}/v1/profiles", files=files, timeout=120).status_code

        with ThreadPoolExecutor(IN_FLIGHT) as clients:
            pending = [clients.submit(profile) for _ in range(IN_FLIGHT)]
            _wait_for_admitted(server, IN_FLIGHT)
            assert not any(future.done() for future in pending)
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            statuses = [future.result() for future in pending]
            exit_status = server.process.wait(timeout=GRACEFUL_SECONDS + 10)
            stopped_after = time.monotonic() - signalled

        assert statuses == [200] * IN_FLIGHT
        # uvicorn re-raises the signal once it has shut down cleanly, so a supervisor sees "terminated by
        # SIGTERM" (143 in a shell) rather than a crash; a forced kill or an error would differ.
        assert exit_status == -signal.SIGTERM, server.log()[-3000:]
        assert stopped_after < GRACEFUL_SECONDS
        log = server.log()
        assert "Waiting for application shutdown" in log or "Application shutdown complete" in log, log[
            -3000:
        ]
        assert "Traceback" not in log
