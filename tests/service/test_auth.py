"""With API keys configured every /v1 path needs one; probes, metrics and docs stay open."""

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from live_server import LiveServer

from optadvisor.service.auth import ApiKeyMiddleware, key_is_valid

OPEN_PATHS = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]


def _v1_operations(url: str) -> list[tuple[str, str]]:
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    operations = [
        (method.upper(), path.replace("{name}", "adagrad"))
        for path, item in paths.items()
        if path.startswith("/v1/")
        for method in item
    ]
    assert len(operations) >= 6
    return operations


def test_every_v1_route_refuses_missing_or_wrong_keys(keyed_server: LiveServer) -> None:
    for method, path in _v1_operations(keyed_server.url):
        missing = httpx.request(method, f"{keyed_server.url}{path}", json={})
        assert missing.status_code == 401, (method, path)
        assert missing.headers["content-type"] == "application/problem+json"
        wrong = httpx.request(
            method, f"{keyed_server.url}{path}", json={}, headers={"X-API-Key": "first-kez"}
        )
        assert wrong.status_code == 401, (method, path)
        assert "first-k" not in wrong.text


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": "first-key"}, {"Authorization": "Bearer second-key"}],
    ids=["x-api-key", "bearer"],
)
def test_every_v1_route_accepts_a_configured_key(keyed_server: LiveServer, headers: dict[str, str]) -> None:
    for method, path in _v1_operations(keyed_server.url):
        response = httpx.request(method, f"{keyed_server.url}{path}", json={}, headers=headers, timeout=60)
        assert response.status_code != 401, (method, path)
        assert response.status_code < 500, (method, path, response.text)


def test_probes_and_docs_stay_open(keyed_server: LiveServer) -> None:
    for path in OPEN_PATHS:
        assert httpx.get(f"{keyed_server.url}{path}").status_code == 200, path


def test_without_keys_v1_is_open(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/v1/optimizers").status_code == 200


def test_a_refusal_carries_the_challenge_and_the_request_id(keyed_server: LiveServer) -> None:
    url = f"{keyed_server.url}/v1/recommendations"
    response = httpx.post(url, json={}, headers={"X-Request-ID": "no-key-1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["x-request-id"] == "no-key-1"
    assert response.json()["request_id"] == "no-key-1"


def test_unknown_v1_paths_are_refused_before_routing(keyed_server: LiveServer) -> None:
    # Without a key nothing under /v1 is revealed, not even which paths exist.
    assert httpx.get(f"{keyed_server.url}/v1/no-such-route").status_code == 401
    assert httpx.get(f"{keyed_server.url}/v1").status_code == 401
    keyed = httpx.get(f"{keyed_server.url}/v1/no-such-route", headers={"X-API-Key": "first-key"})
    assert keyed.status_code == 404
    assert httpx.get(f"{keyed_server.url}/v10/optimizers").status_code == 404


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/thing")
    async def thing() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/v1x")
    async def lookalike() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(ApiKeyMiddleware, keys=["k1", "k2"], prefix="/v1")
    return app


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-API-Key": "k2"}, 200),
        ({"X-API-Key": "k3"}, 401),
        ({"Authorization": "Bearer k1"}, 200),
        ({"Authorization": "bearer   k1  "}, 200),
        ({"Authorization": "Basic k1"}, 401),
        ({"Authorization": "Bearer "}, 401),
    ],
)
def test_keys_are_read_from_either_header(headers: dict[str, str], status: int) -> None:
    with TestClient(_app()) as client:
        response = client.get("/v1/thing", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert response.headers["content-type"] == "application/problem+json"
        assert "k1" not in response.text and "k2" not in response.text


def test_only_paths_under_the_prefix_are_guarded() -> None:
    with TestClient(_app()) as client:
        assert client.get("/v1x").status_code == 200
        assert client.get("/v1/thing").status_code == 401


def test_the_middleware_refuses_to_guard_with_no_keys() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        ApiKeyMiddleware(FastAPI(), keys=[], prefix="/v1")


def test_key_comparison_matches_exactly() -> None:
    assert key_is_valid("abc", ["x", "abc"])
    assert not key_is_valid("ab", ["abc"])
    assert not key_is_valid("abcd", ["abc"])
