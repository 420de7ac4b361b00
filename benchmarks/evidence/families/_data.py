"""Data pieces several families share: Zipf popularity, standardisation, label noise, train/test splits.

Every function takes its randomness as a ``numpy.random.Generator``, so a task's data stays a function of
its seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from benchmarks.evidence.task import Batch, Forward


def zipf_probabilities(count: int, exponent: float) -> np.ndarray:
    """Probabilities of ranks 1..``count`` under Zipf's law: p(rank) ∝ rank ** -exponent."""
    weights = np.arange(1, count + 1, dtype=np.float64) ** -exponent
    return np.asarray(weights / weights.sum())


def standardise(train: np.ndarray, *others: np.ndarray, axis: int | None = 0) -> tuple[np.ndarray, ...]:
    """``train`` and ``others`` scaled by the training rows' mean and standard deviation (the held-out rows
    never inform the scaling, as in a real pipeline): per column by default, over all values with
    ``axis=None`` (images, whose border pixels barely vary)."""
    mean, std = train.mean(axis=axis), train.std(axis=axis)
    # A feature constant on the training rows (a digits pixel always blank there) keeps its scale: dividing by
    # its ~0 spread would blow the held-out values up by orders of magnitude.
    std = np.where(std < 1e-3, 1.0, std)
    return tuple(((array - mean) / std).astype(np.float32) for array in (train, *others))


def flip_labels(labels: np.ndarray, classes: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``labels`` with about ``fraction`` of them replaced by a uniformly random class (which may be the
    same one): the noise that keeps a held-out cross-entropy above zero."""
    flipped = rng.random(labels.shape) < fraction
    return np.where(flipped, rng.integers(0, classes, labels.shape), labels)


def partition(count: int, rng: np.random.Generator, train_fraction: float = 0.75) -> tuple[np.ndarray, ...]:
    """Row indices of a shuffled training split and held-out split of ``count`` rows."""
    permutation = rng.permutation(count)
    cut = int(train_fraction * count)
    return permutation[:cut], permutation[cut:]


@dataclass(frozen=True)
class Split:
    """A supervised dataset: training tensors, held-out tensors, and the training rows of every step.

    The rows come epoch by epoch, each epoch a fresh permutation of the training set (a shuffling data
    loader's order), so every example is seen equally often whatever the batch size.
    """

    train: Batch
    test: Batch
    order: Tensor  # [steps, batch] rows of ``train``

    @staticmethod
    def of(
        train: Mapping[str, np.ndarray | Tensor],
        test: Mapping[str, np.ndarray | Tensor],
        rng: np.random.Generator,
        steps: int,
        batch_size: int,
    ) -> Split:
        count = len(next(iter(train.values())))
        epochs = -(-steps * batch_size // count)
        rows = np.concatenate([rng.permutation(count) for _ in range(epochs)])[: steps * batch_size]
        return Split(
            {name: _tensor(values) for name, values in train.items()},
            {name: _tensor(values) for name, values in test.items()},
            torch.from_numpy(rows.reshape(steps, batch_size)),
        )

    def batch(self, step: int) -> Batch:
        rows = self.order[step]
        return {name: values[rows] for name, values in self.train.items()}

    def holdout(self) -> Batch:
        return dict(self.test)


def _tensor(values: np.ndarray | Tensor) -> Tensor:
    return values if isinstance(values, Tensor) else torch.from_numpy(np.ascontiguousarray(values))


class Supervised:
    """A task trained on a ``Split``'s minibatches and scored by its loss on the held-out part: the loss is
    the subclass's ``metric`` on the training batch."""

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} defines its metric")

    def batch(self, data: Split, step: int) -> Batch:
        return data.batch(step)

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        loss = self.metric(forward, batch)
        return loss, loss.detach()

    def holdout(self, data: Split) -> Batch:
        return data.holdout()
