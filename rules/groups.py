"""Per-parameter-group advice: when the measured gradient groups differ enough that one method serves some
of them badly, each such group gets its own method. Pure and deterministic, like the engine it reuses.

How it decides:
1. The engine answers for the whole model (`rules.engine.recommend`), as it always has.
2. The engine answers again for each gradient group alone, on that group's own figures, with similarity
   reading the group's measured descriptors (sparsity, how it is spread, drift, noise, scale): what the
   request declares is the same for every group, so only the measurements can tell groups apart.
3. A group is served badly by the whole-model configuration when a guardrail that holds on the group's own
   figures excludes the whole-model method. Beyond that, groups are split only between a sparse kind
   (sparsity at least 50%, where the rule set's rare-features guidance starts) and a dense kind, and only in a
   model that has both: the largest group of a kind stands for it, and when, on the tasks of the evidence
   base most like that group, the whole-model configuration falls behind the group's own recommendation by
   more than the evidence base's own "as good as the best" margin (`rules.evidence.WITHIN`, 5% of the task's
   reference scale), every group of that kind takes the group's recommendation. No constant here is tuned to
   a case: the margin is the one every regret in the evidence is judged by, the 50% the guidance's.
   (Judging every tensor on its own, the first design, split dense MLPs' tensors and lost there when held
   out: `benchmarks/README.md`, section evidence/groups.py.)
4. If any group is served badly the advice is per group: each such group gets its recommendation, the
   others the whole-model configuration; groups with the same configuration share an entry. Otherwise the
   advice is for the whole model, and says why.

What the evidence base cannot say: its tasks (the mixed ones too: a bag-of-words table feeding an MLP,
user and item tables) were each trained with one method for every parameter, so step 3 judges a group by
single-method tasks that resemble it. Per-group runs are trained and compared, held out, only by
`benchmarks/evidence/groups.py`; the rule is not fitted on them.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from optadvisor.optimizers.catalogue.names import FRAMEWORKS, Framework
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.report import GroupContrast, ProfileReport
from optadvisor.rules.engine import describe_point, situation
from optadvisor.rules.engine import recommend as recommend_whole_model
from optadvisor.rules.evidence import WITHIN, Evidence, Matrix
from optadvisor.rules.features import MeasuredProfile
from optadvisor.rules.frameworks import GradientScale, build_configs, flatten, framework_kwargs
from optadvisor.rules.grid import ConfigPoint
from optadvisor.rules.group_code import CodeGroup, keras_code, optax_code, torch_code
from optadvisor.rules.recommendation import (
    ClassConfig,
    Configs,
    FunctionConfig,
    GroupAdvice,
    PlanGroup,
    RationaleItem,
    Recommendation,
    TuningRun,
)
from optadvisor.rules.request import DeclaredProfile, RecommendationRequest
from optadvisor.rules.ruleset import RuleSet
from optadvisor.rules.similarity import DESCRIPTORS, describe
from optadvisor.rules.studies import StudySnapshot

# A group is of the sparse kind from this sparsity on: where the rule set's `adagrad-rare-features` guidance
# (rare features want per-coordinate rates) starts to apply.
SPARSE = 0.5
_SHOWN_FIGURES = (
    "coordinates",
    "sparsity",
    "intermittent_coordinate_fraction",
    "nonstationarity",
    "gsnr_median",
    "scale_spread_decades",
    "gradient_rms",
)


@dataclass(frozen=True)
class _GroupMeasured:
    """One group's figures as the engine reads a profile (`rules.features.MeasuredProfile`)."""

    overall: Figures
    training_steps: int | None
    assumptions: Sequence[str]


@dataclass(frozen=True)
class GroupVerdict:
    """How one gradient group fares under the whole-model configuration and under its own."""

    name: str
    figures: Figures
    own: Recommendation  # the engine's answer for this group alone
    own_column: int
    rows: list[int]  # its similar tasks
    weights: Matrix
    own_regret: float  # mean regret of its own recommendation on its similar tasks
    whole_regret: float  # mean regret of the whole-model configuration there
    blocked_by: list[str]  # guardrails on its own figures that exclude the whole-model method
    split: bool = False  # whether it gets its own configuration (see `_by_kind`)
    follows: str | None = None  # the tensor of its kind whose recommendation it takes, when not its own

    @property
    def gap(self) -> float:
        return self.whole_regret - self.own_regret

    @property
    def served_badly(self) -> bool:
        return self.split


