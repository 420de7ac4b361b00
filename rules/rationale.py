"""The explanation stage: the rationale, each alternative's reason, the tuning plan's reasons and what was
assumed, all quoting the numbers the earlier stages used. Pure text from the stages' records."""

from functools import cache

import numpy as np

from optadvisor.optimizers.catalogue.names import Framework, Method
from optadvisor.rules.conditions import referenced_features
from optadvisor.rules.evidence import Evidence, PlanStep
from optadvisor.rules.features import Features
from optadvisor.rules.frameworks import framework_kwargs
from optadvisor.rules.grid import SECOND, ConfigPoint, default_point
from optadvisor.rules.recommendation import Alternative, RationaleItem, StudiesEvidence, TuningRun
from optadvisor.rules.ruleset import Explanation, Guardrail
from optadvisor.rules.stages import Context, Plan, Similar
from optadvisor.rules.studies import CrossStudy
from optadvisor.rules.templates import placeholders, render

_SHOWN_NEIGHBOURS = 3


@cache
def describe_point(point: ConfigPoint) -> str:
    """A grid configuration in words: method, lr against its torch default, and its variant."""
    settings = point.settings()
    text = f"{point.method} at lr {float(settings['lr']):.3g}"
    text += (
        " (its torch default)" if point.lr_step == 0 else f" ({point.lr_multiplier:.3g}x its torch default)"
    )
    if point.variant:
        name, value = SECOND[point.method]
        text += f" with {name} {value:g}"
    return text


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


def guidance_item(guidance: Explanation | Guardrail, features: Features) -> RationaleItem:
    """One guardrail or explanation quoted with the feature values it read."""
    return RationaleItem(
        rule=guidance.id,
        text=render(guidance.rationale, dict(features.values)),
        evidence=_evidence_items(guidance, features),  # type: ignore[arg-type]
    )


def evidence_item(evidence: Evidence, similar: Similar, winner: int, features: Features) -> RationaleItem:
    """The rationale's first item: how the recommended configuration did on the similar tasks."""
    regret, rows = evidence.regret_matrix, similar.rows
    point = evidence.points[winner]
    default = evidence.grid.index(default_point(point.method).key)
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


def studies_evidence(found: CrossStudy, method: Method) -> StudiesEvidence:
    """What the similar studies say about the recommended method, and whether they moved the plan."""
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


def rationale(context: Context, plan: Plan, studies: StudiesEvidence | None) -> list[RationaleItem]:
    """The evidence first, then a moved departure, other studies that moved the plan, the guidance that
    speaks for the winner, and the guardrails that held."""
    evidence, features = context.ruleset.evidence, context.features
    method = evidence.points[plan.winner].method
    items = [evidence_item(evidence, context.similar, plan.winner, features)]
    if plan.moved is not None:
        items.append(RationaleItem(rule="departure-needs-evidence", text=plan.moved, evidence={}))
    if studies is not None and studies.moved:
        items.append(
            RationaleItem(
                rule="cross-study-evidence",
                text=studies.text,
                evidence={"similar_studies": studies.similar_studies, "clients": studies.clients},
            )
        )
    items += [guidance_item(e, features) for e in context.explaining if e.argues_for == method]
    items += [guidance_item(guardrail, features) for guardrail in context.limits.fired]
    return items


def _best_of_method(evidence: Evidence, similar: Similar, method: Method) -> int:
    """The method's configuration with the lowest weighted regret (the one nearest its defaults on ties)."""
    columns = evidence.columns_of[method]
    return columns[int(np.argmin(similar.weighted[columns]))]


def _alternative_reason(context: Context, method: Method, column: int, winner: int) -> str:
    features, similar, limits = context.features, context.similar, context.limits
    evidence, rows = context.ruleset.evidence, similar.rows
    regret = evidence.regret_matrix
    parts = [
        f"best on the similar tasks: {describe_point(evidence.points[column])}, within 5% of the best on "
        f"{int(similar.within[column])} of {len(rows)} "
        f"(the recommendation: {int(similar.within[winner])})"
    ]
    values = dict(features.values)
    wins = [evidence.tasks[row].name for row in rows if regret[row, column] < regret[row, winner]]
    losses = sum(bool(regret[row, winner] < regret[row, column]) for row in rows)
    favouring = [render(e.rationale, values) for e in context.explaining if e.argues_for == method]
    if wins:
        favouring.append(f"it beat the recommendation on {len(wins)} of the {len(rows)}")
    if favouring:
        parts.append("for it: " + "; ".join(favouring))
    against = [
        f"the recommendation beat it on {losses} of the {len(rows)}; weighted by likeness, its gap to each "
        f"task's best result is {float(similar.weighted[column]):.0%} (the recommendation's: "
        f"{float(similar.weighted[winner]):.0%})"
    ]
    blocked = [g for g in limits.fired if method in g.excludes]
    if blocked and not limits.ignored:
        against.append("excluded: " + "; ".join(render(g.rationale, values) for g in blocked))
    parts.append("against it: " + "; ".join(against))
    parts.append(
        f"it would be the choice for a problem more like {', '.join(wins[:2])}"
        if wins
        else "no similar task favoured it: it would take a problem unlike these"
    )
    return "; ".join(parts)


def alternative(context: Context, method: Method, winner: int) -> Alternative:
    """A candidate other than the winner: its own best configuration, score and reason."""
    evidence, limits = context.ruleset.evidence, context.limits
    column = _best_of_method(evidence, context.similar, method)
    blocked = any(method in guardrail.excludes for guardrail in limits.fired) and not limits.ignored
    score = 0.0 if blocked else 1.0 - float(context.similar.weighted[column])
    return Alternative(
        method=method,
        score=round(score, 4),
        kwargs=framework_kwargs(method, context.framework, evidence.points[column].settings()),
        reason=_alternative_reason(context, method, column, winner),
    )


def alternatives(context: Context, plan: Plan) -> list[Alternative]:
    """Every other candidate, best score first."""
    method = context.ruleset.evidence.points[plan.winner].method
    others = [alternative(context, m, plan.winner) for m in context.candidates if m != method]
    others.sort(key=lambda other: -other.score)
    return others


def tuning_runs(evidence: Evidence, steps: list[PlanStep], framework: Framework) -> list[TuningRun]:
    """The plan's runs in `framework`'s names, each with what it adds."""
    runs = []
    for index, step in enumerate(steps):
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


def assumptions(context: Context, plan: Plan) -> list[str]:
    """What the answer assumed or set aside: the features' assumptions, then the engine's own."""
    constants, budget = context.ruleset.constants, context.situation.budget
    found = list(context.features.assumptions)
    if context.limits.ignored:
        found.append("every candidate is excluded by a guardrail; the guardrails were set aside")
    runs = len(plan.steps)
    if runs < budget:
        capped = budget > constants.max_plan_runs and runs == constants.max_plan_runs
        found.append(
            f"the plan has {runs} runs for a budget of {budget}: "
            + (
                f"plans are capped at {constants.max_plan_runs} runs"
                if capped
                else "further configurations improved none of the similar tasks"
            )
        )
    if context.features.number("gradient_rms") is None:
        found.append(
            "no gradient scale measured; equivalence notes assume gradients of about "
            f"{constants.assumed_gradient_rms:g}"
        )
    return found
