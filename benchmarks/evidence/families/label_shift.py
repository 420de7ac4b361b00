"""Online classification of a stream whose class prior shifts, scored prequentially.

Each step a batch arrives from a Gaussian mixture: labels drawn from the current class prior, features
around the label's cluster mean with unit noise. The prior moves over the run, gradually (each class's
log-prior follows a sine wave, phases spread over the classes, so the dominant class rotates) or in jumps
(a fresh Dirichlet draw every ``period`` steps); in some variants the cluster means drift as well (each
moves along its own random direction, a few noise units over the run). With two clusters per class, on
opposite sides, the classes are not linearly separable and the model is a small MLP; otherwise it is
multinomial logistic regression (convex).

Scored prequentially: each batch's cross-entropy is taken before the model learns from it, and the metric
is its mean over the run. Floor: the clusters overlap (means about two noise units apart), so even the
Bayes classifier that knows the current prior and means has a cross-entropy well above zero. Variants change
the number of classes, the shift's kind and speed, the mean drift, the features, the model, the batch size
and the run length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, Online, TaskSpec

FAMILY = "label_shift"
SEPARATION = 2.0  # expected distance between two cluster means, in noise standard deviations
PRIOR_SWING = 1.5  # amplitude of the gradual shift's log-prior waves
JUMP_CONCENTRATION = 0.5  # Dirichlet parameter of the priors a jump draws: often a few dominant classes


@dataclass(frozen=True)
class Stream:
    x: Tensor  # [steps, batch, features]
    y: Tensor  # [steps, batch]


@dataclass(frozen=True)
class LabelShift(Online):
    classes: int
    features: int
    shift: str  # gradual, jumps
    speed: float  # gradual: sine cycles over the run; jumps: steps between jumps
    drift: float  # how far each cluster mean moves over the run, in noise units
    widths: tuple[int, ...]  # () for a linear model; then one cluster per class, else two
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        model = "linear" if not self.widths else "mlp" + "x".join(map(str, self.widths))
        shift = f"{self.shift}{self.speed:g}" + (f"-drift{self.drift:g}" if self.drift else "")
        profile = {
            "model_family": "mlp" if self.widths else "linear",
            "training_steps": self.steps,
            "stationarity": "non_stationary",
            **({} if self.widths else {"convex": True}),
        }
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/k{self.classes}-f{self.features}-{shift}-{model}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="prequential cross-entropy (online)",
            profile=profile,
            variant={
                "classes": self.classes,
                "features": self.features,
                "shift": self.shift,
                "speed": self.speed,
                "drift": self.drift,
                "widths": list(self.widths),
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return mlp((self.features, *self.widths, self.classes))

    def _priors(self, rng: np.random.Generator) -> np.ndarray:
        """The class prior at every step: [steps, classes]."""
        time = np.arange(self.steps) / self.steps
        if self.shift == "gradual":
            phases = 2 * np.pi * np.arange(self.classes) / self.classes
            logits = PRIOR_SWING * np.sin(2 * np.pi * self.speed * time[:, None] + phases)
            priors = np.exp(logits)
        else:
            period = int(self.speed)
            segments = rng.dirichlet(np.full(self.classes, JUMP_CONCENTRATION), -(-self.steps // period))
            priors = segments[np.arange(self.steps) // period]
        normalised: np.ndarray = priors / priors.sum(axis=1, keepdims=True)
        return normalised

    def data(self, seed: int) -> Stream:
        rng = np.random.default_rng([seed, 41])
        clusters = 2 if self.widths else 1
        # Means with independent N(0, s^2 / 2) coordinates are s apart on average in any dimension.
        scale = SEPARATION / np.sqrt(2 * self.features)
        means = scale * rng.normal(size=(self.classes, self.features))
        # A second cluster mirrors the first, so each class surrounds the origin on two sides.
        centres = np.stack([means, -means][:clusters], axis=1)
        directions = rng.normal(size=(self.classes, clusters, self.features)) / np.sqrt(self.features)
        cumulative = self._priors(rng).cumsum(axis=1)
        labels = (rng.random((self.steps, self.batch_size, 1)) > cumulative[:, None, :]).sum(axis=2)
        labels = np.minimum(labels, self.classes - 1)
        cluster = rng.integers(0, clusters, labels.shape)
        progress = (np.arange(self.steps) / self.steps)[:, None, None]
        centre = centres[labels, cluster] + self.drift * progress * directions[labels, cluster]
        x = centre + rng.normal(size=centre.shape)
        return Stream(torch.from_numpy(x.astype(np.float32)), torch.from_numpy(labels))

    def batch(self, data: Stream, step: int) -> Batch:
        return {"x": data.x[step], "y": data.y[step]}

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        # Computed before this step's update: the loss is also the prequential score.
        loss = functional.cross_entropy(forward(batch["x"]), batch["y"])
        return loss, loss.detach()


def tasks() -> list[LabelShift]:
    return [
        LabelShift(4, 10, "gradual", 1, 0.0, (), 16, 800),
        LabelShift(8, 20, "jumps", 150, 0.0, (), 32, 1200),
        LabelShift(5, 8, "gradual", 2, 3.0, (32,), 8, 2000),
        LabelShift(3, 5, "jumps", 50, 2.0, (), 4, 600),
        LabelShift(10, 16, "jumps", 100, 0.0, (64,), 64, 300),
    ]
