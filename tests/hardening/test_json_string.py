"""One JSON string of 16 MiB costs the server a small multiple of its size and does not stall other
clients (issue 20, point 1: the depth scan's regular expression peaked at about 140x the body and held the
GIL for seconds)."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_probes import healthz_latencies

from benchmarks.hardening.load import peak_rss_bytes
from benchmarks.server import RunningServer, running_server

STRING_BYTES = 16 * 1024 * 1024
# The body, its text, the parsed string and a copy for the number checks: about 4x, plus the scan's chunks.
GROWTH_BOUND = 6 * STRING_BYTES


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {"max_request_bytes": str(STRING_BYTES + 4096), "log_level": "WARNING"}
    with running_server(Path(tmp_path_factory.mktemp("string")), settings) as running:
        yield running


def test_a_16_mib_string_is_cheap_and_probes_keep_answering(fresh_server: RunningServer) -> None:
    body = b'{"gradients": "' + b"a" * STRING_BYTES + b'"}'
    with httpx.Client(base_url=fresh_server.url, timeout=60) as client:
        assert client.post("/v1/profiles", json={}).status_code == 422  # warm: imports and first parse
        before = fresh_server.rss_bytes()
        with healthz_latencies(fresh_server.url) as probe_seconds:
            response = client.post("/v1/profiles", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert len(response.content) < 4096
    growth = peak_rss_bytes(fresh_server.process.pid) - before
    assert growth < GROWTH_BOUND, f"peak grew by {growth / 2**20:.0f} MiB"
    assert probe_seconds
    assert max(probe_seconds) < 0.5, f"/healthz took up to {max(probe_seconds):.2f} s"
