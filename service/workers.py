"""`optadvisor serve --workers N`: N server processes on one port, each with its own listening socket.

uvicorn's own `--workers` hands one listening socket to every process, and whichever process wins the race to
accept takes the connection: in 3 of 4 runs all of a benchmark's connections landed on one worker. Here every
worker binds its own socket with SO_REUSEPORT, and the kernel spreads incoming connections across the sockets
of the port by a hash of their addresses.

The supervisor (the process `optadvisor serve` started) holds the port with a socket that is bound but never
listens, so it takes no connections; it starts the workers, starts a new one when one dies (but stops when
one fails at start-up, which would only fail again), and on SIGINT or SIGTERM sends each worker SIGTERM, so
that it finishes its in-flight requests within OPTADVISOR_TIMEOUT_GRACEFUL_SHUTDOWN, then exits by the same
signal, as uvicorn does with one process.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
import time
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from optadvisor.service.logs import configure_logging
from optadvisor.service.protocol import guarded_h11_protocol
from optadvisor.service.settings import Settings

logger = logging.getLogger("optadvisor.workers")
# Seconds a worker gets beyond the graceful timeout before it is killed.
_KILL_MARGIN_SECONDS = 10.0
# How often the supervisor looks at its signals between worker exits.
_POLL_SECONDS = 0.2


class WorkersError(RuntimeError):
    """The workers cannot run (no SO_REUSEPORT, the port is taken, a worker failed at start-up)."""


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """uvicorn's options for one server process, the only one or one of several."""
    return {
        "host": host,
        "port": port,
        "timeout_keep_alive": int(settings.timeout_keep_alive),
        "timeout_graceful_shutdown": int(settings.timeout_graceful_shutdown),
        "limit_concurrency": settings.limit_concurrency,
        # The request-head deadline and problem+json refusals (service/protocol.py).
        "http": guarded_h11_protocol(settings),
        "log_config": None,
        "access_log": False,
    }


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not listening yet."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise WorkersError("more than one worker needs SO_REUSEPORT, which this platform lacks")
    # proto=IPPROTO_TCP: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on connections accepted from
    # a socket that says so; with proto 0 every response waited for the client's delayed ACK (p50 44 ms).
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise WorkersError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return sock


def serve_worker(settings: Settings, host: str, port: int) -> None:
    """One worker process: the app under uvicorn on its own socket of the shared port."""
    from optadvisor.service.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), **uvicorn_options(settings, host, port)))
    server.run(sockets=[reuse_port_socket(host, port)])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def run(settings: Settings, host: str, port: int, workers: int) -> None:
    """Supervise `workers` worker processes until SIGINT or SIGTERM, then stop them gracefully."""
    configure_logging(settings.log_format, settings.log_level)
    # Bound and never listening: it holds the port across worker restarts, and a port taken by another
    # program fails here, in one line, rather than in every worker.
    reservation = reuse_port_socket(host, port)
    received: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda signum, _frame: received.append(signum))
    context = multiprocessing.get_context("spawn")

    def start() -> multiprocessing.process.BaseProcess:
        process = context.Process(target=serve_worker, args=(settings, host, port), name="optadvisor-worker")
        process.start()
        logger.info("worker %d started, listening on %s:%d", process.pid, host, port)
        return process

    processes = [start() for _ in range(workers)]
    failed = None
    while not received and failed is None:
        multiprocessing.connection.wait([process.sentinel for process in processes], timeout=_POLL_SECONDS)
        for index, process in enumerate(processes):
            if process.exitcode is None or received:
                continue
            if process.exitcode == STARTUP_FAILURE:
                failed = process
                break
            logger.error("worker %d exited (%s); starting another", process.pid, process.exitcode)
            processes[index] = start()
    _stop(processes, settings.timeout_graceful_shutdown + _KILL_MARGIN_SECONDS)
    reservation.close()
    if failed is not None:
        raise WorkersError(f"a worker (pid {failed.pid}) failed to start; see its log above")
    logger.info("%d workers stopped", workers)
    signal.signal(received[0], signal.SIG_DFL)
    signal.raise_signal(received[0])


def _stop(processes: list[multiprocessing.process.BaseProcess], timeout: float) -> None:
    """SIGTERM to every live worker, then wait for all of them; SIGKILL those still alive after `timeout`."""
    for process in processes:
        if process.exitcode is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.exitcode is None:
            logger.error("worker %d did not stop in time; killing it", process.pid)
            process.kill()
            process.join()
