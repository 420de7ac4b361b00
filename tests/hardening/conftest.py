from collections.abc import Iterator

import httpx
import pytest

from benchmarks.server import RunningServer, running_server

# Big enough for a 10^6-element JSON list to reach the parser; small enough to keep memory checks meaningful.
BODY_LIMIT = 16 * 1024 * 1024


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = {"max_request_bytes": str(BODY_LIMIT), "log_level": "WARNING"}
    with running_server(tmp_path_factory.mktemp("hardening"), settings) as running:
        yield running


@pytest.fixture(scope="session")
def api(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
