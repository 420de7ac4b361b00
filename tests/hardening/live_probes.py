"""Helpers for live-server tests: probe /healthz while something else runs; read a raw answer."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def healthz_latencies(url: str, pause: float = 0.01) -> Iterator[list[float]]:
    """Probe `url`/healthz from a thread for as long as the block runs; yields the list of probe times (s),
    filled as they come. Every probe must answer 200."""
    seconds: list[float] = []
    done = threading.Event()
    failures: list[int] = []

    def probe() -> None:
        with httpx.Client(base_url=url, timeout=30) as prober:
            while not done.is_set():
                started = time.perf_counter()
                status = prober.get("/healthz").status_code
                seconds.append(time.perf_counter() - started)
                if status != 200:
                    failures.append(status)
                time.sleep(pause)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        yield seconds
    finally:
        done.set()
        prober.join()
    assert not failures, f"/healthz answered {failures}"


def read_until_closed(connection: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection (or `seconds` pass without a byte)."""
    connection.settimeout(seconds)
    answer = b""
    try:
        while chunk := connection.recv(65536):
            answer += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return answer
