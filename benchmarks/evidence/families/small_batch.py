"""Training with one or two examples per step: linear and logistic regression and small MLPs.

With a batch of 1 or 2 every gradient is a single example's, so the noise of the updates, not the shape
of the objective, decides which optimizer and rate work. The data: scikit-learn's diabetes regression,
generated linear regressions (``make_regression``) and Friedman's nonlinear regression
(``make_friedman1``), a generated 3-class problem (``make_classification``) and the 8×8 digits. Features are
standardised with the training split's statistics, regression targets too. Regression is scored by the
held-out MSE, classification by the held-out cross-entropy; both have a floor well above zero: the
diabetes targets are noisy by nature (a linear model explains about half their variance), Gaussian noise
of the variant's deviation is added to the generated targets, and the variant's fraction of class labels
is random. Only the linear models (least squares, multinomial logistic regression) are declared convex.
Variants change the data, the model, the noise, the batch size (1 or 2) and the run length (long runs are
natural here: up to 2,000 steps).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import torch
from sklearn.datasets import (
    load_diabetes,
    load_digits,
    make_classification,
    make_friedman1,
    make_regression,
)
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._data import Split, Supervised, flip_labels, partition, standardise
from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "small_batch"

Dataset = Literal["diabetes", "regression", "friedman", "classification", "digits"]
FEATURES: dict[Dataset, int] = {
    "diabetes": 10,
    "regression": 20,
    "friedman": 10,
    "classification": 20,
    "digits": 64,
}
CLASSES: dict[Dataset, int] = {"classification": 3, "digits": 10}  # the others are regressions
GENERATED_ROWS = 1000
MLP_WIDTH = 32


@cache
def _fixed(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_diabetes(return_X_y=True) if dataset == "diabetes" else load_digits(return_X_y=True)
    return x, y


def _dataset(dataset: Dataset, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Features and targets: noiseless regression targets (the variant's noise is added once they are
    standardised), or class labels."""
    state = int(rng.integers(2**31))
    x: np.ndarray
    y: np.ndarray
    if dataset in {"diabetes", "digits"}:
        x, y = _fixed(dataset)
    elif dataset == "regression":
        x, y = make_regression(GENERATED_ROWS, FEATURES[dataset], n_informative=8, random_state=state)
    elif dataset == "friedman":
        x, y = make_friedman1(GENERATED_ROWS, n_features=FEATURES[dataset], random_state=state)
    else:
        x, y = make_classification(
            GENERATED_ROWS,
            FEATURES[dataset],
            n_informative=6,
            n_redundant=4,
            n_classes=3,
            flip_y=0.0,
            random_state=state,
        )
    return x, y


@dataclass(frozen=True)
class SmallBatch(Supervised):
    dataset: Dataset
    model: Literal["linear", "mlp"]
    noise: float  # the deviation added to standardised regression targets, or the fraction of random labels
    batch_size: int
    steps: int

    @property
    def classes(self) -> int | None:
        return CLASSES.get(self.dataset)

    @property
    def spec(self) -> TaskSpec:
        profile: dict[str, object] = {"model_family": self.model, "training_steps": self.steps}
        if self.model == "linear":
            profile["convex"] = True
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{self.dataset}-{self.model}-n{self.noise:g}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out MSE" if self.classes is None else "held-out cross-entropy",
            profile=profile,
            variant={"dataset": self.dataset, "model": self.model, "noise": self.noise},
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        features, outputs = FEATURES[self.dataset], self.classes or 1
        if self.model == "linear":
            return nn.Linear(features, outputs)
        return mlp([features, MLP_WIDTH, MLP_WIDTH, outputs])

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, zlib.crc32(FAMILY.encode())])
        x, y = _dataset(self.dataset, rng)
        train, test = partition(len(y), rng)
        # Pixels share one scale (a border pixel's deviation is near zero); other features each their own.
        train_x, test_x = standardise(x[train], x[test], axis=None if self.dataset == "digits" else 0)
        if self.classes is None:
            train_y, test_y = standardise(y[train], y[test])
            train_y, test_y = (
                (target + rng.normal(0.0, self.noise, len(target))).astype(np.float32)
                for target in (train_y, test_y)
            )
        else:
            labels = flip_labels(y.astype(np.int64), self.classes, self.noise, rng)
            train_y, test_y = labels[train], labels[test]
        return Split.of(
            {"x": train_x, "y": train_y}, {"x": test_x, "y": test_y}, rng, self.steps, self.batch_size
        )

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        output = forward(holdout["x"])
        if self.classes is None:
            return (output[..., 0] - holdout["y"]).square().mean()
        return functional.cross_entropy(output, holdout["y"])


def tasks() -> list[SmallBatch]:
    return [
        SmallBatch("diabetes", "linear", 0.0, 1, 1500),
        SmallBatch("regression", "linear", 0.5, 2, 800),
        SmallBatch("classification", "linear", 0.1, 1, 2000),
        SmallBatch("friedman", "mlp", 0.3, 2, 2000),
        SmallBatch("digits", "mlp", 0.1, 1, 1200),
    ]
