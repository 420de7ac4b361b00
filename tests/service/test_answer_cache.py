"""Declared-only answers are cached by body bytes, bounded by bytes held, least recently used out first."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from optadvisor.service.answer_cache import AnswerCache
from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings


def test_cache_returns_what_was_put_and_misses_otherwise() -> None:
    cache = AnswerCache(max_bytes=100)
    cache.put(b"a", b"answer-a")
    assert cache.get(b"a") == b"answer-a"
    assert cache.get(b"b") is None


def test_cache_evicts_least_recently_used_beyond_its_byte_bound() -> None:
    cache = AnswerCache(max_bytes=30)
    cache.put(b"a", b"x" * 9)  # 10 bytes
    cache.put(b"b", b"x" * 9)  # 20
    assert cache.get(b"a") is not None  # a is now the most recently used
    cache.put(b"c", b"x" * 19)  # 40 > 30: b goes first, then the total is 30
    assert cache.get(b"b") is None
    assert cache.get(b"a") is not None
    assert cache.get(b"c") is not None
    assert cache.held_bytes == 30


def test_an_entry_larger_than_the_bound_is_not_kept() -> None:
    cache = AnswerCache(max_bytes=10)
    cache.put(b"key", b"x" * 20)
    assert len(cache) == 0
    assert cache.held_bytes == 0


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as running:
        yield running


def _hits(client: TestClient) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("optadvisor_declared_cache_hits_total"):
            return float(line.split()[-1])
    raise AssertionError("no cache-hit counter in /metrics")


def test_repeated_declared_request_is_answered_from_the_cache(client: TestClient) -> None:
    body = b'{"profile": {"gradient_sparsity": 0.9, "tuning_budget": 3}}'
    headers = {"Content-Type": "application/json"}
    first = client.post("/v1/recommendations", content=body, headers=headers)
    assert _hits(client) == 0
    second = client.post("/v1/recommendations", content=body, headers=headers)
    assert _hits(client) == 1
    assert first.status_code == second.status_code == 200
    # The advice is memoised; each POST is still its own study, with its own id and links.
    one, two = first.json(), second.json()
    assert one.pop("id") != two.pop("id")
    assert one.pop("links") != two.pop("links")
    assert one == two


def test_invalid_declared_requests_are_not_cached(client: TestClient) -> None:
    body = b'{"profile": {"gradient_sparsity": 2.0}}'
    headers = {"Content-Type": "application/json"}
    for _ in range(2):
        assert client.post("/v1/recommendations", content=body, headers=headers).status_code == 422
    assert _hits(client) == 0
