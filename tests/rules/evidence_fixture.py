"""A small evidence base with known answers, for tests of the engine's stages.

Four families, two tasks each. Regrets are 1 (far from the best) except where a task's winners are set:
- sparse linear tasks: Adagrad at 10x its default lr is the best (0), Adagrad's default close (0.02);
- recurrent tasks: RMSprop at its default is the best, Adam at its default close (0.03);
- dense MLP tasks: Adam at 3.2x its default lr is the best; Adam's default 0.2 behind;
- drifting tasks: Adagrad at its default is the best (the guardrail must still refuse it), RMSprop 0.04.
"""

from importlib import resources
from typing import Any

import yaml

from optadvisor.rules.evidence import Evidence, EvidenceTask, Provenance
from optadvisor.rules.grid import grid
from optadvisor.rules.ruleset import RuleSet, parse_ruleset

KEYS = [point.key for point in grid()]

_TASKS: list[tuple[str, str, dict[str, float | str], dict[str, float]]] = [
    (
        "sparse/a",
        "sparse",
        {"model_family": "linear", "convex": 1.0, "sparsity": 0.98, "log_training_steps": 3.0},
        {"adagrad:+2:0": 0.0, "adagrad:+0:0": 0.02, "rmsprop:+0:0": 0.3},
    ),
    (
        "sparse/b",
        "sparse",
        {"model_family": "linear", "convex": 1.0, "sparsity": 0.95, "log_training_steps": 3.3},
        {"adagrad:+2:0": 0.0, "adagrad:+0:0": 0.01, "rmsprop:+0:0": 0.25},
    ),
    (
        "recurrent/a",
        "recurrent",
        {"model_family": "rnn", "sparsity": 0.0, "log_training_steps": 3.0},
        {"rmsprop:+0:0": 0.0, "adam:+0:0": 0.03},
    ),
    (
        "recurrent/b",
        "recurrent",
        {"model_family": "rnn", "sparsity": 0.0, "log_training_steps": 2.7},
        {"rmsprop:+0:0": 0.0, "adam:+0:0": 0.02},
    ),
    (
        "dense/a",
        "dense",
        {"model_family": "mlp", "sparsity": 0.1, "log_training_steps": 2.7},
        {"adam:+1:0": 0.0, "adam:+0:0": 0.2, "rmsprop:+0:0": 0.3},
    ),
    (
        "dense/b",
        "dense",
        {"model_family": "mlp", "sparsity": 0.2, "log_training_steps": 3.0},
        {"adam:+1:0": 0.0, "adam:+0:0": 0.2, "rmsprop:+0:0": 0.25},
    ),
    (
        "drifting/a",
        "drifting",
        {
            "model_family": "linear",
            "declared_nonstationarity": 1.0,
            "sparsity": 0.0,
            "log_training_steps": 3.0,
        },
        {"adagrad:+0:0": 0.0, "rmsprop:+0:0": 0.04, "adam:+0:0": 0.1},
    ),
    (
        "drifting/b",
        "drifting",
        {
            "model_family": "linear",
            "declared_nonstationarity": 1.0,
            "sparsity": 0.0,
            "log_training_steps": 3.2,
        },
        {"adagrad:+0:0": 0.0, "rmsprop:+0:0": 0.03, "adam:+0:0": 0.1},
    ),
]


def evidence(neighbours: int = 2, shrinkage: float = 0.0, baseline_penalty: float = 1.0) -> Evidence:
    return Evidence(
        provenance=Provenance(command="test", outcomes="none", captures="none", held_out_families=[]),
        grid=KEYS,
        spreads={"log_training_steps": 0.3, "sparsity": 0.4, "convex": 0.5, "declared_nonstationarity": 0.5},
        neighbours=neighbours,
        shrinkage=shrinkage,
        plan_objective="regret",
        baseline_penalty=baseline_penalty,
        measured_descriptors=True,
        departure_cost=0.0,
        tasks=[
            EvidenceTask(
                name=name,
                family=family,
                descriptors=descriptors,
                regret=[winners.get(key, 1.0) for key in KEYS],
            )
            for name, family, descriptors, winners in _TASKS
        ],
    )


def ruleset(fixture: Evidence | None = None, **constants: Any) -> RuleSet:
    """The packaged guardrails and explanations over the fixture evidence."""
    raw = yaml.safe_load(resources.files("optadvisor.rules").joinpath("default.yaml").read_text())
    raw["constants"] |= constants
    return parse_ruleset(raw, fixture or evidence())


def weak_departure() -> Evidence:
    """Three dense tasks among three neighbours: one says Adam at 3.2x its default lr wins big, two say its
    default is as good or better, so the departure has the support of a third of them."""
    base = evidence(neighbours=3)
    tasks = list(base.tasks)
    column, default = base.grid.index("adam:+1:0"), base.grid.index("adam:+0:0")
    regret_a = list(tasks[4].regret)
    regret_a[column], regret_a[default] = 0.0, 0.6
    regret_b = list(tasks[5].regret)
    regret_b[column], regret_b[default] = 0.1, 0.05
    extra = tasks[5].model_copy(update={"name": "dense/c", "regret": regret_b})
    tasks[4] = tasks[4].model_copy(update={"regret": regret_a})
    tasks[5] = tasks[5].model_copy(update={"regret": regret_b})
    return base.model_copy(update={"tasks": [*tasks, extra]})
