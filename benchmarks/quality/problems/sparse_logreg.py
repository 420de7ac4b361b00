"""Bag-of-words logistic regression over a Zipf-distributed vocabulary, labels from a planted model.

Most words are rare, so most embedding rows see a zero gradient on most steps: the regime Adagrad was
designed for. The long variant runs 20 times more steps over the same data.
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


class BagOfWordsLogit(nn.Module):
    """Logistic regression whose weights are an embedding table of width one (a sparse linear layer)."""

    def __init__(self, vocabulary: int) -> None:
        super().__init__()
        self.weights = nn.EmbeddingBag(vocabulary, 1, mode="sum")
        self.bias = nn.Parameter(torch.zeros(1))
        nn.init.zeros_(self.weights.weight)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.weights(tokens).squeeze(1) + self.bias
        return logits


@dataclass(frozen=True)
class Documents:
    train_tokens: torch.Tensor
    train_labels: torch.Tensor
    test_tokens: torch.Tensor
    test_labels: torch.Tensor


@dataclass(frozen=True)
class SparseLogisticRegression:
    name: str
    regime: str
    steps: int
    vocabulary: int = 4000
    tokens_per_document: int = 12
    train_documents: int = 20000
    test_documents: int = 4000
    batch: int = 64
    zipf_exponent: float = 1.1
    metric: str = "held-out log-loss"

    @property
    def profile(self) -> dict[str, Any]:
        return {"model_family": "linear", "training_steps": self.steps, "convex": True}

    def _documents(self, rng: np.random.Generator, count: int, weights: np.ndarray) -> tuple[Any, Any]:
        ranks = np.arange(1, self.vocabulary + 1, dtype=np.float64)
        frequency = ranks**-self.zipf_exponent
        tokens = rng.choice(
            self.vocabulary, size=(count, self.tokens_per_document), p=frequency / frequency.sum()
        )
        logits = weights[tokens].sum(axis=1)
        labels = (rng.random(count) < 1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return torch.from_numpy(tokens), torch.from_numpy(labels)

    def build(self, seed: int) -> tuple[BagOfWordsLogit, Documents]:
        torch.manual_seed(seed)
        rng = np.random.default_rng([seed, 1])
        # Rare words carry as much signal per occurrence as frequent ones: that is what makes them
        # worth a larger step.
        weights = rng.normal(0.0, 1.5, self.vocabulary) / np.sqrt(self.tokens_per_document)
        train = self._documents(rng, self.train_documents, weights)
        test = self._documents(rng, self.test_documents, weights)
        return BagOfWordsLogit(self.vocabulary), Documents(*train, *test)

    def train(
        self,
        optimizer_factory: OptimizerFactory,
        seed: int,
        steps: int | None = None,
        observer: TrainingObserver | None = None,
    ) -> TrainResult:
        model, data = self.build(seed)
        order = torch.from_numpy(np.random.default_rng([seed, 2]).permutation(self.train_documents))
        batches_per_epoch = self.train_documents // self.batch

        def step_loss(step: int) -> torch.Tensor:
            start = (step % batches_per_epoch) * self.batch
            rows = order[start : start + self.batch]
            return functional.binary_cross_entropy_with_logits(
                model(data.train_tokens[rows]), data.train_labels[rows]
            )

        def held_out(_curve: list[float]) -> float:
            return float(
                functional.binary_cross_entropy_with_logits(model(data.test_tokens), data.test_labels)
            )

        return run_steps(
            model,
            optimizer_factory,
            steps or self.steps,
            step_loss=step_loss,
            final_metric=held_out,
            observer=observer,
        )


SHORT_STEPS = 60

SPARSE_LOGREG_SHORT = SparseLogisticRegression(
    name="sparse_logreg_short",
    regime="sparse bag-of-words, convex, short run (Adagrad's home ground)",
    steps=SHORT_STEPS,
)
SPARSE_LOGREG_LONG = SparseLogisticRegression(
    name="sparse_logreg_long",
    regime="the same sparse convex problem run 20x longer (Adagrad's accumulator keeps growing)",
    steps=20 * SHORT_STEPS,
)
