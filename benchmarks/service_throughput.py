"""Throughput and latency of POST /v1/recommendations against a bare FastAPI endpoint, same server settings.

    python benchmarks/service_throughput.py            # 30 s per target, 32 connections; writes results/
    python benchmarks/service_throughput.py --smoke    # 2 s per target, 4 connections, small dense sample
    python benchmarks/service_throughput.py --tool python    # force the Python load generator

Three targets, driven in turn by the same load generator with the same connections and duration:
  bare      benchmarks/bare_app.py: one endpoint returning the declared answer as constant JSON;
  declared  the service answering a declared profile (answered on the event loop);
  dense     the service answering a 64 x 4,096 dense gradient sample sent as JSON (the compute pool).
Both servers run under `optadvisor serve` on loopback (benchmarks/server.py) with identical
OPTADVISOR_* settings: the defaults, except a compute queue as deep as the connection count, so that the dense
target measures work rather than 503s. The load generator is `wrk` when installed (a separate process, Lua
script for the POST body), otherwise `python -m benchmarks.http_load` (asyncio + httpx, a separate process).
Throughput ratios are 2xx responses per second over the bare endpoint's; goal: declared >= 0.5.

The same run also times both apps called in-process through ASGI (no sockets, no uvicorn): the service's own
cost per declared request against the bare app's, which moves less with the machine's network stack than the
throughput ratio does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal
from unittest.mock import patch

import httpx
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bare_app import DECLARED_REQUEST, create_bare_app
from benchmarks.server import REPOSITORY, running_server
from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings

RESULTS_PATH = REPOSITORY / "benchmarks" / "results" / "service_throughput.json"
ENDPOINT = "/v1/recommendations"
GOAL_DECLARED_TO_BARE = 0.5
# A queued dense request waits for up to `connections` others; wrk's default 2 s would count those as errors.
REQUEST_TIMEOUT_SECONDS = 120
# Beyond the run itself: server start-up is bounded by running_server, this bounds the load generator.
GENERATOR_GRACE_SECONDS = 60

Tool = Literal["wrk", "python"]


@dataclass(frozen=True)
class LoadShape:
    """How hard and how long each target is driven, the dense sample's size, and how many declared requests
    each app answers per in-process timing."""

    connections: int
    threads: int
    seconds: int
    dense_steps: int
    dense_coordinates: int
    in_process_requests: int


FULL = LoadShape(
    connections=32, threads=2, seconds=30, dense_steps=64, dense_coordinates=4096, in_process_requests=2000
)
SMOKE = LoadShape(
    connections=4, threads=1, seconds=2, dense_steps=16, dense_coordinates=1024, in_process_requests=50
)


@dataclass(frozen=True)
class Target:
    """One thing to measure: which server answers, and the request body it gets."""

    name: str
    server: Literal["bare", "service"]
    body: bytes
    description: str


@dataclass(frozen=True)
class Figures:
    """What one load-generator run measured against one target."""

    requests: int
    seconds: float
    requests_per_second: float
    ok_per_second: float
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    transport_errors: int


def dense_request(steps: int, coordinates: int) -> dict[str, Any]:
    """A declared profile plus one dense gradient group of `steps` x `coordinates` float32 values (seeded)."""
    values = np.random.default_rng(0).normal(0.0, 0.01, (steps, coordinates)).astype(np.float32)
    return {**DECLARED_REQUEST, "gradients": {"layer": {"format": "dense", "values": values.tolist()}}}


def targets(shape: LoadShape) -> list[Target]:
    declared = json.dumps(DECLARED_REQUEST).encode()
    dense = json.dumps(dense_request(shape.dense_steps, shape.dense_coordinates)).encode()
    dense_label = f"{shape.dense_steps} x {shape.dense_coordinates:,} dense sample as JSON ({len(dense):,} B)"
    return [
        Target("bare", "bare", declared, "bare FastAPI endpoint, constant JSON"),
        Target("declared", "service", declared, f"declared profile ({len(declared)} B)"),
        Target("dense", "service", dense, dense_label),
    ]


def server_settings(shape: LoadShape) -> dict[str, str]:
    return {"compute_queue": str(shape.connections)}


# --- wrk ---------------------------------------------------------------------------------------------------

_WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local file = assert(io.open({path}, "rb"))
wrk.body = file:read("*a")
file:close()
"""
_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def _ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk(output: str) -> Figures:
    """Read the summary `wrk --latency` prints: requests and duration, the 50%/99% lines, error counts."""
    done = re.search(rf"(\d+) requests in {_TIME}", output)
    if done is None:
        raise ValueError(f"no request count in wrk's output:\n{output}")
    requests, seconds = int(done.group(1)), _ms(done.group(2), done.group(3)) / 1000
    percentiles = {
        int(match.group(1)): _ms(match.group(2), match.group(3))
        for match in re.finditer(rf"^\s+(50|99)(?:\.0+)?%\s+{_TIME}\s*$", output, re.MULTILINE)
    }
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    rejected = int(non_2xx.group(1)) if non_2xx else 0
    return Figures(
        requests=requests,
        seconds=seconds,
        requests_per_second=requests / seconds,
        ok_per_second=(requests - rejected) / seconds,
        p50_ms=percentiles.get(50) if requests else None,
        p99_ms=percentiles.get(99) if requests else None,
        non_2xx=rejected,
        transport_errors=sum(int(count) for count in socket_errors.groups()) if socket_errors else 0,
    )