def _by_kind(verdicts: Sequence[GroupVerdict]) -> list[GroupVerdict]:
    """Which groups get their own configuration.

    A guardrail that holds on a group's own figures against the whole-model method always splits it off.
    Otherwise groups are judged by kind, sparse (sparsity at least `SPARSE`) or dense, and only when the
    model has both kinds: the largest group of a kind (most coordinates measured) stands for its kind, and
    when the whole-model configuration falls more than the evidence's 5% margin behind that group's own
    recommendation on its similar tasks, every group of the kind takes that recommendation. A model of one
    kind gets one method (unless a guardrail splits a group off): judging each tensor of a dense model on
    its own, by the single-method tasks its figures resemble, fired on dense MLPs held out and lost there
    (benchmarks/README.md, evidence/groups.py).
    """
    kinds = [
        [verdict for verdict in verdicts if (verdict.figures.sparsity >= SPARSE) is sparse]
        for sparse in (True, False)
    ]
    kinds = [kind for kind in kinds if kind]
    decided: dict[str, GroupVerdict] = {}
    for kind in kinds:
        representative = max(kind, key=lambda verdict: verdict.figures.coordinates)
        split = len(kinds) > 1 and representative.gap > WITHIN
        for verdict in kind:
            if verdict.blocked_by:
                decided[verdict.name] = replace(verdict, split=True)
            elif split and verdict is not representative:
                decided[verdict.name] = replace(
                    verdict,
                    split=True,
                    own=representative.own,
                    own_column=representative.own_column,
                    rows=representative.rows,
                    weights=representative.weights,
                    own_regret=representative.own_regret,
                    whole_regret=representative.whole_regret,
                    follows=representative.name,
                )
            else:
                decided[verdict.name] = replace(verdict, split=split)
    return [decided[verdict.name] for verdict in verdicts]


def _signal(figures: Figures) -> bool:
    """Whether a group's gradients carry a signal to judge it by (all-zero groups do not)."""
    return figures.gradient_rms is not None and figures.gradient_rms > 0.0 and figures.sparsity < 1.0


def _measured_ruleset(ruleset: RuleSet) -> RuleSet:
    """The rule set with similarity reading measured descriptors: only they tell a model's groups apart."""
    if ruleset.evidence.measured_descriptors:
        return ruleset
    evidence = ruleset.evidence.model_copy(update={"measured_descriptors": True})
    return ruleset.model_copy(update={"evidence": evidence})


def judge_groups(
    request: RecommendationRequest, ruleset: RuleSet, report: ProfileReport, whole: Recommendation
) -> list[GroupVerdict]:
    """Each measured group (with a signal) judged against the whole-model answer `whole`."""
    grouped = _measured_ruleset(ruleset)
    evidence = ruleset.evidence
    regret = evidence.regret_matrix
    whole_column = evidence.grid.index(_first_configuration(whole))
    verdicts = []
    for name, group in report.groups.items():
        if not _signal(group.figures):
            continue
        measured = _GroupMeasured(group.figures, report.training_steps, report.assumptions)
        own = recommend_whole_model(request, grouped, measured)
        stages = situation(request, grouped, measured)
        own_column = evidence.grid.index(_first_configuration(own))
        rows = stages.similar.rows
        blocked = (
            [] if stages.limits.ignored else [g.id for g in stages.limits.fired if whole.method in g.excludes]
        )
        verdicts.append(
            GroupVerdict(
                name=name,
                figures=group.figures,
                own=own,
                own_column=own_column,
                rows=rows,
                weights=stages.similar.weights,
                own_regret=float(np.mean(regret[rows, own_column])),
                whole_regret=float(np.mean(regret[rows, whole_column])),
                blocked_by=blocked,
            )
        )
    return _by_kind(verdicts)


