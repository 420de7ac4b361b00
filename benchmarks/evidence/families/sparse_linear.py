"""Linear classifiers on hashed one-hot / bag-of-words features.

Each example activates a handful of features out of a hashed space of a few thousand, drawn from a
Zipf law, so a few features appear in most batches and most appear rarely; the label depends on the
features' weights, part of the signal carried by rare ones. The model is a linear layer over the hashed
space written as a sum of looked-up weights (what an embedding-bag over feature ids computes), started at
zero as wide linear models usually are: each step's gradient is nonzero only on the rows its batch touched.
A fraction of labels is flipped, in training and held-out data alike, so the held-out log loss has a floor.
Variants change the hashed width, the features per example, the Zipf exponent, the number of classes, the
label noise, the batch and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "sparse_linear"


class HashedLinear(nn.Module):
    """Logits as the sum of the weights of an example's feature ids, plus a bias; weights start at 0."""

    def __init__(self, features: int, classes: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(features, classes))
        self.bias = nn.Parameter(torch.zeros(classes))

    def forward(self, ids: Tensor) -> Tensor:
        return functional.embedding(ids, self.weight).sum(dim=1) + self.bias


@dataclass(frozen=True)
class Stream:
    ids: Tensor  # [examples, active] feature ids
    labels: Tensor  # [examples]
    order: Tensor  # [steps, batch] rows of the training examples
    test_ids: Tensor
    test_labels: Tensor


@dataclass(frozen=True)
class SparseLinear:
    features: int
    active: int
    zipf: float
    classes: int
    label_noise: float
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/d{self.features}-k{self.active}-z{self.zipf:g}-c{self.classes}"
            f"-n{self.label_noise:g}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out log loss",
            profile={"model_family": "linear", "training_steps": self.steps, "convex": True},
            variant={
                "features": self.features,
                "active": self.active,
                "zipf": self.zipf,
                "classes": self.classes,
                "label_noise": self.label_noise,
            },
        )

    def build(self, seed: int) -> nn.Module:
        return HashedLinear(self.features, self.classes)

    def _examples(self, rng: np.random.Generator, count: int, weights: np.ndarray) -> tuple[Tensor, Tensor]:
        popularity = 1.0 / np.arange(1, self.features + 1) ** self.zipf
        ids = rng.choice(self.features, size=(count, self.active), p=popularity / popularity.sum())
        logits = weights[ids].sum(axis=1) / np.sqrt(self.active)
        labels = logits.argmax(axis=1)
        flipped = rng.random(count) < self.label_noise
        labels = np.where(flipped, rng.integers(0, self.classes, count), labels)
        return torch.from_numpy(ids), torch.from_numpy(labels)

    def data(self, seed: int) -> Stream:
        # The problem (true weights, examples) is the variant's; the seed draws the minibatch order.
        problem = np.random.default_rng([zlib.crc32(self.spec.name.encode()), 1])
        # Rare features carry larger weights, as informative rare words do.
        rarity = np.log1p(np.arange(self.features))[:, None] / np.log(self.features)
        weights = problem.normal(0.0, 1.0, (self.features, self.classes)) * (0.5 + 2.0 * rarity)
        train_ids, train_labels = self._examples(problem, 8 * self.batch_size * 64, weights)
        test_ids, test_labels = self._examples(problem, 4096, weights)
        order = np.random.default_rng([seed, 2]).integers(0, len(train_labels), (self.steps, self.batch_size))
        return Stream(train_ids, train_labels, torch.from_numpy(order), test_ids, test_labels)

    def batch(self, data: Stream, step: int) -> Batch:
        rows = data.order[step]
        return {"ids": data.ids[rows], "labels": data.labels[rows]}

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        loss = functional.cross_entropy(forward(batch["ids"]), batch["labels"])
        return loss, loss.detach()

    def holdout(self, data: Stream) -> Batch:
        return {"ids": data.test_ids, "labels": data.test_labels}

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return functional.cross_entropy(forward(holdout["ids"]), holdout["labels"])


def tasks() -> list[SparseLinear]:
    return [
        SparseLinear(4096, active=20, zipf=1.1, classes=2, label_noise=0.1, batch_size=32, steps=600),
        SparseLinear(4096, active=50, zipf=1.3, classes=2, label_noise=0.05, batch_size=128, steps=300),
        SparseLinear(2048, active=8, zipf=1.0, classes=4, label_noise=0.1, batch_size=16, steps=1000),
        SparseLinear(2048, active=30, zipf=0.9, classes=3, label_noise=0.15, batch_size=64, steps=800),
        SparseLinear(2048, active=5, zipf=1.5, classes=2, label_noise=0.02, batch_size=8, steps=2000),
    ]
