"""Ask/tell on the small evidence base with known answers (tests/rules/evidence_fixture.py)."""

from typing import Any

import numpy as np
import pytest

from optadvisor.rules import RecommendationRequest, recommend
from optadvisor.rules.ask_tell import (
    PRIOR_FLOOR,
    NextStep,
    Reported,
    configuration_of,
    next_run,
    reweighted,
)
from optadvisor.rules.grid import grid
from tests.rules import evidence_fixture

MLP = {"model_family": "mlp", "training_steps": 700, "gradient_sparsity": 0.1}
KEYS = {point.key for point in grid()}


def request(profile: dict[str, Any], **fields: Any) -> RecommendationRequest:
    return RecommendationRequest.model_validate({"profile": profile, **fields})


def run(index: int, configuration: str, metric: float | None, *, diverged: bool = False) -> Reported:
    return Reported(
        label=f"outcome {index}",
        method=configuration.split(":", maxsplit=1)[0],  # type: ignore[arg-type]
        configuration=configuration,
        metric=metric,
        diverged=diverged,
        lower_is_better=True,
        metric_name="loss",
    )


def ask(profile: dict[str, Any], runs: list[Reported], **fields: Any) -> NextStep:
    asked = request(profile, **fields)
    ruleset = evidence_fixture.ruleset()
    plan = [entry.configuration for entry in recommend(asked, ruleset).tuning_plan]
    return next_run(asked, ruleset, runs, plan=plan)


def test_before_any_outcome_the_next_run_is_the_recommendation() -> None:
    step = ask({**MLP, "tuning_budget": 4}, [])
    assert not step.done and step.run is not None
    assert step.run.configuration == "adam:+1:0"
    assert step.run.kwargs["lr"] == pytest.approx(0.00316)


def test_once_the_budget_is_spent_it_stops_and_quotes_the_best_run() -> None:
    runs = [run(1, "adam:+1:0", 0.25), run(2, "rmsprop:+0:0", 0.27)]
    step = ask({**MLP, "tuning_budget": 2}, runs)
    assert step.done and step.run is None
    assert step.best == "outcome 1 (adam at lr 0.00316 (3.16x its torch default)): loss 0.25"
    assert any("budget of 2 runs is spent" in line for line in step.rationale)


def test_a_method_that_lost_by_a_clear_margin_is_dropped_and_one_within_it_is_not() -> None:
    runs = [run(1, "adam:+1:0", 0.5), run(2, "rmsprop:+0:0", 0.9), run(3, "adagrad:+0:0", 0.55)]
    step = ask({**MLP, "tuning_budget": 8}, runs)
    assert step.dropped == ["rmsprop"]
    assert any(
        "rmsprop dropped: its best run, outcome 2" in line and "loss 0.9" in line for line in step.rationale
    )
    assert step.run is not None and step.run.method != "rmsprop"


def test_a_method_whose_every_run_diverged_is_dropped() -> None:
    runs = [run(1, "adam:+1:0", 0.5), run(2, "sgd:+6:0", None, diverged=True)]
    assert ask({**MLP, "tuning_budget": 8}, runs).dropped == ["sgd"]


def test_a_ranking_that_contradicts_the_similar_tasks_moves_the_weight_to_tasks_that_agree() -> None:
    evidence = evidence_fixture.evidence()
    names = [task.name for task in evidence.tasks]
    recurrent, dense = names.index("recurrent/a"), names.index("dense/a")
    prior = np.zeros(len(names))
    prior[[dense, names.index("dense/b")]] = 0.5  # an MLP request weighs the dense tasks
    # RMSprop beat Adam: the recurrent tasks order them so, the dense tasks the other way round.
    weights, pairs = reweighted(evidence, prior, [run(1, "rmsprop:+0:0", 0.1), run(2, "adam:+0:0", 0.5)])
    assert pairs == 1
    assert weights.sum() == pytest.approx(1.0)
    floored = (1 - PRIOR_FLOOR) * prior + PRIOR_FLOOR / len(prior)
    assert weights[recurrent] / weights[dense] > 5 * floored[recurrent] / floored[dense]
    agreeing, _ = reweighted(evidence, prior, [run(1, "adam:+0:0", 0.1), run(2, "rmsprop:+0:0", 0.5)])
    assert agreeing[dense] > weights[dense] and agreeing[recurrent] < weights[recurrent]
    unchanged, none = reweighted(evidence, prior, [run(1, "adam:+0:0", 0.1)])
    assert none == 0 and unchanged is prior


def test_runs_done_are_never_proposed_again_and_every_proposal_is_a_grid_configuration() -> None:
    # Follow `next` on the dense task, reporting each configuration's regret there as its loss.
    dense = dict(zip(evidence_fixture.KEYS, evidence_fixture.evidence().tasks[4].regret, strict=True))
    runs: list[Reported] = []
    for index in range(1, 20):
        step = ask({**MLP, "tuning_budget": 6}, runs)
        if step.done:
            break
        assert step.run is not None and step.run.configuration in KEYS
        assert step.run.configuration not in {done.configuration for done in runs}
        runs.append(run(index, step.run.configuration, dense[step.run.configuration]))
    assert len(runs) <= 6
    assert min(done.loss for done in runs) == 0.0


def test_with_nothing_expected_to_help_it_narrows_the_learning_rate_around_the_best() -> None:
    runs = [run(1, "adam:+1:0", 0.1), run(2, "adam:+0:0", 0.3)]
    step = ask({**MLP, "tuning_budget": 8}, runs, candidates=["adam"])
    assert step.run is not None and step.run.configuration == "adam:+2:0"
    assert "narrows the learning rate around it" in step.run.reason


def test_the_proposal_that_is_a_neighbour_of_the_best_says_it_narrows() -> None:
    step = ask({**MLP, "tuning_budget": 8}, [run(1, "adam:+0:0", 0.2), run(2, "rmsprop:+0:0", 0.21)])
    assert step.run is not None and step.run.configuration == "adam:+1:0"
    assert "narrows the learning rate around the best run" in step.run.reason
    assert "from " in step.run.reason and "% to " in step.run.reason


def test_the_same_study_and_outcomes_give_the_same_next_run() -> None:
    runs = [run(1, "adam:+0:0", 0.2), run(2, "rmsprop:+0:0", 0.21), run(3, "adagrad:+2:0", 0.4)]
    assert ask(MLP, runs) == ask(MLP, runs)


@pytest.mark.parametrize(
    ("method", "kwargs", "framework", "expected"),
    [
        ("adam", {"lr": 0.00316}, "torch", "adam:+1:0"),
        ("adam", {"lr": 0.0031623, "betas": [0.5, 0.999]}, "torch", "adam:+1:1"),
        ("adam", {"learning_rate": 0.01, "beta_1": 0.5}, "keras", "adam:+2:1"),
        ("adam", {"lr": 0.001, "betas_0": 0.9, "betas_1": 0.999}, "torch", "adam:+0:0"),
        ("sgd", {"lr": 0.1, "momentum": 0.9}, "torch", "sgd:+4:1"),
        ("adam", {"lr": 0.005}, "torch", None),
        ("adam", {"lr": 0.001, "amsgrad": True}, "torch", None),
    ],
)
def test_reported_hyperparameters_name_their_grid_configuration(
    method: str, kwargs: dict[str, Any], framework: str, expected: str | None
) -> None:
    assert configuration_of(method, kwargs, framework) == expected  # type: ignore[arg-type]