def _first_configuration(answer: Recommendation) -> str:
    configuration = answer.tuning_plan[0].configuration
    assert configuration is not None  # the engine's plans are whole-model runs
    return configuration


@dataclass(frozen=True)
class Contrast:
    """The measured figure on which two groups differ most, in spreads of the evidence base."""

    descriptor: str
    first: str
    first_value: float
    second: str
    second_value: float
    spreads: float

    def describe(self) -> str:
        return (
            f"{self.descriptor} {self.first_value:.3g} ({self.first}) against {self.second_value:.3g} "
            f"({self.second}), {self.spreads:.1f} spreads of the evidence base apart"
        )


def contrast(
    declared: DeclaredProfile, evidence: Evidence, figures: Mapping[str, Figures]
) -> Contrast | None:
    """The measured descriptor on which two of the groups differ most, in spreads of the evidence base
    (None for fewer than two groups with a signal)."""
    described = {name: describe(declared, group) for name, group in figures.items() if _signal(group)}
    best: Contrast | None = None
    # Per descriptor the two groups furthest apart are its lowest and its highest: linear in the groups.
    for descriptor, spec in DESCRIPTORS.items():
        if spec.kind != "number":
            continue
        values = {
            name: float(value)
            for name, found in described.items()
            if isinstance(value := found.get(descriptor), float | int)
        }
        if len(values) < 2:
            continue
        low, high = min(values, key=values.__getitem__), max(values, key=values.__getitem__)
        if low == high:  # every group alike in this descriptor
            high = next(name for name in values if name != low)
        spread = evidence.spreads.get(descriptor, 1.0) or 1.0
        distance = (values[high] - values[low]) / spread
        if best is None or distance > best.spreads:
            best = Contrast(descriptor, low, values[low], high, values[high], round(distance, 3))
    return best


def _group_scale(figures: Figures, assumed: float) -> GradientScale:
    rms, sparsity = figures.gradient_rms, figures.sparsity
    if rms is not None and rms > 0.0 and sparsity < 1.0:
        return GradientScale(rms / math.sqrt(1.0 - sparsity), measured=True)
    return GradientScale(assumed, measured=False)


def _figures_item(name: str, figures: Figures) -> RationaleItem:
    shown = {field: getattr(figures, field) for field in _SHOWN_FIGURES}
    parts = [f"{figures.coordinates} coordinates measured", f"sparsity {figures.sparsity:.1%}"]
    parts.append(f"{figures.intermittent_coordinate_fraction:.0%} of coordinates active in only some steps")
    parts.append(f"non-stationarity {figures.nonstationarity:.2f}")
    if figures.gradient_rms is not None:
        parts.append(f"gradient RMS {figures.gradient_rms:.3g}")
    if figures.gsnr_median is not None:
        parts.append(f"median gradient signal-to-noise {figures.gsnr_median:.3g}")
    return RationaleItem(rule="group-figures", text=f"{name}: " + ", ".join(parts), evidence=shown)


def _verdict_item(verdict: GroupVerdict, evidence: Evidence, whole_column: int) -> RationaleItem:
    own_point, whole_point = evidence.points[verdict.own_column], evidence.points[whole_column]
    families = sorted({evidence.tasks[row].family for row in verdict.rows})
    text = (
        f"on the {len(verdict.rows)} tasks of the evidence base most like {verdict.name} "
        f"({', '.join(families)}), {describe_point(own_point)} falls {verdict.own_regret:.1%} short of the "
        f"best on average and the whole-model choice, {describe_point(whole_point)}, "
        f"{verdict.whole_regret:.1%}"
    )
    if verdict.follows is not None:
        text = (
            f"{verdict.name} is judged with the largest group of its kind "
            f"({'sparse' if verdict.figures.sparsity >= SPARSE else 'dense'}), {verdict.follows}: " + text
        )
    if verdict.blocked_by:
        text += f"; on this group's own figures the guardrail(s) {', '.join(verdict.blocked_by)} exclude "
        text += whole_point.method
    elif verdict.served_badly:
        text += f": {verdict.gap:.1%} more, beyond the evidence's 5% margin"
    elif verdict.gap > WITHIN:
        text += (
            f": {verdict.gap:.1%} more, but groups are split on this only between a sparse and a dense kind, "
            "judged by the largest group of each"
        )
    else:
        text += f": within the evidence's 5% margin ({verdict.gap:.1%})"
    return RationaleItem(
        rule="group-evidence",
        text=text,
        evidence={
            "group": verdict.name,
            "own_configuration": own_point.key,
            "whole_model_configuration": whole_point.key,
            "similar_tasks": len(verdict.rows),
            "own_mean_shortfall": round(verdict.own_regret, 4),
            "whole_model_mean_shortfall": round(verdict.whole_regret, 4),
            "margin": WITHIN,
            "guardrails": ", ".join(verdict.blocked_by) or None,
        },
    )


