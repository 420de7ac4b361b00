"""The engine's stages on a small evidence base with known answers (tests/rules/evidence_fixture.py)."""

from collections.abc import Callable
from typing import Any

import pytest

from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RecommendationRequest, recommend
from optadvisor.rules.recommendation import Recommendation
from tests.rules import evidence_fixture

SPARSE_LINEAR = {"model_family": "linear", "convex": True, "training_steps": 1000}
Report = Callable[..., ProfileReport]


def advise(profile: dict[str, Any], report: ProfileReport | None = None, **request: Any) -> Recommendation:
    return recommend(
        RecommendationRequest.model_validate({"profile": profile, **request}),
        evidence_fixture.ruleset(),
        report,
    )


def test_the_rationale_leads_with_the_evidence_and_quotes_only_guidance_for_the_winner() -> None:
    answer = advise({"model_family": "rnn", "training_steps": 800, "tuning_budget": 1})
    assert answer.method == "rmsprop"
    assert answer.rationale[0].rule == "evidence"
    assert "recurrent/a" in answer.rationale[0].text and "2 of 2" in answer.rationale[0].text
    assert [item.rule for item in answer.rationale[1:]] == ["rmsprop-recurrent"]
    # Guidance for a loser sits under that loser: the small budget speaks for Adadelta.
    adadelta = next(alternative for alternative in answer.alternatives if alternative.method == "adadelta")
    assert "for it: a tuning budget of 1 run(s)" in adadelta.reason
    assert all("tuning budget" not in item.text for item in answer.rationale)


def test_each_alternative_has_its_own_reason_and_configuration() -> None:
    answer = advise({"model_family": "mlp", "training_steps": 700})
    assert answer.method == "adam" and answer.configs.torch.kwargs["lr"] == pytest.approx(0.00316)
    reasons = [alternative.reason for alternative in answer.alternatives]
    assert len(set(reasons)) == len(reasons)
    for alternative in answer.alternatives:
        assert f"best on the similar tasks: {alternative.method} at lr" in alternative.reason
        # What counted against it, and what would make it the choice, in its own words.
        assert "against it: the recommendation beat it on" in alternative.reason
        assert (
            "it would be the choice for a problem more like" in alternative.reason
            or "no similar task favoured it" in alternative.reason
        )
        assert alternative.kwargs["lr"] > 0
    scores = [alternative.score for alternative in answer.alternatives]
    assert scores == sorted(scores, reverse=True)


def test_a_far_learning_rate_with_the_support_of_the_similar_tasks_is_recommended_and_quoted() -> None:
    answer = advise({**SPARSE_LINEAR, "tuning_budget": 1})
    assert answer.method == "adagrad"
    assert answer.configs.torch.kwargs["lr"] == pytest.approx(0.1)
    assert "10x its torch default" in answer.rationale[0].text


def test_a_far_learning_rate_without_majority_support_stays_within_three_times_a_default() -> None:
    """Failure class 6: an estimate far from the default needs evidence that such departures pay off."""
    # One dense task says Adam at 3.2x wins big; two say its default is as good or better.
    fixture = evidence_fixture.weak_departure()
    answer = recommend(
        RecommendationRequest.model_validate({"profile": {"model_family": "mlp", "tuning_budget": 1}}),
        evidence_fixture.ruleset(fixture),
    )
    assert answer.configs.torch.kwargs["lr"] == pytest.approx(0.001)
    assert any(item.rule == "departure-needs-evidence" for item in answer.rationale)


def test_a_declared_non_stationary_run_never_gets_adagrad_even_where_the_evidence_favours_it() -> None:
    answer = advise({"model_family": "linear", "stationarity": "non_stationary", "training_steps": 1000})
    assert answer.method != "adagrad"
    assert all(run.method != "adagrad" for run in answer.tuning_plan)
    assert any(item.rule == "no-adagrad-when-non-stationary" for item in answer.rationale)
    adagrad = next(alternative for alternative in answer.alternatives if alternative.method == "adagrad")
    assert adagrad.score == 0.0 and "excluded:" in adagrad.reason


