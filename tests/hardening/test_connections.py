"""Connections that send nothing, or a request head too slowly, are closed; refusals written below the app
are problems too (issue 20, points 8 and 11). Against `optadvisor serve`, which installs the protocol."""

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_probes import read_until_closed

from benchmarks.server import RunningServer, running_server

PROBLEM_MEDIA_TYPE = b"application/problem+json"
HEAD_TIMEOUT = 2.0
SILENT_CONNECTIONS = 300


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {"request_head_timeout": str(HEAD_TIMEOUT), "log_level": "WARNING", "limit_concurrency": "256"}
    with running_server(Path(tmp_path_factory.mktemp("connections")), settings) as running:
        yield running


def test_silent_connections_are_closed_and_the_server_answers_again(guarded_server: RunningServer) -> None:
    silent = [socket.create_connection(("127.0.0.1", guarded_server.port)) for _ in range(SILENT_CONNECTIONS)]
    try:
        # Past the connection limit: refused with a problem, not text/plain.
        with socket.create_connection(("127.0.0.1", guarded_server.port)) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = read_until_closed(probe, 5)
        assert refused.startswith(b"HTTP/1.1 503"), refused[:200]
        assert PROBLEM_MEDIA_TYPE in refused
        assert b"retry-after: " in refused.lower()
        # The head deadline closes every silent connection, and probes answer again (uvicorn kept them open
        # for good: they were still there after 90 s).
        deadline = time.monotonic() + HEAD_TIMEOUT + 5
        for connection in silent:
            connection.settimeout(max(deadline - time.monotonic(), 0.1))
            assert connection.recv(1) == b"", "a silent connection got an answer"
        assert time.monotonic() < deadline
        assert httpx.get(f"{guarded_server.url}/healthz", timeout=5).status_code == 200
    finally:
        for connection in silent:
            connection.close()


def test_a_trickled_request_head_gets_408(guarded_server: RunningServer) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", guarded_server.port)) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        answer = b""
        while not answer and time.monotonic() - started < HEAD_TIMEOUT + 5:
            connection.sendall(b"X-Slow: 1\r\n")  # every byte used to restart uvicorn's only timer
            connection.settimeout(0.3)
            try:
                answer = connection.recv(65536)
            except TimeoutError:
                continue
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert PROBLEM_MEDIA_TYPE in answer
    assert time.monotonic() - started < HEAD_TIMEOUT + 2


def test_malformed_framing_gets_a_400_problem(guarded_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", guarded_server.port)) as connection:
        connection.sendall(b"POST /v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n")
        answer = read_until_closed(connection, 5)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert PROBLEM_MEDIA_TYPE in answer


def test_kept_alive_connections_still_serve_several_requests(guarded_server: RunningServer) -> None:
    with httpx.Client(base_url=guarded_server.url) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
            time.sleep(HEAD_TIMEOUT / 2)


@pytest.fixture(scope="module")
def small_buffer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {
        "request_head_timeout": str(HEAD_TIMEOUT),
        "max_request_bytes": str(1024 * 1024),
        "max_buffered_bytes": str(1024 * 1024),
        "log_level": "WARNING",
    }
    with running_server(Path(tmp_path_factory.mktemp("buffer")), settings) as running:
        yield running


def test_a_busy_refusal_reaches_a_client_still_sending(small_buffer_server: RunningServer) -> None:
    # A slow sender holds most of the body buffer; a 600 kB upload no longer fits and is refused by its
    # Content-Length. The server discards its body as it arrives, so the client reads the 503 instead of a
    # reset connection, and may retry after Retry-After.
    holder = socket.create_connection(("127.0.0.1", small_buffer_server.port))
    try:
        holder.sendall(
            b"POST /v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b" " * 700_000
        )
        time.sleep(0.5)
        response = httpx.post(
            f"{small_buffer_server.url}/v1/profiles",
            content=b" " * 600_000,
            headers={"content-type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 503, response.text[:300]
        assert response.headers["retry-after"] == "2"
        assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE.decode()
    finally:
        holder.close()
