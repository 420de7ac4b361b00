"""Matrix factorisation for recommendation: user and item embedding tables fitted to observed ratings.

Ratings come from a hidden low-rank model (user and item factors, user and item biases) plus Gaussian
observation noise. Which (user, item) pairs are observed is popularity-skewed: users and items are drawn
from Zipf distributions, so a few rows of each table are touched at almost every step and most rows
rarely or never, as in real rating logs. The model is the classic biased factorisation, a dot product of
the two embeddings plus both biases and a global offset, trained on ratings centred by the training mean
by minibatch MSE plus the usual per-rating L2 penalty on the rows the rating reads. The metric is the MSE
on held-out ratings drawn from the same distribution; the observation noise is its floor (the noise
variance), and under-observed rows keep it well above that. Variants change the table sizes, the rank
(the model's, which need not be the hidden one), the number of observed ratings (density), the Zipf
exponent, the noise, the penalty, the batch size and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from benchmarks.evidence.families._data import Split, Supervised, zipf_probabilities
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "embedding_mf"

HIDDEN_RANK = 8
HELD_OUT = 2000
# Factors start small (torch's N(0, 1) would make every initial prediction a rank-sized random number).
INIT_STD = 0.1


class BiasedFactorisation(nn.Module):
    def __init__(self, users: int, items: int, rank: int) -> None:
        super().__init__()
        self.user = nn.Embedding(users, rank)
        self.item = nn.Embedding(items, rank)
        self.user_bias = nn.Embedding(users, 1)
        self.item_bias = nn.Embedding(items, 1)
        self.offset = nn.Parameter(torch.zeros(1))
        for table in (self.user, self.item):
            nn.init.normal_(table.weight, std=INIT_STD)
        for table in (self.user_bias, self.item_bias):
            nn.init.zeros_(table.weight)

    def forward(self, users: Tensor, items: Tensor) -> Tensor:
        """[..., 2]: each predicted rating, and the squared norm of the rows it read (its L2 penalty)."""
        user, item = self.user(users), self.item(items)
        user_bias, item_bias = self.user_bias(users)[..., 0], self.item_bias(items)[..., 0]
        predicted = (user * item).sum(dim=-1) + user_bias + item_bias + self.offset
        norms = (
            user.square().sum(dim=-1) + item.square().sum(dim=-1) + user_bias.square() + item_bias.square()
        )
        return torch.stack([predicted, norms], dim=-1)


@dataclass(frozen=True)
class MatrixFactorisation(Supervised):
    users: int
    items: int
    rank: int
    observations: int
    zipf: float
    noise: float
    penalty: float
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            family=FAMILY,
            name=(
                f"{FAMILY}/u{self.users}i{self.items}-r{self.rank}-o{self.observations}-z{self.zipf:g}"
                f"-n{self.noise:g}-l{self.penalty:g}-b{self.batch_size}-s{self.steps}"
            ),
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out rating MSE",
            profile={"model_family": "embedding", "training_steps": self.steps},
            variant={
                "users": self.users,
                "items": self.items,
                "rank": self.rank,
                "density": self.observations / (self.users * self.items),
                "zipf": self.zipf,
                "noise": self.noise,
                "penalty": self.penalty,
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return BiasedFactorisation(self.users, self.items, self.rank)

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, zlib.crc32(FAMILY.encode())])
        # Factor entries of variance HIDDEN_RANK ** -0.5 give interactions of unit variance.
        scale = HIDDEN_RANK**-0.25
        user_factors = rng.normal(0.0, scale, (self.users, HIDDEN_RANK))
        item_factors = rng.normal(0.0, scale, (self.items, HIDDEN_RANK))
        user_bias = rng.normal(0.0, 0.3, self.users)
        item_bias = rng.normal(0.0, 0.5, self.items)
        # Popularity is a random ordering of the rows: row 0 is not the most popular one.
        user_popularity = zipf_probabilities(self.users, self.zipf)[rng.permutation(self.users)]
        item_popularity = zipf_probabilities(self.items, self.zipf)[rng.permutation(self.items)]
        # A user rates an item once: the first distinct pairs drawn (draws are i.i.d., so in random order).
        wanted = self.observations + HELD_OUT
        pairs = np.empty(0, dtype=np.int64)
        while len(pairs) < wanted:
            drawn = rng.choice(self.users, 2 * wanted, p=user_popularity) * self.items + rng.choice(
                self.items, 2 * wanted, p=item_popularity
            )
            combined = np.concatenate([pairs, drawn])
            _, first = np.unique(combined, return_index=True)
            pairs = combined[np.sort(first)]
        pairs = pairs[:wanted]
        users, items = pairs // self.items, pairs % self.items
        ratings = (
            (user_factors[users] * item_factors[items]).sum(axis=1)
            + user_bias[users]
            + item_bias[items]
            + rng.normal(0.0, self.noise, wanted)
        )
        ratings = (ratings - ratings[: self.observations].mean()).astype(np.float32)
        train, test = slice(0, self.observations), slice(self.observations, wanted)
        return Split.of(
            {"users": users[train], "items": items[train], "ratings": ratings[train]},
            {"users": users[test], "items": items[test], "ratings": ratings[test]},
            rng,
            self.steps,
            self.batch_size,
        )

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        output = forward(batch["users"], batch["items"])
        error = (output[..., 0] - batch["ratings"]).square().mean()
        return error + self.penalty * output[..., 1].mean(), error.detach()

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return (forward(holdout["users"], holdout["items"])[..., 0] - holdout["ratings"]).square().mean()


def tasks() -> list[MatrixFactorisation]:
    return [
        MatrixFactorisation(500, 300, 8, 20_000, 1.0, 0.5, 0.05, 256, 500),
        MatrixFactorisation(1000, 500, 6, 30_000, 1.2, 0.3, 0.02, 512, 300),
        MatrixFactorisation(200, 150, 4, 8_000, 0.8, 1.0, 0.1, 32, 1200),
        MatrixFactorisation(250, 150, 6, 6_000, 1.1, 0.5, 0.05, 8, 1500),
        MatrixFactorisation(800, 400, 10, 30_000, 1.0, 0.7, 0.05, 512, 250),
    ]
