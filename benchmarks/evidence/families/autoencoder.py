"""MLP autoencoders: an encoder down to a narrow linear code and a mirrored decoder back, trained by MSE.

Three kinds of data: scikit-learn's 8×8 digits (64 pixels, standardised with the training split's pixel
mean and deviation); generated low-rank data, a RANK-dimensional Gaussian code mixed linearly into
FEATURES columns plus isotropic Gaussian noise; and a generated curved manifold, a 3-dimensional code
through a random tanh layer into FEATURES columns, plus noise. The metric is the reconstruction MSE on a
held-out split. It has a floor well above zero: the noise of the generated sets cannot be reconstructed
(nor, in the low-rank set, any noise outside the code's subspace), and a bottleneck narrower than the
data's dimension (the digits' is far above 8) loses information for good. Variants change the data, the
bottleneck, the depth and widths, the noise, the batch size and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import Tensor, nn

from benchmarks.evidence.families._data import Split, Supervised, partition, standardise
from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "autoencoder"

Dataset = Literal["digits", "low_rank", "manifold"]
FEATURES = 32
RANK = 6
MANIFOLD_DIMENSION = 3
GENERATED_ROWS = 2500


@cache
def _digits() -> np.ndarray:
    return np.asarray(load_digits().data, dtype=np.float32)


def _generated(dataset: Dataset, noise: float, rng: np.random.Generator) -> np.ndarray:
    if dataset == "low_rank":
        # Mixing weights of variance 1/RANK give every column unit signal variance.
        code = rng.normal(size=(GENERATED_ROWS, RANK))
        signal = code @ rng.normal(0.0, RANK**-0.5, (RANK, FEATURES))
    else:
        code = rng.uniform(-1.0, 1.0, (GENERATED_ROWS, MANIFOLD_DIMENSION))
        hidden = np.tanh(code @ rng.normal(0.0, 1.5, (MANIFOLD_DIMENSION, 16)) + rng.normal(0.0, 0.5, 16))
        signal = hidden @ rng.normal(0.0, 0.5, (16, FEATURES))
    return signal + rng.normal(0.0, noise, signal.shape)


@dataclass(frozen=True)
class Autoencoder(Supervised):
    dataset: Dataset
    noise: float  # the generated sets' noise (digits: unused, 0)
    bottleneck: int
    hidden: tuple[int, ...]  # the encoder's widths; the decoder mirrors them
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        noise = f"n{self.noise:g}-" if self.dataset != "digits" else ""
        widths = "x".join(map(str, self.hidden))
        return TaskSpec(
            family=FAMILY,
            name=(
                f"{FAMILY}/{self.dataset}-{noise}k{self.bottleneck}-h{widths}"
                f"-b{self.batch_size}-s{self.steps}"
            ),
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out reconstruction MSE",
            profile={"model_family": "mlp", "training_steps": self.steps},
            variant={
                "data": self.dataset,
                "noise": self.noise,
                "bottleneck": self.bottleneck,
                "hidden": list(self.hidden),
            },
        )

    @property
    def features(self) -> int:
        return 64 if self.dataset == "digits" else FEATURES

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        widths = [self.features, *self.hidden, self.bottleneck]
        # Two stacks, so the code between them is linear (no ReLU on the bottleneck).
        return nn.Sequential(mlp(widths), mlp(widths[::-1]))

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, zlib.crc32(FAMILY.encode())])
        x = _digits() if self.dataset == "digits" else _generated(self.dataset, self.noise, rng)
        train, test = partition(len(x), rng)
        # Digits: one scale for every pixel (border pixels barely vary); generated columns: each its own.
        train_x, test_x = standardise(x[train], x[test], axis=None if self.dataset == "digits" else 0)
        return Split.of({"x": train_x}, {"x": test_x}, rng, self.steps, self.batch_size)

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return (forward(holdout["x"]) - holdout["x"]).square().mean()


def tasks() -> list[Autoencoder]:
    return [
        Autoencoder("digits", 0.0, 8, (32,), 32, 600),
        Autoencoder("digits", 0.0, 4, (48, 24), 32, 800),
        Autoencoder("low_rank", 0.3, 6, (32,), 32, 800),
        Autoencoder("low_rank", 0.5, 3, (24,), 8, 500),
        Autoencoder("manifold", 0.2, 3, (32, 16), 16, 1200),
    ]
