"""Bag-of-words text classification: a hashed embedding table, averaged over a document, feeding an MLP.

Documents are generated token sequences of varying length. Token ids come from a Zipf vocabulary of
RAW_VOCABULARY words and are hashed into a table of a few thousand rows (the hashing trick, so unrelated
words share rows). Each class has a few rare "indicative" words; a document carries a Poisson number of
them, mostly of its own class and sometimes of another, among ordinary Zipf words. The model is the
mixed sparse-dense case: ``nn.Embedding`` rows, a masked mean over the document's tokens, then a small
dense MLP head; at each step only the rows of the batch's words get a gradient, and the rare indicative
rows, the ones that matter, get one seldom. The metric is the held-out cross-entropy. Its floor is well
above zero: documents without an indicative word carry no signal, a misleading word can outnumber the
right one, and a fraction of the labels is random. Variants change the table size, the Zipf exponent,
the document length, the embedding and hidden widths, the batch size and the run length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional

from benchmarks.evidence.families._data import Split, Supervised, flip_labels, zipf_probabilities
from benchmarks.evidence.families._layers import mlp
from benchmarks.evidence.task import Batch, Forward, TaskSpec

FAMILY = "text_classifier"

RAW_VOCABULARY = 30_000
CLASSES = 4
INDICATIVE_PER_CLASS = 6
# Indicative words are taken from these frequency ranks: rare in ordinary text (a few per 10,000 tokens).
INDICATIVE_RANKS = (300, 5000)
INDICATIVE_RATE = 1.2  # Poisson mean per document
MISLEADING = 0.2  # chance that an indicative word belongs to another class
LABEL_NOISE = 0.05
TRAIN_DOCUMENTS = 12_000
HELD_OUT_DOCUMENTS = 1000


def hashed(words: np.ndarray, table: int) -> np.ndarray:
    """Row of each word: a multiplicative (Knuth) hash, fixed across runs and processes."""
    return (words * 2654435761 % 2**32) % table


class BagOfWords(nn.Module):
    def __init__(self, table: int, dim: int, width: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(table, dim)
        self.head = mlp([dim, width, CLASSES])

    def forward(self, tokens: Tensor, mask: Tensor) -> Tensor:
        # The masked mean over a document's tokens: EmbeddingBag(mode="mean") written with plain ops.
        summed = (self.embedding(tokens) * mask[..., None]).sum(dim=-2)
        logits: Tensor = self.head(summed / mask.sum(dim=-1, keepdim=True))
        return logits


@dataclass(frozen=True)
class TextClassifier(Supervised):
    table: int
    zipf: float
    length: int  # longest document, in tokens; lengths are uniform from half of it
    dim: int
    width: int
    batch_size: int
    steps: int

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            family=FAMILY,
            name=(
                f"{FAMILY}/t{self.table}-z{self.zipf:g}-l{self.length}-e{self.dim}w{self.width}"
                f"-b{self.batch_size}-s{self.steps}"
            ),
            steps=self.steps,
            batch_size=self.batch_size,
            metric="held-out cross-entropy",
            profile={"model_family": "embedding", "training_steps": self.steps},
            variant={
                "table": self.table,
                "zipf": self.zipf,
                "length": self.length,
                "dim": self.dim,
                "width": self.width,
            },
        )

    def build(self, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        return BagOfWords(self.table, self.dim, self.width)

    def data(self, seed: int) -> Split:
        rng = np.random.default_rng([seed, zlib.crc32(FAMILY.encode())])
        count = TRAIN_DOCUMENTS + HELD_OUT_DOCUMENTS
        # Word ids are frequency ranks shuffled, so a word's id says nothing about how common it is.
        words = rng.permutation(RAW_VOCABULARY)
        indicative = words[
            rng.choice(np.arange(*INDICATIVE_RANKS), (CLASSES, INDICATIVE_PER_CLASS), replace=False)
        ]
        tokens = words[
            rng.choice(RAW_VOCABULARY, (count, self.length), p=zipf_probabilities(RAW_VOCABULARY, self.zipf))
        ]
        lengths = rng.integers(self.length // 2, self.length + 1, count)
        mask = np.arange(self.length) < lengths[:, None]
        labels = rng.integers(0, CLASSES, count)
        signals = np.minimum(rng.poisson(INDICATIVE_RATE, count), lengths)
        # Each document's positions in a random order (padding last); its first ``signals`` of them get an
        # indicative word, which is misleading (of another class: the label shifted by 1..CLASSES-1) with
        # probability MISLEADING.
        slots = np.argsort(np.where(mask, rng.random(mask.shape), 2.0), axis=1)
        chosen = np.arange(self.length) < signals[:, None]
        misleading = rng.random(mask.shape) < MISLEADING
        classes = (labels[:, None] + misleading * rng.integers(1, CLASSES, mask.shape)) % CLASSES
        signal_words = indicative[classes, rng.integers(0, INDICATIVE_PER_CLASS, mask.shape)]
        current = np.take_along_axis(tokens, slots, axis=1)
        np.put_along_axis(tokens, slots, np.where(chosen, signal_words, current), axis=1)
        labels = flip_labels(labels, CLASSES, LABEL_NOISE, rng)
        rows, weights = hashed(tokens, self.table), mask.astype(np.float32)
        train, test = slice(0, TRAIN_DOCUMENTS), slice(TRAIN_DOCUMENTS, count)
        return Split.of(
            {"tokens": rows[train], "mask": weights[train], "y": labels[train]},
            {"tokens": rows[test], "mask": weights[test], "y": labels[test]},
            rng,
            self.steps,
            self.batch_size,
        )

    def metric(self, forward: Forward, holdout: Batch) -> Tensor:
        return functional.cross_entropy(forward(holdout["tokens"], holdout["mask"]), holdout["y"])


def tasks() -> list[TextClassifier]:
    return [
        TextClassifier(2000, 1.0, 20, 6, 32, 32, 400),
        TextClassifier(4000, 1.2, 12, 4, 16, 64, 250),
        TextClassifier(8000, 0.9, 24, 4, 32, 16, 200),
        TextClassifier(1000, 1.1, 20, 8, 64, 32, 400),
        TextClassifier(1500, 1.0, 16, 6, 16, 8, 600),
    ]
