"""Protocol edges of issue 20, point 11 (and point 10's int64 overflow), over HTTP."""

import socket

import httpx
import numpy as np
import pytest
from bad_payloads import _safetensors, _tensor
from live_probes import read_until_closed

from benchmarks.server import RunningServer

PROBLEM_MEDIA_TYPE = "application/problem+json"
DENSE = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}


def _exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes; read until the server closes (or 10 s pass without a byte)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        return read_until_closed(connection, 10)


def test_head_healthz_answers_200(api: httpx.Client) -> None:
    response = api.head("/healthz")
    assert response.status_code == 200


def test_content_length_with_chunked_is_refused_and_the_connection_closed(server: RunningServer) -> None:
    # A proxy trusting Content-Length would see one request where the server sees two: refuse it.
    body = b'{"profile": {}}'
    smuggled = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    request = (
        b"POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: "
        + str(len(body) + 5).encode()
        + b"\r\nTransfer-Encoding: chunked\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
        + smuggled
    )
    answer = _exchange(server.port, request)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert PROBLEM_MEDIA_TYPE.encode() in answer
    assert answer.count(b"HTTP/1.1 ") == 1  # the smuggled request was never served


def test_every_content_encoding_header_is_checked(server: RunningServer) -> None:
    body = b'{"profile": {}}'
    request = (
        b"POST /v1/recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Encoding: identity\r\nContent-Encoding: gzip\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    assert _exchange(server.port, request).startswith(b"HTTP/1.1 415")


def test_duplicate_safetensors_tensor_names_are_refused(api: httpx.Client) -> None:
    data = np.ones(6, "<f4").tobytes()
    content = _safetensors({"w": _tensor("F32", [3, 2], 0, 24)}, data)
    duplicated = content.replace(
        b'"w":', b'"w": {"dtype": "F32", "shape": [3, 2], "data_offsets": [0, 24]}, "w":'
    )
    duplicated = len(duplicated[8:-24]).to_bytes(8, "little") + duplicated[8:]
    response = api.post("/v1/profiles", files={"gradients": ("g.safetensors", duplicated)})
    assert response.status_code == 422, response.text
    assert "twice" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/v1/profiles", "/v1/recommendations"])
def test_training_steps_has_one_bound_on_every_endpoint(api: httpx.Client, path: str) -> None:
    def body(steps: int) -> dict[str, object]:
        if path == "/v1/profiles":
            return {"gradients": {"g": DENSE}, "training_steps": steps}
        return {"gradients": {"g": DENSE}, "profile": {"training_steps": steps}}

    assert api.post(path, json=body(10**15)).status_code == 200
    assert api.post(path, json=body(10**15 + 1)).status_code == 422


def test_step_nonzeros_that_overflow_int64_are_refused(api: httpx.Client) -> None:
    # 2 steps x 2^62 entries each overflowed the 64-bit count: sparsity came back as 2.0.
    sample = {
        **DENSE,
        "values": DENSE["values"][:2],
        "total_coordinates": 2**62,
        "step_nonzeros": [2**62] * 2,
    }
    response = api.post("/v1/profiles", json={"gradients": {"g": sample}})
    assert response.status_code == 422, response.text
    assert "total_coordinates" in response.json()["detail"]