def run_wrk(url: str, body_path: Path, shape: LoadShape) -> Figures:
    script = body_path.with_suffix(".lua")
    # A JSON string literal is a valid Lua string literal for a plain file path.
    script.write_text(_WRK_SCRIPT.format(path=json.dumps(str(body_path))))
    command = [
        "wrk",
        f"--threads={shape.threads}",
        f"--connections={shape.connections}",
        f"--duration={shape.seconds}s",
        f"--timeout={REQUEST_TIMEOUT_SECONDS}s",
        "--latency",
        f"--script={script}",
        url,
    ]
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=shape.seconds + GENERATOR_GRACE_SECONDS, check=True
    )
    return parse_wrk(finished.stdout)


# --- Python fallback ---------------------------------------------------------------------------------------


def figures_from_http_load(report: dict[str, Any]) -> Figures:
    """Turn `benchmarks.http_load`'s output into Figures (transport errors are not requests, as in wrk)."""
    outcomes: dict[str, int] = report["outcomes"]
    answered = {status: count for status, count in outcomes.items() if status.isdigit()}
    requests = sum(answered.values())
    ok = sum(count for status, count in answered.items() if status.startswith("2"))
    seconds = float(report["seconds"])
    return Figures(
        requests=requests,
        seconds=seconds,
        requests_per_second=requests / seconds,
        ok_per_second=ok / seconds,
        p50_ms=report["p50_ms"],
        p99_ms=report["p99_ms"],
        non_2xx=requests - ok,
        transport_errors=sum(outcomes.values()) - requests,
    )


def run_python(url: str, body_path: Path, shape: LoadShape) -> Figures:
    command = [
        sys.executable,
        "-m",
        "benchmarks.http_load",
        url,
        str(body_path),
        f"--connections={shape.connections}",
        f"--seconds={shape.seconds}",
    ]
    finished = subprocess.run(
        command,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=shape.seconds + REQUEST_TIMEOUT_SECONDS + GENERATOR_GRACE_SECONDS,
        check=True,
    )
    return figures_from_http_load(json.loads(finished.stdout))


# --- the run -----------------------------------------------------------------------------------------------


