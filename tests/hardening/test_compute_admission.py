"""Compute admission over HTTP (issue 20, points 2 and 6): gradients are measured in the pool whatever the
key looks like in the bytes, and a request's work is counted before it starts."""

import re
import time

import httpx
from live_probes import healthz_latencies

from benchmarks.server import RunningServer

# 4,096 steps of 64 coordinates in a body of a few hundred bytes.
SLOW_SAMPLE = {"format": "coo", "shape": [4096, 64], "step": [0, 1], "index": [0, 1], "values": [0.1, -0.2]}


def _pool_jobs(url: str) -> float:
    """Jobs the compute pool has admitted so far (each one's wait is observed once)."""
    metrics = httpx.get(f"{url}/metrics").text
    return float(re.search(r"^optadvisor_compute_wait_seconds_count (\S+)$", metrics, re.MULTILINE).group(1))  # type: ignore[union-attr]


def test_an_escaped_gradients_key_is_measured_off_the_event_loop(server: RunningServer) -> None:
    # "gradient\u0073" is the key "gradients" once parsed; a small body holding it was answered inline.
    body = b'{"gradient\\u0073": {"g": ' + httpx.Request("POST", "/", json=SLOW_SAMPLE).read() + b"}}"
    assert len(body) < 1024
    jobs = _pool_jobs(server.url)
    with healthz_latencies(server.url, pause=0.02) as probe_seconds:
        response = httpx.post(
            f"{server.url}/v1/recommendations",
            content=body,
            headers={"content-type": "application/json"},
            timeout=60,
        )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["measured"]["steps"] == 4096
    assert _pool_jobs(server.url) == jobs + 1  # measured in the pool, not on the event loop
    assert max(probe_seconds) < 0.5, f"/healthz took up to {max(probe_seconds):.2f} s"


def test_a_replay_over_too_much_work_is_refused_before_it_starts(api: httpx.Client) -> None:
    # Four groups with different step counts are four replays of ~4,096 steps, 18 runs each: a 1 kB body
    # that asked for about a minute of CPU. Refused with 413 at once.
    gradients = {
        f"g{steps}": {"format": "coo", "shape": [steps, 1024], "step": [0], "index": [0], "values": [0.1]}
        for steps in (4096, 4095, 4094, 4093)
    }
    body = {"gradients": gradients, "runs": [{"method": "adam"}] * 18}
    started = time.perf_counter()
    response = api.post("/v1/replays", json=body)
    assert response.status_code == 413, response.text[:300]
    assert "OPTADVISOR_MAX_COMPUTE_WORK" in response.json()["detail"]
    assert time.perf_counter() - started < 5
