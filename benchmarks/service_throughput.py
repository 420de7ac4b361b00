"""Throughput, latency and server CPU of POST /v1/recommendations against a bare FastAPI endpoint.

    python benchmarks/service_throughput.py            # 3 repeats x 20 s per target, 32 connections
    python benchmarks/service_throughput.py --smoke    # 1 repeat, 2 s per target, 4 connections (CI)
    python benchmarks/service_throughput.py --tool python    # force the Python load generator
    python benchmarks/service_throughput.py --dense    # also the 64 x 4,096 dense JSON target (slow)

Targets, driven in turn by the same load generator with the same connections and duration:
  bare      benchmarks/bare_app.py: one endpoint returning the declared answer as constant JSON;
  varied    the service answering declared profiles that differ in every request (training_steps unique,
            sparsity, budget, family, framework varied: benchmarks/worker_throughput.varied_body), so its
            answer cache never answers: the rules run for every request, and each answer is a new study with
            its own stored advice;
  declared  the service answering one repeated declared profile (after the first, from the answer cache;
            each request still a stored study);
  dense     (with --dense) a 64 x 4,096 dense gradient sample sent as JSON (the compute pool).
Both servers run under `optadvisor serve` on loopback (benchmarks/server.py) with identical OPTADVISOR_*
settings: the defaults (studies stored in SQLite), except a compute queue as deep as the connection count.
Every repeat starts both servers afresh and drives the targets in an order that flips every repeat. The load
generator is `wrk` when installed (a Lua script builds each varied body), otherwise an asyncio + httpx loop.
Per target: 2xx/s, p50/p99, the server's CPU seconds per answered request (psutil, the serving process and
its children, over the run), and for the service the answer cache's hit rate (its /metrics before and
after). Ratios are per repeat, against the bare endpoint of the same repeat; the report gives their median
and range. Goals (issue 19): varied >= 0.5x bare throughput, and CPU per request <= 2x bare.

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal
from unittest.mock import patch

import httpx
import numpy as np
import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bare_app import DECLARED_REQUEST, create_bare_app
from benchmarks.server import REPOSITORY, RunningServer, running_server
from optadvisor.service.app import create_app
from optadvisor.service.settings import Settings


def varied_body(number: int) -> bytes:
    """`worker_throughput.varied_body` (imported when called: that module imports this one)."""
    from benchmarks import worker_throughput

    return worker_throughput.varied_body(number)


RESULTS_PATH = REPOSITORY / "benchmarks" / "results" / "service_throughput.json"
ENDPOINT = "/v1/recommendations"
GOAL_DECLARED_TO_BARE = 0.5
GOAL_CPU_TO_BARE = 2.0
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
    repeats: int


FULL = LoadShape(
    connections=32,
    threads=2,
    seconds=20,
    dense_steps=64,
    dense_coordinates=4096,
    in_process_requests=500,
    repeats=3,
)
SMOKE = LoadShape(
    connections=4,
    threads=1,
    seconds=2,
    dense_steps=16,
    dense_coordinates=1024,
    in_process_requests=50,
    repeats=1,
)


@dataclass(frozen=True)
class Target:
    """One thing to measure: which server answers, and the request body it gets."""

    name: str
    server: Literal["bare", "service"]
    body: bytes | None  # None: a different declared profile in every request (`varied_body`)
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


def targets(shape: LoadShape, dense: bool) -> list[Target]:
    declared = json.dumps(DECLARED_REQUEST).encode()
    chosen = [
        Target("bare", "bare", declared, "bare FastAPI endpoint, constant JSON"),
        Target("varied", "service", None, "declared profiles, a different body in every request"),
        Target("declared", "service", declared, f"one repeated declared profile ({len(declared)} B)"),
    ]
    if dense:
        body = json.dumps(dense_request(shape.dense_steps, shape.dense_coordinates)).encode()
        label = f"{shape.dense_steps} x {shape.dense_coordinates:,} dense sample as JSON ({len(body):,} B)"
        chosen.append(Target("dense", "service", body, label))
    return chosen


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


class _Bodies:
    """Request bodies for the in-process timing: one repeated body, or (`body` None) a fresh varied one each
    time, numbered from far above what the load generators send."""

    def __init__(self, body: bytes | None, start: int) -> None:
        self.body, self.number = body, start

    def next(self) -> bytes:
        if self.body is not None:
            return self.body
        self.number += 1
        return varied_body(self.number)


async def _microseconds_per_request(app: Any, bodies: _Bodies, requests: int) -> tuple[float, float]:
    """Median over repeats of the mean wall time and the mean process CPU time (every thread: the study
    writer and the log writer included) per request, after a warm-up."""
    for _ in range(requests // 4):
        await _answer_declared(app, bodies.next())
    walls, cpus = [], []
    for _ in range(IN_PROCESS_REPEATS):
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(requests):
            await _answer_declared(app, bodies.next())
        walls.append((time.perf_counter() - started) / requests * 1e6)
        cpus.append((time.process_time() - cpu) / requests * 1e6)
    return statistics.median(walls), statistics.median(cpus)


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


# Where a varied request's CPU goes, by the function (its cumulative time under cProfile) that does each part.
# Nested parts are subtracted from the part that calls them; "framework" is what is left of the whole request.
LAYERS: dict[str, tuple[str, ...]] = {
    "body reading (read_body)": ("bodies.py:read_body",),
    "JSON parsing (parse_json)": ("bodies.py:parse_json",),
    "request validation (pydantic)": ("bodies.py:validate",),
    "engine (rules.recommend, config building aside)": ("engine.py:recommend",),
    "config building (build_configs)": ("frameworks.py:build_configs",),
    "answer serialisation (model_dump_json, the study's id spliced in)": (
        "jobs.py:_advice",
        "studies.py:answer",
    ),
    "storage, event loop side (Studies.create)": ("studies.py:create",),
    "access log and metrics (log_access, observe_request)": (
        "logs.py:log_access",
        "metrics.py:observe_request",
    ),
}
_ENGINE, _CONFIGS = "engine (rules.recommend, config building aside)", "config building (build_configs)"
_SERIALISATION, _STORAGE = (
    "answer serialisation (model_dump_json, the study's id spliced in)",
    "storage, event loop side (Studies.create)",
)


def _cumulative(stats: Any, suffix: str) -> float:
    """Cumulative seconds of the profiled functions named `file:function` (file name's tail)."""
    path, name = suffix.split(":")
    return sum(
        float(entry[3])
        for (filename, _, function), entry in stats.stats.items()
        if function == name and filename.endswith("/" + path)
    )


async def _layer_profile(app: Any, bodies: _Bodies, requests: int) -> dict[str, Any]:
    import cProfile
    import pstats

    # CPU time of this thread: time spent waiting for the GIL or for the study writer is not counted.
    profiler = cProfile.Profile(time.thread_time)
    threads_before = _thread_cpu()
    profiler.enable()
    for _ in range(requests):
        await _answer_declared(app, bodies.next())
    profiler.disable()
    threads = {name: seconds - threads_before.get(name, 0.0) for name, seconds in _thread_cpu().items()}
    stats = pstats.Stats(profiler)
    total = _cumulative(stats, "fastapi/applications.py:__call__")
    parts = {
        name: sum(_cumulative(stats, suffix) for suffix in suffixes) for name, suffixes in LAYERS.items()
    }
    splice = _cumulative(stats, "studies.py:answer")
    # Nested parts: _advice holds the engine, which holds config building; Studies.create holds the splice.
    parts[_SERIALISATION] -= parts[_ENGINE]
    parts[_ENGINE] -= parts[_CONFIGS]
    parts[_STORAGE] -= splice
    parts["framework, routing and middleware (the rest of the request)"] = total - sum(parts.values())
    return {
        "requests": requests,
        "profiled_us_per_request": round(total / requests * 1e6, 1),
        "shares": {name: round(seconds / total, 3) for name, seconds in parts.items()},
        "other_threads_us_per_request": {
            name: round(seconds / requests * 1e6, 1) for name, seconds in threads.items() if seconds > 0
        },
    }


def _thread_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's named helper threads (study writer, log writer)."""
    import threading

    seconds = {}
    for thread in threading.enumerate():
        if thread.name.startswith("optadvisor-") and thread.native_id is not None:
            try:
                clock = time.pthread_getcpuclockid(thread.ident)  # type: ignore[arg-type]
                seconds[thread.name] = time.clock_gettime(clock)
            except (OSError, TypeError):
                continue
    return seconds


async def _in_process(requests: int, work_dir: Path, profile: bool) -> dict[str, Any]:
    body = json.dumps(DECLARED_REQUEST).encode()
    settings = _default_settings(work_dir)
    bare, service = create_bare_app(settings), create_app(settings)
    kinds = {
        "bare": (bare, _Bodies(body, 0)),
        "declared": (service, _Bodies(body, 0)),
        "varied": (service, _Bodies(None, 10**9)),
    }
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in kinds}
    async with bare.router.lifespan_context(bare), service.router.lifespan_context(service):
        # Alternating, so that a slow phase of the machine hits every kind alike; the lower of each is kept.
        for _ in range(2):
            for name, (app, bodies) in kinds.items():
                found[name].append(await _microseconds_per_request(app, bodies, requests))
        layers = await _layer_profile(service, kinds["varied"][1], requests) if profile else None
    best = {name: min(runs) for name, runs in found.items()}
    report: dict[str, Any] = {
        f"{name}_{what}_us_per_request": round(value[index], 1)
        for name, value in best.items()
        for index, what in enumerate(("wall", "cpu"))
    }
    # The figures the earlier reports named (declared = the repeated body).
    report["bare_us_per_request"] = report["bare_wall_us_per_request"]
    report["declared_us_per_request"] = report["declared_wall_us_per_request"]
    report["declared_extra_us_per_request"] = round(best["declared"][0] - best["bare"][0], 1)
    report["declared_to_bare_time"] = round(best["declared"][0] / best["bare"][0], 2)
    report["varied_to_bare_cpu"] = round(best["varied"][1] / best["bare"][1], 2)
    if layers is not None:
        report["varied_layers"] = layers
    return report


