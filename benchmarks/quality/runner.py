"""Training runs as picklable tasks, executed serially or on a small process pool."""

from __future__ import annotations

import math
import multiprocessing
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from benchmarks.quality.problems import PROBLEMS
from benchmarks.quality.search_space import Config, build_optimizer

CURVE_POINTS = 100


@dataclass(frozen=True)
class RunTask:
    problem: str
    config: Config
    seed: int
    steps: int


@dataclass(frozen=True)
class RunOutcome:
    final_metric: float  # inf when the run diverged or torch rejected the config
    curve: tuple[float, ...]  # window means, at most CURVE_POINTS of them
    seconds: float
    error: str | None = None

    @property
    def diverged(self) -> bool:
        return self.error is None and not math.isfinite(self.final_metric)


def downsample(curve: Sequence[float], points: int = CURVE_POINTS) -> tuple[float, ...]:
    """Means over ``points`` equal windows: a smoothed curve small enough to store and plot."""
    if len(curve) <= points:
        return tuple(float(value) for value in curve)
    return tuple(float(np.mean(window)) for window in np.array_split(np.asarray(curve), points))


def run_task(task: RunTask) -> RunOutcome:
    torch.set_num_threads(1)
    started = time.perf_counter()
    try:
        result = PROBLEMS[task.problem].train(partial(build_optimizer, task.config), task.seed, task.steps)
    except (TypeError, ValueError) as error:
        # torch rejected the hyperparameters (unknown name or invalid value): the config scores inf.
        return RunOutcome(math.inf, (), time.perf_counter() - started, f"{type(error).__name__}: {error}")
    return RunOutcome(result.final_metric, downsample(result.curve), result.seconds)


def _single_threaded_worker() -> None:
    torch.set_num_threads(1)


def run_tasks(tasks: Sequence[RunTask], workers: int) -> dict[RunTask, RunOutcome]:
    """Run each distinct task once; prints progress to stderr every 5% of the tasks."""
    unique = list(dict.fromkeys(tasks))
    outcomes: dict[RunTask, RunOutcome] = {}
    report_every = max(1, len(unique) // 20)
    started = time.perf_counter()

    def record(task: RunTask, outcome: RunOutcome) -> None:
        outcomes[task] = outcome
        if len(outcomes) % report_every == 0 or len(outcomes) == len(unique):
            elapsed = time.perf_counter() - started
            print(f"  {len(outcomes)}/{len(unique)} runs, {elapsed:.0f} s", file=sys.stderr, flush=True)

    if workers <= 1:
        for task in unique:
            record(task, run_task(task))
        return outcomes
    # spawn, not fork: the parent has already run torch, and forked OpenMP state can deadlock.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_single_threaded_worker) as pool:
        for task, outcome in zip(unique, pool.imap(run_task, unique, chunksize=2), strict=True):
            record(task, outcome)
    return outcomes
