"""Every method in every framework flavour decreases a quadratic and a logistic-regression loss."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from optadvisor import optimizers

LEARNING_RATE = {"adagrad": 0.1, "rmsprop": 0.01, "adadelta": 1.0, "adam": 0.05, "adamw": 0.05, "sgd": 0.1}
RATE_NAME = {"torch": "lr", "keras": "learning_rate", "optax": "learning_rate"}
STEPS = 200


def quadratic() -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    curvature = torch.rand(10, generator=generator, dtype=torch.float64) * 1.5 + 0.5
    target = torch.randn(10, generator=generator, dtype=torch.float64)
    return torch.zeros(10, dtype=torch.float64), lambda w: 0.5 * (curvature * (w - target) ** 2).sum()


def logistic_regression() -> tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(128, 5, generator=generator, dtype=torch.float64)
    labels = (features @ torch.tensor([1.0, -2.0, 0.5, 0.0, 1.5], dtype=torch.float64) > 0).double()
    return torch.zeros(
        5, dtype=torch.float64
    ), lambda w: torch.nn.functional.binary_cross_entropy_with_logits(features @ w, labels)


@pytest.mark.parametrize("problem", [quadratic, logistic_regression])
@pytest.mark.parametrize("framework", optimizers.FRAMEWORKS)
@pytest.mark.parametrize("method", optimizers.METHODS)
def test_loss_decreases(
    method: str,
    framework: str,
    problem: Callable[[], tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]],
) -> None:
    start, loss_of = problem()
    weights = start.clone().requires_grad_()
    optimizer = optimizers.create(
        method, [weights], framework=framework, **{RATE_NAME[framework]: LEARNING_RATE[method]}
    )
    initial = loss_of(weights).item()
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss_of(weights).backward()
        optimizer.step()
    assert loss_of(weights).item() < 0.9 * initial
