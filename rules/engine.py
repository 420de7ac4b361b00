"""The recommendation engine: pure, deterministic, no I/O.

A chain of small stages:
1. features: declared and measured figures merged (`rules.features`), degenerate samples set aside;
2. similarity: the request's descriptors and the most similar tasks of the evidence base, weighted;
3. limits: the guardrails that hold remove methods; the candidates that remain define the allowed grid;
4. plan: the greedy plan over the allowed configurations (its first run is the recommendation), with a
   learning rate far from its default only where the similar tasks back the departure;
5. answer: configs for every framework, the rationale (the evidence first, then the guidance that speaks
   for the winner), each alternative with its own reasons, the tuning plan with what each run adds.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from optadvisor.rules.conditions import evaluate, referenced_features
from optadvisor.rules.evidence import (
    WITHIN,
    Evidence,
    Matrix,
    Neighbour,
    PlanStep,
    baseline_regret,
    nearest,
    task_weights,
)
from optadvisor.rules.features import Features, MeasuredProfile, build_features
from optadvisor.rules.frameworks import GradientScale, build_configs, flatten, framework_kwargs
from optadvisor.rules.grid import SECOND, ConfigPoint, default_point
from optadvisor.rules.recommendation import (
    Alternative,
    EvidenceBasis,
    RationaleItem,
    Recommendation,
    SimilarTask,
    StudiesEvidence,
    TuningRun,
)
from optadvisor.rules.request import Framework, Method, RecommendationRequest
from optadvisor.rules.ruleset import Explanation, Guardrail, RuleSet
from optadvisor.rules.similarity import Descriptors, describe
from optadvisor.rules.studies import CrossStudy, StudySnapshot
from optadvisor.rules.templates import placeholders, render

# Half a decade: a grid step of 1 or more is a learning rate more than 3x from the default.
_FAR_FROM_DEFAULT_STEPS = 1
_SHOWN_NEIGHBOURS = 3


@dataclass(frozen=True)
class Similar:
    """Stage 2: the request's descriptors, the similar tasks, every task's weight, and per configuration
    its weighted regret and on how many similar tasks it was within 5% of the best."""

    descriptors: Descriptors
    neighbours: list[Neighbour]
    weights: Matrix
    rows: list[int]  # evidence rows of the neighbours
    weighted: Matrix
    within: npt.NDArray[np.int64]


@dataclass(frozen=True)
class Limits:
    """Stage 3: the methods that remain, the guardrails that removed the others, the allowed columns."""

    methods: list[Method]
    fired: list[Guardrail]
    ignored: bool  # every candidate was excluded, so the guardrails were set aside
    allowed: list[int]
    baseline: Matrix  # per task: the regret of the candidates tuned with the budget


def _evidence_items(guidance: Explanation | Guardrail, features: Features) -> dict[str, object]:
    names = dict.fromkeys(
        [*referenced_features(guidance.condition), *(name for name, _ in placeholders(guidance.rationale))]
    )
    found: dict[str, object] = {}
    for name in names:
        found[name] = features.get(name)
        origin = features.origins.get(name)
        if origin is not None:
            found[f"{name}.origin"] = origin
    return found


def _item(guidance: Explanation | Guardrail, features: Features) -> RationaleItem:
    return RationaleItem(
        rule=guidance.id,
        text=render(guidance.rationale, dict(features.values)),
        evidence=_evidence_items(guidance, features),  # type: ignore[arg-type]
    )


def _similar(evidence: Evidence, descriptors: Descriptors) -> Similar:
    neighbours = nearest(evidence, descriptors)
    weights = task_weights(evidence, neighbours)
    rows = [n.row for n in neighbours]
    within = np.sum(evidence.regret_matrix[rows] <= WITHIN, axis=0)
    return Similar(descriptors, neighbours, weights, rows, weights @ evidence.regret_matrix, within)


def _limits(ruleset: RuleSet, features: Features, request: RecommendationRequest, budget: int) -> Limits:
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


def _column(evidence: Evidence, point: ConfigPoint) -> int:
    return evidence.grid.index(point.key)


def _support(regret: Matrix, rows: Sequence[int], column: int, reference: int) -> float:
    """Share of the similar tasks on which `column` did better than `reference`."""
    return float(np.mean(regret[rows, column] < regret[rows, reference]))


def _plan(
    ruleset: RuleSet, similar: Similar, limits: Limits, runs: int, bonus: Matrix | None
) -> tuple[list[PlanStep], str | None]:
    """The greedy plan (with other studies' `bonus`, if any); its first run moved nearer the default when
    the departure lacks support."""
    evidence, regret = ruleset.evidence, ruleset.evidence.regret_matrix
    plan = evidence.plan(similar.weights, limits.baseline, limits.allowed, runs, bonus=bonus)
    point = evidence.points[plan[0].column]
    if abs(point.lr_step) < _FAR_FROM_DEFAULT_STEPS:
        return plan, None
    reference = _column(evidence, default_point(point.method))
    support = _support(regret, similar.rows, plan[0].column, reference)
    if support >= ruleset.constants.departure_support:
        return plan, None
    near = [
        column for column in limits.allowed if abs(evidence.points[column].lr_step) < _FAR_FROM_DEFAULT_STEPS
    ]
    first = min(near, key=lambda column: float(similar.weights @ regret[:, column]))
    note = (
        f"{point.method} at {point.lr_multiplier:.3g}x its default lr scored best, but beat its default on "
        "only "
        f"{support:.0%} of the similar tasks (a departure of more than 3x needs "
        f"{ruleset.constants.departure_support:.0%}): the recommendation stays within 3x of a default"
    )
    moved = evidence.plan(similar.weights, limits.baseline, limits.allowed, runs, first=first, bonus=bonus)
    return moved, note


@cache
def describe_point(point: ConfigPoint) -> str:
    settings = point.settings()
    text = f"{point.method} at lr {float(settings['lr']):.3g}"
    text += (
        " (its torch default)" if point.lr_step == 0 else f" ({point.lr_multiplier:.3g}x its torch default)"
    )
    if point.variant:
        name, value = SECOND[point.method]
        text += f" with {name} {value:g}"
    return text


def _evidence_item(evidence: Evidence, similar: Similar, winner: int, features: Features) -> RationaleItem:
    regret, rows = evidence.regret_matrix, similar.rows
    point = evidence.points[winner]
    default = _column(evidence, default_point(point.method))
    closest = ", ".join(f"{n.task.name} ({n.task.family})" for n in similar.neighbours[:_SHOWN_NEIGHBOURS])
    families = sorted({n.task.family for n in similar.neighbours})
    text = (
        f"on the {len(rows)} tasks of the evidence base most like this one ({len(families)} "
        f"famil{'y' if len(families) == 1 else 'ies'}; closest: {closest}), {describe_point(point)} was "
        f"within 5% of the best result on {int(similar.within[winner])} of {len(rows)}"
    )
    if default != winner:
        text += f"; {point.method} at its defaults on {int(similar.within[default])}"
    if features.measured is None and not features.values.get("model_family"):
        text += " (little was declared and nothing measured, so every task counts alike)"
    return RationaleItem(
        rule="evidence",
        text=text,
        evidence={
            "configuration": point.key,
            "similar_tasks": len(rows),
            "within_5_percent": int(similar.within[winner]),
            "mean_shortfall": round(float(np.mean(regret[rows, winner])), 4),
        },
    )


def _best_of_method(evidence: Evidence, similar: Similar, method: Method) -> int:
    """The method's configuration with the lowest weighted regret (the one nearest its defaults on ties)."""
    columns = evidence.columns_of[method]
    return columns[int(np.argmin(similar.weighted[columns]))]


@dataclass(frozen=True)
class Context:
    """What the answer's stages share."""

    ruleset: RuleSet
    features: Features
    similar: Similar
    limits: Limits
    framework: Framework
    explaining: list[Explanation]  # the explanations whose conditions hold


def _alternative(context: Context, method: Method, winner: int) -> Alternative:
    ruleset, features, similar, limits = context.ruleset, context.features, context.similar, context.limits
    evidence, regret, rows = ruleset.evidence, ruleset.evidence.regret_matrix, similar.rows
    column = _best_of_method(evidence, similar, method)
    point = evidence.points[column]
    parts = [
        f"best on the similar tasks: {describe_point(point)}, within 5% of the best on "
        f"{int(similar.within[column])} of {len(rows)} "
        f"(the recommendation: {int(similar.within[winner])})"
    ]
    speaking = [
        render(e.rationale, dict(features.values)) for e in context.explaining if e.argues_for == method
    ]
    if speaking:
        parts.append("for it: " + "; ".join(speaking))
    blocked = [g for g in limits.fired if method in g.excludes]
    if blocked and not limits.ignored:
        parts.append("excluded: " + "; ".join(render(g.rationale, dict(features.values)) for g in blocked))
    wins = [evidence.tasks[row].name for row in rows if regret[row, column] < regret[row, winner]]
    if wins:
        parts.append(
            f"it beat the recommendation on {len(wins)} of the {len(rows)} (e.g. {', '.join(wins[:2])}): "
            "a problem more like those would favour it"
        )
    else:
        parts.append("it beat the recommendation on none of them")
    score = 0.0 if blocked and not limits.ignored else 1.0 - float(similar.weighted[column])
    return Alternative(
        method=method,
        score=round(score, 4),
        kwargs=framework_kwargs(method, context.framework, point.settings()),
        reason="; ".join(parts),
    )


def _gradient_scale(features: Features, assumed: float) -> GradientScale:
    gradient_rms = features.number("gradient_rms")
    sparsity = features.number("sparsity") or 0.0
    if gradient_rms is not None and gradient_rms > 0.0 and sparsity < 1.0:
        return GradientScale(gradient_rms / math.sqrt(1.0 - sparsity), measured=True)
    return GradientScale(assumed, measured=False)


def _tuning_runs(evidence: Evidence, plan: list[PlanStep], framework: Framework) -> list[TuningRun]:
    runs = []
    for index, step in enumerate(plan):
        point = evidence.points[step.column]
        what = "the recommendation" if index == 0 else "adds"
        runs.append(
            TuningRun(
                method=point.method,
                kwargs=framework_kwargs(point.method, framework, point.settings()),
                configuration=point.key,
                reason=f"{what}: {describe_point(point)}; on the similar tasks the best run so far falls "
                f"{step.regret:.1%} short of the best result on average, {step.shortfall:.1%} short of "
                "tuning the candidates with this budget",
            )
        )
    return runs


@dataclass(frozen=True)
class Situation:
    """Stages 1 to 3 for one request: what an answer, and each later ask/tell step, start from."""

    features: Features
    similar: Similar
    limits: Limits
    budget: int  # tuning runs the user can afford, declared or assumed


def situation(
    request: RecommendationRequest, ruleset: RuleSet, measured: MeasuredProfile | None = None
) -> Situation:
    """The features, similar tasks and limits of a request (deterministic: the same request, rule set and
    measurements give the same situation, so a study's later steps see what its answer saw)."""
    evidence = ruleset.evidence
    features = build_features(request.profile, measured, ruleset.constants.assumed_tuning_budget)
    descriptors = describe(request.profile, features.measured if evidence.measured_descriptors else None)
    similar = _similar(evidence, descriptors)
    budget = int(features.values["tuning_budget"])
    return Situation(features, similar, _limits(ruleset, features, request, budget), budget)


def _cross_study(
    evidence: Evidence, similar: Similar, studies: StudySnapshot
) -> tuple[CrossStudy, Matrix | None]:
    """Other studies within the distance of the farthest similar task, and their bonus per column."""
    cutoff = max((neighbour.distance for neighbour in similar.neighbours), default=0.0)
    found = studies.cross_study(similar.descriptors, evidence.spreads, cutoff)
    if not found.moves:
        return found, None
    bonus = np.zeros(len(evidence.grid))
    for key, value in found.moves.items():
        if key in evidence.grid:
            bonus[evidence.grid.index(key)] = value
    return found, bonus


def _studies_evidence(found: CrossStudy, method: Method) -> StudiesEvidence:
    best = found.best_in(method)
    text = (
        f"on {len(found.similar)} similar studies from {found.clients} identified clients, the recommended "
        f"method ({method}) was best in {best}"
    )
    text += (
        f"; they moved nothing: {found.why_not}"
        if found.why_not
        else (
            "; they moved the plan by a bonus of "
            + ", ".join(f"{value:.3f} for {key}" for key, value in sorted(found.moves.items()))
            + " (in units of regret)"
        )
    )
    return StudiesEvidence(
        similar_studies=len(found.similar),
        clients=found.clients,
        recommended_best=best,
        moved=bool(found.moves),
        moves=found.moves,
        text=text,
    )


def recommend(
    request: RecommendationRequest,
    ruleset: RuleSet,
    measured: MeasuredProfile | None = None,
    studies: StudySnapshot | None = None,
) -> Recommendation:
    """Recommend a method, its hyperparameters and configs for a declared and/or measured profile;
    `studies`, when given, are the other studies' outcomes the answer reports (and may be moved by)."""
    constants, evidence = ruleset.constants, ruleset.evidence
    stages = situation(request, ruleset, measured)
    features, similar, limits, budget = stages.features, stages.similar, stages.limits, stages.budget
    found, bonus = _cross_study(evidence, similar, studies) if studies is not None else (None, None)
    explaining = [e for e in ruleset.explanations if evaluate(e.condition, features) is True]
    plan, moved = _plan(ruleset, similar, limits, min(budget, constants.max_plan_runs), bonus)
    winner_column = plan[0].column
    winner = evidence.points[winner_column]
    settings = winner.settings()

    rationale = [_evidence_item(evidence, similar, winner_column, features)]
    if moved is not None:
        rationale.append(RationaleItem(rule="departure-needs-evidence", text=moved, evidence={}))
    studies_block = None
    if found is not None:
        studies_block = _studies_evidence(found, winner.method)
        if found.moves:
            rationale.append(
                RationaleItem(
                    rule="cross-study-evidence",
                    text=studies_block.text,
                    evidence={"similar_studies": len(found.similar), "clients": found.clients},
                )
            )
    rationale += [
        _item(explanation, features) for explanation in explaining if explanation.argues_for == winner.method
    ]
    rationale += [_item(guardrail, features) for guardrail in limits.fired]
    assumptions = list(features.assumptions)
    if limits.ignored:
        assumptions.append("every candidate is excluded by a guardrail; the guardrails were set aside")
    if len(plan) < budget:
        assumptions.append(
            f"the plan has {len(plan)} runs for a budget of {budget}: "
            + (
                f"plans are capped at {constants.max_plan_runs} runs"
                if budget > constants.max_plan_runs and len(plan) == constants.max_plan_runs
                else "further configurations improved none of the similar tasks"
            )
        )
    if features.number("gradient_rms") is None:
        assumptions.append(
            "no gradient scale measured; equivalence notes assume gradients of about "
            f"{constants.assumed_gradient_rms:g}"
        )
    context = Context(ruleset, features, similar, limits, request.framework, explaining)
    others = [method for method in request.candidates if method != winner.method]
    alternatives = [_alternative(context, method, winner_column) for method in others]
    alternatives.sort(key=lambda alternative: -alternative.score)
    return Recommendation(
        method=winner.method,
        framework=request.framework,
        hyperparameters=flatten(framework_kwargs(winner.method, request.framework, settings)),
        configs=build_configs(
            winner.method,
            settings,
            _gradient_scale(features, constants.assumed_gradient_rms),
            constants.equivalence_tolerance,
        ),
        rationale=rationale,
        alternatives=alternatives,
        tuning_plan=_tuning_runs(evidence, plan, request.framework),
        measured=measured.overall if measured is not None else None,
        basis=EvidenceBasis(
            descriptors=similar.descriptors,
            similar_tasks=[
                SimilarTask(name=n.task.name, family=n.task.family, distance=round(n.distance, 3))
                for n in similar.neighbours
            ],
            tasks_in_evidence=len(evidence.tasks),
            shrinkage=evidence.shrinkage,
        ),
        assumptions=assumptions,
        rules_version=ruleset.version,
        evidence=studies_block,
        evidence_version=None if studies is None else studies.version,
    )