def measure_in_process(requests: int, work_dir: Path, profile: bool = True) -> dict[str, Any]:
    """Time and CPU per request of the bare app and of the service (a repeated body; varied bodies, each
    one a stored study), all called through ASGI in this process with their access logs discarded: the
    application's own cost, without sockets or uvicorn; and where a varied request's time goes (cProfile)."""
    with _stderr_discarded():
        return asyncio.run(_in_process(requests, work_dir, profile))


# --- against servers ------------------------------------------------------------------------------------


def _tree_cpu_seconds(server: RunningServer) -> float:
    """User + system CPU seconds of the server process and its children so far."""
    root = psutil.Process(server.process.pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _metrics(server: RunningServer) -> str:
    return httpx.get(f"{server.url}/metrics", timeout=REQUEST_TIMEOUT_SECONDS).text


def _drive(target: Target, server: RunningServer, shape: LoadShape, tool: Tool, work_dir: Path) -> Figures:
    from benchmarks import worker_throughput as varied

    url = f"{server.url}{ENDPOINT}"
    if target.body is None:
        varied_shape = varied.Shape(shape.connections, shape.threads, shape.seconds, 1)
        if tool == "wrk":
            return varied.run_wrk(url, varied_shape, work_dir)
        return asyncio.run(varied._python_load(url, varied_shape))
    body_path = work_dir / f"{target.name}.json"
    body_path.write_bytes(target.body)
    return (run_wrk if tool == "wrk" else run_python)(url, body_path, shape)


def measure_target(
    target: Target, server: RunningServer, shape: LoadShape, tool: Tool, work_dir: Path
) -> dict[str, Any]:
    """Drive one target and return its figures, the server's CPU per answered request and, for the
    service, its answer cache's hit rate over the run."""
    _warm_up(f"{server.url}{ENDPOINT}", target.body if target.body is not None else varied_body(-1))
    before = _metrics(server) if target.server == "service" else ""
    cpu = _tree_cpu_seconds(server)
    figures = _drive(target, server, shape, tool, work_dir)
    cpu = _tree_cpu_seconds(server) - cpu
    answered = figures.ok_per_second * figures.seconds
    result: dict[str, Any] = {
        "description": target.description,
        **asdict(figures),
        "server_cpu_seconds": round(cpu, 2),
        "server_cpu_us_per_request": round(cpu / answered * 1e6, 1) if answered else None,
    }
    if target.server == "service":
        from benchmarks.worker_throughput import answered_recommendations, cache_hits

        after = _metrics(server)
        served = answered_recommendations(after) - answered_recommendations(before)
        hits = cache_hits(after) - cache_hits(before)
        result["cache_hit_rate"] = round(hits / served, 4) if served else None
    return result


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def measure(shape: LoadShape, tool: Tool, work_dir: Path, dense: bool = False) -> dict[str, Any]:
    """Every repeat: start both servers, drive every target in turn with `tool` (the order flips each
    repeat), then time the apps in-process; return the report with per-repeat ratios and their spread."""
    settings = server_settings(shape)
    load_before = os.getloadavg()
    chosen = targets(shape, dense)
    repeats: list[dict[str, Any]] = []
    for repeat in range(shape.repeats):
        results: dict[str, dict[str, Any]] = {}
        order = chosen if repeat % 2 == 0 else [chosen[0], *reversed(chosen[1:])]
        if repeat % 2 == 1:  # bare last as well as first in turn
            order = [*order[1:], order[0]]
        with ExitStack() as stack:
            servers = {
                "bare": stack.enter_context(running_server(work_dir, settings, module="benchmarks.bare_app")),
                "service": stack.enter_context(running_server(work_dir, settings)),
            }
            for target in order:
                results[target.name] = measure_target(target, servers[target.server], shape, tool, work_dir)
        bare = results["bare"]
        ratios: dict[str, float] = {}
        for name in results:
            if name == "bare":
                continue
            ratios[f"{name}_to_bare"] = results[name]["ok_per_second"] / bare["ok_per_second"]
            if results[name]["server_cpu_us_per_request"] and bare["server_cpu_us_per_request"]:
                ratios[f"{name}_cpu_to_bare"] = (
                    results[name]["server_cpu_us_per_request"] / bare["server_cpu_us_per_request"]
                )
        repeats.append({"order": [target.name for target in order], "targets": results, "ratios": ratios})
    in_process = measure_in_process(shape.in_process_requests, work_dir)
    names = sorted({name for run in repeats for name in run["ratios"]})
    summary = {
        name: _spread([run["ratios"][name] for run in repeats if name in run["ratios"]]) for name in names
    }
    varied_ratio = summary["varied_to_bare"]["median"]
    varied_cpu = summary.get("varied_cpu_to_bare", {}).get("median")
    return {
        "tool": tool,
        "load": asdict(shape),
        "server_settings": settings,
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(value, 2) for value in load_before],
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "repeats": repeats,
        # The last repeat's figures, under the names earlier reports used.
        "targets": repeats[-1]["targets"],
        "ratios": summary,
        "in_process": in_process,
        "goal_varied_to_bare": GOAL_DECLARED_TO_BARE,
        "goal_cpu_to_bare": GOAL_CPU_TO_BARE,
        "goal_throughput_met": varied_ratio >= GOAL_DECLARED_TO_BARE,
        "goal_cpu_met": varied_cpu is not None and varied_cpu <= GOAL_CPU_TO_BARE,
    }


