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
configuration that most lowers the weighted regret of the best run so far.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Annotated

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optadvisor.rules.errors import RuleSetError
from optadvisor.rules.grid import ConfigPoint, grid
from optadvisor.rules.similarity import DESCRIPTORS, Descriptors, distance

Matrix = npt.NDArray[np.float64]
Regret = Annotated[float, Field(ge=0.0, le=1.0)]
# A configuration counts as matching a task's best when its regret is at most this: 5% of the reference.
WITHIN = 0.05
EVIDENCE_FILE = "evidence.json"
# Weight of the all-tasks mean in a greedy plan's objective: far below any weight a fit can give, so it
# only decides between columns the weighted tasks cannot tell apart.
_TIE_BREAK = 1e-6


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


@dataclass(frozen=True)
class Neighbour:
    task: EvidenceTask
    distance: float


def nearest(evidence: Evidence, query: Descriptors) -> list[Neighbour]:
    """The `evidence.neighbours` tasks most similar to `query`, with every task tied with the last one."""
    measured = sorted(
        (Neighbour(task, distance(query, task.descriptors, evidence.spreads)) for task in evidence.tasks),
        key=lambda neighbour: neighbour.distance,
    )
    if len(measured) <= evidence.neighbours:
        return measured
    cutoff = measured[evidence.neighbours - 1].distance
    return [neighbour for neighbour in measured if neighbour.distance <= cutoff]


def task_weights(evidence: Evidence, neighbours: Sequence[Neighbour]) -> Matrix:
    """Per task: (1 - shrinkage) shared by the neighbours, shrinkage shared by every task."""
    names = {neighbour.task.name for neighbour in neighbours}
    count = len(evidence.tasks)
    local = np.array([1.0 if task.name in names else 0.0 for task in evidence.tasks])
    weights: Matrix = (1.0 - evidence.shrinkage) * local / local.sum() + evidence.shrinkage / count
    return weights


@dataclass(frozen=True)
class PlanStep:
    """One run of a greedy plan: its column and the weighted regret of the plan's best run after it."""

    column: int
    plan_regret: float


def greedy_plan(
    regret: Matrix, weights: Matrix, allowed: Sequence[int], budget: int, first: int | None = None
) -> list[PlanStep]:
    """At most `budget` columns of `regret`, each the allowed one that most lowers the weighted regret
    of the best run so far; it stops early once no column lowers it on any task. Between columns equally
    good under `weights`, the one better over all tasks alike wins, then the earlier entry of `allowed`,
    so callers order it by preference (e.g. nearest to the defaults first). `first`, when given, is taken
    first whatever its value."""
    columns = np.asarray(allowed, dtype=np.int64)
    best_so_far = np.ones(regret.shape[0])
    plan: list[PlanStep] = []
    if first is not None:
        best_so_far = np.minimum(best_so_far, regret[:, first])
        plan.append(PlanStep(first, float(weights @ best_so_far)))
        columns = columns[columns != first]
    # Lexicographic: the weighted value first, the plain mean only to break its ties.
    scoring = weights + _TIE_BREAK / len(weights)
    current = float(scoring @ best_so_far)
    for _ in range(min(budget - len(plan), len(columns))):
        plans = np.minimum(best_so_far[:, None], regret[:, columns])
        values = scoring @ plans
        pick = int(np.argmin(values))
        if plan and values[pick] >= current - _TIE_BREAK * 1e-6:
            break
        column = int(columns[pick])
        best_so_far = plans[:, pick]
        current = float(values[pick])
        plan.append(PlanStep(column, float(weights @ best_so_far)))
        columns = np.delete(columns, pick)
    return plan


def load_evidence(path: str | None = None) -> Evidence:
    """The packaged evidence base (or the file at `path`)."""
    try:
        if path is None:
            text = resources.files("optadvisor.rules").joinpath(EVIDENCE_FILE).read_text(encoding="utf-8")
        else:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
    except OSError as error:
        raise RuleSetError(f"cannot read evidence file {path or EVIDENCE_FILE}: {error}") from error
    return Evidence.model_validate_json(text)


def preference_order(points: Sequence[ConfigPoint], allowed: Sequence[int]) -> list[int]:
    """`allowed` columns, nearest to each method's defaults first: on equal evidence, the smaller
    departure from what the frameworks ship wins."""
    return sorted(allowed, key=lambda column: (abs(points[column].lr_step) + points[column].variant, column))
