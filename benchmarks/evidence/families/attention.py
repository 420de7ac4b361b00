"""Tiny causal transformers (one or two pre-norm attention blocks) on generated token sequences.

The model: token and position embeddings, blocks of multi-head causal self-attention (written with einsum
and softmax) and a two-layer MLP, each behind a LayerNorm and added to the residual stream, then a
LayerNorm and a linear readout to the vocabulary. Each task has a training pool of sequences sampled in
minibatches and a held-out set; the metric is the held-out cross-entropy of the predicted tokens:

- ``recall`` (associative recall): ``pairs`` key-value pairs (keys distinct, from their own alphabet),
  then one of the keys again; the model predicts its value. Two blocks: one to attach each key to the value
  after it, one to look the query up. Floor: 10% of the answers (both splits) are a random value.
- ``copy`` / ``reverse``: ``pairs`` random tokens, a separator, then the same tokens in the same or the
  reverse order; the model predicts the second half token by token. Floor: 10% of the second half's
  tokens (both splits) are replaced by a random token.
- ``markov``: next-token prediction on sequences from a fixed random second-order Markov chain on the
  task's vocabulary (sparse Dirichlet transition rows, started from its stationary distribution), scored
  from the third token on. Floor: the chain's conditional entropy (0.78 nats on six tokens, 1.03 on
  eight), reached by a model that knows the transition table.

Variants change the task, the width, the number of heads and blocks, the sequence length (at most 24), the
batch size and the run length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from torch import Tensor, nn

from benchmarks.evidence.families._data import flip_labels
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "attention"
TRAIN_SEQUENCES = 8192
# Held-out sets of about 500 input tokens: scoring them on every grid slice costs a few training steps.
TEST_TOKENS = 512
ANSWER_NOISE = 0.1
KEYS = VALUES = 8  # recall's alphabets
SYMBOLS = 10  # copy and reverse's alphabet (plus the separator)
MARKOV_CONCENTRATION = 0.2  # Dirichlet parameter of the chain's transition rows: a few likely successors


def _softmax(scores: Tensor) -> Tensor:
    """Softmax over the last axis. torch's kernel is slow on rows this short (a dozen keys), about four
    times slower than these elementwise ops; the max is a constant shift, so it needs no gradient."""
    exponentials = (scores - scores.detach().amax(dim=-1, keepdim=True)).exp()
    return exponentials / exponentials.sum(dim=-1, keepdim=True)


class Block(nn.Module):
    """Pre-norm causal self-attention and MLP, each added to the residual stream."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * width, bias=False), nn.ReLU(), nn.Linear(2 * width, width, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        batch, length, width = x.shape
        q, k, v = self.qkv(self.attention_norm(x)).reshape(batch, length, 3, self.heads, -1).unbind(dim=2)
        scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
        causal = torch.ones(length, length, dtype=torch.bool).tril()
        weights = _softmax(scores.masked_fill(~causal, -torch.inf))
        mixed = torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, length, width)
        x = x + self.out(mixed)
        output: Tensor = x + self.mlp(self.mlp_norm(x))
        return output


class TinyTransformer(nn.Module):
    def __init__(self, vocabulary: int, length: int, width: int, heads: int, blocks: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(length, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(blocks)))
        self.norm = nn.LayerNorm(width)
        self.readout = nn.Linear(width, vocabulary)

    def forward(self, tokens: Tensor) -> Tensor:
        """Next-token logits at every position of ``tokens`` [batch, length]."""
        positions = self.positions(torch.arange(tokens.shape[-1]))
        logits: Tensor = self.readout(self.norm(self.blocks(self.tokens(tokens) + positions)))
        return logits


def _recall(rng: np.random.Generator, count: int, pairs: int) -> np.ndarray:
    """Sequences ``k1 v1 ... kn vn q v(q)``: keys are tokens 0..KEYS-1, values KEYS..KEYS+VALUES-1."""
    keys = np.argsort(rng.random((count, KEYS)), axis=1)[:, :pairs]
    values = rng.integers(0, VALUES, (count, pairs))
    asked = rng.integers(0, pairs, count)
    rows = np.arange(count)
    answer = flip_labels(values[rows, asked], VALUES, ANSWER_NOISE, rng)
    interleaved = np.stack([keys, KEYS + values], axis=2).reshape(count, 2 * pairs)
    return np.concatenate([interleaved, keys[rows, asked, None], KEYS + answer[:, None]], axis=1)


def _copy(rng: np.random.Generator, count: int, pairs: int, reverse: bool) -> np.ndarray:
    """Sequences ``a1 ... an SEP`` and the a's again (reversed for ``reverse``); SEP is token SYMBOLS."""
    symbols = rng.integers(0, SYMBOLS, (count, pairs))
    repeated = flip_labels(symbols[:, ::-1] if reverse else symbols, SYMBOLS, ANSWER_NOISE, rng)
    return np.concatenate([symbols, np.full((count, 1), SYMBOLS), repeated], axis=1)


