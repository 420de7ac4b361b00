"""Compute admission over HTTP (issue 20, points 2 and 6): gradients are measured in the pool whatever the
key looks like in the bytes, and a request's work is counted before it starts."""

import time

import httpx
from live_probes import healthz_latencies

from benchmarks.server import RunningServer

# Profiling 4,096 steps of 64 coordinates replays six optimizers for about three seconds of CPU.
SLOW_SAMPLE = {"format": "coo", "shape": [4096, 64], "step": [0, 1], "index": [0, 1], "values": [0.1, -0.2]}


def test_an_escaped_gradients_key_is_measured_off_the_event_loop(server: RunningServer) -> None:
    # "gradient\u0073" is the key "gradients" once parsed; a small body holding it was answered inline.
    body = b'{"gradient\\u0073": {"g": ' + httpx.Request("POST", "/", json=SLOW_SAMPLE).read() + b"}}"
    assert len(body) < 1024
    with healthz_latencies(server.url, pause=0.02) as probe_seconds:
        started = time.perf_counter()
        response = httpx.post(
            f"{server.url}/v1/recommendations",
            content=body,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text[:300]
    assert response.json()["measured"]["steps"] == 4096
    assert elapsed > 0.5  # the work is real: the probes below ran while it did
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
