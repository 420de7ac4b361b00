"""Train many configurations of one task at once, and capture a task's gradients as a user would.

``train_configs`` stacks one copy of the model per (configuration, seed) slice, takes every slice's
gradient in one ``vmap(grad)`` call per step, and lets each method update its own contiguous range of
slices (``benchmarks.evidence.batched``). Slices are independent: a diverging slice fills with inf/NaN and
is recorded as diverged, the others are unaffected.
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


def _stack(batches: Sequence[Batch], seed_of_slice: Tensor) -> Batch:
    return {name: torch.stack([batch[name] for batch in batches])[seed_of_slice] for name in batches[0]}


def train_configs(
    task: Task, configs: Sequence[RunConfig], seeds: Sequence[int], steps: int | None = None
) -> dict[tuple[str, int], RunResult]:
    """Train every config on every seed for ``steps`` (default: the task's) and score each run."""
    steps = task.spec.steps if steps is None else steps
    slices = sorted(((config, seed) for config in configs for seed in seeds), key=lambda s: s[0].method)
    models = {seed: task.build(seed) for seed in seeds}
    template = models[seeds[0]]
    params, buffers = stack_module_state([models[seed] for _, seed in slices])
    if buffers:
        raise ValueError(f"{task.spec.name}: models with buffers are not supported ({', '.join(buffers)})")
    params = {name: value.detach().clone() for name, value in params.items()}
    seed_of_slice = torch.tensor([seeds.index(seed) for _, seed in slices])
    datas = [task.data(seed) for seed in seeds]

    def slice_loss(slice_params: dict[str, Tensor], batch: Batch) -> tuple[Tensor, Tensor]:
        return task.loss(lambda *inputs: functional_call(template, slice_params, inputs), batch)

    gradient = vmap(grad_and_value(slice_loss, has_aux=True))
    methods: list[tuple[BatchedMethod, list[str], int, int]] = []
    start = 0
    for method in dict.fromkeys(config.method for config, _ in slices):
        stop = start + sum(1 for config, _ in slices if config.method == method)
        names = list(params)
        optimizer = BATCHED[method](
            [params[name][start:stop] for name in names], [dict(c.kwargs) for c, _ in slices[start:stop]]
        )
        methods.append((optimizer, names, start, stop))
        start = stop
    scores = torch.empty(steps, len(slices))
    for step in range(steps):
        batch = _stack([task.batch(data, step) for data in datas], seed_of_slice)
        grads, (_, score) = gradient(params, batch)
        scores[step] = score.detach()
        for optimizer, names, first, last in methods:
            optimizer.step([grads[name][first:last] for name in names])

    holdouts = [task.holdout(data) for data in datas]
    if holdouts[0] is None:
        finals = scores.mean(dim=0)
    else:
        with torch.no_grad():
            finals = vmap(lambda p, b: task.metric(lambda *inputs: functional_call(template, p, inputs), b))(
                params, _stack([h for h in holdouts if h is not None], seed_of_slice)
            )
    finite_params = torch.stack(
        [value.reshape(len(slices), -1).isfinite().all(dim=1) for value in params.values()]
    )
    results = {}
    for index, (config, seed) in enumerate(slices):
        final = float(finals[index])
        diverged = not (math.isfinite(final) and bool(finite_params[:, index].all()))
        results[(config.key, seed)] = RunResult(None if diverged else final, _curve(scores[:, index]))
    return results


def capture(task: Task, seed: int, *, steps: int, max_total_values: int) -> dict[str, dict[str, Any]]:
    """The gradient samples a user's ``GradientCapture`` would send after ``steps`` steps of training this
    task with torch's Adam at its defaults (the habitual optimizer the advice is asked to replace)."""
    model = task.build(seed)
    data = task.data(seed)
    optimizer = torch.optim.Adam(model.parameters())
    recorder = GradientCapture(model, steps=steps, max_total_values=max_total_values, seed=seed)
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
