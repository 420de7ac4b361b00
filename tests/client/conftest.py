import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The live-server helper is shared with the service tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from live_server import LiveServer, live_server


@pytest.fixture(scope="session")
def client_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("client-server"), api_keys="client-key") as running:
        yield running
