"""Table-driven checks of the guidance the default rule set encodes, declared and measured."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RecommendationRequest, RuleSet, recommend


@dataclass(frozen=True)
class Case:
    name: str
    profile: dict[str, Any]
    expected: str
    fired: frozenset[str] = frozenset()
    not_fired: frozenset[str] = frozenset()
    figures: dict[str, Any] | None = None
    candidates: tuple[str, ...] | None = None
    report_steps: int = 10_000
    hyperparameters: dict[str, Any] = field(default_factory=dict)


def _set(*ids: str) -> frozenset[str]:
    return frozenset(ids)


CASES = [
    # Adagrad: sparse gradients, convex or short runs.
    Case(
        "sparse convex short run",
        {"gradient_sparsity": 0.97, "convex": True, "training_steps": 5000},
        "adagrad",
        _set("adagrad-sparse", "adagrad-convex", "adagrad-short-run"),
        hyperparameters={"initial_accumulator_value": 0.0},
    ),
    Case(
        "sparse embedding",
        {"model_family": "embedding", "gradient_sparsity": 0.9},
        "adagrad",
        _set("adagrad-sparse", "adagrad-embedding"),
    ),
    Case(
        "dense convex short run",
        {"convex": True, "gradient_sparsity": 0.0, "training_steps": 1000},
        "adagrad",
        _set("adagrad-convex", "adagrad-short-run"),
        _set("adagrad-sparse"),
    ),
    # Adagrad's rate dies: 10^4 steps for dense gradients, scaled by 1/(1 - sparsity) when declared only.
    Case(
        "sparse but long run: Adagrad dies",
        {"gradient_sparsity": 0.9, "training_steps": 1_000_000},
        "adam",
        _set("adagrad-sparse", "adagrad-dies-before-end"),
    ),
    Case(
        "sparse run that outlives 10^4 but not 10^4/(1-s)",
        {"gradient_sparsity": 0.99, "training_steps": 500_000},
        "adagrad",
        _set("adagrad-sparse"),
        _set("adagrad-dies-before-end"),
    ),
    Case(
        "dense convex long run",
        {"convex": True, "gradient_sparsity": 0.0, "training_steps": 200_000},
        "adam",
        _set("adagrad-convex", "adagrad-dies-before-end"),
    ),
    # RMSprop: non-stationary objectives, RNNs, RL; centered for recurrent nets.
    Case(
        "declared non-stationary",
        {"stationarity": "non_stationary"},
        "rmsprop",
        _set("rmsprop-non-stationary"),
        hyperparameters={"centered": False},
    ),
    Case("numeric non-stationarity 0.8", {"stationarity": 0.8}, "rmsprop", _set("rmsprop-non-stationary")),
    Case(
        "numeric non-stationarity 0.2",
        {"stationarity": 0.2},
        "adam",
        frozenset(),
        _set("rmsprop-non-stationary"),
    ),
    Case(
        "recurrent net",
        {"model_family": "rnn"},
        "rmsprop",
        _set("rmsprop-recurrent"),
        hyperparameters={"centered": True},
    ),
    Case(
        "reinforcement learning",
        {"model_family": "rl"},
        "rmsprop",
        _set("rmsprop-reinforcement-learning"),
        hyperparameters={"centered": False},
    ),
    # Adadelta: tuning budget 1-2, lr = 1.0.
    Case(
        "budget of one run",
        {"tuning_budget": 1},
        "adadelta",
        _set("adadelta-small-budget"),
        hyperparameters={"lr": 1.0},
    ),
    Case(
        "budget 2 on a non-stationary objective (tie-break)",
        {"tuning_budget": 2, "stationarity": "non_stationary"},
        "adadelta",
        _set("adadelta-small-budget", "rmsprop-non-stationary"),
    ),
    Case(
        "budget 3 is enough to search a learning rate",
        {"tuning_budget": 3},
        "adam",
        frozenset(),
        _set("adadelta-small-budget"),
    ),
    # Adam/AdamW for dense deep learning.
    Case(
        "transformer",
        {"model_family": "transformer"},
        "adamw",
        _set("adam-dense-deep-learning", "adamw-transformer"),
        hyperparameters={"weight_decay": 0.01},
    ),
    Case("cnn", {"model_family": "cnn", "gradient_sparsity": 0.1}, "adam", _set("adam-dense-deep-learning")),
    Case(
        "transformer on a budget of one (conflict)",
        {"model_family": "transformer", "tuning_budget": 1},
        "adamw",
        _set("adam-dense-deep-learning", "adadelta-small-budget"),
    ),
    Case(
        "sparse gradients in an mlp (tie-break)",
        {"model_family": "mlp", "gradient_sparsity": 0.9},
        "adam",
        _set("sparse-gradients-in-deep-net", "adagrad-sparse"),
        _set("adam-dense-deep-learning"),
    ),
    Case(
        "sparse and drifting (tie-break)",
        {"gradient_sparsity": 0.97, "stationarity": "non_stationary"},
        "rmsprop",
        _set("sparse-but-drifting", "adagrad-sparse", "rmsprop-non-stationary"),
    ),
    Case(
        "dense deep learning without Adam among the candidates",
        {"model_family": "transformer"},
        "rmsprop",
        _set("adam-dense-deep-learning"),
        candidates=("adagrad", "rmsprop", "adadelta"),
    ),
    Case("nothing known", {}, "adam", _set("no-evidence")),
    # Measured figures take precedence over declared ones.
    Case(
        "declared sparse, measured dense",
        {"gradient_sparsity": 0.95},
        "adam",
        _set("measured-sparsity-disagrees"),
        _set("adagrad-sparse", "no-evidence"),
        figures={},
    ),
    Case(
        "declared non-stationary, measured stationary",
        {"stationarity": "non_stationary"},
        "adam",
        _set("measured-stationarity-disagrees"),
        _set("rmsprop-non-stationary"),
        figures={},
    ),
    Case(
        "measured drift matches alpha",
        {},
        "rmsprop",
        _set("rmsprop-non-stationary"),
        figures={"nonstationarity": 0.8, "drift_timescale_steps": 50.0, "rmsprop_matched_alpha": 0.98},
        hyperparameters={"alpha": 0.98},
    ),
    Case(
        "measured sparse with rare features, Adagrad outlives the run",
        {"training_steps": 100_000},
        "adagrad",
        _set("adagrad-sparse", "adagrad-rare-features", "adagrad-short-run"),
        figures={"sparsity": 0.99, "rare_coordinate_fraction": 0.5, "adagrad_dying_step": 5.0e6},
    ),
    Case(
        "measured sparse but Adagrad dies within the run",
        {"training_steps": 100_000},
        "adam",
        _set("adagrad-sparse", "adagrad-dies-before-end"),
        figures={"sparsity": 0.9, "adagrad_dying_step": 2000.0},
    ),
    Case(
        "measured dying step from the report's training length",
        {},
        "adam",
        _set("adagrad-dies-before-end"),
        figures={"sparsity": 0.9, "adagrad_dying_step": 2000.0},
        report_steps=50_000,
    ),
    Case(
        "measured scale spread rules out one global rate",
        {},
        "adagrad",
        _set("per-parameter-rates"),
        figures={"scale_spread_decades": 2.0},
        candidates=("sgd", "adagrad"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_guidance(case: Case, ruleset: RuleSet, make_report: Callable[..., ProfileReport]) -> None:
    request_fields: dict[str, Any] = {"profile": case.profile}
    if case.candidates is not None:
        request_fields["candidates"] = list(case.candidates)
    report = None if case.figures is None else make_report(training_steps=case.report_steps, **case.figures)

    answer = recommend(RecommendationRequest.model_validate(request_fields), ruleset, report)

    fired = {item.rule for item in answer.rationale}
    assert answer.method == case.expected, [(a.method, a.score) for a in answer.alternatives]
    assert case.fired <= fired
    assert not case.not_fired & fired
    for name, value in case.hyperparameters.items():
        assert answer.hyperparameters[name] == value


def test_table_covers_declared_and_measured_profiles() -> None:
    assert len(CASES) >= 15
    assert sum(case.figures is not None for case in CASES) >= 5
