"""Train many configurations of one task at once, and capture a task's gradients as a user would.

``train_configs`` stacks one copy of the model per (configuration, seed) slice, takes every slice's
gradient in one ``vmap(grad)`` call per step, and lets each method update its own contiguous range of
configurations (``benchmarks.evidence.batched``). Slices are independent: a diverging slice fills with
inf/NaN and is recorded as diverged, the others are unaffected.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from benchmarks.evidence.batched import BATCHED, BatchedMethod
from benchmarks.evidence.task import Batch, Task
from optadvisor.client.capture import GradientCapture

CURVE_POINTS = 8


@dataclass(frozen=True)
class RunConfig:
    """A configuration to train: torch.optim keyword arguments under a stable key."""

    key: str
    method: str
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class RunResult:
    """One slice's outcome: the final metric (None when diverged) and its score curve."""

    metric: float | None
    curve: tuple[float | None, ...]


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _curve(scores: Tensor) -> tuple[float | None, ...]:
    """Window means of a slice's per-step scores: CURVE_POINTS of them."""
    windows = np.array_split(scores.numpy().astype(np.float64), min(CURVE_POINTS, len(scores)))
    return tuple(_finite_or_none(float(window.mean())) for window in windows)


def _stack(batches: Sequence[Batch]) -> Batch:
    """One batch per seed, stacked on a leading seed axis."""
    return {name: torch.stack([batch[name] for batch in batches]) for name in batches[0]}


def train_configs(
    task: Task, configs: Sequence[RunConfig], seeds: Sequence[int], steps: int | None = None
) -> dict[tuple[str, int], RunResult]:
    """Train every config on every seed for ``steps`` (default: the task's) and score each run.

    Parameters are stacked [config, seed, ...]: the vmap over seeds is inside the one over configs, so a
    seed's batch is shared by every config instead of being copied per slice.
    """
    steps = task.spec.steps if steps is None else steps
    configs = sorted(configs, key=lambda config: config.method)
    models = [task.build(seed) for seed in seeds]
    template = models[0]
    by_seed, buffers = stack_module_state(models)
    if buffers:
        raise ValueError(f"{task.spec.name}: models with buffers are not supported ({', '.join(buffers)})")
    params = {
        name: value.detach().unsqueeze(0).repeat(len(configs), *([1] * value.dim()))
        for name, value in by_seed.items()
    }
    datas = [task.data(seed) for seed in seeds]

    def slice_loss(slice_params: dict[str, Tensor], batch: Batch) -> tuple[Tensor, Tensor]:
        return task.loss(lambda *inputs: functional_call(template, slice_params, inputs), batch)

    def slice_metric(slice_params: dict[str, Tensor], holdout: Batch) -> Tensor:
        return task.metric(lambda *inputs: functional_call(template, slice_params, inputs), holdout)

    gradient = vmap(vmap(grad_and_value(slice_loss, has_aux=True)), in_dims=(0, None))
    names = list(params)
    methods: list[tuple[BatchedMethod, int, int]] = []
    start = 0
    for method in dict.fromkeys(config.method for config in configs):
        stop = start + sum(1 for config in configs if config.method == method)
        optimizer = BATCHED[method](
            [params[name][start:stop] for name in names], [dict(c.kwargs) for c in configs[start:stop]]
        )
        methods.append((optimizer, start, stop))
        start = stop
    scores = torch.empty(steps, len(configs), len(seeds))
    for step in range(steps):
        grads, (_, score) = gradient(params, _stack([task.batch(data, step) for data in datas]))
        scores[step] = score.detach()
        for optimizer, first, last in methods:
            optimizer.step([grads[name][first:last] for name in names])

    holdouts = [task.holdout(data) for data in datas]
    if holdouts[0] is None:
        finals = scores.mean(dim=0)
    else:
        with torch.no_grad():
            finals = vmap(vmap(slice_metric), in_dims=(0, None))(
                params, _stack([h for h in holdouts if h is not None])
            )
    finite = torch.stack(
        [value.reshape(len(configs), len(seeds), -1).isfinite().all(dim=2) for value in params.values()]
    ).all(dim=0)
    results = {}
    for index, config in enumerate(configs):
        for column, seed in enumerate(seeds):
            final = float(finals[index, column])
            diverged = not (math.isfinite(final) and bool(finite[index, column]))
            results[(config.key, seed)] = RunResult(
                None if diverged else final, _curve(scores[:, index, column])
            )
    return results


def capture(task: Task, seed: int, *, steps: int, max_total_values: int) -> dict[str, dict[str, Any]]:
    """The gradient samples a user's ``GradientCapture`` would send after ``steps`` steps of training this
    task with torch's Adam at its defaults (the habitual optimizer the advice is asked to replace)."""
    model = task.build(seed)
    data = task.data(seed)
    optimizer = torch.optim.Adam(model.parameters())
    recorder = GradientCapture(
        model, steps=steps, max_total_values=max_total_values, seed=seed, progress=False
    )
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss, _ = task.loss(model, task.batch(data, step))
        torch.autograd.backward(loss)
        recorder.record()
        optimizer.step()
    return recorder.gradients()


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    return function(*args, **kwargs), time.perf_counter() - started
