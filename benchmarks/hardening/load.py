"""Load, soak and overload against a spawned server on loopback, with the server's memory sampled.

    python benchmarks/hardening/load.py              # load: 50 clients, 60 s, declared + small-gradient mix
    python benchmarks/hardening/load.py --soak       # the same mix for 600 s; server RSS every 5 s
    python benchmarks/hardening/load.py --overload   # 40 clients of 12 MiB uploads vs 2 workers + 8 queued
    python benchmarks/hardening/load.py --smoke [--soak|--overload]   # a few seconds, for CI

Each full run writes benchmarks/results/hardening_<mode>.json and prints it. Clients are asyncio + httpx in
this process; the server is another process (`optadvisor serve`), so client and server share the cores:
read latencies as regressions against an earlier run on the same machine, not as capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.server import REPOSITORY, running_server
from optadvisor.service.settings import Settings

RESULTS_DIR = REPOSITORY / "benchmarks" / "results"
MIB = 1024 * 1024
# Statuses an overloaded server may answer with; anything else (a 500, a reset) is an error.
OVERLOAD_STATUSES = {"200", "429", "503"}
# The documented bound over the idle process: OPTADVISOR_MAX_BUFFERED_BYTES (bodies) +
# OPTADVISOR_COMPUTE_MEMORY_BYTES (what running jobs expand them to), plus this for what does not scale with
# requests (worker and upload threads' malloc arenas, numpy/torch buffers).
FIXED_ALLOWANCE_MB = 64


def memory_bound_mb(server_settings: Mapping[str, str]) -> float:
    """The documented peak growth, in MiB, of a server run with `server_settings` (the rest default)."""
    settings = Settings.model_validate(server_settings)
    return FIXED_ALLOWANCE_MB + (settings.max_buffered_bytes + settings.compute_memory_bytes) / MIB


@dataclass(frozen=True)
class Call:
    """One request a client can send: a label, the path and the encoded body."""

    kind: str
    path: str
    content: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Mode:
    clients: int
    seconds: float
    server_settings: dict[str, str]
    calls: Callable[[], list[Call]]
    allowed: set[str]
    rss_interval: float = 5.0
    warmup_seconds: float = 0.0
    # Client n sends only calls of kind client_kinds[n % len(client_kinds)]; empty: every client every call.
    client_kinds: tuple[str, ...] = ()


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] += 1
        self.latencies.setdefault(kind, []).append(seconds)


def _json_call(kind: str, path: str, document: Any) -> Call:
    return Call(kind, path, json.dumps(document).encode(), {"content-type": "application/json"})


def _upload_call(kind: str, path: str, array: np.ndarray) -> Call:
    buffer = io.BytesIO()
    np.save(buffer, array)
    request = httpx.Request("POST", "http://x/", files={"gradients": ("layer.npy", buffer.getvalue())})
    return Call(kind, path, request.read(), {"content-type": request.headers["content-type"]})


# A third of the clients send small gradients, the others declared profiles (issue 20, point 13).
MIXED_CLIENTS = ("small-gradients", "declared", "declared")


def mixed_calls() -> list[Call]:
    """Declared-profile recommendations and small-gradient profiles (64 x 256 dense JSON)."""
    rng = np.random.default_rng(0)
    declared = [
        {"profile": {"gradient_sparsity": 0.97, "training_steps": 200_000, "model_family": "embedding"}},
        {"profile": {"training_steps": 5_000, "tuning_budget": 1}, "framework": "optax"},
        {"profile": {"model_family": "transformer", "tuning_budget": 8}, "framework": "keras"},
    ]
    gradients = []
    for seed in range(3):
        values = rng.normal(0.0, 0.01, (64, 256))
        values[:, seed::3] = 0.0
        gradients.append({"gradients": {"layer": {"format": "dense", "values": values.tolist()}}})
    calls = []
    for number, body in enumerate(gradients):
        calls.append(_json_call("small-gradients", "/v1/profiles", body))
        calls += [_json_call("declared", "/v1/recommendations", declared[(number + k) % 3]) for k in (0, 1)]
    return calls


def large_profile_calls(steps: int, coordinates: int) -> Callable[[], list[Call]]:
    def build() -> list[Call]:
        values = np.random.default_rng(1).normal(0.0, 0.01, (steps, coordinates)).astype(np.float32)
        return [_upload_call("large-upload", "/v1/profiles", values)]

    return build


# The server's default settings: 50 clients must be served without a 503 (issue 20, point 13).
MODES = {
    "load": Mode(50, 60.0, {}, mixed_calls, {"200"}, client_kinds=MIXED_CLIENTS),
    "soak": Mode(50, 600.0, {}, mixed_calls, {"200"}, warmup_seconds=60.0, client_kinds=MIXED_CLIENTS),
    "overload": Mode(
        40,
        45.0,
        {
            "compute_workers": "2",
            "compute_queue": "8",
            "max_request_bytes": str(32 * MIB),
            "max_buffered_bytes": str(256 * MIB),
            "compute_memory_bytes": str(256 * MIB),
        },
        large_profile_calls(96, 32_768),
        OVERLOAD_STATUSES,
        rss_interval=0.25,
    ),
}
SMOKE = {
    # As many clients as the full run, for a few seconds: the default queue must hold them all.
    "load": Mode(50, 4.0, {}, mixed_calls, {"200"}, rss_interval=0.5, client_kinds=MIXED_CLIENTS),
    "soak": Mode(5, 3.0, {}, mixed_calls, {"200"}, rss_interval=0.5, warmup_seconds=1.0),
    "overload": Mode(
        8,
        4.0,
        {
            "compute_workers": "1",
            "compute_queue": "1",
            "max_request_bytes": str(4 * MIB),
            "max_buffered_bytes": str(16 * MIB),
            "compute_memory_bytes": str(32 * MIB),
        },
        large_profile_calls(32, 8_192),
        OVERLOAD_STATUSES,
        rss_interval=0.1,
    ),
}


class RssSampler:
    """Samples a process's RSS in a thread (so a busy event loop cannot skew the timing)."""

    def __init__(self, pid: int, interval: float) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._started = time.monotonic()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - self._started, int(self.process.memory_info().rss)))
            self._stop.wait(self.interval)

    @contextmanager
    def running(self) -> Iterator[RssSampler]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()
            self.samples.append((time.monotonic() - self._started, int(self.process.memory_info().rss)))


