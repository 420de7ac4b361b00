"""A client trickling its body cannot hold a compute slot past OPTADVISOR_REQUEST_READ_TIMEOUT.

The server has one compute slot and no queue, so the trickler holds everything the API has; it must be
cut off with a 408 problem while probes keep answering, and the slot must then serve others again.
"""

import select
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.server import RunningServer, running_server

# Far more body than the trickle can deliver before the deadline: only the deadline can end the request.
DECLARED_BYTES = 1_000_000
TRICKLE_INTERVAL = 0.1
GIVE_UP_AFTER = 60.0


@pytest.fixture(scope="module")
def one_slot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {"compute_workers": "1", "compute_queue": "0", "request_read_timeout": "2"}
    with running_server(tmp_path_factory.mktemp("slow"), settings) as running:
        yield running


def _request_head(path: str, content_type: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {DECLARED_BYTES}\r\n\r\n"
    ).encode()


def _trickle_until_answered(port: int, head: bytes, body_start: bytes, url: str) -> tuple[bytes, bool]:
    """Send `head`, then the body a byte at a time until the server answers; return the answer and
    whether /healthz answered 200 while the trickle was going on."""
    sent = 0
    probes_answered = False
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(head)
        started = time.monotonic()
        body = body_start + b"0" * DECLARED_BYTES
        while not select.select([connection], [], [], TRICKLE_INTERVAL)[0]:
            assert time.monotonic() - started < GIVE_UP_AFTER, "the slow sender was never cut off"
            connection.sendall(body[sent : sent + 1])
            sent += 1
            if sent == 5:
                probes_answered = httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        connection.settimeout(10)
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            # The server closed with trickled bytes still unread in its socket, so its kernel sent a
            # reset, which can overtake the 408 it had just written; the server's log then has the 408.
            pass
    return answer, probes_answered


@pytest.mark.parametrize(
    ("path", "content_type", "body_start"),
    [
        ("/v1/replays", "application/json", b'{"gradients": '),
        (
            "/v1/profiles",
            "multipart/form-data; boundary=B",
            b'--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n',
        ),
    ],
    ids=["json", "multipart"],
)
def test_trickled_body_is_cut_off_with_408(
    one_slot_server: RunningServer, path: str, content_type: str, body_start: bytes
) -> None:
    answer, probes_answered = _trickle_until_answered(
        one_slot_server.port, _request_head(path, content_type), body_start, one_slot_server.url
    )

    if answer:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b"application/problem+json" in answer
    else:  # the access line is written by a background thread, a fraction of a second later
        deadline = time.monotonic() + 5.0
        while f'"message": "POST {path} 408"' not in one_slot_server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f'"message": "POST {path} 408"' in one_slot_server.log()
    assert probes_answered
    # The slot the trickler held is free again.
    assert httpx.get(f"{one_slot_server.url}/v1/optimizers", timeout=10).status_code == 200
    dense = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}
    response = httpx.post(f"{one_slot_server.url}/v1/profiles", json={"gradients": {"g": dense}}, timeout=30)
    assert response.status_code == 200


@pytest.fixture(scope="module")
def patient_one_slot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # One worker, nobody may wait for it, and a read deadline far beyond the test: only the order of
    # admission (body first, then a compute place) keeps the slow senders from locking others out.
    settings = {"compute_workers": "1", "compute_queue": "0", "request_read_timeout": "120"}
    with running_server(tmp_path_factory.mktemp("patient"), settings) as running:
        yield running


def test_slow_senders_hold_no_compute_place(patient_one_slot_server: RunningServer) -> None:
    # Ten connections that sent their headers and one byte of body each (issue 20, point 7: they made every
    # gradient request 503 for as long as the read deadline, renewably).
    senders = []
    try:
        for path in ["/v1/profiles", "/v1/replays"] * 5:
            sender = socket.create_connection(("127.0.0.1", patient_one_slot_server.port))
            sender.sendall(_request_head(path, "application/json") + b"{")
            senders.append(sender)
        time.sleep(0.5)
        dense = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}
        with httpx.Client(base_url=patient_one_slot_server.url, timeout=30) as client:
            for _ in range(5):
                response = client.post("/v1/profiles", json={"gradients": {"g": dense}})
                assert response.status_code == 200, response.text[:300]
            metrics = client.get("/metrics").text
        assert "optadvisor_compute_rejected_total 0.0" in metrics
    finally:
        for sender in senders:
            sender.close()
