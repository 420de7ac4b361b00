"""Peak server memory under overload, for bodies that expand: dense JSON, compressed .npz, COO, raw uploads.

    python benchmarks/hardening/memory.py                  # every scenario, default server settings
    python benchmarks/hardening/memory.py --only coo-107B  # one scenario
    python benchmarks/hardening/memory.py --smoke          # small bodies and limits, a few seconds each

Each scenario gets a fresh server (`optadvisor serve`, so VmHWM, the kernel's exact high-water mark of its
resident memory, belongs to that scenario alone), one warm-up request of each kind, then `clients`
concurrent clients each sending the scenario's body `rounds` times. The peak growth over the warm server is
compared with the documented bound: OPTADVISOR_MAX_BUFFERED_BYTES + OPTADVISOR_COMPUTE_MEMORY_BYTES + 64 MB.
The server's answers, read from its access log, may be 200, 413 (a request that can never fit) and 503 (one
that does not fit now); anything else is an error. A body refused before it is read (by its Content-Length)
is answered at once and the connection closed while the client may still be sending, so the client can see
a transport error instead of the answer: clients' outcomes are reported as well, but judged by the server's.
After the burst the server idles for a few seconds and its RSS is compared with before.
Writes benchmarks/results/hardening_memory.json (not in smoke mode) and prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.hardening.load import memory_bound_mb, peak_rss_bytes
from benchmarks.server import REPOSITORY, running_server

RESULTS = REPOSITORY / "benchmarks" / "results" / "hardening_memory.json"
MIB = 1024 * 1024
ALLOWED = {"200", "413", "503"}
SETTLE_SECONDS = 5.0


@dataclass(frozen=True)
class Body:
    """One request: where it goes, its bytes and headers, and a word on what it expands to."""

    path: str
    content: bytes
    headers: dict[str, str]
    params: dict[str, str]
    expands_to: str


@dataclass(frozen=True)
class Scenario:
    clients: int
    rounds: int
    body: Callable[[], Body]


def _json_body(document: Any, expands_to: str) -> Body:
    return Body(
        "/v1/profiles", json.dumps(document).encode(), {"content-type": "application/json"}, {}, expands_to
    )


def dense_json(megabytes: float) -> Callable[[], Body]:
    """Rows of 256 float32 values written as JSON (as Python writes them, about 22 bytes each), `megabytes`
    of them."""

    def build() -> Body:
        rng = np.random.default_rng(0)
        row_bytes = len(json.dumps(rng.normal(0, 0.01, 256).astype(np.float32).tolist()))
        rows = max(2, int(megabytes * MIB / row_bytes))
        values = rng.normal(0, 0.01, (rows, 256)).astype(np.float32)
        document = {"gradients": {"g": {"format": "dense", "values": values.tolist()}}}
        return _json_body(document, f"{rows * 256:,} values as Python objects, then float64")

    return build


def coo(steps: int, coordinates: int, entries: int) -> Callable[[], Body]:
    """A COO sample of `entries` listed values densified to steps x coordinates float64."""

    def build() -> Body:
        rng = np.random.default_rng(1)
        flat = rng.choice(steps * coordinates, size=entries, replace=False) if entries else np.zeros(0, int)
        sample = {
            "format": "coo",
            "shape": [steps, coordinates],
            "step": (flat // coordinates).tolist() or [0],
            "index": (flat % coordinates).tolist() or [0],
            "values": rng.normal(0, 0.01, max(entries, 1)).tolist(),
        }
        return _json_body(
            {"gradients": {"g": sample}}, f"{steps * coordinates * 8 / MIB:,.0f} MiB dense float64"
        )

    return build


def npz_compressed(steps: int, coordinates: int) -> Callable[[], Body]:
    """A deflated .npz of a mostly-zero float32 array (about 100:1) sent as the raw body."""

    def build() -> Body:
        array = np.zeros((steps, coordinates), np.float32)
        array[:, ::97] = 0.01
        buffer = io.BytesIO()
        np.savez_compressed(buffer, g=array)
        return Body(
            "/v1/profiles",
            buffer.getvalue(),
            {"content-type": "application/octet-stream"},
            {"filename": "grads.npz"},
            f"{array.nbytes / MIB:,.0f} MiB decompressed",
        )

    return build


def raw_npy(steps: int, coordinates: int) -> Callable[[], Body]:
    """A float32 .npy sent as the raw body."""

    def build() -> Body:
        array = np.random.default_rng(2).normal(0, 0.01, (steps, coordinates)).astype(np.float32)
        buffer = io.BytesIO()
        np.save(buffer, array)
        return Body(
            "/v1/profiles",
            buffer.getvalue(),
            {"content-type": "application/octet-stream"},
            {"filename": "grads.npy"},
            f"{array.nbytes / MIB:,.0f} MiB float32",
        )

    return build


SCENARIOS = {
    "dense-json-61MiB": Scenario(20, 1, dense_json(61)),
    "dense-json-8MiB": Scenario(20, 2, dense_json(8)),
    "npz-inflating-100MiB": Scenario(20, 2, npz_compressed(100, 262_144)),
    "npz-inflating-400MiB": Scenario(20, 1, npz_compressed(400, 262_144)),
    "coo-107B": Scenario(20, 2, coo(2, 12_500_000, 0)),
    "coo-1.7MB": Scenario(20, 2, coo(64, 200_000, 100_000)),
    "raw-npy-32MiB": Scenario(20, 2, raw_npy(32, 262_144)),
}
SMOKE_SETTINGS = {
    "max_request_bytes": str(4 * MIB),
    "max_buffered_bytes": str(16 * MIB),
    "compute_memory_bytes": str(128 * MIB),
}
SMOKE_SCENARIOS = {
    "dense-json-2MiB": Scenario(6, 1, dense_json(2)),
    "npz-inflating-16MiB": Scenario(6, 1, npz_compressed(16, 262_144)),
    "coo-107B": Scenario(6, 1, coo(2, 2_000_000, 0)),
    "raw-npy-2MiB": Scenario(6, 1, raw_npy(2, 262_144)),
}


def _answers(log: str, path: str) -> Counter[str]:
    """Statuses of the POSTs to `path` in the server's access log (its lines read "POST <path> NNN")."""
    return Counter(re.findall(rf'"POST {re.escape(path)} (\d{{3}})"', log))


