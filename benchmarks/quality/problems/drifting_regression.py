"""Online regression whose target function and input scales change abruptly every few dozen steps.

Each regime draws new target weights and new per-feature input scales spanning two decades, so an
optimizer must both forget the previous regime and re-adapt per-coordinate rates. The metric is the
online (prequential) loss over the whole run: every batch is scored before the model learns from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from benchmarks.quality.loop import run_steps
from benchmarks.quality.problem import OptimizerFactory, TrainingObserver, TrainResult


@dataclass(frozen=True)
class Stream:
    inputs: torch.Tensor  # (steps, batch, features)
    targets: torch.Tensor  # (steps, batch)


@dataclass(frozen=True)
class DriftingRegression:
    name: str = "drifting_regression"
    regime: str = "non-stationary online regression: target and input scales shift every 60 steps"
    steps: int = 360
    regime_steps: int = 60
    features: int = 16
    hidden: int = 32
    batch: int = 32
    noise: float = 0.1
    metric: str = "mean online MSE"

    @property
    def profile(self) -> dict[str, Any]:
        return {"model_family": "mlp", "training_steps": self.steps, "convex": False}

    def stream(self, seed: int, steps: int) -> Stream:
        rng = np.random.default_rng([seed, 4])
        regimes = -(-steps // self.regime_steps)
        scales = 10.0 ** rng.uniform(-1.0, 1.0, (regimes, self.features))
        weights = rng.normal(0.0, 1.0, (regimes, self.features)) / np.sqrt(self.features)
        regime_of_step = np.arange(steps) // self.regime_steps
        standard = rng.normal(0.0, 1.0, (steps, self.batch, self.features))
        inputs = standard * scales[regime_of_step][:, None, :]
        # The target depends on standardised inputs, so its variance is the same in every regime and
        # no regime dominates the mean loss.
        targets = np.tanh(np.einsum("sbf,sf->sb", standard, weights[regime_of_step]) * 2.0)
        targets += rng.normal(0.0, self.noise, targets.shape)
        return Stream(torch.from_numpy(inputs).float(), torch.from_numpy(targets).float())

    def build(self, seed: int) -> tuple[nn.Module, Stream]:
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(self.features, self.hidden), nn.Tanh(), nn.Linear(self.hidden, 1))
        return model, self.stream(seed, self.steps)

    def train(
        self,
        optimizer_factory: OptimizerFactory,
        seed: int,
        steps: int | None = None,
        observer: TrainingObserver | None = None,
    ) -> TrainResult:
        model, stream = self.build(seed)

        def step_loss(step: int) -> torch.Tensor:
            return functional.mse_loss(model(stream.inputs[step]).squeeze(1), stream.targets[step])

        def online_loss(curve: list[float]) -> float:
            return float(np.mean(curve))

        return run_steps(
            model,
            optimizer_factory,
            steps or self.steps,
            step_loss=step_loss,
            final_metric=online_loss,
            observer=observer,
        )


DRIFTING_REGRESSION = DriftingRegression()
