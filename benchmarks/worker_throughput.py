"""Throughput of `optadvisor serve --workers 2` against one worker, on declared profiles that all differ.

    python benchmarks/worker_throughput.py            # 3 interleaved runs of each, 20 s, 50 connections
    python benchmarks/worker_throughput.py --smoke    # 1 run of each, 2 s, 4 connections (CI)

Every request is `POST /v1/recommendations` with a declared profile whose training_steps, sparsity, tuning
budget, model family and framework change from one request to the next (training_steps is unique per
request), so the service's answer cache never answers; the hit rate is read back from the workers' metrics.
The load generator is `wrk` (a Lua script builds each body) when installed, else an asyncio + httpx loop in
this process. Runs with one and with two workers alternate, each on a fresh server with the same settings
(the defaults, log level WARNING, a compute queue as deep as the connection count); the ratio of a repeat is
its two-worker throughput over its one-worker throughput.

The spread across workers is measured, not assumed: every worker is found by its listening socket, each
worker's own /metrics is fetched (a fresh connection per try, the serving process identified by the
connection's server-side socket) before and after the load, and the difference in answered recommendations
gives each worker's share; CPU seconds per worker come from psutil.
Writes benchmarks/results/worker_throughput.json (full runs) and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.server import REPOSITORY, RunningServer, running_server
from benchmarks.service_throughput import Figures, parse_wrk

RESULTS_PATH = REPOSITORY / "benchmarks" / "results" / "worker_throughput.json"
ENDPOINT = "/v1/recommendations"
FAMILIES = ("linear", "mlp", "cnn", "rnn", "transformer", "embedding", "rl", "other")
FRAMEWORKS = ("torch", "keras", "optax")
REQUEST_TIMEOUT_SECONDS = 60
WARM_UP_REQUESTS = 10


@dataclass(frozen=True)
class Shape:
    connections: int
    threads: int
    seconds: int
    repeats: int


FULL = Shape(connections=50, threads=2, seconds=20, repeats=3)
SMOKE = Shape(connections=4, threads=1, seconds=2, repeats=1)


def varied_body(number: int) -> bytes:
    """The `number`-th request body of the Python load generator (wrk's Lua script varies the same fields)."""
    profile = {
        "training_steps": 1000 + number,
        "gradient_sparsity": round((number % 997) / 997, 4),
        "tuning_budget": 1 + number % 50,
        "model_family": FAMILIES[number % len(FAMILIES)],
    }
    return json.dumps({"profile": profile, "framework": FRAMEWORKS[number % len(FRAMEWORKS)]}).encode()


# Thread i of wrk sends numbers i, i + 64, i + 128, ...: training_steps, and so every body, differs.
_WRK_SCRIPT = """local families = @FAMILIES@
local frameworks = @FRAMEWORKS@
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local sent = 0
function request()
  local number = sent * 64 + id
  sent = sent + 1
  local body = string.format(
    '{"profile": {"training_steps": %d, "gradient_sparsity": %.4f, "tuning_budget": %d, '
      .. '"model_family": "%s"}, "framework": "%s"}',
    1000 + number, (number % 997) / 997, 1 + number % 50,
    families[1 + number % 8], frameworks[1 + number % 3])
  return wrk.format("POST", "@ENDPOINT@", {["Content-Type"] = "application/json"}, body)
end
"""


def _lua_list(items: tuple[str, ...]) -> str:
    return "{" + ", ".join(json.dumps(item) for item in items) + "}"


def run_wrk(url: str, shape: Shape, work_dir: Path) -> Figures:
    script = work_dir / "varied.lua"
    script.write_text(
        _WRK_SCRIPT.replace("@FAMILIES@", _lua_list(FAMILIES))
        .replace("@FRAMEWORKS@", _lua_list(FRAMEWORKS))
        .replace("@ENDPOINT@", ENDPOINT)
    )
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
    finished = subprocess.run(command, capture_output=True, text=True, timeout=shape.seconds + 60, check=True)
    return parse_wrk(finished.stdout)


async def _python_load(url: str, shape: Shape) -> Figures:
    """`shape.connections` keep-alive clients; client i sends the bodies numbered i, i + 64, i + 128, ..."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    deadline = time.monotonic() + shape.seconds
    limits = httpx.Limits(max_connections=shape.connections, max_keepalive_connections=shape.connections)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, limits=limits) as client:

        async def one_client(number: int) -> None:
            while time.monotonic() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.post(
                        url, content=varied_body(number), headers={"content-type": "application/json"}
                    )
                    outcome = str(response.status_code)
                except httpx.TransportError as error:
                    outcome = type(error).__name__
                latencies.append(time.perf_counter() - started)
                statuses[outcome] = statuses.get(outcome, 0) + 1
                number += 64

        started = time.monotonic()
        await asyncio.gather(*(one_client(i) for i in range(shape.connections)))
        seconds = time.monotonic() - started
    answered = sum(count for status, count in statuses.items() if status.isdigit())
    ok = sum(count for status, count in statuses.items() if status.startswith("2"))
    milliseconds = np.asarray(latencies) * 1000
    return Figures(
        requests=answered,
        seconds=seconds,
        requests_per_second=answered / seconds,
        ok_per_second=ok / seconds,
        p50_ms=float(np.percentile(milliseconds, 50)),
        p99_ms=float(np.percentile(milliseconds, 99)),
        non_2xx=answered - ok,
        transport_errors=sum(statuses.values()) - answered,
    )


# --- which worker is which --------------------------------------------------------------------------------


def listening_workers(
    server_pid: int, port: int, expected: int, timeout: float = 90.0
) -> list[psutil.Process]:
    """The processes under `server_pid` (itself included) listening on `port`, once `expected` of them do."""
    deadline = time.monotonic() + timeout
    while True:
        supervisor = psutil.Process(server_pid)
        listening = [
            process
            for process in [supervisor, *supervisor.children(recursive=True)]
            if any(
                connection.status == psutil.CONN_LISTEN and connection.laddr.port == port
                for connection in _connections(process)
            )
        ]
        if len(listening) == expected or time.monotonic() > deadline:
            return listening
        time.sleep(0.2)


def _connections(process: psutil.Process) -> list[Any]:
    try:
        return list(process.net_connections(kind="tcp"))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def serving_worker(workers: list[psutil.Process], port: int, client_port: int) -> int | None:
    """The pid of the worker holding the server side of the connection from `client_port` to `port`."""
    for worker in workers:
        for connection in _connections(worker):
            if connection.laddr.port == port and connection.raddr and connection.raddr.port == client_port:
                return int(worker.pid)
    return None


def on_fresh_connection(
    server: RunningServer, workers: list[psutil.Process], path: str, body: bytes | None = None
) -> tuple[int, str, int | None]:
    """GET `path` (POST `body` as JSON if given) on a new connection: status, body, the answering pid."""
    request = f"{'POST' if body else 'GET'} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body:
        request += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=REQUEST_TIMEOUT_SECONDS) as connection:
        connection.sendall(request.encode() + b"\r\n" + (body or b""))
        received = b""
        while b"\r\n\r\n" not in received:
            received += connection.recv(65536)
        head, answer = received.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        while len(answer) < length:
            answer += connection.recv(65536)
        # Asked while the connection is still open: its server side belongs to the worker that answered.
        pid = serving_worker(workers, server.port, connection.getsockname()[1])
    return int(head.split()[1]), answer.decode(), pid


def warm_up(server: RunningServer, workers: list[psutil.Process]) -> None:
    """Requests on fresh connections until every worker has answered a few (the first pays lazy imports).

    The bodies have negative numbers, which the load never sends.
    """
    answered = dict.fromkeys((worker.pid for worker in workers), 0)
    number = -1
    while min(answered.values()) < WARM_UP_REQUESTS:
        status, _, pid = on_fresh_connection(server, workers, ENDPOINT, varied_body(number))
        if status != 200:
            raise RuntimeError(f"warm-up request got {status}")
        if pid is not None:
            answered[pid] += 1
        number -= 1
        if number < -100 * WARM_UP_REQUESTS:
            raise RuntimeError(f"warm-up reached only some workers: {answered}")


def per_worker_metrics(server: RunningServer, workers: list[psutil.Process]) -> dict[int, str]:
    """Each worker's own /metrics text, fetched on fresh connections until every worker has answered."""
    texts: dict[int, str] = {}
    for _ in range(200):
        _, text, pid = on_fresh_connection(server, workers, "/metrics")
        if pid is not None:
            texts.setdefault(pid, text)
        if len(texts) == len(workers):
            return texts
    raise RuntimeError(f"only {len(texts)} of {len(workers)} workers answered /metrics")


def _counter(text: str, pattern: str) -> float:
    return sum(float(value) for value in re.findall(pattern, text, re.MULTILINE))


def answered_recommendations(text: str) -> float:
    return _counter(
        text, r'^optadvisor_requests_total\{[^}]*route="/v1/recommendations"[^}]*status="200"[^}]*\} (\S+)$'
    )


def cache_hits(text: str) -> float:
    return _counter(text, r"^optadvisor_declared_cache_hits_total (\S+)$")


# --- the run ----------------------------------------------------------------------------------------------


def measure_once(workers: int, shape: Shape, tool: str, work_dir: Path) -> dict[str, Any]:
    """Start a server with `workers` workers, drive it with varied bodies, return its figures."""
    settings = {"workers": str(workers), "compute_queue": str(shape.connections), "log_level": "WARNING"}
    with running_server(work_dir, settings) as server:
        processes = listening_workers(server.process.pid, server.port, workers)
        if len(processes) != workers:
            raise RuntimeError(f"{len(processes)} of {workers} workers are listening")
        warm_up(server, processes)
        before = per_worker_metrics(server, processes)
        cpu_before = {p.pid: sum(p.cpu_times()[:2]) for p in processes}
        url = f"{server.url}{ENDPOINT}"
        figures = run_wrk(url, shape, work_dir) if tool == "wrk" else asyncio.run(_python_load(url, shape))
        cpu = {p.pid: sum(p.cpu_times()[:2]) - cpu_before[p.pid] for p in processes}
        after = per_worker_metrics(server, processes)
    served = {
        pid: answered_recommendations(after[pid]) - answered_recommendations(before[pid]) for pid in after
    }
    hits = sum(cache_hits(after[pid]) - cache_hits(before[pid]) for pid in after)
    total = sum(served.values())
    return {
        "workers": workers,
        **asdict(figures),
        # /metrics requests are not counted here: only answered recommendations.
        "per_worker": [
            {"pid": pid, "recommendations": int(served[pid]), "share": served[pid] / total, "cpu_s": cpu[pid]}
            for pid in sorted(served)
        ],
        "cache_hits": int(hits),
        "cache_hit_rate": hits / total if total else None,
    }


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_workers: dict[int, list[dict[str, Any]]] = {}
    for run in runs:
        by_workers.setdefault(run["workers"], []).append(run)
    summary: dict[str, Any] = {}
    for workers, group in sorted(by_workers.items()):
        rates = [run["ok_per_second"] for run in group]
        summary[f"{workers}_workers_ok_per_second"] = {
            "median": statistics.median(rates),
            "range": [min(rates), max(rates)],
        }
    ratios = [
        two["ok_per_second"] / one["ok_per_second"]
        for one, two in zip(by_workers[1], by_workers[2], strict=True)
    ]
    summary["two_to_one"] = {
        "median": statistics.median(ratios),
        "range": [min(ratios), max(ratios)],
        "all": ratios,
    }
    shares = [min(worker["share"] for worker in run["per_worker"]) for run in by_workers[2]]
    summary["two_workers_smallest_share"] = {
        "median": statistics.median(shares),
        "range": [min(shares), max(shares)],
    }
    summary["cache_hit_rate_max"] = max(run["cache_hit_rate"] or 0.0 for run in runs)
    return summary


def table(report: dict[str, Any]) -> str:
    rows = [f"{'workers':>7} {'2xx/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'errors':>7}  shares"]
    for run in report["runs"]:
        shares = " / ".join(f"{worker['share']:.0%}" for worker in run["per_worker"])
        rows.append(
            f"{run['workers']:>7} {run['ok_per_second']:>9.1f} {run['p50_ms']:>8.2f} {run['p99_ms']:>8.2f} "
            f"{run['non_2xx']:>8} {run['transport_errors']:>7}  {shares}"
        )
    summary = report["summary"]
    ratio = summary["two_to_one"]
    low, high = ratio["range"]
    rows.append(
        f"2 workers / 1 worker: {ratio['median']:.2f} (range {low:.2f}-{high:.2f}); "
        f"smallest worker share with 2: {summary['two_workers_smallest_share']['median']:.0%}; "
        f"cache hit rate at most {summary['cache_hit_rate_max']:.1%}; load generator: {report['tool']}"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="seconds-long run (CI)")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto", help="load generator")
    parser.add_argument(
        "--output", type=Path, help=f"where to write the JSON (full runs default: {RESULTS_PATH})"
    )
    args = parser.parse_args(argv)
    shape = SMOKE if args.smoke else FULL
    tool = "wrk" if args.tool == "wrk" or (args.tool == "auto" and shutil.which("wrk")) else "python"
    load_before = os.getloadavg()
    runs = []
    with tempfile.TemporaryDirectory() as work_dir:
        for repeat in range(shape.repeats):
            # Alternating which goes first, so that a slow phase of the machine hits both alike.
            for workers in (1, 2) if repeat % 2 == 0 else (2, 1):
                runs.append({"repeat": repeat, **measure_once(workers, shape, tool, Path(work_dir))})
    report = {
        "smoke": args.smoke,
        "tool": tool,
        "shape": asdict(shape),
        "cpu_count": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "runs": runs,
        "summary": summarise(runs),
    }
    output = args.output or (None if args.smoke else RESULTS_PATH)
    if output is not None:
        output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
