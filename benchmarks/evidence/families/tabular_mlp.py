"""MLP classifiers on datasets scikit-learn ships (digits, wine, breast cancer, a generated problem).

Features are standardised on the training split; the metric is the held-out cross-entropy. A fraction of
the labels, in both splits, is replaced by a random class: the held-out loss then has a floor well above
zero (a clean wine or breast-cancer split is separable, and its loss would fall towards 0 without bound).
Variants change the dataset, the label noise, the width and depth, the batch size and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._data import Split, Supervised, flip_labels, partition, standardise
from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "tabular_mlp"


@cache
def _dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "digits":
        x, y = load_digits(return_X_y=True)
    elif name == "wine":
        x, y = load_wine(return_X_y=True)
    elif name == "breast_cancer":
        x, y = load_breast_cancer(return_X_y=True)
    else:
        x, y = make_classification(
            n_samples=1500, n_features=40, n_informative=12, n_classes=4, flip_y=0.05, random_state=7
        )
    return x.astype(np.float32), y.astype(np.int64)


@dataclass(frozen=True)
class TabularMLP(Supervised):
    dataset: str
    label_noise: float
    width: int
    depth: int
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{self.dataset}-n{self.label_noise:g}-w{self.width}d{self.depth}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out cross-entropy",
            profile={"model_family": "mlp", "training_steps": self.steps, "convex": False},
            variant={
                "dataset": self.dataset,
                "label_noise": self.label_noise,
                "width": self.width,
                "depth": self.depth,
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        x, y = _dataset(self.dataset)
        return mlp((x.shape[1], *([self.width] * self.depth), int(y.max()) + 1))

    def data(self, seed: int) -> Split:
        x, y = _dataset(self.dataset)
        # The noisy labels are part of the dataset, the same for every seed.
        noise = np.random.default_rng([zlib.crc32(self.dataset.encode()), 5])
        y = flip_labels(y, int(y.max()) + 1, self.label_noise, noise)
        rng = np.random.default_rng([seed, 11])
        train, test = partition(len(y), rng)
        train_x, test_x = standardise(x[train], x[test])
        return Split.of(
            {"x": train_x, "y": y[train]}, {"x": test_x, "y": y[test]}, rng, self.steps, self.batch_size
        )

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return functional.cross_entropy(forward(holdout["x"]), holdout["y"])


def tasks() -> list[TabularMLP]:
    return [
        TabularMLP("digits", 0.1, 64, 1, 32, 400),
        TabularMLP("wine", 0.15, 32, 2, 8, 300),
        TabularMLP("breast_cancer", 0.1, 16, 1, 16, 250),
        TabularMLP("generated", 0.05, 128, 2, 64, 800),
        TabularMLP("digits", 0.2, 96, 2, 64, 1200),
    ]
