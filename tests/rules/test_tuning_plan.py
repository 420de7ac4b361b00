"""The tuning plan: never more runs than the budget, best first, lr sweep before anything else."""

import math

import pytest

from rules import RecommendationRequest, RuleSet, recommend


@pytest.mark.parametrize("budget", [1, 2, 3, 4, 5, 6, 8, 12, 40])
def test_plan_fits_the_budget_and_starts_with_the_recommendation(budget: int, ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate(
        {"profile": {"model_family": "rnn", "tuning_budget": budget}}
    )
    answer = recommend(request, ruleset)
    plan = answer.tuning_plan
    assert 1 <= len(plan) <= budget
    assert plan[0].method == answer.method
    assert plan[0].kwargs == answer.configs.torch.kwargs
    assert len({str(sorted(run.kwargs.items())) + run.method for run in plan}) == len(plan)


def test_order_is_lr_sweep_then_second_hyperparameter_then_runner_up(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate(
        {"profile": {"model_family": "rnn", "tuning_budget": 6}, "framework": "keras"}
    )
    answer = recommend(request, ruleset)
    plan = answer.tuning_plan
    estimate, *swept = (float(run.kwargs["learning_rate"]) for run in plan[:3])  # type: ignore[arg-type]
    assert [math.log10(lr / estimate) for lr in swept] == pytest.approx([-0.5, 0.5], abs=0.01)
    assert [run.kwargs["rho"] for run in plan[3:5]] == [0.9, 0.999]
    assert plan[5].method == answer.alternatives[0].method


def test_adadelta_sweeps_eps_not_the_learning_rate(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate({"profile": {"tuning_budget": 2}, "framework": "optax"})
    plan = recommend(request, ruleset).tuning_plan
    assert [run.method for run in plan] == ["adadelta", "adadelta"]
    assert [run.kwargs["learning_rate"] for run in plan] == [1.0, 1.0]
    first_eps, second_eps = (float(run.kwargs["eps"]) for run in plan)  # type: ignore[arg-type]
    assert second_eps == pytest.approx(first_eps / 10.0)


def test_single_candidate_has_no_runner_up(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate(
        {"profile": {"tuning_budget": 20}, "candidates": ["rmsprop"]}
    )
    answer = recommend(request, ruleset)
    assert {run.method for run in answer.tuning_plan} == {"rmsprop"}
    assert answer.alternatives == []
