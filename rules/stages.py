"""What the engine's stages hand each other: plain frozen records, no logic.

features (`rules.features.Features`) -> `Similar` -> `Limits` (together a `Situation`) -> `Plan` ->
configs and explanation, which read a `Context`.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optadvisor.optimizers.catalogue.names import Framework, Method
from optadvisor.rules.evidence import Matrix, Neighbour, PlanStep
from optadvisor.rules.features import Features
from optadvisor.rules.ruleset import Explanation, Guardrail, RuleSet
from optadvisor.rules.similarity import Descriptors


@dataclass(frozen=True)
class Similar:
    """The request's descriptors, the similar tasks, every task's weight, and per configuration its
    weighted regret and on how many similar tasks it was within 5% of the best."""

    descriptors: Descriptors
    neighbours: list[Neighbour]
    weights: Matrix
    rows: list[int]  # evidence rows of the neighbours
    weighted: Matrix
    within: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Limits:
    """The methods that remain, the guardrails that removed the others, the allowed columns."""

    methods: list[Method]
    fired: list[Guardrail]
    ignored: bool  # every candidate was excluded, so the guardrails were set aside
    allowed: list[int]
    baseline: Matrix  # per task: the regret of the candidates tuned with the budget


@dataclass(frozen=True)
class Situation:
    """Features, similar tasks and limits for one request: what an answer, and each later ask/tell step,
    start from."""

    features: Features
    similar: Similar
    limits: Limits
    budget: int  # tuning runs the user can afford, declared or assumed


@dataclass(frozen=True)
class Plan:
    """The greedy plan (its first run is the recommendation) and, when its first run was moved nearer a
    default for want of support, why."""

    steps: list[PlanStep]
    moved: str | None

    @property
    def winner(self) -> int:
        """The evidence column of the recommended configuration."""
        return self.steps[0].column


@dataclass(frozen=True)
class Context:
    """What the answer's stages (configs and explanation) share."""

    ruleset: RuleSet
    situation: Situation
    framework: Framework
    candidates: list[Method]
    explaining: list[Explanation]  # the explanations whose conditions hold

    @property
    def features(self) -> Features:
        return self.situation.features

    @property
    def similar(self) -> Similar:
        return self.situation.similar

    @property
    def limits(self) -> Limits:
        return self.situation.limits
