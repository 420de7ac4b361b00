"""The one training loop every problem runs: step, observe, stop early on divergence, evaluate."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
from torch import nn

from benchmarks.quality.problem import OptimizerFactory, TrainingObserver, TrainResult


def run_steps(
    model: nn.Module,
    optimizer_factory: OptimizerFactory,
    steps: int,
    *,
    step_loss: Callable[[int], torch.Tensor],
    final_metric: Callable[[list[float]], float],
    observer: TrainingObserver | None = None,
) -> TrainResult:
    """Train ``model`` for ``steps`` steps of ``step_loss`` and score it with ``final_metric``.

    ``step_loss(step)`` returns the differentiable loss of that step; its value is the curve point.
    ``final_metric(curve)`` sees the finished curve, so online problems can score the run itself
    (tracking loss) while supervised ones evaluate held-out data.
    """
    started = time.perf_counter()
    optimizer = optimizer_factory(model.parameters())
    if observer is not None:
        observer.attach(model)
    curve: list[float] = []
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = step_loss(step)
        value = float(loss.detach())
        curve.append(value)
        if not math.isfinite(value):
            # A diverged run scores inf; continuing only burns CPU on NaNs.
            break
        torch.autograd.backward(loss)
        if observer is not None:
            observer.after_backward(step)
        optimizer.step()
    else:
        with torch.no_grad():
            metric = final_metric(curve)
        return TrainResult.from_curve(curve, metric, time.perf_counter() - started)
    return TrainResult.from_curve(curve, math.inf, time.perf_counter() - started)