@dataclass(frozen=True)
class _Entry:
    """One advice group: its members, its configuration and its ordered tuning plan."""

    members: list[GroupVerdict]
    column: int
    plan: list[int]  # configurations to try, the first being the advice
    own: bool  # its own recommendation (True) or the whole-model configuration (False)

    @property
    def parameters(self) -> list[str]:
        return [member.name for member in self.members]

    @property
    def weights(self) -> Matrix:
        stacked: Matrix = np.mean([member.weights for member in self.members], axis=0)
        return stacked


def _entries(verdicts: Sequence[GroupVerdict], whole: Recommendation, evidence: Evidence) -> list[_Entry]:
    whole_column = evidence.grid.index(_first_configuration(whole))
    whole_plan = [evidence.grid.index(run.configuration) for run in whole.tuning_plan if run.configuration]
    by_column: dict[int, list[GroupVerdict]] = {}
    for verdict in verdicts:
        column = verdict.own_column if verdict.served_badly else whole_column
        by_column.setdefault(column, []).append(verdict)
    entries = []
    for column, members in by_column.items():
        if column == whole_column:
            plan = whole_plan
        else:
            plan = [
                evidence.grid.index(r.configuration) for r in members[0].own.tuning_plan if r.configuration
            ]
        entries.append(_Entry(members, column, plan, column != whole_column))
    return entries


def _expected(regret: Matrix, weights: Matrix, columns: Sequence[int]) -> float:
    return float(weights @ regret[:, list(columns)].min(axis=1))


def _plan_groups(
    entries: Sequence[_Entry], chosen: Sequence[int], framework: Framework, evidence: Evidence
) -> list[PlanGroup]:
    groups = []
    for entry, column in zip(entries, chosen, strict=True):
        point = evidence.points[column]
        groups.append(
            PlanGroup(
                parameters=entry.parameters,
                method=point.method,
                kwargs=framework_kwargs(point.method, framework, point.settings()),
                configuration=point.key,
            )
        )
    return groups


def _next_gains(entries: Sequence[_Entry], tried: Sequence[int], regret: Matrix) -> list[float]:
    """Per group, how much its plan's next run lowers its expected shortfall (-1: its plan is spent)."""
    gains = []
    for index, entry in enumerate(entries):
        if tried[index] >= len(entry.plan):
            gains.append(-1.0)
            continue
        before = _expected(regret, entry.weights, entry.plan[: tried[index]])
        after = _expected(regret, entry.weights, entry.plan[: tried[index] + 1])
        gains.append(before - after)
    return gains


