"""The recommendation engine: pure, deterministic, no I/O.

`recommend` is a chain of small named stages, each a function of the records the earlier ones made
(`rules.stages`):
1. features: declared and measured figures merged (`rules.features.build_features`), degenerate samples
   set aside;
2. similar tasks: the request's descriptors, the most similar tasks of the evidence base, their weights
   and per-configuration scores (`similar_tasks`); other studies like this one (`similar_studies`);
3. limits: the guardrails that hold remove methods; the candidates that remain define the allowed grid
   (`apply_limits`); stages 1 to 3 together are a request's `situation`;
4. plan: the greedy plan over the allowed configurations (its first run is the recommendation), with a
   learning rate far from its default only where the similar tasks back the departure (`make_plan`);
5. configs: the winner's settings in every framework (`answer_configs`);
6. explanation: the rationale, each alternative with its own reasons, the tuning plan with what each run
   adds, and what was assumed (`rules.rationale`).
"""

import math

import numpy as np

from optadvisor.rules.canonical import Setting
from optadvisor.rules.conditions import evaluate
from optadvisor.rules.evidence import (
    WITHIN,
    Evidence,
    Matrix,
    PlanStep,
    baseline_regret,
    nearest,
    task_weights,
)
from optadvisor.rules.features import Features, MeasuredProfile, build_features
from optadvisor.rules.frameworks import GradientScale, build_configs, flatten, framework_kwargs
from optadvisor.rules.grid import default_point
from optadvisor.rules.rationale import (
    alternatives,
    assumptions,
    describe_point,
    rationale,
    studies_evidence,
    tuning_runs,
)
from optadvisor.rules.recommendation import (
    Configs,
    EvidenceBasis,
    Recommendation,
    SimilarTask,
    StudiesEvidence,
)
from optadvisor.rules.request import RecommendationRequest
from optadvisor.rules.ruleset import Explanation, RuleSet
from optadvisor.rules.similarity import Descriptors, describe
from optadvisor.rules.stages import Context, Limits, Plan, Similar, Situation
from optadvisor.rules.studies import CrossStudy, StudySnapshot

__all__ = [
    "Situation",
    "answer_configs",
    "apply_limits",
    "describe_point",
    "make_plan",
    "recommend",
    "similar_studies",
    "similar_tasks",
    "situation",
]

# Half a decade: a grid step of 1 or more is a learning rate more than 3x from the default.
_FAR_FROM_DEFAULT_STEPS = 1


def similar_tasks(evidence: Evidence, descriptors: Descriptors) -> Similar:
    """Stage 2: the nearest tasks, every task's weight, and each configuration's weighted regret and
    count of similar tasks on which it was within 5% of the best."""
    neighbours = nearest(evidence, descriptors)
    weights = task_weights(evidence, neighbours)
    rows = [n.row for n in neighbours]
    within = np.sum(evidence.regret_matrix[rows] <= WITHIN, axis=0)
    return Similar(descriptors, neighbours, weights, rows, weights @ evidence.regret_matrix, within)


def apply_limits(ruleset: RuleSet, features: Features, request: RecommendationRequest, budget: int) -> Limits:
    """Stage 3: the guardrails that hold remove their methods (all of them held: they are set aside); the
    remaining methods' columns, in preference order, are the allowed grid."""
    fired = [guardrail for guardrail in ruleset.guardrails if evaluate(guardrail.condition, features) is True]
    excluded = {method for guardrail in fired for method in guardrail.excludes}
    methods = [method for method in request.candidates if method not in excluded]
    ignored = not methods
    if ignored:
        methods = list(request.candidates)
    evidence = ruleset.evidence
    columns = np.array([c for method in methods for c in evidence.columns_of[method]])
    allowed = columns[np.argsort(evidence.preference_rank[columns], kind="stable")].tolist()
    return Limits(methods, fired, ignored, allowed, baseline_regret(evidence, request.candidates, budget))


def situation(
    request: RecommendationRequest, ruleset: RuleSet, measured: MeasuredProfile | None = None
) -> Situation:
    """Stages 1 to 3 for a request (deterministic: the same request, rule set and measurements give the
    same situation, so a study's later steps see what its answer saw)."""
    evidence = ruleset.evidence
    features = build_features(request.profile, measured, ruleset.constants.assumed_tuning_budget)
    descriptors = describe(request.profile, features.measured if evidence.measured_descriptors else None)
    similar = similar_tasks(evidence, descriptors)
    budget = int(features.values["tuning_budget"])
    return Situation(features, similar, apply_limits(ruleset, features, request, budget), budget)


def similar_studies(
    evidence: Evidence, similar: Similar, studies: StudySnapshot | None
) -> tuple[CrossStudy | None, Matrix | None]:
    """Other studies within the distance of the farthest similar task, and their bonus per column (None
    when no studies were given or they move nothing)."""
    if studies is None:
        return None, None
    cutoff = max((neighbour.distance for neighbour in similar.neighbours), default=0.0)
    found = studies.cross_study(similar.descriptors, evidence.spreads, cutoff)
    if not found.moves:
        return found, None
    bonus = np.zeros(len(evidence.grid))
    for key, value in found.moves.items():
        if key in evidence.grid:
            bonus[evidence.grid.index(key)] = value
    return found, bonus


