"""The recommendation engine: pure, deterministic, no I/O.

Scores start at each method's prior; every rule whose condition is definitely true adds its effects.
The highest score wins, equal scores go to the earlier method in the rule set's tie-break order.
"""

import math
from collections.abc import Callable

from optadvisor.rules.canonical import Setting
from optadvisor.rules.conditions import evaluate, referenced_features
from optadvisor.rules.features import FeatureConstants, Features, MeasuredProfile, build_features
from optadvisor.rules.frameworks import GradientScale, build_configs, flatten, framework_kwargs
from optadvisor.rules.hyperparameters import Estimate, LrFloor, estimate_hyperparameters
from optadvisor.rules.recommendation import Alternative, RationaleItem, Recommendation
from optadvisor.rules.request import Method, RecommendationRequest
from optadvisor.rules.ruleset import Estimators, Rule, RuleSet
from optadvisor.rules.templates import placeholders, render
from optadvisor.rules.tuning import PlannedMethod, tuning_plan

_SCORE_DIGITS = 4


def _evidence(rule: Rule, features: Features) -> dict[str, float | int | str | bool | None]:
    names = dict.fromkeys(
        [*referenced_features(rule.condition), *(name for name, _ in placeholders(rule.rationale))]
    )
    evidence: dict[str, float | int | str | bool | None] = {}
    for name in names:
        evidence[name] = features.get(name)
        origin = features.origins.get(name)
        if origin is not None:
            evidence[f"{name}.origin"] = origin
    return evidence


def _gradient_scale(features: Features, ruleset: RuleSet) -> GradientScale:
    gradient_rms = features.number("gradient_rms")
    sparsity = features.number("sparsity") or 0.0
    if gradient_rms is not None and gradient_rms > 0.0 and sparsity < 1.0:
        return GradientScale(gradient_rms / math.sqrt(1.0 - sparsity), measured=True)
    return GradientScale(ruleset.estimators.assumed_gradient_rms, measured=False)


def _alternative_reason(
    method: Method,
    winner: Method,
    scores: dict[str, float],
    fired: list[tuple[Rule, str]],
    tie_broken: bool,
) -> str:
    if tie_broken:
        return f"tied with {winner} at {scores[winner]:.2f}; the tie-break order puts {winner} first"
    gaps = sorted(
        (
            (rule.effects.get(winner, 0.0) - rule.effects.get(method, 0.0), index, text)
            for index, (rule, text) in enumerate(fired)
        ),
        key=lambda gap: (-gap[0], gap[1]),
    )
    reasons = [f"{text} ({gap:+.2f} for {winner})" for gap, _, text in gaps[:2] if gap > 0.0]
    if not reasons:
        reasons = [f"no rule favoured {winner} over it; {winner} has the higher prior"]
    return f"score {scores[method]:.2f} vs {scores[winner]:.2f} for {winner}: " + "; ".join(reasons)


def _repeats(planned: PlannedMethod, other: PlannedMethod, steps: float | None, negligible: float) -> bool:
    """Whether `other`'s run would repeat `planned`'s: Adam and AdamW differ only by AdamW's decoupled
    decay, which shrinks the weights by a factor exp(-lr·weight_decay·T) over T steps."""
    if {planned.method, other.method} != {"adam", "adamw"} or steps is None:
        return False
    adamw = planned if planned.method == "adamw" else other
    return float(adamw.settings["lr"]) * float(adamw.settings["weight_decay"]) * steps < negligible


def _alternatives(
    winner: PlannedMethod,
    others: list[Method],
    estimate: Callable[[Method], Estimate],
    steps: float | None,
    constants: Estimators,
) -> tuple[list[PlannedMethod], list[Method]]:
    """The best-ranked other methods a plan tries (up to plan_methods in all) and those it skips
    because their runs would repeat one already planned."""
    planned, skipped = [winner], []
    for method in others:
        if len(planned) >= constants.plan_methods:
            break
        estimated = estimate(method)
        candidate = PlannedMethod(method, estimated.settings, estimated.lr_is_floor)
        if any(_repeats(chosen, candidate, steps, constants.negligible_decay_over_run) for chosen in planned):
            skipped.append(method)
        else:
            planned.append(candidate)
    return planned[1:], skipped