def _cell(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def table(report: dict[str, Any]) -> str:
    rows = [
        f"{'run':<4} {'target':<9} {'2xx/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7} "
        f"{'CPU µs/req':>11} {'cache hits':>10}"
    ]
    for number, run in enumerate(report["repeats"], 1):
        for name, figures in run["targets"].items():
            hits = figures.get("cache_hit_rate")
            rows.append(
                f"{number:<4} {name:<9} {_cell(figures['ok_per_second']):>9} "
                f"{_cell(figures['p50_ms'], 2):>8} {_cell(figures['p99_ms'], 2):>8} "
                f"{figures['non_2xx']:>8} {figures['transport_errors']:>7} "
                f"{_cell(figures['server_cpu_us_per_request']):>11} "
                f"{'' if hits is None else f'{hits:.0%}':>10}"
            )
    for name, spread in report["ratios"].items():
        rows.append(f"{name}: median {spread['median']:.3f} (range {spread['min']:.3f}-{spread['max']:.3f})")
    rows.append(
        f"goals: varied >= {report['goal_varied_to_bare']} x bare throughput "
        f"({'met' if report['goal_throughput_met'] else 'NOT met'}), CPU per request <= "
        f"{report['goal_cpu_to_bare']} x bare ({'met' if report['goal_cpu_met'] else 'NOT met'}); "
        f"load generator: {report['tool']}"
    )
    in_process = report["in_process"]
    rows.append(
        "in-process (ASGI), wall / CPU µs per request: "
        + ", ".join(
            f"{name} {in_process[f'{name}_wall_us_per_request']:.1f} / "
            f"{in_process[f'{name}_cpu_us_per_request']:.1f}"
            for name in ("bare", "declared", "varied")
        )
    )
    layers = in_process.get("varied_layers")
    if layers:
        rows.append(
            f"where a varied request's time goes (cProfile, {layers['profiled_us_per_request']} µs profiled):"
        )
        rows += [f"  {share:6.1%}  {name}" for name, share in layers["shares"].items()]
        rows += [
            f"  + {name}: {value} µs per request"
            for name, value in layers["other_threads_us_per_request"].items()
        ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (CI)")
    parser.add_argument(
        "--tool",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk if installed)",
    )
    parser.add_argument("--dense", action="store_true", help="also drive the dense JSON gradient target")
    parser.add_argument("--repeats", type=int, help="repeats of every target (full: 3, smoke: 1)")
    parser.add_argument("--seconds", type=int, help="seconds per target and repeat (full: 20, smoke: 2)")
    parser.add_argument(
        "--output", type=Path, help=f"where to write the JSON (full runs default: {RESULTS_PATH})"
    )
    args = parser.parse_args(argv)
    tool: Tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk")) else "python"
    shape = SMOKE if args.smoke else FULL
    if args.repeats is not None:
        shape = replace(shape, repeats=args.repeats)
    if args.seconds is not None:
        shape = replace(shape, seconds=args.seconds)
    with tempfile.TemporaryDirectory() as work_dir:
        report = measure(shape, tool, Path(work_dir), dense=args.dense)
    report["smoke"] = args.smoke
    report["command"] = " ".join(
        ["python benchmarks/service_throughput.py", *(argv if argv is not None else sys.argv[1:])]
    )
    output = args.output or (None if args.smoke else RESULTS_PATH)
    if output is not None:
        output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    every_target_answered = all(
        figures["ok_per_second"] > 0 for run in report["repeats"] for figures in run["targets"].values()
    )
    return 0 if every_target_answered else 1


if __name__ == "__main__":
    sys.exit(main())