def _support(regret: Matrix, rows: list[int], column: int, reference: int) -> float:
    """Share of the similar tasks on which `column` did better than `reference`."""
    return float(np.mean(regret[rows, column] < regret[rows, reference]))


def _greedy(
    ruleset: RuleSet, stages: Situation, runs: int, bonus: Matrix | None, first: int | None
) -> list[PlanStep]:
    similar, limits = stages.similar, stages.limits
    return ruleset.evidence.plan(
        similar.weights, limits.baseline, limits.allowed, runs, first=first, bonus=bonus
    )


def make_plan(ruleset: RuleSet, stages: Situation, bonus: Matrix | None = None) -> Plan:
    """Stage 4: the greedy plan (with other studies' `bonus`, if any) of at most the budget's runs; its
    first run is moved nearer a default when a far learning rate lacks the similar tasks' support."""
    evidence, regret, similar = ruleset.evidence, ruleset.evidence.regret_matrix, stages.similar
    runs = min(stages.budget, ruleset.constants.max_plan_runs)
    steps = _greedy(ruleset, stages, runs, bonus, None)
    point = evidence.points[steps[0].column]
    if abs(point.lr_step) < _FAR_FROM_DEFAULT_STEPS:
        return Plan(steps, None)
    reference = evidence.grid.index(default_point(point.method).key)
    support = _support(regret, similar.rows, steps[0].column, reference)
    needed = ruleset.constants.departure_support
    if support >= needed:
        return Plan(steps, None)
    near = [c for c in stages.limits.allowed if abs(evidence.points[c].lr_step) < _FAR_FROM_DEFAULT_STEPS]
    first = min(near, key=lambda column: float(similar.weights @ regret[:, column]))
    note = (
        f"{point.method} at {point.lr_multiplier:.3g}x its default lr scored best, but beat its default on "
        f"only {support:.0%} of the similar tasks (a departure of more than 3x needs {needed:.0%}): the "
        "recommendation stays within 3x of a default"
    )
    return Plan(_greedy(ruleset, stages, runs, bonus, first), note)


def _gradient_scale(features: Features, assumed: float) -> GradientScale:
    gradient_rms = features.number("gradient_rms")
    sparsity = features.number("sparsity") or 0.0
    if gradient_rms is not None and gradient_rms > 0.0 and sparsity < 1.0:
        return GradientScale(gradient_rms / math.sqrt(1.0 - sparsity), measured=True)
    return GradientScale(assumed, measured=False)


def answer_configs(context: Context, plan: Plan) -> tuple[dict[str, Setting], Configs]:
    """Stage 5: the winner's hyperparameters flat in the request's framework, and its configs for every
    framework with notes at the measured (or assumed) gradient scale."""
    constants = context.ruleset.constants
    winner = context.ruleset.evidence.points[plan.winner]
    settings = winner.settings()
    configs = build_configs(
        winner.method,
        settings,
        _gradient_scale(context.features, constants.assumed_gradient_rms),
        constants.equivalence_tolerance,
    )
    return flatten(framework_kwargs(winner.method, context.framework, settings)), configs


def _explaining(ruleset: RuleSet, features: Features) -> list[Explanation]:
    return [e for e in ruleset.explanations if evaluate(e.condition, features) is True]


def _basis(evidence: Evidence, similar: Similar) -> EvidenceBasis:
    return EvidenceBasis(
        descriptors=similar.descriptors,
        similar_tasks=[
            SimilarTask(name=n.task.name, family=n.task.family, distance=round(n.distance, 3))
            for n in similar.neighbours
        ],
        tasks_in_evidence=len(evidence.tasks),
        shrinkage=evidence.shrinkage,
    )


def recommend(
    request: RecommendationRequest,
    ruleset: RuleSet,
    measured: MeasuredProfile | None = None,
    studies: StudySnapshot | None = None,
) -> Recommendation:
    """Recommend a method, its hyperparameters and configs for a declared and/or measured profile;
    `studies`, when given, are the other studies' outcomes the answer reports (and may be moved by)."""
    evidence = ruleset.evidence
    stages = situation(request, ruleset, measured)
    found, bonus = similar_studies(evidence, stages.similar, studies)
    plan = make_plan(ruleset, stages, bonus)
    context = Context(
        ruleset, stages, request.framework, request.candidates, _explaining(ruleset, stages.features)
    )
    method = evidence.points[plan.winner].method
    studies_block: StudiesEvidence | None = None if found is None else studies_evidence(found, method)
    hyperparameters, configs = answer_configs(context, plan)
    return Recommendation(
        method=method,
        framework=request.framework,
        hyperparameters=hyperparameters,
        configs=configs,
        rationale=rationale(context, plan, studies_block),
        alternatives=alternatives(context, plan),
        tuning_plan=tuning_runs(evidence, plan.steps, request.framework),
        measured=measured.overall if measured is not None else None,
        basis=_basis(evidence, stages.similar),
        assumptions=assumptions(context, plan),
        rules_version=ruleset.version,
        evidence=studies_block,
        evidence_version=None if studies is None else studies.version,
    )
