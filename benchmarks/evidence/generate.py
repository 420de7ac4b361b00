"""Regenerate the outcomes dataset and the captures: every task, every grid configuration, every seed.

Each task is one job (its whole grid trains in one batched run, ``trainer.train_configs``); jobs run on a
small process pool. Extra off-grid configurations per task are trained in the same run when their file
exists: ``data/previous_advice.json`` holds the plans the previous rule set gave every task, snapshotted
with that rule set's own engine (``python -m benchmarks.evidence.previous_advice`` at the commit the file
names, 3f63c75's rules), since its plans are off the grid and must be trained, not looked up.
"""

from __future__ import annotations

import json
import multiprocessing
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from benchmarks.evidence.dataset import Dataset, Samples, TaskOutcomes, write_captures, write_outcomes
from benchmarks.evidence.families import all_tasks, task_named
from benchmarks.evidence.trainer import RunConfig, capture, train_configs
from optadvisor.rules.frameworks import framework_kwargs
from optadvisor.rules.grid import ConfigPoint, grid

SEEDS: tuple[int, ...] = (0, 1)
CAPTURE_STEPS = 32
CAPTURE_VALUES = CAPTURE_STEPS * 1024
# The untrained model's metric: a run that never moves (the reference of the "initial" gap basis).
UNTRAINED = RunConfig("untrained", "sgd", {"lr": 0.0})
PREVIOUS_ADVICE_PATH = Path(__file__).parent / "data" / "previous_advice.json"


def run_config(point: ConfigPoint) -> RunConfig:
    return RunConfig(point.key, point.method, framework_kwargs(point.method, "torch", point.settings()))


def grid_configs() -> list[RunConfig]:
    return [run_config(point) for point in grid()]


def extra_configs(task: str, path: Path = PREVIOUS_ADVICE_PATH) -> dict[str, dict[str, Any]]:
    """Off-grid configurations to train for ``task`` (key -> method and torch kwargs)."""
    if not path.exists():
        return {}
    advice = json.loads(path.read_text())
    return {key: config for key, config in advice["configs"].get(task, {}).items()}


@dataclass(frozen=True)
class TaskJob:
    task: str
    seeds: tuple[int, ...]
    steps: int | None = None  # None: the task's own length; fewer for smoke runs
    train: bool = True  # False: capture only


def run_job(job: TaskJob) -> tuple[TaskOutcomes | None, dict[tuple[str, int], Samples]]:
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    task = task_named(job.task)
    started = time.perf_counter()
    captures = {
        (job.task, seed): capture(task, seed, steps=CAPTURE_STEPS, max_total_values=CAPTURE_VALUES)
        for seed in job.seeds
    }
    if not job.train:
        return None, captures
    extra = extra_configs(job.task)
    configs = [
        *grid_configs(),
        UNTRAINED,
        *(RunConfig(key, config["method"], _torch_kwargs(config["kwargs"])) for key, config in extra.items()),
    ]
    results = train_configs(task, configs, job.seeds, job.steps)
    spec = task.spec

    def per_seed(key: str) -> tuple[float | None, ...]:
        return tuple(results[(key, seed)].metric for seed in job.seeds)

    outcomes = TaskOutcomes(
        name=spec.name,
        family=spec.family,
        steps=spec.steps if job.steps is None else job.steps,
        batch_size=spec.batch_size,
        metric=spec.metric,
        gap_basis=spec.gap_basis,
        profile=dict(spec.profile),
        variant=dict(spec.variant),
        initial=per_seed(UNTRAINED.key),
        outcomes={config.key: per_seed(config.key) for config in configs if config is not UNTRAINED},
        curves={
            config.key: tuple(results[(config.key, seed)].curve for seed in job.seeds)
            for config in configs
            if config is not UNTRAINED
        },
        extra=extra,
        seconds=time.perf_counter() - started,
    )
    return outcomes, captures


def _torch_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    # JSON has no tuples; torch's betas must be one.
    return {name: tuple(value) if isinstance(value, list) else value for name, value in kwargs.items()}


def generate(  # noqa: PLR0913  keyword-only run options of the corpus generator
    tasks: Sequence[str] | None = None,
    *,
    seeds: Sequence[int] = SEEDS,
    workers: int = 2,
    steps: int | None = None,
    captures_only: bool = False,
    outcomes_path: Path | None = None,
    captures_path: Path | None = None,
) -> Dataset | None:
    """Capture every task (or ``tasks``) and train its grid; write the dataset and the captures.

    With ``captures_only`` nothing is trained and only the captures are written (the previous rule set's
    advice is computed from them before the grid is trained).
    """
    names = list(tasks) if tasks else [task.spec.name for task in all_tasks()]
    jobs = [TaskJob(name, tuple(seeds), steps, train=not captures_only) for name in names]
    started = time.perf_counter()
    records: dict[str, TaskOutcomes] = {}
    captures: dict[tuple[str, int], Samples] = {}
    # spawn, not fork: the parent has run torch, and forked OpenMP state can deadlock.
    with multiprocessing.get_context("spawn").Pool(workers, maxtasksperchild=4) as pool:
        for done, (outcome, captured) in enumerate(pool.imap_unordered(run_job, jobs), start=1):
            captures.update(captured)
            if outcome is not None:
                records[outcome.name] = outcome
            elapsed = time.perf_counter() - started
            print(f"  {done}/{len(jobs)} tasks ({elapsed:.0f} s)", file=sys.stderr, flush=True)
    write_captures(captures, *(() if captures_path is None else (captures_path,)))
    if captures_only:
        return None
    dataset = Dataset(
        seeds=tuple(seeds),
        grid=tuple(config.key for config in grid()),
        tasks=records,
        provenance={
            "command": "python -m benchmarks.evidence generate"
            + (f" --steps {steps}" if steps else "")
            + (f" --tasks {' '.join(names)}" if tasks else ""),
            "seconds": round(time.perf_counter() - started, 1),
            "workers": workers,
            "machine": f"{platform.machine()}, {multiprocessing.cpu_count()} cores",
            "torch": torch.__version__,
            "capture": {
                "steps": CAPTURE_STEPS,
                "max_total_values": CAPTURE_VALUES,
                "optimizer": "torch.optim.Adam at its defaults",
            },
        },
    )
    write_outcomes(dataset, *(() if outcomes_path is None else (outcomes_path,)))
    return dataset


def time_tasks(names: Sequence[str], steps: int = 20) -> list[tuple[str, float]]:
    """Seconds each task's full grid would take on one thread, from ``steps`` steps."""
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    configs = [*grid_configs(), UNTRAINED]
    timings = []
    for name in names:
        task = task_named(name)
        train_configs(task, configs, SEEDS, 2)  # warm-up: first-call costs are not per step
        started = time.perf_counter()
        train_configs(task, configs, SEEDS, steps)
        per_step = (time.perf_counter() - started) / steps
        timings.append((name, per_step * task.spec.steps))
    return timings