def group_plan(
    entries: Sequence[_Entry], runs: int, framework: Framework, evidence: Evidence
) -> list[TuningRun]:
    """Per-group runs: the first is the advice; each next run tries one group's next configuration (the
    others as advised), the group whose own plan gains most on its similar tasks going first."""
    regret = evidence.regret_matrix
    advised = [entry.column for entry in entries]
    tried = [1] * len(entries)  # how much of each group's plan the runs so far cover
    plan = [
        TuningRun(
            method=None,
            kwargs=None,
            configuration=None,
            groups=_plan_groups(entries, advised, framework, evidence),
            reason="the recommendation: every group at its advised configuration; "
            + "; ".join(
                f"{', '.join(entry.parameters)}: on its similar tasks "
                f"{_expected(regret, entry.weights, entry.plan[:1]):.1%} short of the best on average"
                for entry in entries
            ),
        )
    ]
    while len(plan) < runs:
        gains = _next_gains(entries, tried, regret)
        best = int(np.argmax(gains))
        if gains[best] < 0.0:
            break
        entry = entries[best]
        column = entry.plan[tried[best]]
        before = _expected(regret, entry.weights, entry.plan[: tried[best]])
        tried[best] += 1
        after = _expected(regret, entry.weights, entry.plan[: tried[best]])
        chosen = list(advised)
        chosen[best] = column
        others = [
            f"{', '.join(other.parameters)} {gain:.1%}"
            for index, (other, gain) in enumerate(zip(entries, gains, strict=True))
            if index != best and gain >= 0.0
        ]
        reason = (
            f"tunes {', '.join(entry.parameters)} (the others as advised): "
            f"{describe_point(evidence.points[column])}; "
            f"on that group's similar tasks its best run so far goes from {before:.1%} to {after:.1%} short "
            f"of the best, the largest gain of any group's next run"
        )
        if others:
            reason += f" (the next run of the others gains: {'; '.join(others)})"
        plan.append(
            TuningRun(
                method=None,
                kwargs=None,
                configuration=None,
                groups=_plan_groups(entries, chosen, framework, evidence),
                reason=reason,
            )
        )
    return plan


def _top_configs(
    whole: Recommendation, entries: Sequence[_Entry], evidence: Evidence, whole_column: int
) -> Configs:
    whole_point = evidence.points[whole_column]
    configs = whole.configs
    snippets = {}
    for framework in FRAMEWORKS:
        groups = []
        for entry in entries:
            point = evidence.points[entry.column]
            groups.append(
                CodeGroup(
                    entry.parameters,
                    point.method,
                    framework_kwargs(point.method, framework, point.settings()),
                )
            )
        rest = CodeGroup((), whole_point.method, getattr(configs, framework).kwargs)
        maker = {"torch": torch_code, "keras": keras_code, "optax": optax_code}[framework]
        snippets[framework] = maker(groups, rest)
    note = (
        "per-group advice: `code` builds every group's optimizer (see `groups` for each group's own "
        "notes); `class`/`function` and `kwargs` are the single whole-model method's, whose constructor is "
        "`single_method_code`"
    )

    def updated(config: ClassConfig | FunctionConfig, framework: Framework) -> dict[str, object]:
        return {
            "code": snippets[framework],
            "single_method_code": config.code,
            "notes": [*config.notes, note],
        }

    return Configs(
        torch=configs.torch.model_copy(update=updated(configs.torch, "torch")),
        keras=configs.keras.model_copy(update=updated(configs.keras, "keras")),
        optax=configs.optax.model_copy(update=updated(configs.optax, "optax")),
    )


def _group_advice(entry: _Entry, whole_column: int, ruleset: RuleSet, framework: Framework) -> GroupAdvice:
    evidence, constants = ruleset.evidence, ruleset.constants
    point: ConfigPoint = evidence.points[entry.column]
    rationale: list[RationaleItem] = []
    for member in entry.members:
        rationale.append(_figures_item(member.name, member.figures))
        rationale.append(_verdict_item(member, evidence, whole_column))
    if entry.own:
        rationale += [item for item in entry.members[0].own.rationale if item.rule != "evidence"]
    figures = entry.members[0].figures
    return GroupAdvice(
        parameters=entry.parameters,
        method=point.method,
        hyperparameters=flatten(framework_kwargs(point.method, framework, point.settings())),
        configuration=point.key,
        rationale=rationale,
        configs=build_configs(
            point.method,
            point.settings(),
            _group_scale(figures, constants.assumed_gradient_rms),
            constants.equivalence_tolerance,
        ),
    )


