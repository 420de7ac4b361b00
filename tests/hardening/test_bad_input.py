"""Fed malformed input, the live server answers a 4xx problem that explains and never echoes, and stays well.

Payloads are in `bad_payloads.py`; each is refused with one of its documented statuses, as
`application/problem+json` with a `detail`, and none of the marker values it carries appears in the answer.
"""

import httpx
import pytest
from bad_payloads import MARKERS, PAYLOADS

from benchmarks.server import RunningServer

PROBLEM_MEDIA_TYPE = "application/problem+json"


@pytest.fixture(scope="module")
def baseline_rss(server: RunningServer, api: httpx.Client) -> int:
    """Server RSS once each route has served a valid request (imports and caches are warm)."""
    dense = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}
    assert api.post("/v1/profiles", json={"gradients": {"g": dense}}).status_code == 200
    assert api.post("/v1/recommendations", json={"gradients": {"g": dense}}).status_code == 200
    runs = [{"method": "adagrad"}]
    assert api.post("/v1/replays", json={"gradients": {"g": dense}, "runs": runs}).status_code == 200
    return server.rss_bytes()


def test_suite_is_large_enough() -> None:
    assert len(PAYLOADS) >= 30


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_bad_input_gets_a_non_echoing_problem(name: str, api: httpx.Client, baseline_rss: int) -> None:
    bad = PAYLOADS[name]()
    response = api.post(bad.path, content=bad.content, headers=bad.headers)

    assert response.status_code in bad.statuses, response.text[:500]
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["status"] == response.status_code
    assert len(problem["detail"]) > 10
    assert "Traceback" not in response.text
    answer = response.text + "".join(f"{key}: {value}" for key, value in response.headers.items())
    for marker in MARKERS:
        assert marker not in answer


def test_server_is_healthy_and_lean_after_the_suite(
    server: RunningServer, api: httpx.Client, baseline_rss: int
) -> None:
    # Runs last in this module: whatever the suite did, the server still answers and has not bloated.
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200
    dense = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}
    assert api.post("/v1/profiles", json={"gradients": {"g": dense}}).status_code == 200
    assert server.rss_bytes() < 1.5 * baseline_rss
