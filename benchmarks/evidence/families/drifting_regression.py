"""Online regression on a stream whose target moves: gradually (a random walk of the true weights), in
jumps (new weights every few hundred steps), or through the inputs (feature scales that change by a
decade over the run).

Scored prequentially: every batch is scored before the model learns from it, and the metric is the mean
of those scores over the run, so what counts is how fast a method follows the target, not where it ends.
Observation noise gives each score a floor. Variants change the kind and speed of the drift, the input
width, the model (linear, or a small MLP on a nonlinear target), the noise, the batch and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from benchmarks.evidence.task import Batch, Forward, Online, TaskSpec

FAMILY = "drifting_regression"
Drift = Literal["walk", "jumps", "input_scale"]


@dataclass(frozen=True)
class Stream:
    inputs: Tensor  # [steps, batch, features]
    targets: Tensor  # [steps, batch]


@dataclass(frozen=True)
class DriftingRegression(Online):
    drift: Drift
    speed: float  # walk: per-step sd of the weights relative to their scale; jumps: steps between jumps
    features: int
    hidden: int  # 0: a linear model
    noise: float
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        model = "linear" if self.hidden == 0 else f"mlp{self.hidden}"
        profile: dict[str, object] = {
            "model_family": "linear" if self.hidden == 0 else "mlp",
            "training_steps": self.steps,
            "stationarity": "non_stationary",
        }
        if self.hidden == 0:
            profile["convex"] = True
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{self.drift}{self.speed:g}-{model}-d{self.features}-n{self.noise:g}"
            f"-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="mean online (prequential) squared error",
            profile=profile,
            variant={
                "drift": self.drift,
                "speed": self.speed,
                "features": self.features,
                "hidden": self.hidden,
                "noise": self.noise,
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        if self.hidden == 0:
            return nn.Linear(self.features, 1)
        return nn.Sequential(nn.Linear(self.features, self.hidden), nn.Tanh(), nn.Linear(self.hidden, 1))

    def _weights(self, rng: np.random.Generator) -> np.ndarray:
        """The true weights at every step: [steps, features]."""
        start = rng.normal(0.0, 1.0, self.features)
        if self.drift == "walk":
            steps = rng.normal(0.0, self.speed, (self.steps, self.features))
            return start + np.cumsum(steps, axis=0)
        if self.drift == "jumps":
            regimes = rng.normal(0.0, 1.0, (self.steps // int(self.speed) + 1, self.features))
            return regimes[np.arange(self.steps) // int(self.speed)]
        return np.broadcast_to(start, (self.steps, self.features))

    def data(self, seed: int) -> Stream:
        rng = np.random.default_rng([zlib.crc32(self.spec.name.encode()), seed, 3])
        weights = self._weights(rng) / np.sqrt(self.features)
        standard = rng.normal(0.0, 1.0, (self.steps, self.batch_size, self.features))
        signal = np.einsum("sbf,sf->sb", standard, weights)
        if self.hidden:
            signal = np.tanh(2.0 * signal)
        targets = signal + rng.normal(0.0, self.noise, signal.shape)
        inputs = standard
        if self.drift == "input_scale":
            # Each feature's scale moves log-linearly over the run, by up to a decade either way.
            end = rng.uniform(-1.0, 1.0, self.features)
            scales = 10.0 ** (np.linspace(0.0, 1.0, self.steps)[:, None] * end[None, :])
            inputs = standard * scales[:, None, :]
        return Stream(torch.from_numpy(inputs).float(), torch.from_numpy(targets).float())

    def batch(self, data: Stream, step: int) -> Batch:
        return {"inputs": data.inputs[step], "targets": data.targets[step]}

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        loss = (forward(batch["inputs"]).squeeze(-1) - batch["targets"]).pow(2).mean()
        return loss, loss.detach()


def tasks() -> list[DriftingRegression]:
    return [
        DriftingRegression("walk", 0.02, 20, 0, 0.3, 16, 1000),
        DriftingRegression("jumps", 250, 50, 0, 0.2, 32, 1500),
        DriftingRegression("jumps", 150, 10, 32, 0.1, 8, 800),
        DriftingRegression("input_scale", 0.0, 30, 0, 0.2, 64, 600),
        DriftingRegression("walk", 0.005, 16, 24, 0.2, 4, 2000),
    ]
