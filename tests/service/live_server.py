"""Start the real service under uvicorn in a subprocess on a free loopback port."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.server import stop, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[2]
# The shared test server's body limit: small, so the limit tests stay fast.
BODY_LIMIT = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    port: int
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def live_server(tmp_dir: Path, **settings: str) -> Iterator[LiveServer]:
    """Run `uvicorn optadvisor.service.app:app` with OPTADVISOR_<NAME> settings until the block ends."""
    port = free_port()
    env = {**os.environ, **{f"OPTADVISOR_{name.upper()}": value for name, value in settings.items()}}
    env.pop("OPTADVISOR_API_KEY", None)
    log_path = tmp_dir / f"server-{port}.log"
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "optadvisor.service.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url=f"http://127.0.0.1:{port}", port=port, log_path=log_path)
    try:
        wait_until_ready(server.url, process, server.log, timeout=90)
        yield server
    finally:
        stop(process, timeout=20)
