"""The per-group trainer of the held-out per-group benchmark reproduces the committed outcomes when every
group has the same configuration, and trains a genuinely mixed run."""

import math

import torch

from benchmarks.evidence import scoring
from benchmarks.evidence.dataset import read_outcomes
from benchmarks.evidence.families import task_named
from benchmarks.evidence.groups import run_of, train_group_runs

TASK = "text_classifier/t8000-z0.9-l24-e4w32-b16-s200"


def test_one_configuration_everywhere_reproduces_the_committed_outcome() -> None:
    torch.set_num_threads(1)
    dataset = read_outcomes()
    outcomes, task = dataset.tasks[TASK], task_named(TASK)
    names = [name for name, _ in task.build(0).named_parameters()]
    runs = [
        run_of([], names, "adam:+2:1"),
        run_of([], names, "adagrad:+2:0"),
        run_of([(["embedding.weight"], "adagrad:+2:0")], names, "adam:+2:1"),
    ]
    values = train_group_runs(task, runs, dataset.seeds[0])
    for value, key in zip(values[:2], ("adam:+2:1", "adagrad:+2:0"), strict=True):
        assert value is not None
        assert math.isclose(value, scoring.metric(outcomes, key, 0), rel_tol=1e-5)
    assert values[2] is not None and values[2] not in values[:2]  # the mixed run is its own run
