"""Character-level GRU language model on the source of a standard-library module.

The text ships with every Python install, so the problem needs no download; recurrent nets are where
the source text recommends RMSprop.
"""

from __future__ import annotations

import string
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from benchmarks.quality.loop import run_steps
from benchmarks.quality.problem import OptimizerFactory, TrainingObserver, TrainResult

ALPHABET = string.printable
UNKNOWN = ALPHABET.index("?")


def corpus() -> torch.Tensor:
    """Character ids of ``textwrap.py``; characters outside ``string.printable`` map to '?'."""
    text = Path(textwrap.__file__).read_text(encoding="utf-8")
    lookup = {character: index for index, character in enumerate(ALPHABET)}
    return torch.tensor([lookup.get(character, UNKNOWN) for character in text], dtype=torch.long)


class CharGRU(nn.Module):
    def __init__(self, vocabulary: int, embedding: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, embedding)
        self.gru = nn.GRU(embedding, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocabulary)

    def forward(self, characters: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.embed(characters))
        logits: torch.Tensor = self.head(states)
        return logits


@dataclass(frozen=True)
class CharRNN:
    name: str = "char_gru"
    regime: str = "character-level GRU language model on textwrap.py (recurrent, non-convex)"
    steps: int = 120
    window: int = 32
    batch: int = 16
    embedding: int = 16
    hidden: int = 64
    held_out_fraction: float = 0.1
    evaluation_windows: int = 32
    metric: str = "held-out cross-entropy (nats/char)"

    @property
    def profile(self) -> dict[str, Any]:
        return {"model_family": "rnn", "training_steps": self.steps, "convex": False}

    def build(self, seed: int) -> tuple[CharGRU, torch.Tensor]:
        torch.manual_seed(seed)
        return CharGRU(len(ALPHABET), self.embedding, self.hidden), corpus()

    def _windows(self, text: torch.Tensor, starts: np.ndarray) -> torch.Tensor:
        offsets = torch.arange(self.window + 1)
        return text[torch.from_numpy(starts)[:, None] + offsets]

    def train(
        self,
        optimizer_factory: OptimizerFactory,
        seed: int,
        steps: int | None = None,
        observer: TrainingObserver | None = None,
    ) -> TrainResult:
        model, text = self.build(seed)
        split = int(len(text) * (1.0 - self.held_out_fraction))
        train_text, test_text = text[:split], text[split:]
        rng = np.random.default_rng([seed, 3])
        # Evaluation windows are fixed per seed, so every optimizer is scored on the same characters.
        test_windows = self._windows(
            test_text, np.linspace(0, len(test_text) - self.window - 1, self.evaluation_windows).astype(int)
        )

        def language_model_loss(windows: torch.Tensor) -> torch.Tensor:
            logits = model(windows[:, :-1])
            return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))

        def step_loss(_step: int) -> torch.Tensor:
            starts = rng.integers(0, len(train_text) - self.window - 1, self.batch)
            return language_model_loss(self._windows(train_text, starts))

        def held_out(_curve: list[float]) -> float:
            return float(language_model_loss(test_windows))

        return run_steps(
            model,
            optimizer_factory,
            steps or self.steps,
            step_loss=step_loss,
            final_metric=held_out,
            observer=observer,
        )


CHAR_RNN = CharRNN()
