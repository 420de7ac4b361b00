"""The baselines' search space (one table) and the mapping from a (method, kwargs) config to torch.optim.

Every config is trained with the reference ``torch.optim`` classes, the recommendation's as much as the
baselines', so the benchmark measures the advice and not an implementation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

TORCH_CLASSES: dict[str, type[torch.optim.Optimizer]] = {
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
    "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
METHODS = tuple(TORCH_CLASSES)

# Log-uniform learning-rate ranges for random search: about two decades either side of common practice
# for each method (Adadelta's rate is a multiplier around the paper's 1.0). Other hyperparameters stay at
# the torch defaults, as a practitioner's quick search would leave them.
LEARNING_RATE_RANGES: dict[str, tuple[float, float]] = {
    "adagrad": (1e-3, 1.0),
    "rmsprop": (1e-5, 1e-1),
    "adadelta": (1e-2, 10.0),
    "adam": (1e-5, 1e-1),
    "adamw": (1e-5, 1e-1),
    "sgd": (1e-4, 3.0),
}


@dataclass(frozen=True)
class Config:
    """One optimizer configuration in torch's own hyperparameter names."""

    method: str
    kwargs: tuple[tuple[str, Any], ...] = ()

    @staticmethod
    def of(method: str, kwargs: dict[str, Any] | None = None) -> Config:
        if method not in TORCH_CLASSES:
            raise ValueError(f"Unknown optimizer method: {method!r}")
        frozen = tuple(sorted((name, _hashable(value)) for name, value in (kwargs or {}).items()))
        return Config(method, frozen)

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "kwargs": dict(self.kwargs)}

    def label(self) -> str:
        settings = ", ".join(f"{name}={_short(value)}" for name, value in self.kwargs)
        return f"{self.method}({settings})"


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def build_optimizer(config: Config, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """``torch.optim.<Class>(params, **kwargs)``; ``TypeError``/``ValueError`` for kwargs torch rejects."""
    return TORCH_CLASSES[config.method](params, **dict(config.kwargs))


def random_search(method: str, trials: int, seed: int) -> list[Config]:
    """``trials`` log-uniform learning rates for ``method``; a prefix of a longer search is a shorter one."""
    low, high = LEARNING_RATE_RANGES[method]
    rng = np.random.default_rng([seed, METHODS.index(method), 8])
    exponents = rng.uniform(math.log10(low), math.log10(high), trials)
    return [Config.of(method, {"lr": float(10.0**exponent)}) for exponent in exponents]


def torch_default(method: str) -> Config:
    return Config.of(method)