def recommend(
    request: RecommendationRequest, ruleset: RuleSet, measured: MeasuredProfile | None = None
) -> Recommendation:
    """Recommend a method, its hyperparameters and configs for a declared and/or measured profile."""
    constants = ruleset.estimators
    features = build_features(
        request.profile,
        measured,
        FeatureConstants(
            constants.assumed_tuning_budget, constants.dense_adagrad_dying_step, constants.run_travel
        ),
    )
    candidates: list[Method] = list(request.candidates)
    scores: dict[str, float] = {method: ruleset.priors[method] for method in candidates}
    fired: list[tuple[Rule, str]] = []
    fixed: dict[str, dict[str, Setting]] = {}
    floors: dict[str, LrFloor] = {}
    for rule in ruleset.rules:
        if evaluate(rule.condition, features) is not True:
            continue
        fired.append((rule, render(rule.rationale, dict(features.values))))
        for method, delta in rule.effects.items():
            if method in scores:
                scores[method] += delta
        for method, settings in rule.settings.items():
            fixed.setdefault(method, {}).update(settings)
        for method, lr in rule.lr_floors.items():
            if method not in floors or lr > floors[method].lr:
                floors[method] = LrFloor(lr, rule.id)
    scores = {method: round(score, _SCORE_DIGITS) for method, score in scores.items()}
    order = ruleset.tie_break.order
    ranking = sorted(candidates, key=lambda method: (-scores[method], order.index(method)))
    winner = ranking[0]

    rationale = [
        RationaleItem(rule=rule.id, text=text, evidence=_evidence(rule, features)) for rule, text in fired
    ]
    tied = [method for method in ranking[1:] if scores[method] == scores[winner]]
    if tied:
        rationale.append(
            RationaleItem(
                rule="tie-break",
                text=f"{winner} tied with {', '.join(tied)} at {scores[winner]:.2f}: "
                f"{ruleset.tie_break.source}",
                evidence={"order": " > ".join(order)},
            )
        )

    def estimate(method: Method) -> Estimate:
        floor = floors.get(method)
        return estimate_hyperparameters(method, features, constants, fixed.get(method, {}), floor)

    best = estimate(winner)
    rationale.extend(best.reasons)
    planned_best = PlannedMethod(winner, best.settings, best.lr_is_floor)
    alternatives, skipped = _alternatives(
        planned_best, ranking[1:], estimate, features.number("training_steps"), constants
    )
    if skipped:
        rationale.append(
            RationaleItem(
                rule="runner-up",
                text=f"the plan skips {', '.join(skipped)}: over {features.number('training_steps'):.0f} "
                "steps AdamW's decoupled decay would shrink the weights by under "
                f"{constants.negligible_decay_over_run:.0%}, so its run would repeat Adam's",
                evidence={"training_steps": features.number("training_steps")},
            )
        )
    budget = int(features.values["tuning_budget"])
    configs = build_configs(
        winner, best.settings, _gradient_scale(features, ruleset), constants.equivalence_tolerance
    )
    assumptions = [*features.assumptions, *best.defaulted]
    if features.number("gradient_rms") is None:
        assumptions.append(
            "no gradient scale measured; equivalence notes assume gradients of about "
            f"{constants.assumed_gradient_rms:g}"
        )
    return Recommendation(
        method=winner,
        framework=request.framework,
        hyperparameters=flatten(framework_kwargs(winner, request.framework, best.settings)),
        configs=configs,
        rationale=rationale,
        alternatives=[
            Alternative(
                method=method,
                score=scores[method],
                reason=_alternative_reason(method, winner, scores, fired, method in tied),
            )
            for method in ranking[1:]
        ],
        tuning_plan=tuning_plan([planned_best, *alternatives], budget, request.framework, constants),
        measured=measured.overall if measured is not None else None,
        assumptions=assumptions,
        rules_version=ruleset.version,
    )
