"""A full compute queue answers 503 with Retry-After at once, while probes and declared-only
recommendations keep answering."""

import socket
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest
from live_server import LiveServer, live_server

from optadvisor.client import OptadvisorClient
from optadvisor.client.errors import ServerBusyError
from optadvisor.service.compute import ComputePool
from optadvisor.service.metrics import Metrics
from optadvisor.service.problems import ProblemError


@pytest.fixture(scope="module")
def one_slot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = {
        "compute_workers": "1",
        "compute_queue": "0",
        "request_read_timeout": "2",
        "retry_after_seconds": "3",
    }
    with live_server(tmp_path_factory.mktemp("one-slot"), **settings) as running:
        yield running


def _hold_a_slot(port: int) -> socket.socket:
    """Start a request whose body never finishes arriving: it is admitted and keeps the only slot."""
    held = socket.create_connection(("127.0.0.1", port))
    held.sendall(
        b"POST /v1/profiles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n{"
    )
    return held


def _read_response(held: socket.socket) -> bytes:
    held.settimeout(30)
    chunks = []
    while chunk := held.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_saturated_server_answers_503_with_retry_after(one_slot_server: LiveServer) -> None:
    held = _hold_a_slot(one_slot_server.port)
    try:
        # The held request is admitted as soon as its headers are parsed; poll until it is.
        for _ in range(100):
            refused = httpx.post(f"{one_slot_server.url}/v1/profiles", json={})
            if refused.status_code == 503:
                break
            time.sleep(0.05)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "3"
        assert refused.headers["content-type"] == "application/problem+json"
        assert httpx.get(f"{one_slot_server.url}/healthz").status_code == 200
        # A declared-only recommendation needs no compute slot: it is answered on the event loop.
        declared = httpx.post(
            f"{one_slot_server.url}/v1/recommendations", json={"profile": {"tuning_budget": 1}}
        )
        assert declared.status_code == 200
        assert len(declared.json()["tuning_plan"]) == 1
        metrics = httpx.get(f"{one_slot_server.url}/metrics").text
        assert "optadvisor_compute_rejected_total 1.0" in metrics
        # The slow sender itself is cut off by the read deadline with a 408 problem.
        answer = _read_response(held)
        assert answer.startswith(b"HTTP/1.1 408")
        assert b"application/problem+json" in answer
    finally:
        held.close()
    # The slot is free again: the next profile request is admitted (and refused only for its content).
    assert httpx.post(f"{one_slot_server.url}/v1/profiles", json={}).status_code == 422


def test_the_client_waits_out_a_saturated_server(one_slot_server: LiveServer) -> None:
    gradients = {"g": {"format": "dense", "values": [[0.1, -0.2], [0.3, 0.05], [-0.1, 0.2]]}}
    held = _hold_a_slot(one_slot_server.port)
    try:
        for _ in range(100):  # until the held request has the slot
            if httpx.post(f"{one_slot_server.url}/v1/profiles", json={}).status_code == 503:
                break
            time.sleep(0.05)
        with (
            OptadvisorClient(one_slot_server.url, retries=0) as impatient,
            pytest.raises(ServerBusyError) as busy,
        ):
            impatient.profile(gradients)
        assert busy.value.retry_after == 3.0
        # The held request is cut off after 2 s; the client's retry comes after the 3 s the server asked for.
        started = time.monotonic()
        with OptadvisorClient(one_slot_server.url, retries=1) as patient:
            assert patient.profile(gradients)["overall"]["steps"] == 3
        assert time.monotonic() - started >= 3.0
    finally:
        held.close()


def test_pool_refuses_beyond_workers_plus_queue() -> None:
    async def scenario() -> None:
        pool = ComputePool(workers=1, queue=1, retry_after_seconds=7, metrics=Metrics())
        async with pool.admit(), pool.admit():
            with pytest.raises(ProblemError) as refused:
                async with pool.admit():
                    pass
            assert refused.value.status == 503
            assert refused.value.headers == {"Retry-After": "7"}
        async with pool.admit():
            assert await pool.run(sum, [1, 2, 3]) == 6

    anyio.run(scenario)
