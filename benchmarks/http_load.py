"""The load generator of `service_throughput.py` when `wrk` is not installed: asyncio + httpx, own process.

    python -m benchmarks.http_load URL BODY_FILE --connections 32 --seconds 30

POSTs the JSON in BODY_FILE to URL from `connections` concurrent keep-alive clients for `seconds`, then prints
one JSON object: requests, elapsed seconds, responses by status (or transport error name), p50/p99 in ms.
It runs as a separate process so that, as with wrk, the client's work is not done by the server's interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.hardening.load import Call, _drive


def post_for(url: str, body: bytes, connections: int, seconds: float) -> dict[str, object]:
    """Drive `url` with `body` and return the figures `service_throughput` reads."""
    parts = urlsplit(url)
    call = Call("post", parts.path, body, {"content-type": "application/json"})
    started = time.monotonic()
    tally = asyncio.run(_drive(f"{parts.scheme}://{parts.netloc}", connections, seconds, [call]))
    elapsed = time.monotonic() - started
    # Unlike wrk, latencies include requests that ended in a transport error (counted in "outcomes").
    latencies_ms = np.asarray(tally.latencies.get("post", [])) * 1000
    measured = latencies_ms.size > 0
    return {
        "requests": sum(tally.outcomes.values()),
        "seconds": elapsed,
        "outcomes": dict(tally.outcomes),
        "p50_ms": float(np.percentile(latencies_ms, 50)) if measured else None,
        "p99_ms": float(np.percentile(latencies_ms, 99)) if measured else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url")
    parser.add_argument("body", type=Path)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    figures = post_for(args.url, args.body.read_bytes(), args.connections, args.seconds)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
