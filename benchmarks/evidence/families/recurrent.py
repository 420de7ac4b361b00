"""GRU and LSTM sequence models on generated sequences: forecasting, classification, the adding problem.

Three problems, each a fixed training pool of sequences sampled in minibatches and a held-out set:

- ``forecast``: one-step-ahead prediction of a regime-switching autoregressive series. Each sequence moves
  between three regimes (an oscillation, a high plateau, a slow low swing), switching within the sequence
  with a fixed probability per step, so the model has to infer the current regime from the recent past.
  Metric: held-out MSE of the next value over every position. Floor: the innovation noise, which no
  predictor can foresee (plus the ambiguity right after a switch).
- ``majority`` / ``parity``: two channels, a noisy ±1 bit per step and a marker on a few positions; the
  label is the majority (five marked bits) or the parity (two marked bits, an XOR across time) of the
  marked bits. Metric: held-out cross-entropy. Floor: the bits are read through Gaussian noise and 5% of
  the labels (both splits) are replaced by a random class.
- ``adding``: two channels, uniform values and a marker on one position in each half; the target is the
  sum of the two marked values (Hochreiter & Schmidhuber's adding problem) plus Gaussian noise. Metric:
  held-out MSE; floor: the target noise's variance (0.01; always predicting the mean scores 1/6).

Variants change the problem, the cell (GRU or LSTM), the hidden size, the sequence length (at most 24), the
regime switching rate, the batch size and the run length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._data import Split, Supervised, flip_labels
from benchmarks.evidence.families._layers import GRU, LSTM
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "recurrent"
TRAIN_SEQUENCES = 4000
TEST_SEQUENCES = 200  # scored on every grid slice at once: kept to the cost of a few training steps

# The forecast's regimes: (level, AR coefficients a1 and a2, innovation std). An AR(2) with roots at radius
# rho and angle 2*pi/period has a1 = 2 rho cos(2 pi / period), a2 = -rho^2.
REGIMES = (
    (0.0, 2 * 0.9 * np.cos(2 * np.pi / 6), -(0.9**2), 0.3),
    (1.5, 0.7, 0.0, 0.3),
    (-1.0, 2 * 0.95 * np.cos(2 * np.pi / 14), -(0.95**2), 0.3),
)
BURN_IN = 20  # steps simulated before a sequence starts, so it starts inside its regime's range
BIT_NOISE = 0.5  # std of the Gaussian noise the bits are read through
LABEL_NOISE = 0.05  # fraction of labels replaced by a random class
MARKED = {"majority": 5, "parity": 2}
TARGET_NOISE = 0.1  # std of the adding problem's target noise


def _forecast(rng: np.random.Generator, count: int, length: int, hazard: float) -> tuple[Tensor, Tensor]:
    """Series of ``length + 1`` values: inputs are the first ``length``, targets the next value of each."""
    total = BURN_IN + length + 1
    regime = rng.integers(0, len(REGIMES), count)
    series = np.zeros((count, total))
    for t in range(total):
        # A switch moves to one of the other regimes, chosen uniformly.
        switch = rng.random(count) < hazard
        regime = np.where(switch, (regime + rng.integers(1, len(REGIMES), count)) % len(REGIMES), regime)
        level, a1, a2, std = (np.array(column)[regime] for column in zip(*REGIMES, strict=True))
        previous = series[:, t - 1] if t >= 1 else level
        before = series[:, t - 2] if t >= 2 else level
        series[:, t] = level + a1 * (previous - level) + a2 * (before - level) + std * rng.normal(size=count)
    series = series[:, BURN_IN:].astype(np.float32)
    return torch.from_numpy(series[:, :-1, None]), torch.from_numpy(series[:, 1:])


def _marked_bits(rng: np.random.Generator, count: int, length: int, rule: str) -> tuple[Tensor, Tensor]:
    bits = rng.choice([-1.0, 1.0], (count, length))
    marker = np.zeros((count, length))
    positions = np.argsort(rng.random((count, length)), axis=1)[:, : MARKED[rule]]
    np.put_along_axis(marker, positions, 1.0, axis=1)
    marked = np.take_along_axis(bits, positions, axis=1)
    labels = marked.sum(axis=1) > 0 if rule == "majority" else marked.prod(axis=1) > 0
    labels = flip_labels(labels.astype(np.int64), 2, LABEL_NOISE, rng)
    observed = bits + BIT_NOISE * rng.normal(size=bits.shape)
    x = np.stack([observed, marker], axis=-1).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(labels)


def _adding(rng: np.random.Generator, count: int, length: int) -> tuple[Tensor, Tensor]:
    values = rng.random((count, length))
    half = length // 2
    first, second = rng.integers(0, half, count), rng.integers(half, length, count)
    marker = np.zeros((count, length))
    rows = np.arange(count)
    marker[rows, first] = marker[rows, second] = 1.0
    target = values[rows, first] + values[rows, second] + TARGET_NOISE * rng.normal(size=count)
    x = np.stack([values, marker], axis=-1).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(target.astype(np.float32))


class SequenceModel(nn.Module):
    """A recurrent layer and a linear readout, of every step's state or of the last one."""

    def __init__(self, cell: str, inputs: int, hidden: int, outputs: int, every_step: bool) -> None:
        super().__init__()
        self.recurrent = GRU(inputs, hidden) if cell == "gru" else LSTM(inputs, hidden)
        self.readout = nn.Linear(hidden, outputs)
        self.every_step = every_step

    def forward(self, x: Tensor) -> Tensor:
        states = self.recurrent(x)
        output: Tensor = self.readout(states if self.every_step else states[:, -1])
        return output


