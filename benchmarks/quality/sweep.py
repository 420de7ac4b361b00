"""``python -m benchmarks.quality.sweep``: one problem, a grid of configs, many seeds: how each scores.

A cell of the main benchmark sees one seed per config, so it cannot tell a better learning rate from a
lucky one. This trains each config of a grid on every seed given and reports the spread, which is what a
rule change driven by a benchmark result should be checked against first:

    python -m benchmarks.quality.sweep cartpole_reinforce rmsprop --lr 0.003 0.005 0.007 0.01 0.0147 0.02
    python -m benchmarks.quality.sweep drifting_regression rmsprop --lr 0.01 --set alpha=0.91 alpha=0.99
    python -m benchmarks.quality.sweep char_gru rmsprop --lr 0.01 --with centered=true --set alpha=0.95
    python -m benchmarks.quality.sweep digits_cnn adam --lr 0.003 0.01 --seeds 100 101 102 --json out.json

Seeds default to 100-109, none of which the main benchmark chooses configs on. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.quality.problems import PROBLEMS
from benchmarks.quality.runner import RunOutcome, RunTask, run_tasks
from benchmarks.quality.search_space import METHODS, Config

SEEDS = tuple(range(100, 110))


@dataclass(frozen=True)
class ConfigSpread:
    """One config's final metrics over the seeds (inf for a run that diverged or was refused)."""

    config: Config
    metrics: tuple[float, ...]

    @property
    def diverged(self) -> int:
        return sum(not math.isfinite(value) for value in self.metrics)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.metrics) if not self.diverged else math.inf

    @property
    def median(self) -> float:
        return statistics.median(self.metrics)

    def as_dict(self) -> dict[str, Any]:
        finite = [value if math.isfinite(value) else None for value in self.metrics]
        return {
            **self.config.as_dict(),
            "metrics": finite,
            "mean": self.mean if math.isfinite(self.mean) else None,
            "median": self.median if math.isfinite(self.median) else None,
            "diverged": self.diverged,
        }


def grid(
    method: str,
    rates: Sequence[float],
    settings: Sequence[Mapping[str, Any]],
    fixed: Mapping[str, Any] | None = None,
) -> list[Config]:
    """Every learning rate with every setting (one empty setting when none are given), all with `fixed`."""
    return [
        Config.of(method, {**(fixed or {}), **setting, "lr": rate})
        for rate, setting in itertools.product(rates, settings or [{}])
    ]


def spreads(
    problem: str, configs: Sequence[Config], seeds: Sequence[int], steps: int, workers: int
) -> list[ConfigSpread]:
    tasks = {(config, seed): RunTask(problem, config, seed, steps) for config in configs for seed in seeds}
    outcomes: Mapping[RunTask, RunOutcome] = run_tasks(list(tasks.values()), workers)
    return [
        ConfigSpread(config, tuple(outcomes[tasks[config, seed]].final_metric for seed in seeds))
        for config in configs
    ]


def table(results: Sequence[ConfigSpread]) -> str:
    """Markdown: each config's mean, median, range and diverged runs; the mean's gap to the best mean."""
    best = min((result.mean for result in results), default=math.inf)
    lines = [
        "| config | mean | vs best mean | median | min – max | diverged |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for result in results:
        gap = (result.mean - best) / abs(best) if math.isfinite(result.mean) and best else math.inf
        lines.append(
            f"| {result.config.label()} | {result.mean:.4g} | {gap:+.1%} | {result.median:.4g} | "
            f"{min(result.metrics):.4g} – {max(result.metrics):.4g} | {result.diverged} |"
        )
    return "\n".join(lines) + "\n"


def _setting(text: str) -> dict[str, Any]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return {name: json.loads(value)}
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"{name}: {value!r} is not a number or JSON value") from None


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality.sweep", description=__doc__.split("\n")[0]
    )
    parser.add_argument("problem", choices=list(PROBLEMS))
    parser.add_argument("method", choices=list(METHODS))
    parser.add_argument("--lr", nargs="+", type=float, required=True, help="learning rates to train")
    for flag, dest, text in (
        ("--set", "settings", "alternative values of one more torch argument, each crossed with every rate"),
        ("--with", "fixed", "torch arguments every config of the grid takes"),
    ):
        parser.add_argument(
            flag, nargs="+", type=_setting, default=[], dest=dest, metavar="NAME=VALUE", help=text
        )
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--steps", type=int, help="run length (default: the problem's)")
    parser.add_argument("--workers", type=int, default=2, choices=(1, 2))
    parser.add_argument("--json", type=Path, help="also write every run's metric here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    torch.set_num_threads(1)
    steps = arguments.steps or PROBLEMS[arguments.problem].steps
    fixed = {name: value for setting in arguments.fixed for name, value in setting.items()}
    configs = grid(arguments.method, arguments.lr, arguments.settings, fixed)
    results = spreads(arguments.problem, configs, arguments.seeds, steps, arguments.workers)
    print(f"{arguments.problem}, {steps} steps, seeds {', '.join(map(str, arguments.seeds))}")
    print(table(results))
    if arguments.json is not None:
        document = {
            "problem": arguments.problem,
            "steps": steps,
            "seeds": arguments.seeds,
            "configs": [result.as_dict() for result in results],
        }
        arguments.json.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
