"""With API keys configured every /v1 route needs one; probes, metrics and docs stay open."""

import httpx
import pytest
from live_server import LiveServer

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
