"""`optadvisor serve --workers 2`: two worker processes share the port and both answer; a worker that dies is
replaced; SIGTERM lets the in-flight requests of both finish before everything exits."""

from __future__ import annotations

import io
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil

from benchmarks.server import running_server
from benchmarks.worker_throughput import ENDPOINT, listening_workers, on_fresh_connection, varied_body

CONNECTIONS = 40


def test_two_workers_listen_and_both_answer(tmp_path: Path) -> None:
    with running_server(tmp_path, {"workers": "2", "log_format": "text"}) as server:
        workers = listening_workers(server.process.pid, server.port, expected=2)
        pids = {worker.pid for worker in workers}
        assert len(pids) == 2 and server.process.pid not in pids
        answered_by = []
        for number in range(CONNECTIONS):
            status, _, pid = on_fresh_connection(server, workers, ENDPOINT, varied_body(number))
            assert status == 200
            answered_by.append(pid)
        # Each connection is hashed to one of the two sockets: all 40 on one worker has odds of 2 in 2^40.
        assert set(answered_by) == pids


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    with running_server(tmp_path, {"workers": "2", "log_format": "text"}) as server:
        first = listening_workers(server.process.pid, server.port, expected=2)
        first[0].kill()
        deadline = time.monotonic() + 90
        while True:
            now = {worker.pid for worker in listening_workers(server.process.pid, server.port, expected=2)}
            if len(now) == 2 and first[0].pid not in now:
                break
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        assert first[1].pid in now
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
        assert "exited (-9); starting another" in server.log()


def _gradient_file() -> bytes:
    values = np.random.default_rng(0).normal(0.0, 0.01, (96, 16384)).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, values)
    return buffer.getvalue()


def test_sigterm_lets_both_workers_finish_in_flight_requests(tmp_path: Path) -> None:
    in_flight = 8
    settings = {
        "workers": "2",
        "compute_workers": "1",
        "compute_queue": str(in_flight),
        "timeout_graceful_shutdown": "60",
        "log_format": "text",
    }
    upload = _gradient_file()
    with running_server(tmp_path, settings) as server:
        workers = listening_workers(server.process.pid, server.port, expected=2)

        def profile() -> int:
            files = {"gradients": ("layer.npy", upload)}
            return httpx.post(f"{server.url}/v1/profiles", files=files, timeout=120).status_code

        with ThreadPoolExecutor(in_flight) as clients:
            pending = [clients.submit(profile) for _ in range(in_flight)]
            deadline = time.monotonic() + 60
            while _established(workers, server.port) < in_flight:
                assert time.monotonic() < deadline, "the requests never all reached the workers"
                time.sleep(0.02)
            assert not all(future.done() for future in pending)
            server.process.send_signal(signal.SIGTERM)
            statuses = [future.result() for future in pending]
            exit_status = server.process.wait(timeout=90)

        assert statuses == [200] * in_flight
        # Like uvicorn with one process, the supervisor exits by the signal it was sent once all is done.
        assert exit_status == -signal.SIGTERM, server.log()[-3000:]
        assert not any(worker.is_running() for worker in workers)
        log = server.log()
        assert log.count("Application shutdown complete") == 2, log[-3000:]
        assert "2 workers stopped" in log
        assert "Traceback" not in log


def _established(workers: list[psutil.Process], port: int) -> int:
    return sum(
        1
        for worker in workers
        for connection in worker.net_connections(kind="tcp")
        if connection.status == psutil.CONN_ESTABLISHED and connection.laddr.port == port
    )
