"""The evidence base: how every grid configuration did on every task of the corpus, and the fitted
constants that turn it into advice.

Each task carries its descriptors (``rules.similarity``) and, per grid configuration, its regret: how far
that configuration's final metric fell behind the task's best grid result, as a share of the task's
reference scale (|best|, or the distance from the best to the untrained model), capped at 1 and averaged
over seeds; a diverged run counts 1. The file is written by the fit (``python -m benchmarks.evidence
fit``) with its provenance, and read here; nothing in it is edited by hand.

Advice from it: the tasks most similar to a request (``neighbours``) are weighted, with a share of the
weight spread over every task (``shrinkage``) so that sparse evidence falls back to what works everywhere;
the tuning plan is then built greedily (TaskSet's ordered list, Metz et al. 2020): each next run is the
configuration that most lowers how far the best run so far falls behind tuning the candidate methods with
the same budget, on the weighted tasks.
"""

import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.grid import ConfigPoint, grid
from optadvisor.rules.similarity import DESCRIPTORS, Descriptors, DescriptorTable

Matrix = npt.NDArray[np.float64]
Regret = Annotated[float, Field(ge=0.0, le=1.0)]
# A configuration counts as matching a task's best when its regret is at most this: 5% of the reference.
WITHIN = 0.05
# Weight of the all-tasks mean in a greedy plan's objective: far below any weight a fit can give, so it
# only decides between columns the weighted tasks cannot tell apart.
_TIE_BREAK = 1e-6
# With the `within` objective, the weight of regret: it only orders plans that reach as many tasks.
_SECONDARY = 1e-3


class EvidenceTask(BaseModel):
    """One corpus task: its family, its descriptors and each grid configuration's regret on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str
    descriptors: dict[str, float | str]
    regret: list[Regret] = Field(description="Per configuration of `Evidence.grid`, in that order.")


class Provenance(BaseModel):
    """Where the evidence comes from and how to make it again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str
    outcomes: str = Field(description="sha256 of the outcomes dataset the fit read.")
    captures: str = Field(description="sha256 of the captures the descriptors were measured on.")
    held_out_families: list[str] = Field(description="Families left out of this fit (validation folds).")