def test_a_short_window_measuring_no_drift_does_not_overrule_a_declared_drift(make_report: Report) -> None:
    """Failure class 1: 30 stationary-looking steps cannot refute drift every few hundred steps."""
    report = make_report(steps=30, window_steps=30, nonstationarity=0.0, training_steps=100_000)
    answer = advise(
        {"model_family": "linear", "stationarity": "non_stationary", "training_steps": 100_000}, report
    )
    assert answer.method != "adagrad"
    assert any("30-step window" in note and "declared value stands" in note for note in answer.assumptions)


def test_gradients_that_are_all_zero_are_not_read_as_sparse(make_report: Report) -> None:
    """Failure class 5: record() after zero_grad() gives no signal, not 100% sparsity."""
    report = make_report(sparsity=1.0, silent_coordinate_fraction=1.0, gradient_rms=0.0)
    answer = advise({"model_family": "mlp", "training_steps": 700}, report)
    assert any("zero_grad()" in note for note in answer.assumptions)
    assert "sparsity" not in answer.basis.descriptors
    assert answer.measured is not None and answer.measured.sparsity == 1.0
    assert answer.method == advise({"model_family": "mlp", "training_steps": 700}).method


def test_dead_columns_are_not_rare_features(make_report: Report) -> None:
    """Failure class 5: half the columns zero in every step (g[:, ::2] = 0) is no case for Adagrad's
    rare-feature rates."""
    dead = make_report(sparsity=0.5, silent_coordinate_fraction=0.5, intermittent_coordinate_fraction=0.0)
    answer = advise({"training_steps": 1000}, dead, candidates=["adagrad", "rmsprop"])
    texts = [item.text for item in answer.rationale] + [a.reason for a in answer.alternatives]
    assert not any("active in only some steps" in text for text in texts)
    rare = make_report(sparsity=0.97, silent_coordinate_fraction=0.6, intermittent_coordinate_fraction=0.35)
    answer = advise({"training_steps": 1000}, rare, candidates=["adagrad", "rmsprop"])
    texts = [item.text for item in answer.rationale] + [a.reason for a in answer.alternatives]
    assert any("active in only some steps" in text for text in texts)


@pytest.mark.parametrize("framework", ["keras", "optax"])
def test_the_method_and_configuration_do_not_depend_on_the_framework(
    make_report: Report, framework: str
) -> None:
    """Failure class 4: the same gradients give the same advice in every framework's names."""
    report = make_report(sparsity=0.97, intermittent_coordinate_fraction=0.4, silent_coordinate_fraction=0.5)
    torch_answer = advise(SPARSE_LINEAR, report)
    other = advise(SPARSE_LINEAR, report, framework=framework)
    assert other.method == torch_answer.method
    assert other.configs == torch_answer.configs
    assert [run.method for run in other.tuning_plan] == [run.method for run in torch_answer.tuning_plan]


def test_plans_are_prefixes_of_each_other_and_a_huge_budget_says_it_was_capped() -> None:
    plans = {
        budget: advise({"model_family": "mlp", "tuning_budget": budget}).tuning_plan
        for budget in (1, 4, 10**6)
    }
    assert len(plans[1]) == 1 and plans[4][:1] == plans[1]
    assert plans[10**6][: len(plans[4])] == plans[4]
    assert len(plans[10**6]) <= 16
    huge = advise({"model_family": "mlp", "tuning_budget": 10**6})
    assert any(f"for a budget of {10**6}" in note for note in huge.assumptions)


def test_the_candidates_bound_the_answer_and_the_plan() -> None:
    answer = advise({"model_family": "rnn", "tuning_budget": 8}, candidates=["adam", "sgd"])
    assert answer.method in {"adam", "sgd"}
    assert {run.method for run in answer.tuning_plan} <= {"adam", "sgd"}
    assert {alternative.method for alternative in answer.alternatives} == {"adam", "sgd"} - {answer.method}
