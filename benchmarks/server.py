"""Run `optadvisor serve` (the CLI, so every OPTADVISOR_* setting applies) in a child process on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

REPOSITORY = Path(__file__).resolve().parents[1]


class ServerStartError(RuntimeError):
    """The server exited or did not become ready in time."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    """A spawned server: where it listens, its process and its log file."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def rss_bytes(self) -> int:
        """Resident memory of the server process now."""
        return int(psutil.Process(self.process.pid).memory_info().rss)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_server(
    log_dir: Path,
    settings: Mapping[str, str] | None = None,
    ready_timeout: float = 90.0,
    module: str = "optadvisor.service.cli",
) -> Iterator[RunningServer]:
    """Yield a ready server configured by `settings` ({"compute_workers": "4"} → OPTADVISOR_COMPUTE_WORKERS).

    `module` is run as `python -m <module> serve`; another module serving another app must answer GET /readyz.

    Inherited OPTADVISOR_* variables are dropped so that only `settings` configure it. On exit the server
    gets SIGTERM (then SIGKILL if it is still running after its graceful timeout plus a margin).
    """
    port = free_loopback_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("OPTADVISOR_")}
    # Each server stores its studies in a fresh SQLite file beside its log, unless told otherwise.
    env["OPTADVISOR_DATABASE_URL"] = f"sqlite:///{log_dir.resolve() / f'studies-{port}.db'}"
    env.update({f"OPTADVISOR_{name.upper()}": value for name, value in (settings or {}).items()})
    env["OPTADVISOR_HOST"] = "127.0.0.1"
    env["OPTADVISOR_PORT"] = str(port)
    log_path = log_dir / f"server-{port}.log"
    command = [sys.executable, "-m", module, "serve"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPOSITORY, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path)
    try:
        wait_until_ready(server.url, process, server.log, ready_timeout)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 40.0) -> int:
    """SIGTERM the server unless it has exited; return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def wait_until_ready(
    url: str, process: subprocess.Popen[bytes], log: Callable[[], str], timeout: float
) -> None:
    """Poll `url`/readyz until it answers 200; ServerStartError (with the log's tail) if the process exits
    or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"server exited with {process.returncode}:\n{log()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise ServerStartError(f"server at {url} was not ready within {timeout:.0f} s:\n{log()[-3000:]}")