class Evidence(BaseModel):
    """The fitted evidence base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provenance: Provenance
    grid: list[str] = Field(description="Configuration keys, the columns of every task's regret.")
    spreads: dict[str, float] = Field(description="Each numeric descriptor's spread over the tasks.")
    neighbours: int = Field(ge=1, description="How many most similar tasks a request is advised from.")
    shrinkage: float = Field(
        ge=0.0, le=1.0, description="Share of the weight spread evenly over all tasks instead."
    )
    plan_objective: Literal["regret", "within"] = Field(
        description="What a plan minimises on the weighted tasks: `regret`, its best run's regret plus "
        "`baseline_penalty` times its shortfall behind tuning the candidates with the same budget; or "
        "`within`, the share of tasks on which its best run is not within 5% of that (lower regret breaking "
        "ties)."
    )
    baseline_penalty: float = Field(
        ge=0.0,
        description="With the `regret` objective: how much more a plan's shortfall behind the tuned "
        "baselines counts than its regret.",
    )
    measured_descriptors: bool = Field(
        description="Whether similarity reads the measured descriptors of sent gradients, or only what a "
        "request declares."
    )
    departure_cost: float = Field(
        ge=0.0,
        description="How much worse a configuration that is not its method's defaults is treated, when a "
        "plan is chosen: a departure from the defaults has to pay for itself on the similar tasks.",
    )
    tasks: list[EvidenceTask] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> "Evidence":
        known = {point.key for point in grid()}
        unknown = [key for key in self.grid if key not in known]
        if unknown:
            raise RuleSetError(f"unknown configuration {unknown[0]!r}", field="evidence.grid")
        for task in self.tasks:
            if len(task.regret) != len(self.grid):
                raise RuleSetError(
                    f"{len(task.regret)} regrets for {len(self.grid)} configurations",
                    field=f"evidence.{task.name}",
                )
            strange = [name for name in task.descriptors if name not in DESCRIPTORS]
            if strange:
                raise RuleSetError(f"unknown descriptor {strange[0]!r}", field=f"evidence.{task.name}")
        return self

    @cached_property
    def points(self) -> tuple[ConfigPoint, ...]:
        return tuple(ConfigPoint.parse(key) for key in self.grid)

    @cached_property
    def regret_matrix(self) -> Matrix:
        """[task, configuration] regrets."""
        return np.array([task.regret for task in self.tasks], dtype=np.float64)

    @cached_property
    def descriptor_table(self) -> DescriptorTable:
        return DescriptorTable([task.descriptors for task in self.tasks], self.spreads)

    @cached_property
    def departure_costs(self) -> Matrix:
        """Per configuration: `departure_cost`, or 0 for a method's defaults."""
        return np.array([0.0 if point.is_default else self.departure_cost for point in self.points])

    @cached_property
    def preference_rank(self) -> npt.NDArray[np.int64]:
        """Each column's place in `preference_order` over the whole grid."""
        rank = np.empty(len(self.points), dtype=np.int64)
        rank[preference_order(self.points, range(len(self.points)))] = np.arange(len(self.points))
        return rank

    @cached_property
    def columns_of(self) -> dict[str, list[int]]:
        """Each method's columns, nearest to its defaults first (`preference_order`)."""
        by_method: dict[str, list[int]] = {}
        for column in preference_order(self.points, range(len(self.points))):
            by_method.setdefault(self.points[column].method, []).append(column)
        return by_method

    def baseline(self, method: str, budget: int) -> Matrix:
        """Per task, `method` tuned with `budget` runs (see `baseline_regret`), worked out once."""
        key = (method, budget)
        if key not in self.baseline_cache:
            columns = self.columns_of[method]
            if budget == 1:
                value = self.regret_matrix[:, next(c for c in columns if self.points[c].is_default)]
            else:
                value = expected_best_of(-np.sort(-self.regret_matrix[:, columns], axis=1), budget)
            self.baseline_cache[key] = value
        return self.baseline_cache[key]

    @cached_property
    def baseline_cache(self) -> dict[tuple[str, int], Matrix]:
        return {}

    @cached_property
    def objective(self) -> "Objective":
        return objective_of(self)

    @cached_property
    def plans(self) -> "PlanMemo":
        return PlanMemo(PLAN_MEMO_ENTRIES)

    def plan(  # noqa: PLR0913  the plan options of greedy_plan, keyword-only
        self,
        weights: Matrix,
        baseline: Matrix,
        allowed: Sequence[int],
        runs: int,
        *,
        first: int | None = None,
        bonus: Matrix | None = None,
    ) -> list["PlanStep"]:
        """`greedy_plan` over these regrets with this evidence's objective, remembered for its inputs.

        A plan depends on the request only through the similar tasks' weights, the tuned baselines
        (candidates and budget), the allowed columns and the number of runs: requests whose descriptors
        differ (every training length is its own) but that have the same similar tasks, candidates, budget
        and guardrails share it. A plan moved by other studies' bonus is not remembered.
        """

        def planned() -> list[PlanStep]:
            return greedy_plan(
                self.regret_matrix,
                weights,
                baseline,
                allowed,
                runs,
                objective=self.objective,
                first=first,
                bonus=bonus,
            )

        if bonus is not None:
            return planned()
        key = (weights.tobytes(), baseline.tobytes(), tuple(allowed), runs, first)
        found = self.plans.get(key)
        if found is None:
            found = tuple(planned())
            self.plans.put(key, found)
        return list(found)


# Plans remembered (`Evidence.plan`): a few kB each.
PLAN_MEMO_ENTRIES = 2048


