"""Requests refused before routing (401, 404, 413 by Content-Length) and unknown methods add no metric
series: /metrics stays small and publishes no client's path (issue 20, point 3)."""

import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.server import RunningServer, running_server

REQUESTS = 300


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {"api_keys": "the-key", "log_level": "WARNING", "max_request_bytes": "4096"}
    with running_server(Path(tmp_path_factory.mktemp("metrics")), settings) as running:
        yield running


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return connection.recv(65536)


def test_unrouted_requests_share_one_label(keyed_server: RunningServer) -> None:
    tokens = [secrets.token_hex(8) for _ in range(REQUESTS)]
    with httpx.Client(base_url=keyed_server.url, timeout=10) as client:
        before = len(client.get("/metrics").content)
        for number, token in enumerate(tokens):
            kind = number % 4
            if kind == 0:  # 401: under /v1 without a key
                assert client.get(f"/v1/{token}").status_code == 401
            elif kind == 1:  # 404 outside /v1
                assert client.get(f"/{token}").status_code == 404
            elif kind == 2:  # 413 from the Content-Length alone
                head = f"POST /{token} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n".encode()
                assert _raw(keyed_server.port, head).startswith(b"HTTP/1.1 413")
            else:  # a method token of the client's choosing
                method = f"X{token.upper()}"
                assert client.request(method, "/healthz").status_code in (401, 404, 405)
        metrics = client.get("/metrics").text
    assert not any(token in metrics or token.upper() in metrics for token in tokens)
    assert len(metrics) - before < 8000
    assert 'route="unmatched"' in metrics
    assert 'method="other"' in metrics
