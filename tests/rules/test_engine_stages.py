"""Each stage of the engine on its own, on the small evidence base with known answers
(tests/rules/evidence_fixture.py): properties that hold for any request, checked over a spread of them."""

from typing import Any

import numpy as np
import pytest

from optadvisor.optimizers.catalogue.names import METHODS, framework_names
from optadvisor.rules import RecommendationRequest
from optadvisor.rules.engine import (
    answer_configs,
    apply_limits,
    make_plan,
    similar_studies,
    similar_tasks,
    situation,
)
from optadvisor.rules.rationale import alternatives, assumptions, rationale, tuning_runs
from optadvisor.rules.ruleset import RuleSet
from optadvisor.rules.stages import Context, Plan, Situation
from optadvisor.rules.studies import EvidencePolicy, StudySnapshot
from tests.rules import evidence_fixture

PROFILES: list[dict[str, Any]] = [
    {},
    {"model_family": "rnn", "training_steps": 800, "tuning_budget": 1},
    {"model_family": "mlp", "training_steps": 700, "tuning_budget": 4},
    {"model_family": "linear", "convex": True, "training_steps": 1000, "tuning_budget": 3},
    {"model_family": "linear", "stationarity": "non_stationary", "tuning_budget": 10**6},
    {"gradient_sparsity": 0.97, "tuning_budget": 2},
]


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return evidence_fixture.ruleset()


def request_of(profile: dict[str, Any], **fields: Any) -> RecommendationRequest:
    return RecommendationRequest.model_validate({"profile": profile, **fields})


def context_of(ruleset: RuleSet, stages: Situation, request: RecommendationRequest) -> Context:
    explaining = [e for e in ruleset.explanations if e.argues_for in request.candidates]
    return Context(ruleset, stages, request.framework, request.candidates, explaining)


@pytest.mark.parametrize("profile", PROFILES)
def test_similar_tasks_are_the_nearest_and_their_scores_are_weighted_regrets(
    ruleset: RuleSet, profile: dict[str, Any]
) -> None:
    evidence = ruleset.evidence
    similar = situation(request_of(profile), ruleset).similar
    distances = [n.distance for n in similar.neighbours]
    # The nearest `neighbours` tasks, and any tied with the farthest of them.
    assert len(similar.rows) >= evidence.neighbours and distances == sorted(distances)
    assert np.all(similar.weights >= 0) and similar.weights.sum() == pytest.approx(1.0)
    assert similar.weighted == pytest.approx(similar.weights @ evidence.regret_matrix)
    assert np.all(similar.within <= len(similar.rows))
    again = similar_tasks(evidence, similar.descriptors)
    assert again.rows == similar.rows


def test_similar_tasks_of_a_recurrent_request_are_the_recurrent_tasks(ruleset: RuleSet) -> None:
    similar = situation(request_of({"model_family": "rnn"}), ruleset).similar
    assert {n.task.family for n in similar.neighbours} == {"recurrent"}


@pytest.mark.parametrize("profile", PROFILES)
def test_limits_allow_exactly_the_columns_of_the_methods_left(
    ruleset: RuleSet, profile: dict[str, Any]
) -> None:
    stages = situation(request_of(profile), ruleset)
    limits = stages.limits
    excluded = {method for guardrail in limits.fired for method in guardrail.excludes}
    assert set(limits.methods) == set(METHODS) - excluded
    points = ruleset.evidence.points
    assert {points[column].method for column in limits.allowed} == set(limits.methods)
    assert len(set(limits.allowed)) == len(limits.allowed)


def test_limits_set_the_guardrails_aside_when_they_exclude_every_candidate(ruleset: RuleSet) -> None:
    request = request_of({"stationarity": "non_stationary"}, candidates=["adagrad"])
    limits = apply_limits(ruleset, situation(request, ruleset).features, request, 4)
    assert limits.ignored and limits.methods == ["adagrad"] and limits.fired


