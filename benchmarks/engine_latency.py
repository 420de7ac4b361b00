"""Latency of the recommendation engine on declared-only profiles (goal: ≤ 1 ms each).

Each call sends a different request (the profile with a training length of its own), as varied traffic does.

For a set of representative declared profiles, `rules.recommend` is timed against two references
measured in the same run on the same inputs: validating the request model alone, and serialising the
finished recommendation to JSON (what the HTTP layer does with it anyway). Calls alternate so machine
noise hits all three alike; medians over many calls are reported in µs and as ratios.
Writes benchmarks/results/engine_latency.json.

    python benchmarks/engine_latency.py           # full run (seconds)
    python benchmarks/engine_latency.py --smoke   # quick run for CI
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optadvisor.rules import RecommendationRequest, RuleSet, load_ruleset, recommend

RESULTS = Path(__file__).resolve().parent / "results" / "engine_latency.json"
GOAL_US = 1000.0

PROFILES: dict[str, dict[str, Any]] = {
    "empty": {},
    "sparse convex": {"profile": {"gradient_sparsity": 0.97, "convex": True, "training_steps": 5000}},
    "rnn, keras": {"profile": {"model_family": "rnn", "tuning_budget": 12}, "framework": "keras"},
    "budget 1, optax": {
        "profile": {"tuning_budget": 1, "stationarity": "non_stationary"},
        "framework": "optax",
    },
    "transformer": {
        "profile": {"model_family": "transformer", "training_steps": 200_000, "tuning_budget": 8}
    },
}


def _time_us(call: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - start) / 1000.0


def _varied(payload: dict[str, Any], call: int) -> RecommendationRequest:
    """The profile with a training length of its own for this call, so no two calls repeat a request (the
    engine's plan memo and config caches then work as they do on varied traffic, not on one body)."""
    profile = {**payload.get("profile", {}), "training_steps": 1_000 + 37 * call}
    return RecommendationRequest.model_validate({**payload, "profile": profile})


def measure(payload: dict[str, Any], ruleset: RuleSet, calls: int) -> dict[str, float]:
    """Median µs of recommend() on a different request each call, and of the two references,
    interleaved call by call."""
    requests = [_varied(payload, call) for call in range(calls)]
    answer = recommend(RecommendationRequest.model_validate(payload), ruleset)
    engine, validate, serialise = [], [], []
    for request in requests:
        engine.append(_time_us(lambda: recommend(request, ruleset)))  # noqa: B023  called at once
        validate.append(_time_us(lambda: RecommendationRequest.model_validate(payload)))
        serialise.append(_time_us(answer.model_dump_json))
    median_engine = statistics.median(engine)
    return {
        "engine_median_us": round(median_engine, 1),
        "engine_p90_us": round(statistics.quantiles(engine, n=10)[-1], 1),
        "validate_request_median_us": round(statistics.median(validate), 1),
        "serialise_response_median_us": round(statistics.median(serialise), 1),
        "engine_over_validate": round(median_engine / statistics.median(validate), 2),
        "engine_over_serialise": round(median_engine / statistics.median(serialise), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="few calls, for CI")
    parser.add_argument("--calls", type=int, default=None, help="calls per profile (default 2000; smoke 50)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    calls = args.calls or (50 if args.smoke else 2000)

    ruleset = load_ruleset()
    results = {name: measure(payload, ruleset, calls) for name, payload in PROFILES.items()}
    worst = max(result["engine_median_us"] for result in results.values())
    report = {
        "benchmark": "engine_latency",
        "smoke": args.smoke,
        "calls_per_profile": calls,
        "rules_version": ruleset.version,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "goal_us": GOAL_US,
        "worst_engine_median_us": worst,
        "meets_goal": worst <= GOAL_US,
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    widths = {
        "profile": -18,
        "engine µs": 11,
        "p90 µs": 9,
        "validate µs": 13,
        "dump µs": 9,
        "÷validate": 11,
        "÷dump": 8,
    }
    print(
        "".join(f"{title:<{-width}}" if width < 0 else f"{title:>{width}}" for title, width in widths.items())
    )
    for name, result in results.items():
        print(
            f"{name:<18}{result['engine_median_us']:>11.1f}{result['engine_p90_us']:>9.1f}"
            f"{result['validate_request_median_us']:>13.1f}{result['serialise_response_median_us']:>9.1f}"
            f"{result['engine_over_validate']:>11.1f}{result['engine_over_serialise']:>8.1f}"
        )
    print(f"worst median {worst:.0f} µs per declared-only recommendation (goal ≤ {GOAL_US:.0f} µs)")


if __name__ == "__main__":
    main()
