"""Classifiers of scikit-learn's bundled 8x8 digits: a dense MLP and a small CNN."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional

from benchmarks.quality.loop import run_steps
from benchmarks.quality.problem import OptimizerFactory, TrainingObserver, TrainResult


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_digits(return_X_y=True)
    return (images / 16.0).astype(np.float32), labels.astype(np.int64)


@dataclass(frozen=True)
class Split:
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 8, 8)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


@dataclass(frozen=True)
class DigitsClassifier:
    name: str
    regime: str
    model_family: str
    architecture: Callable[[], nn.Module]
    steps: int = 150
    batch: int = 32
    test_fraction: float = 0.25
    metric: str = "held-out cross-entropy"

    @property
    def profile(self) -> dict[str, Any]:
        return {"model_family": self.model_family, "training_steps": self.steps, "convex": False}

    def build(self, seed: int) -> tuple[nn.Module, Split]:
        torch.manual_seed(seed)
        images, labels = _digits()
        order = np.random.default_rng([seed, 6]).permutation(len(labels))
        cut = int(len(labels) * (1.0 - self.test_fraction))
        train, test = order[:cut], order[cut:]
        split = Split(
            torch.from_numpy(images[train]),
            torch.from_numpy(labels[train]),
            torch.from_numpy(images[test]),
            torch.from_numpy(labels[test]),
        )
        return self.architecture(), split

    def train(
        self,
        optimizer_factory: OptimizerFactory,
        seed: int,
        steps: int | None = None,
        observer: TrainingObserver | None = None,
    ) -> TrainResult:
        model, split = self.build(seed)
        rng = np.random.default_rng([seed, 7])
        count = len(split.train_labels)

        def step_loss(_step: int) -> torch.Tensor:
            rows = torch.from_numpy(rng.integers(0, count, self.batch))
            return functional.cross_entropy(model(split.train_images[rows]), split.train_labels[rows])

        def held_out(_curve: list[float]) -> float:
            return float(functional.cross_entropy(model(split.test_images), split.test_labels))

        return run_steps(
            model,
            optimizer_factory,
            steps or self.steps,
            step_loss=step_loss,
            final_metric=held_out,
            observer=observer,
        )


DIGITS_MLP = DigitsClassifier(
    name="digits_mlp",
    regime="dense MLP on scikit-learn digits; the user can afford one training run (budget 1)",
    model_family="mlp",
    architecture=mlp,
)
DIGITS_CNN = DigitsClassifier(
    name="digits_cnn",
    regime="small dense CNN on 8x8 digits (dense deep learning, where Adam/AdamW are expected to win)",
    model_family="cnn",
    architecture=cnn,
)