def _warm_up(url: str, body: bytes) -> None:
    """One request first (the first dense one pays for lazy imports), which must succeed."""
    response = httpx.post(
        url, content=body, headers={"content-type": "application/json"}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    if response.status_code != 200:
        raise RuntimeError(f"warm-up request to {url} got {response.status_code}: {response.text[:500]}")


# --- in-process (ASGI) ------------------------------------------------------------------------------------

IN_PROCESS_REPEATS = 7


def _declared_scope(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": ENDPOINT,
        "raw_path": ENDPOINT.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _answer_declared(app: Any, body: bytes) -> None:
    delivered = False
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # the app only listens for a disconnect once the body is in
            await asyncio.Event().wait()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(_declared_scope(body), receive, send)
    if statuses != [200]:
        raise RuntimeError(f"in-process declared request answered {statuses}")


async def _microseconds_per_request(app: Any, body: bytes, requests: int) -> float:
    """Median over repeats of the mean time per request, after a warm-up."""
    for _ in range(requests // 4):
        await _answer_declared(app, body)
    means = []
    for _ in range(IN_PROCESS_REPEATS):
        started = time.perf_counter()
        for _ in range(requests):
            await _answer_declared(app, body)
        means.append((time.perf_counter() - started) / requests * 1e6)
    return statistics.median(means)


@contextmanager
def _stderr_discarded() -> Iterator[None]:
    """Send fd 2 (the service's log lines) to /dev/null for the duration."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _default_settings(work_dir: Path) -> Settings:
    """Defaults, as the wrk servers get them: OPTADVISOR_* variables of the calling shell are ignored, and
    studies go to a fresh SQLite file in `work_dir` (as `benchmarks.server` gives each server)."""
    own = {name: value for name, value in os.environ.items() if not name.startswith("OPTADVISOR_")}
    with patch.dict(os.environ, own, clear=True):
        return Settings(database_url=f"sqlite:///{work_dir.resolve() / 'in-process.db'}")


async def _in_process(requests: int, work_dir: Path) -> dict[str, float]:
    body = json.dumps(DECLARED_REQUEST).encode()
    settings = _default_settings(work_dir)
    bare, service = create_bare_app(settings), create_app(settings)
    async with bare.router.lifespan_context(bare), service.router.lifespan_context(service):
        # Alternating, so that a slow phase of the machine hits both alike; the lower of each pair is kept.
        bare_us = min([await _microseconds_per_request(bare, body, requests) for _ in range(2)])
        service_us = min([await _microseconds_per_request(service, body, requests) for _ in range(2)])
    return {
        "bare_us_per_request": round(bare_us, 1),
        "declared_us_per_request": round(service_us, 1),
        "declared_extra_us_per_request": round(service_us - bare_us, 1),
        "declared_to_bare_time": round(service_us / bare_us, 2),
    }


def measure_in_process(requests: int, work_dir: Path) -> dict[str, float]:
    """Time per declared request of the service (each one a stored study) and of the bare app, both called
    through ASGI in this process with their access logs discarded: the application's own cost, without
    sockets or uvicorn."""
    with _stderr_discarded():
        return asyncio.run(_in_process(requests, work_dir))


def measure(shape: LoadShape, tool: Tool, work_dir: Path) -> dict[str, Any]:
    """Start both servers, drive every target in turn with `tool`, and return the report."""
    settings = server_settings(shape)
    generate = run_wrk if tool == "wrk" else run_python
    results: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()
    with ExitStack() as stack:
        servers = {
            "bare": stack.enter_context(running_server(work_dir, settings, module="benchmarks.bare_app")),
            "service": stack.enter_context(running_server(work_dir, settings)),
        }
        for target in targets(shape):
            url = f"{servers[target.server].url}{ENDPOINT}"
            body_path = work_dir / f"{target.name}.json"
            body_path.write_bytes(target.body)
            _warm_up(url, target.body)
            figures = generate(url, body_path, shape)
            results[target.name] = {"description": target.description, **asdict(figures)}
    in_process = measure_in_process(shape.in_process_requests, work_dir)
    bare = results["bare"]["ok_per_second"]
    ratios = {f"{name}_to_bare": results[name]["ok_per_second"] / bare for name in ("declared", "dense")}
    return {
        "tool": tool,
        "load": asdict(shape),
        "server_settings": settings,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "targets": results,
        "ratios": ratios,
        "in_process": in_process,
        "goal_declared_to_bare": GOAL_DECLARED_TO_BARE,
        "goal_met": ratios["declared_to_bare"] >= GOAL_DECLARED_TO_BARE,
    }


def _cell(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(report: dict[str, Any]) -> str:
    rows = [
        f"{'target':<9} {'req/s':>9} {'2xx/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'non-2xx':>8} {'errors':>7}"
    ]
    for name, figures in report["targets"].items():
        rows.append(
            f"{name:<9} {_cell(figures['requests_per_second']):>9} {_cell(figures['ok_per_second']):>9} "
            f"{_cell(figures['p50_ms'], 2):>9} {_cell(figures['p99_ms'], 2):>9} "
            f"{figures['non_2xx']:>8} {figures['transport_errors']:>7}"
        )
    ratios = report["ratios"]
    rows.append(
        f"declared / bare = {ratios['declared_to_bare']:.2f} (goal >= {report['goal_declared_to_bare']}), "
        f"dense / bare = {ratios['dense_to_bare']:.4f}; load generator: {report['tool']}"
    )
    in_process = report["in_process"]
    rows.append(
        f"in-process (ASGI) per declared request: service {in_process['declared_us_per_request']:.1f} µs, "
        f"bare {in_process['bare_us_per_request']:.1f} µs, "
        f"extra {in_process['declared_extra_us_per_request']:.1f} µs"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--smoke", action="store_true", help="seconds-long run with a small dense sample (CI)"
    )
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk if installed)",
    )
    parser.add_argument(
        "--output", type=Path, help=f"where to write the JSON (full runs default: {RESULTS_PATH})"
    )
    args = parser.parse_args(argv)
    tool: Tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk")) else "python"
    with tempfile.TemporaryDirectory() as work_dir:
        report = measure(SMOKE if args.smoke else FULL, tool, Path(work_dir))
    report["smoke"] = args.smoke
    output = args.output or (None if args.smoke else RESULTS_PATH)
    if output is not None:
        output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    every_target_answered = all(figures["ok_per_second"] > 0 for figures in report["targets"].values())
    return 0 if every_target_answered else 1


if __name__ == "__main__":
    sys.exit(main())
