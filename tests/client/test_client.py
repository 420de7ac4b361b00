"""OptadvisorClient against a live server (with an API key): results, and errors as exceptions."""

import io
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from live_server import LiveServer, free_port

from optadvisor.client import OptadvisorClient
from optadvisor.client.errors import (
    InvalidRequestError,
    InvalidUrlError,
    NotFoundError,
    OptadvisorError,
    ServerBusyError,
    ServerUnreachableError,
    UnauthorizedError,
    UnencodableRequestError,
)


def _npy(steps: int = 10, coordinates: int = 8) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.random.default_rng(0).normal(size=(steps, coordinates)).astype(np.float32))
    return buffer.getvalue()


def test_every_method_reaches_its_endpoint(client_server: LiveServer) -> None:
    dense = {"format": "dense", "values": np.random.default_rng(1).normal(size=(6, 4)).tolist()}
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        assert next(entry["name"] for entry in client.optimizers()) == "adagrad"
        assert client.optimizer("adadelta")["name"] == "adadelta"
        assert client.rules()["version"]
        assert client.profile({"g": dense}, training_steps=100)["overall"]["steps"] == 6
        assert client.profile(("g.npy", _npy()))["overall"]["steps"] == 10
        replay = client.replay({"g": dense}, [{"method": "adagrad"}], trace_coordinates={"g": [0]})
        assert replay["runs"][0]["groups"]["g"]["trace"]["coordinates"] == [0]
        answer = client.recommend({"tuning_budget": 1}, framework="optax", candidates=["adadelta", "sgd"])
        assert answer["method"] in ("adadelta", "sgd")
        measured = client.recommend({"training_steps": 1000}, gradients=("g.npy", _npy()))
        assert measured["measured"]["steps"] == 10


def test_errors_carry_the_problem(client_server: LiveServer) -> None:
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        with pytest.raises(NotFoundError) as missing:
            client.optimizer("lion")
        assert missing.value.status == 404
        with pytest.raises(InvalidRequestError) as invalid:
            client.recommend({"gradient_sparsity": 2.0})
        assert invalid.value.status == 422
        assert invalid.value.errors[0]["loc"][-1] == "gradient_sparsity"
    with OptadvisorClient(client_server.url, api_key="wrong") as client, pytest.raises(UnauthorizedError):
        client.rules()


def test_api_key_comes_from_the_environment(
    client_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTADVISOR_API_KEY", "client-key")
    monkeypatch.setenv("OPTADVISOR_URL", client_server.url)
    with OptadvisorClient() as client:
        assert client.rules()["version"]


def test_unreachable_server_raises_a_client_error() -> None:
    with OptadvisorClient(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(ServerUnreachableError):
        client.optimizers()
    assert issubclass(ServerUnreachableError, OptadvisorError)


def test_gradient_files_go_as_paths_streams_or_bytes(client_server: LiveServer, tmp_path: Path) -> None:
    content = _npy(steps=7)
    path = tmp_path / "layer.npy"
    path.write_bytes(content)
    with OptadvisorClient(client_server.url, api_key="client-key") as client:
        answers = [
            client.profile(path, training_steps=500),
            client.profile(str(path), training_steps=500),
            client.profile(("layer.npy", content), training_steps=500),
            client.profile(("layer.npy", io.BytesIO(content)), training_steps=500),
        ]
        assert all(answer == answers[0] for answer in answers)
        assert list(answers[0]["groups"]) == ["layer"]
        with path.open("rb") as stream:
            measured = client.recommend({"training_steps": 500}, gradients=("layer.npy", stream))
        assert measured["measured"]["steps"] == 7


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda c: c.recommend({"training_steps": float("nan")}), "request.profile.training_steps is nan"),
        (
            lambda c: c.recommend({"training_steps": np.int64(10)}),
            "request.profile.training_steps is a int64",
        ),
        (
            lambda c: c.profile({"g": {"format": "dense", "values": [[1.0], [float("-inf")]]}}),
            "request.gradients.g.values[1][0] is -inf",
        ),
        (lambda c: c.replay({"g": {}}, [{"method": "sgd", "lr": float("inf")}]), "request.runs[0].lr is inf"),
        (
            lambda c: c.recommend({1: "ok", "tuning_budget": float("nan")}),
            "request.profile.tuning_budget is nan",
        ),
        (lambda c: c.recommend({(1, 2): 3}), "request.profile has a tuple key"),
        (
            lambda c: c.recommend({"training_steps": 10}, gradients=("g.npy", _npy()), framework=1j),
            "request.framework is a complex",
        ),
    ],
)
def test_values_json_cannot_carry_are_refused_before_anything_is_sent(call: Any, where: str) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with OptadvisorClient("http://optadvisor.test", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(UnencodableRequestError) as refused:
            call(client)
        assert isinstance(refused.value, ValueError)
        assert str(refused.value).startswith(where)
        assert str(refused.value).endswith("; nothing was sent")
        assert sent == []
        client.recommend({"training_steps": 10.0})  # finite numbers still go out, as JSON
    assert json.loads(sent[0].content) == {"profile": {"training_steps": 10.0}}
    assert sent[0].headers["content-type"] == "application/json"


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://host", "http://", "http://[::1"])
def test_a_server_url_that_is_not_http_is_refused_at_once(url: str) -> None:
    with pytest.raises(InvalidUrlError, match="invalid server URL") as refused:
        OptadvisorClient(url)
    assert isinstance(refused.value, ValueError)


class _Recorded:
    """A mock server answering with `statuses` in turn (200 after them), recording each request's body."""

    def __init__(self, *statuses: int, retry_after: str | None = "0") -> None:
        self.statuses = list(statuses)
        self.retry_after = retry_after
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.read())
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            return httpx.Response(200, json={"ok": True})
        headers = {} if self.retry_after is None else {"retry-after": self.retry_after}
        return httpx.Response(status, json={"status": status, "detail": "busy"}, headers=headers)