async def _burst(url: str, body: Body, clients: int, rounds: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def one_client() -> None:
            for _ in range(rounds):
                try:
                    response = await client.post(
                        body.path, content=body.content, headers=body.headers, params=body.params
                    )
                    outcomes[str(response.status_code)] += 1
                except httpx.TransportError as error:
                    outcomes[type(error).__name__] += 1

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return outcomes


def run_scenario(name: str, scenario: Scenario, settings: dict[str, str], log_dir: Path) -> dict[str, Any]:
    body = scenario.body()
    server_settings = {"log_level": "INFO", **settings}
    with running_server(log_dir, server_settings) as server:
        # Warm: the first profile pays for imports and caches, not for this body.
        dense = {"format": "dense", "values": [[0.01, 0.0], [0.02, 0.1], [0.0, 0.3]]}
        httpx.post(f"{server.url}/v1/profiles", json={"gradients": {"g": dense}}, timeout=60)
        time.sleep(0.5)  # the warm-up's access line is written by a background thread
        before = server.rss_bytes()
        answered_before = _answers(server.log(), body.path)
        started = time.monotonic()
        outcomes = asyncio.run(_burst(server.url, body, scenario.clients, scenario.rounds))
        seconds = time.monotonic() - started
        peak = peak_rss_bytes(server.process.pid)
        time.sleep(SETTLE_SECONDS)
        settled = server.rss_bytes()
        healthy = httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
        log = server.log()
        tracebacks = log.count("Traceback")
        answers = _answers(log, body.path) - answered_before
    bound = memory_bound_mb(settings)
    growth = (peak - before) / MIB
    return {
        "scenario": name,
        "body_bytes": len(body.content),
        "expands_to": body.expands_to,
        "clients": scenario.clients,
        "rounds": scenario.rounds,
        "seconds": round(seconds, 1),
        "server_answers": dict(sorted(answers.items())),
        "client_outcomes": dict(sorted(outcomes.items())),
        "errors": sum(count for status, count in answers.items() if status not in ALLOWED),
        "answered_all": answers.total() == scenario.clients * scenario.rounds,
        "rss_mb_before": round(before / MIB, 1),
        "peak_growth_mb": round(growth, 1),
        "bound_mb": round(bound, 1),
        "within_bound": growth <= bound,
        "settled_growth_mb": round((settled - before) / MIB, 1),
        "healthy_after": healthy,
        "server_tracebacks": tracebacks,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="small bodies and limits (CI)")
    parser.add_argument("--only", action="append", help="run this scenario (repeatable)")
    parser.add_argument("--output", type=Path, help="where to write the JSON figures")
    args = parser.parse_args(argv)
    scenarios = SMOKE_SCENARIOS if args.smoke else SCENARIOS
    settings = SMOKE_SETTINGS if args.smoke else {}
    chosen = args.only or list(scenarios)
    results = []
    with tempfile.TemporaryDirectory() as logs:
        for name in chosen:
            result = run_scenario(name, scenarios[name], settings, Path(logs))
            print(json.dumps(result), flush=True)
            results.append(result)
    document = {"benchmark": "hardening memory", "smoke": args.smoke, "settings": settings, "runs": results}
    output = args.output or (None if args.smoke else RESULTS)
    if output is not None:
        output.write_text(json.dumps(document, indent=2) + "\n")
    passed = all(
        run["within_bound"]
        and run["errors"] == 0
        and run["answered_all"]
        and run["healthy_after"]
        and run["server_tracebacks"] == 0
        for run in results
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
