"""``python -m benchmarks.quality``: the advice-quality benchmark, end to end over HTTP.

nice -n 15 python -m benchmarks.quality --spawn            # full run, 8-15 min on 2 cores
python -m benchmarks.quality --spawn --smoke               # seconds, for CI
python -m benchmarks.quality --url http://127.0.0.1:8000   # against a server you started
python -m benchmarks.quality --spawn --fresh-seeds         # without the fresh-seed check
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import torch

from benchmarks.quality.advisor import ServiceAdvisor
from benchmarks.quality.harness import (
    BenchmarkPlan,
    calibrate,
    collect_advice,
    estimate_seconds,
    fresh_seed_tasks,
    recommendation_tasks,
    score_cells,
    score_on_fresh_seeds,
)
from benchmarks.quality.report import markdown, plot_curves, to_json, write_json
from benchmarks.quality.runner import run_tasks
from benchmarks.server import REPOSITORY, running_server

SMOKE_PROBLEMS = ("sparse_logreg_short", "digits_mlp")
SMOKE_STEPS = 20
MAX_WORKERS = 2
FRESH_SEEDS = (100, 101)


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n")[0])
    server = parser.add_mutually_exclusive_group(required=True)
    server.add_argument("--url", help="base URL of a running optadvisor server")
    server.add_argument("--spawn", action="store_true", help="start `optadvisor serve` on a free port")
    parser.add_argument(
        "--smoke", action="store_true", help="1 seed, budget 1, 2 problems, 20 steps, 1 fresh seed"
    )
    parser.add_argument("--problems", nargs="+", help="subset of problems (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budgets", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument(
        "--fresh-seeds",
        nargs="*",
        type=int,
        default=list(FRESH_SEEDS),
        help="seeds each cell's kept configs are trained on again (none: skip the check)",
    )
    parser.add_argument("--workers", type=int, default=MAX_WORKERS, choices=range(1, MAX_WORKERS + 1))
    parser.add_argument("--output-dir", type=Path, default=REPOSITORY / "benchmarks" / "results")
    return parser.parse_args(argv)


def make_plan(arguments: argparse.Namespace) -> BenchmarkPlan:
    if arguments.smoke:
        return BenchmarkPlan.full(
            SMOKE_PROBLEMS,
            seeds=(0,),
            budgets=(1,),
            max_steps=SMOKE_STEPS,
            fresh_seeds=arguments.fresh_seeds[:1],
        )
    return BenchmarkPlan.full(
        arguments.problems, arguments.seeds, arguments.budgets, fresh_seeds=arguments.fresh_seeds
    )


@contextmanager
def server_url(arguments: argparse.Namespace) -> Iterator[str]:
    if not arguments.spawn:
        yield arguments.url
        return
    with tempfile.TemporaryDirectory() as logs, running_server(Path(logs)) as server:
        yield server.url


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    torch.set_num_threads(1)
    plan = make_plan(arguments)
    started = time.perf_counter()

    per_run = calibrate(plan)
    baseline = plan.baseline_tasks()
    planned_advice_runs = len(plan.seeds) * sum(plan.budgets)
    estimate = (
        estimate_seconds(baseline, per_run, arguments.workers)
        + sum(per_run[problem] * planned_advice_runs for problem in plan.problems) / arguments.workers
    )
    print(
        f"{len(plan.problems)} problems x budgets {list(plan.budgets)} x seeds {list(plan.seeds)}: "
        f"{len(baseline)} baseline runs + up to {planned_advice_runs * len(plan.problems)} recommended runs; "
        f"training estimated at {estimate / 60:.1f} min on {arguments.workers} worker(s), plus the "
        "gradient captures and the server's answers "
        f"(per-run seconds: {', '.join(f'{name} {seconds:.2f}' for name, seconds in per_run.items())})",
        file=sys.stderr,
        flush=True,
    )

    with server_url(arguments) as url, ServiceAdvisor(url) as advisor:
        advice = collect_advice(plan, advisor)
    advice_seconds = time.perf_counter() - started
    print(f"advice collected in {advice_seconds:.0f} s", file=sys.stderr, flush=True)

    tasks = baseline + recommendation_tasks(plan, advice)
    outcomes = run_tasks(tasks, arguments.workers)
    cells = score_cells(plan, advice, outcomes)
    fresh_outcomes = run_tasks(fresh_seed_tasks(plan, cells), arguments.workers)
    cells = score_on_fresh_seeds(plan, cells, fresh_outcomes)

    elapsed = time.perf_counter() - started
    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    document = to_json(
        plan,
        cells,
        settings={"smoke": arguments.smoke, "workers": arguments.workers},
        timing={
            "estimated_training_seconds": round(estimate, 1),
            "advice_seconds": round(advice_seconds, 1),
            "elapsed_seconds": round(elapsed, 1),
            "runs": len(outcomes),
            "fresh_seed_runs": len(fresh_outcomes),
            "calibration_seconds_per_run": {name: round(value, 3) for name, value in per_run.items()},
        },
    )
    table = markdown(cells)
    write_json(document, arguments.output_dir / "quality.json")
    (arguments.output_dir / "quality.md").write_text(table, encoding="utf-8")
    plot_curves(plan, cells, outcomes, arguments.output_dir / "quality_curves.png")
    print(table)
    print(
        f"{len(outcomes)} runs and {len(fresh_outcomes)} fresh-seed runs in {elapsed / 60:.1f} min "
        f"(estimated {estimate / 60:.1f} min before the fresh-seed runs)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