def _client(server: _Recorded, **options: Any) -> OptadvisorClient:
    return OptadvisorClient("http://optadvisor.test", transport=httpx.MockTransport(server), **options)


def test_a_saturated_server_is_asked_again_after_its_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("optadvisor.client.http.time.sleep", waits.append)
    server = _Recorded(503, 429, retry_after="7")
    with _client(server) as client:
        assert client.recommend({"training_steps": 10}) == {"ok": True}
    assert waits == [7.0, 7.0]
    assert len(server.bodies) == 3 and len(set(server.bodies)) == 1
    for retry_after, wait in ((None, 1.0), ("3600", 60.0)):  # none named: a second; at most a minute
        with _client(_Recorded(503, retry_after=retry_after)) as client:
            client.rules()
        assert waits[-1] == wait


def test_retries_run_out_into_server_busy_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("optadvisor.client.http.time.sleep", lambda seconds: None)
    for retries in (0, 2):
        server = _Recorded(503, 503, 503, retry_after="3")
        with _client(server, retries=retries) as client, pytest.raises(ServerBusyError) as busy:
            client.optimizers()
        assert busy.value.status == 503
        assert busy.value.retry_after == 3.0
        assert len(server.bodies) == retries + 1
    with pytest.raises(ValueError, match="Invalid retries: -1"):
        OptadvisorClient("http://optadvisor.test", retries=-1)


def test_uploaded_files_are_sent_whole_again_and_unseekable_streams_are_not_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("optadvisor.client.http.time.sleep", lambda seconds: None)
    content = _npy()
    path = tmp_path / "g.npy"
    path.write_bytes(content)
    server = _Recorded(503)
    with _client(server) as client:
        client.profile(path)
    assert server.bodies == [content, content]
    server = _Recorded(429)
    with _client(server) as client:
        client.recommend({"training_steps": 10}, gradients=("g.npy", content))
    assert len(server.bodies) == 2  # each multipart body has its own boundary, and the whole file
    assert all(content in body and len(body) == len(server.bodies[0]) for body in server.bodies)

    class Unseekable(io.RawIOBase):
        def __init__(self) -> None:
            self.inner = io.BytesIO(content)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            return self.inner.readinto(buffer)

    server = _Recorded(503)
    with _client(server) as client, pytest.raises(ServerBusyError):
        client.profile(("g.npy", Unseekable()))  # type: ignore[arg-type]
    assert server.bodies == [content]