class PlanMemo:
    """Plans by their inputs, the oldest entry out first once full; safe to share between threads (the
    compute pool's jobs and the event loop both ask for plans)."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.hits = self.misses = 0
        self._plans: dict[Hashable, tuple[PlanStep, ...]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> tuple["PlanStep", ...] | None:
        found = self._plans.get(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, key: Hashable, plan: tuple["PlanStep", ...]) -> None:
        with self._lock:
            while len(self._plans) >= self.entries:
                del self._plans[next(iter(self._plans))]
            self._plans[key] = plan


@dataclass(frozen=True)
class Neighbour:
    task: EvidenceTask
    row: int  # the task's row in the evidence base
    distance: float


def nearest(evidence: Evidence, query: Descriptors) -> list[Neighbour]:
    """The `evidence.neighbours` tasks most similar to `query`, with every task tied with the last one."""
    distances = evidence.descriptor_table.distances(query)
    order = np.argsort(distances, kind="stable")
    cutoff = distances[order[min(evidence.neighbours, len(order)) - 1]]
    return [
        Neighbour(evidence.tasks[row], int(row), float(distances[row]))
        for row in order
        if distances[row] <= cutoff
    ]


def task_weights(evidence: Evidence, neighbours: Sequence[Neighbour]) -> Matrix:
    """Per task: (1 - shrinkage) shared by the neighbours, shrinkage shared by every task."""
    count = len(evidence.tasks)
    local = np.zeros(count)
    local[[neighbour.row for neighbour in neighbours]] = 1.0
    weights: Matrix = (1.0 - evidence.shrinkage) * local / local.sum() + evidence.shrinkage / count
    return weights


def expected_best_of(sorted_worst_first: Matrix, draws: int) -> Matrix:
    """Expected lowest of `draws` uniform draws with replacement from each row (rows sorted worst first):
    Dodge et al. 2019's expected maximum, for values where lower is better."""
    count = sorted_worst_first.shape[-1]
    ranks = np.arange(1, count + 1) / count
    chances = ranks**draws - (ranks - 1.0 / count) ** draws
    expected: Matrix = sorted_worst_first @ chances
    return expected


def baseline_regret(evidence: Evidence, candidates: Sequence[str], budget: int) -> Matrix:
    """Per task, the regret of the best candidate method tuned with `budget` runs: its defaults at 1, the
    expected best of `budget` draws from its grid configurations beyond (as the validation scores it)."""
    baseline: Matrix = np.min([evidence.baseline(method, budget) for method in candidates], axis=0)
    return baseline


@dataclass(frozen=True)
class PlanStep:
    """One run of a greedy plan: its column, and after it the weighted regret of the plan's best run so
    far and its weighted shortfall behind the tuned baselines."""

    column: int
    regret: float
    shortfall: float


@dataclass(frozen=True)
class Objective:
    """What a plan minimises per task (see `Evidence.plan_objective`); `costs`, when given, are added to
    each configuration's regret when plans are compared (never when they are reported)."""

    kind: Literal["regret", "within"] = "regret"
    penalty: float = 0.0
    costs: Matrix | None = None

    def losses(self, plans: Matrix, baseline: Matrix) -> Matrix:
        """Per task and candidate plan (columns of `plans`, its best run's regret): the loss."""
        if self.kind == "within":
            # Within 5% of the baseline's metric, in regret units: regret <= b + 5% x (1 + b).
            missed = plans > (baseline + WITHIN * (1.0 + baseline))[:, None]
            losses: Matrix = missed + _SECONDARY * plans
            return losses
        return plans + self.penalty * np.maximum(plans - baseline[:, None], 0.0)


def objective_of(evidence: Evidence) -> Objective:
    return Objective(evidence.plan_objective, evidence.baseline_penalty, evidence.departure_costs)


def _step(column: int, plan: Matrix, weights: Matrix, baseline: Matrix) -> PlanStep:
    return PlanStep(column, float(weights @ plan), float(weights @ np.maximum(plan - baseline, 0.0)))


