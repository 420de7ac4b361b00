"""What a recommendation carries: deterministic output, the measured figures, its assumptions, the
framework's names, the evidence it was drawn from."""

from collections.abc import Callable
from typing import Any

from optadvisor.profiler.report import ProfileReport
from optadvisor.rules import RecommendationRequest, RuleSet, recommend
from tests.rules import evidence_fixture

Report = Callable[..., ProfileReport]


def _recommend(report: ProfileReport | None = None, ruleset: RuleSet | None = None, **fields: Any) -> Any:
    return recommend(
        RecommendationRequest.model_validate(fields), ruleset or evidence_fixture.ruleset(), report
    )


def test_same_request_gives_identical_json(make_report: Report) -> None:
    fields = {"profile": {"gradient_sparsity": 0.95, "tuning_budget": 6}, "framework": "optax"}
    report = make_report(parameter_rms=0.05, nonstationarity=0.7, drift_timescale_steps=40.0)
    assert _recommend(report, **fields).model_dump_json() == _recommend(report, **fields).model_dump_json()


def test_measured_figures_are_returned(make_report: Report) -> None:
    report = make_report(gradient_rms=0.02)
    assert _recommend(report).measured == report.overall
    assert _recommend().measured is None


def test_an_empty_request_says_what_it_assumed_and_uses_all_the_evidence() -> None:
    answer = _recommend()
    assert "no tuning_budget given; assumed 4" in answer.assumptions
    assert any("equivalence notes assume gradients of about 0.001" in line for line in answer.assumptions)
    assert len(answer.tuning_plan) == 4
    assert answer.basis.descriptors == {}
    assert len(answer.basis.similar_tasks) == answer.basis.tasks_in_evidence == 8
    assert "every task counts alike" in answer.rationale[0].text
    assert "no training_steps given; similar tasks were matched without the run length" in answer.assumptions
    assert "no model_family given; similar tasks were matched without it" in answer.assumptions


def test_a_declared_input_is_never_said_to_be_missing() -> None:
    answer = _recommend(profile={"training_steps": 100_000, "model_family": "mlp", "tuning_budget": 2})
    assert not [line for line in answer.assumptions if "training_steps" in line or "model_family" in line]
    assert not [line for line in answer.assumptions if "tuning_budget" in line]


def test_hyperparameters_are_flat_in_the_framework_names_and_kwargs_splat(make_report: Report) -> None:
    optax = _recommend(profile={"model_family": "mlp"}, framework="optax")
    assert optax.method == "adam"
    assert set(optax.hyperparameters) == {"learning_rate", "b1", "b2", "eps"}
    torch_answer = _recommend(profile={"model_family": "mlp"})
    assert torch_answer.hyperparameters["betas_1"] == 0.999
    assert torch_answer.configs.torch.kwargs["betas"] == [0.9, 0.999]
    assert torch_answer.configs.torch.code.startswith(
        "torch.optim.Adam(model.parameters(), lr=0.00316, betas=("
    )
    assert torch_answer.model_dump(mode="json")["configs"]["torch"]["class"] == "torch.optim.Adam"


def test_profiler_assumptions_carry_over(make_report: Report) -> None:
    report = make_report(training_steps=100_000, assumptions=["no training_steps given; assumed 100000"])
    assert "profiler: no training_steps given; assumed 100000" in _recommend(report).assumptions


def test_the_basis_names_the_similar_tasks_and_the_plan_names_its_configurations() -> None:
    answer = _recommend(profile={"model_family": "rnn", "training_steps": 1000, "tuning_budget": 3})
    assert {task.family for task in answer.basis.similar_tasks} == {"recurrent"}
    assert answer.basis.descriptors["model_family"] == "rnn"
    assert answer.tuning_plan[0].configuration == "rmsprop:+0:0"
    assert answer.tuning_plan[0].reason.startswith(
        "the recommendation: rmsprop at lr 0.01 (its torch default)"
    )
    assert all(run.reason.startswith("adds: ") for run in answer.tuning_plan[1:])
    assert answer.rules_version == evidence_fixture.ruleset().version