@pytest.mark.parametrize("profile", PROFILES)
def test_the_plan_is_a_short_improving_walk_over_allowed_columns(
    ruleset: RuleSet, profile: dict[str, Any]
) -> None:
    stages = situation(request_of(profile), ruleset)
    plan = make_plan(ruleset, stages)
    columns = [step.column for step in plan.steps]
    assert 1 <= len(columns) <= min(stages.budget, ruleset.constants.max_plan_runs)
    assert len(set(columns)) == len(columns) and set(columns) <= set(stages.limits.allowed)
    regrets = [step.regret for step in plan.steps]
    assert regrets == sorted(regrets, reverse=True)
    assert plan.winner == columns[0]


def test_the_plan_moves_a_far_first_run_nearer_a_default_without_support() -> None:
    mlp = request_of({"model_family": "mlp", "tuning_budget": 2})
    weak = evidence_fixture.ruleset(evidence_fixture.weak_departure())
    plan = make_plan(weak, situation(mlp, weak))
    assert plan.moved is not None and "stays within 3x of a default" in plan.moved
    assert abs(weak.evidence.points[plan.winner].lr_step) < 1
    lenient = evidence_fixture.ruleset(evidence_fixture.weak_departure(), departure_support=0.3)
    far = make_plan(lenient, situation(mlp, lenient))
    assert far.moved is None and abs(lenient.evidence.points[far.winner].lr_step) >= 1


def test_without_studies_nothing_is_found_or_moved(ruleset: RuleSet) -> None:
    stages = situation(request_of({"model_family": "mlp"}), ruleset)
    assert similar_studies(ruleset.evidence, stages.similar, None) == (None, None)
    empty = StudySnapshot((), EvidencePolicy())
    found, bonus = similar_studies(ruleset.evidence, stages.similar, empty)
    assert found is not None and not found.moves and bonus is None


@pytest.mark.parametrize("framework", ["torch", "keras", "optax"])
@pytest.mark.parametrize("profile", PROFILES)
def test_configs_speak_the_frameworks_names(
    ruleset: RuleSet, profile: dict[str, Any], framework: str
) -> None:
    request = request_of(profile, framework=framework)
    stages = situation(request, ruleset)
    plan = make_plan(ruleset, stages)
    hyperparameters, configs = answer_configs(context_of(ruleset, stages, request), plan)
    method = ruleset.evidence.points[plan.winner].method
    names = set(framework_names(method, framework).values())
    # A tuple such as torch's betas is flattened to betas_0, betas_1.
    assert all(name in names or name.rsplit("_", 1)[0] in names for name in hyperparameters)
    assert set(configs.model_dump()) == {"torch", "keras", "optax"}


@pytest.mark.parametrize("profile", PROFILES)
def test_the_explanation_quotes_each_stage(ruleset: RuleSet, profile: dict[str, Any]) -> None:
    request = request_of(profile)
    stages = situation(request, ruleset)
    plan = make_plan(ruleset, stages)
    context = context_of(ruleset, stages, request)
    method = ruleset.evidence.points[plan.winner].method
    items = rationale(context, plan, None)
    assert items[0].rule == "evidence"
    fired = [guardrail.id for guardrail in stages.limits.fired]
    assert [item.rule for item in items[len(items) - len(fired) :]] == fired
    others = alternatives(context, plan)
    assert {other.method for other in others} == set(request.candidates) - {method}
    assert [o.score for o in others] == sorted((o.score for o in others), reverse=True)
    runs = tuning_runs(ruleset.evidence, plan.steps, request.framework)
    assert [run.configuration for run in runs] == [ruleset.evidence.grid[s.column] for s in plan.steps]
    assert list(stages.features.assumptions) == assumptions(context, plan)[: len(stages.features.assumptions)]


def test_assumptions_say_when_the_plan_was_capped(ruleset: RuleSet) -> None:
    request = request_of({"model_family": "mlp", "tuning_budget": 10**6})
    stages = situation(request, ruleset)
    plan = make_plan(ruleset, stages)
    notes = assumptions(context_of(ruleset, stages, request), plan)
    assert any(f"for a budget of {10**6}" in note for note in notes)
    short = Plan(plan.steps[:1], None)
    assert any(
        "runs for a budget" in note for note in assumptions(context_of(ruleset, stages, request), short)
    )