# over 60 lines: a 20-line docstring states the invariant the fast loop relies on
def greedy_plan(  # noqa: PLR0913  keyword-only plan options; a record would only rename them
    regret: Matrix,
    weights: Matrix,
    baseline: Matrix,
    allowed: Sequence[int],
    budget: int,
    *,
    objective: Objective = Objective(),
    first: int | None = None,
    start: Matrix | None = None,
    bonus: Matrix | None = None,
) -> list[PlanStep]:
    """At most `budget` columns of `regret`: each the allowed one that most lowers the weighted loss
    (`objective`) of the best run so far, measured against `baseline` (per task, what tuning the
    candidates with the same budget gives). It stops early once no column helps any task. Between columns
    equally good under `weights`, the one with the lower mean regret over all tasks wins, then the earlier
    entry of `allowed`, so callers order it by preference (e.g. nearest to the defaults first). `first`,
    when given, is taken first whatever its value. `start`, when given, is each task's best regret among
    runs already done: the plan continues from them, and its first column too must then help. `bonus`
    (per column of `regret`) lowers a column's value when it is picked; it decides only between columns
    that help, never makes one that helps nobody worth a run.

    A plan's value is a sum over tasks of a per-task cost of its best run's (judged) regret: the weighted
    loss plus the plain mean regret over all tasks, which only breaks ties. That cost never decreases as
    the regret grows (both objectives' losses are monotone, and so is floating-point rounding), so the cost
    of a plan's best run is the least of its runs' costs: each run's cost per task is worked out once, and
    each step only takes a minimum and a sum per remaining column."""
    columns = np.asarray(allowed, dtype=np.int64)
    best_so_far = np.ones(regret.shape[0]) if start is None else np.asarray(start, dtype=np.float64)
    tasks = len(weights)
    # Plans are compared on the judged regrets (with the objective's costs), reported on the true ones.
    judged = regret if objective.costs is None or not objective.costs.any() else regret + objective.costs
    best_judged = best_so_far
    plan: list[PlanStep] = []
    if first is not None:
        best_so_far = np.minimum(best_so_far, regret[:, first])
        best_judged = np.minimum(best_judged, judged[:, first])
        plan.append(_step(first, best_so_far, weights, baseline))
        columns = columns[columns != first]

    def costs(plans: Matrix) -> Matrix:
        # Per task and plan: the task's share of the plan's value.
        shares: Matrix = weights[:, None] * objective.losses(plans, baseline) + (_TIE_BREAK / tasks) * plans
        return shares

    best_cost = costs(best_judged[:, None])[:, 0]
    current = float(best_cost.sum())
    # The remaining columns keep their order (ties go to the earlier entry of `allowed`); a column already
    # in the plan is masked out.
    column_costs = costs(judged[:, columns])
    scratch = np.empty_like(column_costs)
    taken = np.zeros(len(columns), dtype=bool)
    offsets = None if bonus is None else bonus[columns]
    for _ in range(min(budget - len(plan), len(columns))):
        np.minimum(best_cost[:, None], column_costs, out=scratch)
        values = np.add.reduce(scratch, axis=0)
        ranked = values if offsets is None else values - offsets
        ranked[taken] = np.inf
        pick = int(np.argmin(ranked))
        if (plan or start is not None) and values[pick] >= current - _TIE_BREAK * 1e-6 / tasks:
            break
        column = int(columns[pick])
        best_cost = scratch[:, pick].copy()
        best_so_far = np.minimum(best_so_far, regret[:, column])
        current = float(values[pick])
        plan.append(_step(column, best_so_far, weights, baseline))
        taken[pick] = True
    return plan


def preference_order(points: Sequence[ConfigPoint], allowed: Iterable[int]) -> list[int]:
    """`allowed` columns, nearest to each method's defaults first: on equal evidence, the smaller
    departure from what the frameworks ship wins."""
    return sorted(allowed, key=lambda column: (abs(points[column].lr_step) + points[column].variant, column))
