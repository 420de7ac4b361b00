"""The contract every benchmark problem meets, and the result of one training run.

A problem is a small but real training task with a fixed regime (sparse and convex, long, recurrent,
drifting, reinforcement learning, dense deep learning). Its final metric is "lower is better" and has a
noise floor above zero, so relative gaps between optimizers are well defined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


class TrainingObserver(Protocol):
    """Watches a training run from outside, e.g. to capture gradients while the user's loop runs."""

    def attach(self, model: nn.Module) -> None:
        """Called once, after the model is built and before the first step."""

    def after_backward(self, step: int) -> None:
        """Called after each backward pass, before the optimizer applies the step."""


@dataclass(frozen=True)
class TrainResult:
    """Outcome of one run: a per-step curve (lower is better) and the final metric.

    A run whose loss became non-finite is ``diverged`` and its final metric is ``inf``, which ranks it
    below every finite run.
    """

    curve: list[float]
    final_metric: float
    diverged: bool = False
    seconds: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_curve(curve: list[float], final_metric: float, seconds: float) -> TrainResult:
        diverged = not math.isfinite(final_metric) or any(not math.isfinite(v) for v in curve)
        return TrainResult(
            curve=curve,
            final_metric=math.inf if diverged else final_metric,
            diverged=diverged,
            seconds=seconds,
        )


class Problem(Protocol):
    """A benchmark problem.

    ``profile`` is what a user would declare about it in a recommendation request (``model_family``,
    ``training_steps``, ``convex``); the harness adds ``tuning_budget``. ``steps`` is the full-size run
    length; ``train`` accepts fewer steps for smoke runs and tests.
    """

    @property
    def name(self) -> str: ...

    @property
    def regime(self) -> str: ...

    @property
    def steps(self) -> int: ...

    @property
    def metric(self) -> str: ...

    @property
    def profile(self) -> dict[str, Any]: ...

    def build(self, seed: int) -> tuple[nn.Module, Any]: ...

    def train(
        self,
        optimizer_factory: OptimizerFactory,
        seed: int,
        steps: int | None = None,
        observer: TrainingObserver | None = None,
    ) -> TrainResult: ...
