"""Regression on ill-conditioned inputs: least squares with a chosen spectrum, polynomial features, an MLP.

Inputs are used as they come, not standardised, which is the point: their covariance has eigenvalues
spanning several decades, so one learning rate is too large for the steep directions and far too small for
the flat ones.

- ``axis`` / ``rotated``: Gaussian inputs whose covariance eigenvalues are log-spaced from 1 down to
  ``1 / condition``, along the coordinate axes (features on very different scales; a per-coordinate step
  size undoes it) or along random orthogonal directions (no per-coordinate cure). The target is linear,
  its weights chosen so that every eigendirection carries the same share of the signal's unit variance:
  the flat directions matter as much as the steep ones.
- ``poly``: the monomials ``t, t^2, ..., t^degree`` of one uniform input on [-1, 1] (degree 6: covariance
  condition number about 5e3, 1e4 with the bias), and a smooth target (a few sine and cosine waves) that
  degree-6 polynomials fit closely but not exactly.
- ``mlp``: axis-scaled inputs into a small MLP, the target a sum of random tanh units of the inputs in
  their natural (unit) scale.

The linear tasks are least squares (convex). Observation noise of std ``noise`` is added to every target,
so the held-out MSE has a floor at ``noise**2`` (plus, for ``poly``, the best polynomial's misfit).
Variants change the design, the condition number, the dimension, the noise, the model, the batch size and
the run length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._data import Split, Supervised
from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "ill_conditioned"
TRAIN_SAMPLES = 4096
TEST_SAMPLES = 512  # scored on every grid slice at once: kept to the cost of a few training steps
TANH_UNITS = 8  # units in the mlp variant's target


@dataclass(frozen=True)
class Problem:
    """What the samples share: the covariance's eigendirections and scales, the target's parameters."""

    scales: np.ndarray  # [dimension] square roots of the covariance eigenvalues
    basis: np.ndarray  # [dimension, dimension] eigendirections (columns)
    share: np.ndarray  # [dimension] linear target: weights in the unit-variance latent
    directions: np.ndarray  # [dimension, units] mlp target: tanh units of the latent
    heights: np.ndarray  # [units]


def _rotation(rng: np.random.Generator, dimension: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(dimension, dimension)))
    return q * np.sign(np.diag(r))  # the sign fix makes it uniformly distributed (Haar)


@dataclass(frozen=True)
class IllConditioned(Supervised):
    design: str  # axis, rotated, poly, mlp
    dimension: int  # inputs; poly: the degree
    condition: (
        float  # ratio of the largest to the smallest covariance eigenvalue (poly: its own, for the record)
    )
    noise: float  # std of the observation noise
    batch_size: int
    steps: int
    widths: tuple[int, ...] = ()  # mlp only

    @property
    def spec(self) -> TaskSpec:
        model = "mlp" + "x".join(map(str, self.widths)) if self.widths else "linear"
        condition = "" if self.design == "poly" else f"-k{self.condition:.0e}".replace("e+0", "e")
        linear = not self.widths
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{self.design}{self.dimension}{condition}-n{self.noise:g}-{model}"
            f"-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out MSE",
            profile={
                "model_family": "linear" if linear else "mlp",
                "training_steps": self.steps,
                **({"convex": True} if linear else {}),
            },
            variant={
                "design": self.design,
                "dimension": self.dimension,
                "condition": self.condition,
                "noise": self.noise,
                "widths": list(self.widths),
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return mlp((self.dimension, *self.widths, 1))

    def _problem(self, rng: np.random.Generator) -> Problem:
        eigenvalues = self.condition ** -np.linspace(0.0, 1.0, self.dimension)
        basis = _rotation(rng, self.dimension) if self.design == "rotated" else np.eye(self.dimension)
        return Problem(
            scales=np.sqrt(eigenvalues),
            basis=basis,
            share=rng.normal(size=self.dimension) / np.sqrt(self.dimension),
            directions=rng.normal(size=(self.dimension, TANH_UNITS)) / np.sqrt(self.dimension),
            heights=rng.normal(size=TANH_UNITS) / np.sqrt(TANH_UNITS),
        )

    def _gaussian(self, problem: Problem, rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        latent = rng.normal(size=(count, self.dimension))
        x = (latent * problem.scales) @ problem.basis.T
        if self.design == "mlp":
            return x, np.tanh(2.0 * latent @ problem.directions) @ problem.heights
        # Weights 1/scale along each eigendirection: every direction adds the same variance.
        return x, latent @ problem.share

    def _polynomial(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, ...]:
        t = rng.uniform(-1.0, 1.0, count)
        x = t[:, None] ** np.arange(1, self.dimension + 1)
        return x, np.sin(2.5 * t) + 0.5 * np.cos(6.0 * t) - 0.3 * np.sin(9.0 * t)

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, 43])
        if self.design == "poly":
            (x, target), (test_x, test_target) = (
                self._polynomial(rng, n) for n in (TRAIN_SAMPLES, TEST_SAMPLES)
            )
        else:
            problem = self._problem(rng)
            (x, target), (test_x, test_target) = (
                self._gaussian(problem, rng, n) for n in (TRAIN_SAMPLES, TEST_SAMPLES)
            )
        y, test_y = (t + self.noise * rng.normal(size=t.shape) for t in (target, test_target))
        train = {"x": x.astype(np.float32), "y": y.astype(np.float32)}
        test = {"x": test_x.astype(np.float32), "y": test_y.astype(np.float32)}
        return Split.of(train, test, rng, self.steps, self.batch_size)

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return functional.mse_loss(forward(holdout["x"]).squeeze(-1), holdout["y"])


def tasks() -> list[IllConditioned]:
    return [
        IllConditioned("rotated", 20, 1e3, 0.1, 32, 500),
        IllConditioned("axis", 50, 1e5, 0.1, 64, 1500),
        IllConditioned("rotated", 100, 1e4, 0.3, 16, 1000),
        IllConditioned("axis", 10, 1e2, 0.5, 8, 300),
        IllConditioned("poly", 6, 4.5e3, 0.1, 32, 800),
        IllConditioned("mlp", 20, 1e4, 0.1, 32, 1000, widths=(64, 64)),
    ]
