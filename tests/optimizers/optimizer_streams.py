"""Seeded gradient streams, option combinations and a driver shared by the optimizer tests."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from optadvisor import optimizers

SHAPES: tuple[tuple[int, ...], ...] = ((5, 3), (7,), (2, 3, 4))
STEPS = 300


def gradient_stream(seed: int, steps: int = STEPS) -> list[np.ndarray]:
    """One float64 array of shape (steps, *shape) per parameter, with exact zeros.

    About 30% of entries are 0, one coordinate of each tensor never receives a gradient, and the
    tensors differ in scale so that the adaptive denominators differ across parameters.
    """
    rng = np.random.default_rng(seed)
    streams = []
    for index, shape in enumerate(SHAPES):
        grads = rng.standard_normal((steps, *shape)) * 10.0 ** (index - 1)
        grads[rng.random(grads.shape) < 0.3] = 0.0
        grads.reshape(steps, -1)[:, 0] = 0.0
        streams.append(grads)
    return streams


def initial_parameters(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 10_000)
    return [rng.standard_normal(shape) for shape in SHAPES]


def option_combinations(options: Mapping[str, Sequence[Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` combinations in which every value of every option appears at least once."""
    rng = random.Random(seed)
    orders = {name: rng.sample(list(values), len(values)) for name, values in options.items()}
    combos = []
    for i in range(count):
        combo = {}
        for name, values in orders.items():
            combo[name] = values[i] if i < len(values) else rng.choice(values)
        combos.append(combo)
    return combos


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual − expected| / max |expected| (NaNs must coincide)."""
    assert np.array_equal(np.isnan(actual), np.isnan(expected))
    mask = ~np.isnan(expected)
    scale = max(float(np.abs(expected[mask]).max(initial=0.0)), 1e-30)
    return float(np.abs(actual[mask] - expected[mask]).max(initial=0.0)) / scale


def run_ours(  # noqa: PLR0913  keyword-only stream of one parity run
    method: str,
    framework: str,
    hyperparameters: dict[str, Any],
    *,
    params0: list[np.ndarray],
    grads: list[np.ndarray],
    dtype: torch.dtype,
) -> list[np.ndarray]:
    params = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in params0]
    optimizer = optimizers.create(method, params, framework=framework, **hyperparameters)
    drive(optimizer, params, grads)
    return [p.detach().double().numpy() for p in params]


def drive(optimizer: torch.optim.Optimizer, params: list[torch.Tensor], grads: list[np.ndarray]) -> None:
    for step in range(grads[0].shape[0]):
        for param, stream in zip(params, grads, strict=True):
            param.grad = torch.tensor(stream[step], dtype=param.dtype)
        optimizer.step()