def _whole_model_reason(verdicts: Sequence[GroupVerdict], differs: str) -> str:
    """Why one method serves every group (no group is served badly)."""
    if not verdicts:
        return "no group's gradients carry a signal, so the advice is for the whole model"
    sparse = [verdict for verdict in verdicts if verdict.figures.sparsity >= SPARSE]
    if sparse and len(sparse) < len(verdicts):
        judged = [
            max(kind, key=lambda verdict: verdict.figures.coordinates)
            for kind in (sparse, [verdict for verdict in verdicts if verdict not in sparse])
        ]
        why = (
            "on the most similar tasks of the largest sparse and dense groups ("
            + ", ".join(f"{verdict.name}: {verdict.gap:.1%} behind its own" for verdict in judged)
            + ") the whole-model choice is within the evidence's 5% margin"
        )
    else:
        kind = "sparse" if sparse else "dense"
        why = (
            f"every group is {kind} (sparsity {'at least' if sparse else 'below'} {SPARSE:.0%}), so "
            "one kind, and no guardrail holds against the whole-model method on any group's figures"
        )
    return f"one method serves every group: {why}{differs}"


def _per_group_reason(
    badly: Sequence[GroupVerdict], method: str, evidence: Evidence, whole_column: int
) -> str:
    """Why some groups get their own method: each such group's guardrails or shortfall."""
    why = "; ".join(
        f"{verdict.name}: "
        + (
            f"guardrail(s) {', '.join(verdict.blocked_by)} exclude {method} on its own figures"
            if verdict.blocked_by
            else f"{describe_point(evidence.points[whole_column])} falls {verdict.whole_regret:.1%} short "
            f"on its similar tasks, {verdict.gap:.1%} more than its own "
            f"{describe_point(evidence.points[verdict.own_column])}"
        )
        for verdict in badly
    )
    return f"one method serves some groups badly ({why}; the margin is the evidence's 5%)"


def advise(
    request: RecommendationRequest,
    ruleset: RuleSet,
    measured: MeasuredProfile | None = None,
    studies: StudySnapshot | None = None,
) -> Recommendation:
    """The engine's whole-model answer, with per-group advice when the measured groups call for it (see the
    module docstring); `advice_scope` and `advice_scope_reason` are always set."""
    whole = recommend_whole_model(request, ruleset, measured, studies)
    if not isinstance(measured, ProfileReport) or len(measured.groups) < 2:
        reason = (
            "no gradients were sent, so the advice is for the whole model"
            if measured is None
            else "one gradient group was measured, so the advice is for the whole model"
        )
        return whole.model_copy(update={"advice_scope": "whole_model", "advice_scope_reason": reason})
    evidence = ruleset.evidence
    verdicts = judge_groups(request, ruleset, measured, whole)
    found = contrast(request.profile, evidence, {v.name: v.figures for v in verdicts})
    differs = f"; the groups differ most in {found.describe()}" if found is not None else ""
    badly = [verdict for verdict in verdicts if verdict.served_badly]
    if not badly:
        reason = _whole_model_reason(verdicts, differs)
        return whole.model_copy(update={"advice_scope": "whole_model", "advice_scope_reason": reason})
    whole_column = evidence.grid.index(_first_configuration(whole))
    entries = _entries(verdicts, whole, evidence)
    named = {verdict.name for verdict in verdicts}
    unjudged = [name for name in measured.groups if name not in named]
    reason = _per_group_reason(badly, whole.method, evidence, whole_column) + differs
    if unjudged:
        reason += f"; {', '.join(unjudged)} carried no gradient signal and take the whole-model method"
    groups = [_group_advice(entry, whole_column, ruleset, request.framework) for entry in entries]
    return whole.model_copy(
        update={
            "advice_scope": "per_group",
            "advice_scope_reason": reason,
            "groups": groups,
            "configs": _top_configs(whole, entries, evidence, whole_column),
            "tuning_plan": group_plan(entries, len(whole.tuning_plan), request.framework, evidence),
        }
    )


def group_contrast(ruleset: RuleSet, figures: Mapping[str, Figures]) -> GroupContrast | None:
    """What `POST /v1/profiles` and `POST /v1/replays` report: the figure two groups differ in most."""
    found = contrast(DeclaredProfile(), ruleset.evidence, figures)
    if found is None:
        return None
    return GroupContrast(
        figure=found.descriptor,
        values={found.first: found.first_value, found.second: found.second_value},
        spreads=found.spreads,
        text=f"the groups differ most in {found.describe()}",
    )