@cache
def _markov_chain(vocabulary: int) -> tuple[np.ndarray, np.ndarray]:
    """The second-order chain on ``vocabulary`` tokens: transitions [a, b, next] and the stationary
    distribution of pairs (a, b)."""
    rng = np.random.default_rng([vocabulary, 53])
    transitions = rng.dirichlet(np.full(vocabulary, MARKOV_CONCENTRATION), (vocabulary, vocabulary))
    pairs = np.full((vocabulary, vocabulary), 1.0 / vocabulary**2)
    for _ in range(500):
        # (a, b) -> (b, c) with probability transitions[a, b, c].
        pairs = np.einsum("ab,abc->bc", pairs, transitions)
    return transitions, pairs


def _markov(rng: np.random.Generator, count: int, length: int, vocabulary: int) -> np.ndarray:
    transitions, pairs = _markov_chain(vocabulary)
    first = rng.choice(vocabulary**2, count, p=pairs.ravel() / pairs.sum())
    tokens = [first // vocabulary, first % vocabulary]
    cumulative = transitions.cumsum(axis=-1)
    for _ in range(length - 2):
        row = cumulative[tokens[-2], tokens[-1]]
        tokens.append(np.minimum((rng.random((count, 1)) > row).sum(axis=1), vocabulary - 1))
    return np.stack(tokens, axis=1)


@dataclass(frozen=True)
class Sequences:
    tokens: Tensor  # [count, length + 1]: inputs are [:, :-1], targets [:, 1:]
    test_tokens: Tensor
    scored: Tensor  # [length] 1.0 where the target is predicted and scored
    order: Tensor  # [steps, batch] training indices


@dataclass(frozen=True)
class Attention:
    problem: str  # recall, copy, reverse, markov
    size: int  # recall/copy/reverse: pairs or tokens to repeat; markov: vocabulary
    width: int
    heads: int
    blocks: int
    batch_size: int
    steps: int
    markov_length: int = 0  # markov only: tokens per sequence

    @property
    def length(self) -> int:
        """Input tokens per sequence (the targets are the same sequence shifted by one)."""
        if self.problem == "markov":
            return self.markov_length - 1
        return 2 * self.size + (1 if self.problem == "recall" else 0)

    @property
    def vocabulary(self) -> int:
        if self.problem == "recall":
            return KEYS + VALUES
        return self.size if self.problem == "markov" else SYMBOLS + 1

    @property
    def spec(self) -> TaskSpec:
        size = "v" if self.problem == "markov" else "n"
        return TaskSpec(
            family=FAMILY,
            name=f"{FAMILY}/{self.problem}-{size}{self.size}-T{self.length}-d{self.width}h{self.heads}"
            f"L{self.blocks}-b{self.batch_size}-s{self.steps}",
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out cross-entropy",
            profile={"model_family": "transformer", "training_steps": self.steps},
            variant={
                "problem": self.problem,
                "size": self.size,
                "length": self.length,
                "width": self.width,
                "heads": self.heads,
                "blocks": self.blocks,
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return TinyTransformer(self.vocabulary, self.length, self.width, self.heads, self.blocks)

    def _generate(self, rng: np.random.Generator, count: int) -> Tensor:
        if self.problem == "recall":
            tokens = _recall(rng, count, self.size)
        elif self.problem == "markov":
            tokens = _markov(rng, count, self.markov_length, self.size)
        else:
            tokens = _copy(rng, count, self.size, reverse=self.problem == "reverse")
        return torch.from_numpy(tokens.astype(np.int64))

    def data(self, seed: int) -> Sequences:
        rng = np.random.default_rng([seed, 29])
        tokens = self._generate(rng, TRAIN_SEQUENCES)
        test_tokens = self._generate(rng, TEST_TOKENS // self.length)
        scored = torch.zeros(self.length)
        if self.problem == "recall":
            scored[-1] = 1.0  # the answer
        elif self.problem == "markov":
            scored[1:] = 1.0  # every token with two before it
        else:
            scored[self.size :] = 1.0  # the repeated half, from the separator on
        order = torch.from_numpy(rng.integers(0, TRAIN_SEQUENCES, (self.steps, self.batch_size)))
        return Sequences(tokens, test_tokens, scored, order)

    def batch(self, data: Sequences, step: int) -> Batch:
        return {"tokens": data.tokens[data.order[step]], "scored": data.scored}

    def _cross_entropy(self, forward: Forward, batch: Batch) -> Tensor:
        tokens = batch["tokens"]
        logits = forward(tokens[:, :-1])
        # As _softmax: torch's log_softmax kernel is slow on rows of a dozen classes.
        log_probabilities = logits - logits.logsumexp(dim=-1, keepdim=True)
        target = log_probabilities.gather(-1, tokens[:, 1:, None]).squeeze(-1)
        return -(target * batch["scored"]).sum() / (batch["scored"].sum() * tokens.shape[0])

    def loss(self, forward: Forward, batch: Batch) -> tuple[Tensor, Tensor]:
        loss = self._cross_entropy(forward, batch)
        return loss, loss.detach()

    def holdout(self, data: Sequences) -> Batch:
        return {"tokens": data.test_tokens, "scored": data.scored}

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return self._cross_entropy(forward, holdout)


def tasks() -> list[Attention]:
    return [
        Attention("recall", 3, 24, 1, 2, 4, 600),
        Attention("reverse", 6, 16, 2, 1, 8, 500),
        Attention("copy", 8, 16, 1, 1, 8, 400),
        Attention("markov", 8, 16, 2, 1, 8, 400, markov_length=13),
        Attention("markov", 6, 16, 2, 2, 4, 350, markov_length=17),
    ]
