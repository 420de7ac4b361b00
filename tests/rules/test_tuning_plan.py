"""The tuning plan: never more runs than the budget, best first, lr sweep before anything else."""

import math
from collections.abc import Callable

import pytest

from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RecommendationRequest, RuleSet, recommend
from optadvisor.rules.recommendation import TuningRun


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


def test_adadelta_sweeps_its_learning_rate(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate({"profile": {"tuning_budget": 2}, "framework": "optax"})
    plan = recommend(request, ruleset).tuning_plan
    assert [run.method for run in plan] == ["adadelta", "adadelta"]
    assert [run.kwargs["learning_rate"] for run in plan] == [1.0, pytest.approx(10**-0.5, rel=0.01)]
    assert plan[0].kwargs["eps"] == plan[1].kwargs["eps"]


def test_single_candidate_has_no_runner_up(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate(
        {"profile": {"tuning_budget": 20}, "candidates": ["rmsprop"]}
    )
    answer = recommend(request, ruleset)
    assert {run.method for run in answer.tuning_plan} == {"rmsprop"}
    assert answer.alternatives == []


def _decades(plan: list[TuningRun], estimate: float) -> list[float]:
    return [round(math.log10(float(run.kwargs["lr"]) / estimate), 2) for run in plan]  # type: ignore[arg-type]


def test_large_budgets_try_three_methods_before_fine_points(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate({"profile": {"model_family": "rnn", "tuning_budget": 16}})
    answer = recommend(request, ruleset)
    plan = answer.tuning_plan
    second, third = plan[7].method, plan[12].method
    assert [run.method for run in plan] == [answer.method] * 7 + [second] * 5 + [third] * 4
    assert len({answer.method, second, third}) == 3
    # The recommendation: estimate, +-0.5 decade, its second hyperparameter twice, +-1 decade.
    assert _decades(plan[:7], float(plan[0].kwargs["lr"])) == [0, -0.5, 0.5, 0, 0, -1, 1]  # type: ignore[arg-type]
    assert _decades(plan[7:12], float(plan[7].kwargs["lr"])) == [0, -0.5, 0.5, -1, 1]  # type: ignore[arg-type]
    assert _decades(plan[12:], float(plan[12].kwargs["lr"])) == [0, -0.5, 0.5, -1]  # type: ignore[arg-type]


def test_fine_points_come_last_and_a_plan_may_end_before_the_budget(ruleset: RuleSet) -> None:
    request = RecommendationRequest.model_validate({"profile": {"model_family": "rnn", "tuning_budget": 40}})
    plan = recommend(request, ruleset).tuning_plan
    assert (
        len(plan) == 7 + 4 + 5 + 5
    )  # every planned method's coarse sweep, then the recommendation's fine one
    fine = _decades(plan[7:11], float(plan[0].kwargs["lr"]))  # type: ignore[arg-type]
    assert fine == [-0.25, 0.25, -0.75, 0.75]


@pytest.mark.parametrize(("training_steps", "alternative"), [(1_000, "adagrad"), (1_000_000, "adamw")])
def test_adamw_is_no_alternative_when_its_decay_would_not_show(
    ruleset: RuleSet, training_steps: int, alternative: str
) -> None:
    # AdamW at lr 1e-3 and weight decay 0.01 shrinks weights by exp(-1e-5 x T): 1% over 10^3 steps.
    request = RecommendationRequest.model_validate(
        {"profile": {"model_family": "mlp", "training_steps": training_steps, "tuning_budget": 4}}
    )
    answer = recommend(request, ruleset)
    assert answer.method == "adam"
    assert answer.alternatives[0].method == "adamw"
    assert answer.tuning_plan[3].method == alternative
    assert any(item.rule == "runner-up" for item in answer.rationale) is (alternative != "adamw")


def test_a_floored_learning_rate_is_searched_upwards_only(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    # 0.01 / sqrt(10^4) asks Adagrad for lr ~3e-3, below its default 0.01: the default is only a floor.
    report = make_report(
        sparsity=0.99, rare_coordinate_fraction=0.4, parameter_rms=0.01, adagrad_dying_step=1e9
    )
    profile = {"training_steps": 10_000, "tuning_budget": 4}
    request = RecommendationRequest.model_validate({"profile": profile})
    plan = recommend(request, ruleset, report).tuning_plan
    assert [run.method for run in plan[:3]] == ["adagrad"] * 3
    assert [run.kwargs["lr"] for run in plan[:3]] == [0.01, pytest.approx(0.0316), pytest.approx(0.1)]


def _sparse_linear(
    make_report: Callable[..., ProfileReport], parameter_rms: float, model_family: str = "linear"
) -> tuple[RecommendationRequest, ProfileReport]:
    report = make_report(
        sparsity=0.95, rare_coordinate_fraction=0.3, parameter_rms=parameter_rms, adagrad_dying_step=1e9
    )
    profile = {"model_family": model_family, "training_steps": 60, "tuning_budget": 4, "convex": True}
    return RecommendationRequest.model_validate({"profile": profile}), report


def test_a_regime_floor_raises_a_small_estimate_and_is_searched_both_ways(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    # A zero-initialised linear model: 60 capture steps moved its weights to RMS 0.007, which asks Adagrad
    # for lr ~3e-3; the sparse-linear rule's floor of 0.1 replaces it and is a centre, not a lower bound.
    request, report = _sparse_linear(make_report, parameter_rms=0.007)
    answer = recommend(request, ruleset, report)
    assert answer.method == "adagrad"
    assert answer.hyperparameters["lr"] == 0.1
    assert [run.kwargs["lr"] for run in answer.tuning_plan[:3]] == [
        0.1,
        pytest.approx(0.0316),
        pytest.approx(0.316),
    ]
    estimate = next(item for item in answer.rationale if item.rule == "estimate.lr")
    assert "adagrad-sparse-linear-rate" in estimate.text
    assert "adagrad-sparse-linear-rate" in {item.rule for item in answer.rationale}


def test_a_measured_estimate_above_the_regime_floor_is_kept(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    # Target step 0.5/sqrt(60) = 0.065 over Adagrad's 0.28 x lr per step across 60 steps: lr 0.23.
    request, report = _sparse_linear(make_report, parameter_rms=0.5)
    assert recommend(request, ruleset, report).hyperparameters["lr"] == pytest.approx(0.231, abs=0.002)


def test_the_regime_floor_applies_without_measurements_and_only_to_its_regime(
    ruleset: RuleSet, make_report: Callable[..., ProfileReport]
) -> None:
    declared = {"model_family": "linear", "gradient_sparsity": 0.9, "convex": True, "tuning_budget": 1}
    answer = recommend(RecommendationRequest.model_validate({"profile": declared}), ruleset)
    assert (answer.method, answer.hyperparameters["lr"]) == ("adagrad", 0.1)
    request, report = _sparse_linear(make_report, parameter_rms=0.007, model_family="embedding")
    embedding = recommend(request, ruleset, report)
    assert (embedding.method, embedding.hyperparameters["lr"]) == ("adagrad", 0.01)
