"""The benchmark protocol: ask for advice, train every strategy's configs, score each cell.

A cell is (problem, tuning budget, seed). In each cell the recommendation's tuning plan (at most
``budget`` entries) competes with every candidate method's random search of the same budget; the two
baselines are Adam at its torch defaults and the best of the six methods at their torch defaults.

Each strategy keeps the config whose run scored best, as a user would, so the score of the kept run is
also the luckiest of its draws. The fresh-seed check trains every kept config again on seeds no choice
was made on and scores the cell on their means: it tells a config that is better from one that was lucky.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    fresh_seeds: tuple[int, ...] = ()  # seeds the kept configs are trained on again; none: no check

    @staticmethod
    def full(
        problems: Sequence[str] | None = None,
        seeds: Sequence[int] = (0, 1, 2),
        budgets: Sequence[int] = (1, 4, 16),
        max_steps: int | None = None,
        fresh_seeds: Sequence[int] = (),
    ) -> BenchmarkPlan:
        names = tuple(problems or PROBLEMS)
        unknown = [name for name in names if name not in PROBLEMS]
        if unknown:
            raise ValueError(f"Unknown problem(s): {', '.join(unknown)}; known: {', '.join(PROBLEMS)}")
        reused = sorted(set(seeds) & set(fresh_seeds))
        if reused:
            raise ValueError(
                f"Fresh seeds must differ from the seeds configs are chosen on: {reused} are both"
            )
        steps = {name: min(PROBLEMS[name].steps, max_steps or PROBLEMS[name].steps) for name in names}
        return BenchmarkPlan(names, tuple(seeds), tuple(sorted(budgets)), steps, tuple(fresh_seeds))

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
class FreshSeedScores:
    """A cell scored again on the means of its kept configs over the plan's fresh seeds."""

    seeds: tuple[int, ...]
    method_means: Mapping[str, float]
    recommendation: Standing
    adam_defaults: Standing
    best_torch_default: Standing


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
    fresh: FreshSeedScores | None = None

    @property
    def best_method(self) -> str:
        return min(self.method_bests, key=lambda method: self.method_bests[method])

    @property
    def recommendation_run(self) -> tuple[Config, RunOutcome] | None:
        """The plan entry whose run scored best, with that run (None for an empty plan)."""
        if not self.plan_outcomes:
            return None
        return min(self.plan_outcomes, key=lambda pair: pair[1].final_metric)

    @property
    def recommendation_config(self) -> Config | None:
        run = self.recommendation_run
        return None if run is None else run[0]

    @property
    def best_torch_default_config(self) -> Config:
        return torch_default(min(self.torch_defaults, key=lambda method: self.torch_defaults[method]))

    def kept_configs(self) -> tuple[Config, ...]:
        """Every config a strategy of this cell kept: what the fresh-seed check trains again."""
        kept = [*self.method_best_configs.values(), ADAM_DEFAULTS, self.best_torch_default_config]
        if self.recommendation_config is not None:
            kept.append(self.recommendation_config)
        return tuple(dict.fromkeys(kept))


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


def fresh_seed_tasks(plan: BenchmarkPlan, cells: Sequence[Cell]) -> list[RunTask]:
    return [
        plan.task(cell.problem, config, seed)
        for cell in cells
        for config in cell.kept_configs()
        for seed in plan.fresh_seeds
    ]


def score_on_fresh_seeds(
    plan: BenchmarkPlan, cells: Sequence[Cell], outcomes: Mapping[RunTask, RunOutcome]
) -> list[Cell]:
    """The cells with their :class:`FreshSeedScores`; unchanged when the plan has no fresh seeds."""
    if not plan.fresh_seeds:
        return list(cells)

    def mean(cell: Cell, config: Config) -> float:
        values = [outcomes[plan.task(cell.problem, config, seed)].final_metric for seed in plan.fresh_seeds]
        # A config that diverges on any seed is not one to keep: inf, as for a diverged run.
        return math.fsum(values) / len(values) if all(map(math.isfinite, values)) else math.inf

    rescored = []
    for cell in cells:
        means = {method: mean(cell, config) for method, config in cell.method_best_configs.items()}
        kept = cell.recommendation_config
        recommended = math.inf if kept is None else mean(cell, kept)
        fresh = FreshSeedScores(
            seeds=plan.fresh_seeds,
            method_means=means,
            recommendation=standing(recommended, means),
            adam_defaults=standing(mean(cell, ADAM_DEFAULTS), means),
            best_torch_default=standing(mean(cell, cell.best_torch_default_config), means),
        )
        rescored.append(replace(cell, fresh=fresh))
    return rescored


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