@dataclass(frozen=True)
class Recurrent(Supervised):
    problem: str  # forecast, majority, parity, adding
    cell: str  # gru, lstm
    hidden: int
    length: int
    batch_size: int
    steps: int
    hazard: float = 0.0  # forecast only: the probability per step of a regime switch

    @property
    def spec(self) -> TaskSpec:
        problem = f"{self.problem}{self.hazard:g}" if self.problem == "forecast" else self.problem
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{problem}-{self.cell}-h{self.hidden}-T{self.length}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out cross-entropy" if self.problem in MARKED else "held-out MSE",
            profile={"model_family": "rnn", "training_steps": self.steps},
            variant={
                "problem": self.problem,
                "cell": self.cell,
                "hidden": self.hidden,
                "length": self.length,
                **({"hazard": self.hazard} if self.problem == "forecast" else {}),
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        inputs = 1 if self.problem == "forecast" else 2
        outputs = 2 if self.problem in MARKED else 1
        return SequenceModel(self.cell, inputs, self.hidden, outputs, every_step=self.problem == "forecast")

    def _generate(self, rng: np.random.Generator, count: int) -> tuple[Tensor, Tensor]:
        if self.problem == "forecast":
            return _forecast(rng, count, self.length, self.hazard)
        if self.problem == "adding":
            return _adding(rng, count, self.length)
        return _marked_bits(rng, count, self.length, self.problem)

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, 23])
        x, y = self._generate(rng, TRAIN_SEQUENCES)
        test_x, test_y = self._generate(rng, TEST_SEQUENCES)
        if self.problem == "forecast":
            # Standardised with the training pool's statistics, so the metric reads in units of its variance.
            mean, std = x.mean(), x.std()
            x, y, test_x, test_y = ((v - mean) / std for v in (x, y, test_x, test_y))
        return Split.of({"x": x, "y": y}, {"x": test_x, "y": test_y}, rng, self.steps, self.batch_size)

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        output = forward(holdout["x"])
        if self.problem in MARKED:
            return functional.cross_entropy(output, holdout["y"])
        return functional.mse_loss(output.squeeze(-1), holdout["y"])


def tasks() -> list[Recurrent]:
    return [
        Recurrent("forecast", "gru", 16, 12, 16, 500, hazard=0.1),
        Recurrent("forecast", "lstm", 12, 12, 8, 700, hazard=0.2),
        Recurrent("majority", "gru", 16, 12, 16, 500),
        Recurrent("parity", "lstm", 12, 8, 16, 600),
        Recurrent("adding", "lstm", 12, 12, 16, 500),
        Recurrent("adding", "gru", 12, 20, 8, 500),
    ]
