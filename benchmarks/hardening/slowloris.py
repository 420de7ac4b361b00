"""Header trickling (slowloris) against `optadvisor serve`: how long slow sockets live, what probes get
meanwhile (the request-head deadline, OPTADVISOR_REQUEST_HEAD_TIMEOUT, answers them 408 and closes them).

    python benchmarks/hardening/slowloris.py           # 40 sockets, one header line every 2 s for 30 s,
                                                       #   limit_concurrency 32 (fewer than the sockets)
    python benchmarks/hardening/slowloris.py --smoke   # 4 sockets for 3 s, limit_concurrency 2 (CI)

Writes benchmarks/results/hardening_slowloris.json (full mode) and prints it. The figures document the
behaviour; there is no pass/fail beyond the server still answering once the sockets are gone.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.server import REPOSITORY, running_server

RESULTS = REPOSITORY / "benchmarks" / "results" / "hardening_slowloris.json"


def _state(connection: socket.socket) -> str:
    """ "open" (nothing from the server yet), "408" (answered at the head deadline), or "closed"."""
    connection.setblocking(False)
    try:
        answer = connection.recv(65536)
    except BlockingIOError:
        return "open"
    except OSError:
        return "closed"
    finally:
        connection.setblocking(True)
    return "408" if answer.startswith(b"HTTP/1.1 408") else "closed"


def measure(
    sockets: int, seconds: float, interval: float, limit_concurrency: int, log_dir: Path
) -> dict[str, Any]:
    settings = {
        "limit_concurrency": str(limit_concurrency),
        "timeout_keep_alive": "5",
        "log_level": "WARNING",
    }
    probes: Counter[str] = Counter()
    with running_server(log_dir, settings) as server:
        slow = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(sockets)]
        for connection in slow:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        line = 0
        while time.monotonic() - started < seconds:
            for connection in slow:
                # A socket the server has closed is simply counted at the end.
                with contextlib.suppress(OSError):
                    connection.sendall(f"X-Slow-{line}: a\r\n".encode())
            line += 1
            try:
                probes[str(httpx.get(f"{server.url}/healthz", timeout=5).status_code)] += 1
            except httpx.TransportError as error:
                probes[type(error).__name__] += 1
            time.sleep(interval)
        at_end = Counter(_state(connection) for connection in slow)
        for connection in slow:
            connection.close()
        time.sleep(0.5)
        healthy_after = httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    return {
        "slow_sockets": sockets,
        "seconds": seconds,
        "header_line_interval_s": interval,
        "limit_concurrency": limit_concurrency,
        "timeout_keep_alive_s": 5,
        "slow_sockets_still_open_at_end": at_end["open"],
        "slow_sockets_answered_408": at_end["408"],
        "healthz_outcomes_during": dict(probes),
        "healthy_after_sockets_closed": healthy_after,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as logs:
        if args.smoke:
            figures = measure(4, 3.0, 0.5, 2, Path(logs))
        else:
            figures = measure(40, 30.0, 2.0, 32, Path(logs))
            RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0 if figures["healthy_after_sockets_closed"] else 1


if __name__ == "__main__":
    sys.exit(main())
