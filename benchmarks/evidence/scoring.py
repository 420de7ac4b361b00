"""Scores from the outcomes dataset: regrets for the fit, and per-cell standings for the validation.

Lower metrics are better. A diverged run counts as the worst value of its task and seed (the untrained
model's metric or the worst finite run, whichever is higher), never as missing. "Within 5%" is relative to
the cell's best: to |best| for tasks whose ``gap_basis`` is ``best`` (metrics with a floor well above 0), to
the distance from the best to the untrained model's metric for ``initial`` (metrics that can come near 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks.evidence.dataset import TaskOutcomes
from optadvisor.rules.evidence import WITHIN
from optadvisor.rules.grid import default_point, grid

GRID_KEYS = tuple(point.key for point in grid())


def worst_value(task: TaskOutcomes, seed_index: int) -> float:
    """What a diverged run of ``task`` on this seed counts as."""
    finite = [values[seed_index] for values in task.outcomes.values() if values[seed_index] is not None]
    candidates = [value for value in (*finite, task.initial[seed_index]) if value is not None]
    return max(candidates)


def metric(task: TaskOutcomes, key: str, seed_index: int) -> float:
    value = task.outcomes[key][seed_index]
    return worst_value(task, seed_index) if value is None else value


def grid_best(task: TaskOutcomes, seed_index: int) -> float:
    return min(metric(task, key, seed_index) for key in GRID_KEYS)


def scale(task: TaskOutcomes, seed_index: int, best: float) -> float:
    """The reference a gap is measured against (see the module docstring)."""
    if task.gap_basis == "initial":
        initial = task.initial[seed_index]
        reference = (initial if initial is not None else worst_value(task, seed_index)) - best
    else:
        reference = abs(best)
    return max(reference, 1e-12)


def regrets(task: TaskOutcomes) -> list[float]:
    """Per grid configuration: min(1, gap to the task's best grid result), averaged over seeds."""
    seeds = range(len(task.initial))
    per_seed = []
    for seed_index in seeds:
        best = grid_best(task, seed_index)
        reference = scale(task, seed_index, best)
        per_seed.append([min(1.0, (metric(task, key, seed_index) - best) / reference) for key in GRID_KEYS])
    return [float(value) for value in np.mean(np.array(per_seed), axis=0)]


def expected_best_of(values: Sequence[float], draws: int) -> float:
    """Expected lowest value of ``draws`` uniform draws with replacement (Dodge et al. 2019, for minima)."""
    ordered = sorted(values, reverse=True)  # worst first
    count = len(ordered)
    return float(
        sum(value * ((i / count) ** draws - ((i - 1) / count) ** draws) for i, value in enumerate(ordered, 1))
    )


def tuned(task: TaskOutcomes, method: str, budget: int, seed_index: int) -> float:
    """The method tuned with ``budget`` runs: its default at 1, the expected best of its grid beyond."""
    if budget == 1:
        return metric(task, default_point(method).key, seed_index)  # type: ignore[arg-type]
    values = [metric(task, point.key, seed_index) for point in grid() if point.method == method]
    return expected_best_of(values, budget)


@dataclass(frozen=True)
class Standing:
    """One strategy in one cell: its value, its gap to the cell's best baseline, its rank among them."""

    value: float
    gap: float
    rank: int

    @property
    def within(self) -> bool:
        return self.gap <= WITHIN


def standing(task: TaskOutcomes, seed_index: int, value: float, baselines: Mapping[str, float]) -> Standing:
    best = min(baselines.values())
    gap = (value - best) / scale(task, seed_index, best)
    return Standing(value, gap, 1 + sum(baseline < value for baseline in baselines.values()))


def plan_value(task: TaskOutcomes, keys: Sequence[str], seed_index: int) -> float:
    """The best metric among a plan's configurations on this seed (every key was trained)."""
    return min(metric(task, key, seed_index) for key in keys)


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else math.nan