def peak_rss_bytes(pid: int) -> int:
    """The kernel's high-water mark of the process's resident memory (VmHWM), exact unlike sampling."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not available")


async def _client(
    number: int, client: httpx.AsyncClient, calls: list[Call], deadline: float, tally: Tally
) -> None:
    position = number
    while time.monotonic() < deadline:
        call = calls[position % len(calls)]
        position += 1
        started = time.perf_counter()
        try:
            response = await client.post(call.path, content=call.content, headers=call.headers)
            outcome = str(response.status_code)
        except httpx.TransportError as error:
            outcome = type(error).__name__
        tally.record(call.kind, outcome, time.perf_counter() - started)


async def _drive(
    url: str, clients: int, seconds: float, calls: list[Call], client_kinds: tuple[str, ...] = ()
) -> Tally:
    tally = Tally()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    def own_calls(number: int) -> list[Call]:
        if not client_kinds:
            return calls
        return [call for call in calls if call.kind == client_kinds[number % len(client_kinds)]]

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(_client(number, client, own_calls(number), deadline, tally) for number in range(clients))
        )
    return tally


def wait_percentile(metrics: str, quantile: float) -> float | None:
    """The upper bound of the optadvisor_compute_wait_seconds bucket holding `quantile` of the waits (None
    without waits): Prometheus buckets give no finer figure."""
    buckets = [
        (float(bound), float(count))
        for bound, count in re.findall(
            r'^optadvisor_compute_wait_seconds_bucket\{le="([^"]+)"\} (\S+)$', metrics, re.M
        )
    ]
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return None
    return next(bound for bound, count in buckets if count >= quantile * total)


def _percentiles_ms(values: list[float]) -> dict[str, float]:
    array = np.asarray(values) * 1000
    return {f"p{q}": round(float(np.percentile(array, q)), 1) for q in (50, 90, 99)} | {
        "max": round(float(array.max()), 1),
        "count": len(values),
    }


def _rss_summary(samples: list[tuple[float, int]], warmup_seconds: float) -> dict[str, Any]:
    after = [(t, rss) for t, rss in samples if t >= warmup_seconds] or samples[-1:]
    times = np.array([t for t, _ in after])
    rss_mb = np.array([rss for _, rss in after]) / MIB
    slope = float(np.polyfit(times / 60, rss_mb, 1)[0]) if len(after) >= 3 else 0.0
    return {
        "samples": len(samples),
        "warmup_seconds": warmup_seconds,
        "rss_mb_at_warmup_end": round(float(rss_mb[0]), 1),
        "rss_mb_final": round(float(rss_mb[-1]), 1),
        "rss_mb_max_after_warmup": round(float(rss_mb.max()), 1),
        "growth_mb_after_warmup": round(float(rss_mb.max() - rss_mb[0]), 1),
        "slope_mb_per_min": round(slope, 2),
        # Thinned to at most ~120 points, enough to see a plateau or a climb.
        "series_s_mb": [
            [round(t, 1), round(rss / MIB, 1)] for t, rss in samples[:: max(1, len(samples) // 120)]
        ],
    }


def run(mode_name: str, mode: Mode, log_dir: Path) -> dict[str, Any]:
    """Spawn a server for `mode`, drive it, and return the figures."""
    settings = {"log_level": "WARNING", **mode.server_settings}
    calls = mode.calls()
    with running_server(log_dir, settings) as server:
        pid = server.process.pid
        # One request of each kind first: the first profile pays for imports and caches, not the load.
        for call in calls:
            httpx.post(f"{server.url}{call.path}", content=call.content, headers=call.headers, timeout=120)
        rss_before = server.rss_bytes()
        sampler = RssSampler(pid, mode.rss_interval)
        with sampler.running():
            started = time.monotonic()
            tally = asyncio.run(_drive(server.url, mode.clients, mode.seconds, calls, mode.client_kinds))
            elapsed = time.monotonic() - started
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        peak = peak_rss_bytes(pid)
        healthy = httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        server_errors = server.log().count("Traceback")
    total = sum(tally.outcomes.values())
    errors = sum(count for outcome, count in tally.outcomes.items() if outcome not in mode.allowed)
    return {
        "mode": mode_name,
        "clients": mode.clients,
        "seconds": round(elapsed, 1),
        "server_settings": settings,
        "requests": total,
        "requests_per_second": round(total / elapsed, 1),
        "outcomes": dict(sorted(tally.outcomes.items())),
        "errors": errors,
        "latency_ms": {kind: _percentiles_ms(values) for kind, values in sorted(tally.latencies.items())}
        | {"all": _percentiles_ms([v for values in tally.latencies.values() for v in values])},
        # Includes the warm-up requests' waits (none: they run alone).
        "compute_wait_p99_s_at_most": wait_percentile(metrics, 0.99),
        "compute_wait_p50_s_at_most": wait_percentile(metrics, 0.5),
        "rss_mb_before": round(rss_before / MIB, 1),
        "peak_rss_mb": round(peak / MIB, 1),
        "peak_growth_mb": round((peak - rss_before) / MIB, 1),
        "memory_bound_mb": round(memory_bound_mb(mode.server_settings), 1),
        "rss": _rss_summary(sampler.samples, mode.warmup_seconds),
        "healthy_after": healthy,
        "server_tracebacks": server_errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--soak", action="store_true", help="600 s of the load mix, RSS sampled every 5 s")
    chosen.add_argument("--overload", action="store_true", help="more large profiles than the pool admits")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, for CI")
    parser.add_argument("--output", type=Path, help="where to write the JSON figures")
    args = parser.parse_args(argv)
    mode_name = "soak" if args.soak else "overload" if args.overload else "load"
    mode = (SMOKE if args.smoke else MODES)[mode_name]
    with tempfile.TemporaryDirectory() as logs:
        figures = run(mode_name, mode, Path(logs))
    figures["smoke"] = args.smoke
    output = args.output or (None if args.smoke else RESULTS_DIR / f"hardening_{mode_name}.json")
    if output is not None:
        output.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    passed = figures["errors"] == 0 and figures["healthy_after"] and figures["server_tracebacks"] == 0
    if mode_name == "overload":
        passed = passed and figures["peak_growth_mb"] < figures["memory_bound_mb"]
    if mode_name == "soak" and not args.smoke:
        passed = passed and figures["rss"]["growth_mb_after_warmup"] <= 50
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
