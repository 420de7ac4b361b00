"""The benchmark protocol: ask for advice, train every strategy's configs, score each cell.

A cell is (problem, tuning budget, seed). In each cell the recommendation's tuning plan (at most
``budget`` entries) competes with every candidate method's random search of the same budget; the two
baselines are Adam at its torch defaults and the best of the six methods at their torch defaults.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from benchmarks.quality.problem import Problem
from benchmarks.quality.problems import PROBLEMS
from benchmarks.quality.runner import RunOutcome, RunTask, run_task
from benchmarks.quality.scoring import Standing, standing
from benchmarks.quality.search_space import METHODS, Config, random_search, torch_default

ADAM_DEFAULTS = torch_default("adam")


@dataclass(frozen=True)
class Advice:
    """The parts of a recommendation the benchmark acts on."""

    method: str
    plan: tuple[Config, ...]
    response: Mapping[str, Any] = field(default_factory=dict)


class Advisor(Protocol):
    def advise(self, problem: Problem, seed: int, steps: int, budget: int) -> Advice: ...


@dataclass(frozen=True)
class BenchmarkPlan:
    problems: tuple[str, ...]
    seeds: tuple[int, ...]
    budgets: tuple[int, ...]
    steps: Mapping[str, int]  # run length per problem (the full size unless a smoke run shrinks it)

    @staticmethod
    def full(
        problems: Sequence[str] | None = None,
        seeds: Sequence[int] = (0, 1, 2),
        budgets: Sequence[int] = (1, 4, 16),
        max_steps: int | None = None,
    ) -> BenchmarkPlan:
        names = tuple(problems or PROBLEMS)
        unknown = [name for name in names if name not in PROBLEMS]
        if unknown:
            raise ValueError(f"Unknown problem(s): {', '.join(unknown)}; known: {', '.join(PROBLEMS)}")
        steps = {name: min(PROBLEMS[name].steps, max_steps or PROBLEMS[name].steps) for name in names}
        return BenchmarkPlan(names, tuple(seeds), tuple(sorted(budgets)), steps)

    def task(self, problem: str, config: Config, seed: int) -> RunTask:
        return RunTask(problem, config, seed, self.steps[problem])

    def searches(self, seed: int) -> dict[str, list[Config]]:
        """Each method's random search at the largest budget; smaller budgets use its prefixes.

        Every problem sees the same learning rates for a seed, so differences between problems come
        from the problems, not from the draw.
        """
        return {method: random_search(method, max(self.budgets), seed) for method in METHODS}

    def baseline_tasks(self) -> list[RunTask]:
        tasks = []
        for problem in self.problems:
            for seed in self.seeds:
                configs = [config for search in self.searches(seed).values() for config in search]
                configs += [torch_default(method) for method in METHODS]
                tasks += [self.task(problem, config, seed) for config in configs]
        return list(dict.fromkeys(tasks))


CellKey = tuple[str, int, int]  # (problem, budget, seed)


@dataclass(frozen=True)
class Cell:
    problem: str
    budget: int
    seed: int
    advice: Advice
    plan_outcomes: tuple[tuple[Config, RunOutcome], ...]
    method_bests: Mapping[str, float]
    method_best_configs: Mapping[str, Config]
    torch_defaults: Mapping[str, float]
    recommendation: Standing
    adam_defaults: Standing
    best_torch_default: Standing

    @property
    def best_method(self) -> str:
        return min(self.method_bests, key=lambda method: self.method_bests[method])


def collect_advice(plan: BenchmarkPlan, advisor: Advisor) -> dict[CellKey, Advice]:
    return {
        (problem, budget, seed): advisor.advise(PROBLEMS[problem], seed, plan.steps[problem], budget)
        for problem in plan.problems
        for seed in plan.seeds
        for budget in plan.budgets
    }


def recommendation_tasks(plan: BenchmarkPlan, advice: Mapping[CellKey, Advice]) -> list[RunTask]:
    return [
        plan.task(problem, config, seed)
        for (problem, budget, seed), entry in advice.items()
        for config in entry.plan[:budget]
    ]


def score_cells(
    plan: BenchmarkPlan, advice: Mapping[CellKey, Advice], outcomes: Mapping[RunTask, RunOutcome]
) -> list[Cell]:
    cells = []
    for (problem, budget, seed), entry in advice.items():
        searches = plan.searches(seed)
        best_configs = {
            method: min(
                search[:budget], key=lambda config: outcomes[plan.task(problem, config, seed)].final_metric
            )
            for method, search in searches.items()
        }
        bests = {
            method: outcomes[plan.task(problem, config, seed)].final_metric
            for method, config in best_configs.items()
        }
        defaults = {
            method: outcomes[plan.task(problem, torch_default(method), seed)].final_metric
            for method in METHODS
        }
        plan_outcomes = tuple(
            (config, outcomes[plan.task(problem, config, seed)]) for config in entry.plan[:budget]
        )
        recommended = min((outcome.final_metric for _, outcome in plan_outcomes), default=float("inf"))
        cells.append(
            Cell(
                problem=problem,
                budget=budget,
                seed=seed,
                advice=entry,
                plan_outcomes=plan_outcomes,
                method_bests=bests,
                method_best_configs=best_configs,
                torch_defaults=defaults,
                recommendation=standing(recommended, bests),
                adam_defaults=standing(defaults["adam"], bests),
                best_torch_default=standing(min(defaults.values()), bests),
            )
        )
    return cells


def calibrate(plan: BenchmarkPlan) -> dict[str, float]:
    """Seconds of one run of each problem (Adam defaults, first seed), measured here and now."""
    seconds = {}
    # Warm-up: the first torch run in a process pays for lazy initialisation.
    run_task(RunTask(plan.problems[0], ADAM_DEFAULTS, plan.seeds[0], 2))
    for problem in plan.problems:
        started = time.perf_counter()
        run_task(plan.task(problem, ADAM_DEFAULTS, plan.seeds[0]))
        seconds[problem] = time.perf_counter() - started
    return seconds


def estimate_seconds(tasks: Sequence[RunTask], per_run: Mapping[str, float], workers: int) -> float:
    return sum(per_run[task.problem] for task in tasks) / max(1, workers)
