"""Start the real service under uvicorn on a free loopback port, for runs that bring their own server."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

REPOSITORY = Path(__file__).resolve().parents[2]


class ServerStartError(RuntimeError):
    """The spawned server exited or did not answer /healthz in time."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def spawned_server(timeout_seconds: float = 60.0) -> Iterator[str]:
    """Yield the base URL of ``uvicorn service.app:app`` running in a child process; stop it on exit."""
    port = free_loopback_port()
    command = [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1", "--port", str(port)]
    # The log goes to a file, not a pipe: a pipe nobody drains would block the server once full.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(process, url, log, timeout_seconds)
            yield url
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, log: IO[bytes], timeout_seconds: float
) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise ServerStartError(f"server exited with status {process.returncode}: {output[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ServerStartError(f"server at {url} did not answer /healthz within {timeout_seconds:.0f} s")
