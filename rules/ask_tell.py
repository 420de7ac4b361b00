"""Ask/tell: the next run of a study, given the runs it reported.

The study's situation (features, similar tasks, limits) is rebuilt from its request exactly as its answer
saw it (``engine.situation``). Then, from the reported runs:
1. the best so far is the run with the best metric (a diverged run is worst);
2. a method is dropped when its best run lost to another method's best by a clear margin
   (``DROP_MARGIN`` of the best metric's magnitude), or when every run of it diverged while another
   method's did not;
3. the tasks of the evidence base are reweighted by how well their regrets order the reported grid runs:
   a Bradley-Terry likelihood per observed pair, over a prior that keeps ``PRIOR_FLOOR`` of the weight on
   every task, so a run that contradicts the similar tasks can shift the weight to the tasks it agrees with;
4. the greedy plan continues from the runs done (``evidence.greedy_plan`` with their best regret per task),
   over the untried grid configurations of the methods that remain: its first column is the next run, and
   when it is an untried learning-rate neighbour of the best run, the plan is narrowing around it;
5. when no untried configuration is expected to help, the untried learning-rate neighbours of the best run
   are tried, best reweighted regret first; then the study stops, as it does once the budget is spent.

Everything is deterministic: the same study and outcomes give the same next run.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from optadvisor.optimizers.catalogue.names import Framework, Method
from optadvisor.rules.canonical import Setting, torch_defaults
from optadvisor.rules.engine import Situation, describe_point, situation
from optadvisor.rules.evidence import Evidence, Matrix, greedy_plan, objective_of
from optadvisor.rules.features import MeasuredProfile
from optadvisor.rules.frameworks import flatten, framework_kwargs
from optadvisor.rules.grid import ConfigPoint, grid
from optadvisor.rules.recommendation import Kwarg, TuningRun
from optadvisor.rules.request import RecommendationRequest
from optadvisor.rules.ruleset import RuleSet

# A method whose best run is this share of the best metric's magnitude behind the best run has lost.
DROP_MARGIN = 0.2
# Regret difference at which a task's preference for one configuration over another is e (2.7) to 1.
TEMPERATURE = 0.05
# Share of the prior weight spread over every task, so the reported runs can find tasks outside the
# similar ones.
PRIOR_FLOOR = 0.2
# Relative tolerance when matching reported hyperparameters to a grid configuration (grid learning rates
# are stated to three significant digits).
MATCH_TOLERANCE = 0.01
_SHOWN_TASKS = 3


@dataclass(frozen=True)
class Reported:
    """One reported run, as the ask/tell step reads it."""

    label: str  # how the rationale names it, e.g. "outcome 2"
    method: Method | None
    configuration: str | None  # its grid key, or None off the grid
    metric: float | None  # None only for a diverged run reported without a metric
    diverged: bool
    lower_is_better: bool
    metric_name: str

    @property
    def loss(self) -> float:
        """The metric oriented so that lower is better; a diverged run is the worst possible."""
        if self.diverged or self.metric is None:
            return math.inf
        return self.metric if self.lower_is_better else -self.metric

    def quoted(self) -> str:
        value = (
            "diverged" if self.diverged or self.metric is None else f"{self.metric_name} {self.metric:.4g}"
        )
        what = describe_point(ConfigPoint.parse(self.configuration)) if self.configuration else self.method
        return f"{self.label} ({what or 'an unnamed configuration'}): {value}"


class NextStep(BaseModel):
    """The next run of a study, or why it is done."""

    model_config = ConfigDict(frozen=True)

    done: bool = Field(description="True when the study should stop: the budget is spent or nothing is left.")
    run: TuningRun | None = Field(description="The next configuration to train (null when done).")
    runs_reported: int
    budget: int = Field(description="Tuning runs the study's request declared (or was assumed to have).")
    best: str | None = Field(description="The best reported run so far, with its metric.")
    dropped: list[Method] = Field(description="Methods no longer proposed: they lost by a clear margin.")
    rationale: list[str] = Field(description="Why this run (or why stop), quoting the reported numbers.")


def _close(sent: Setting, expected: Setting) -> bool:
    if isinstance(sent, bool) or isinstance(expected, bool):
        return sent == expected
    return math.isclose(float(sent), float(expected), rel_tol=MATCH_TOLERANCE, abs_tol=1e-12)


def configuration_of(method: Method, kwargs: Mapping[str, Kwarg], framework: Framework) -> str | None:
    """The grid configuration `kwargs` (in `framework`'s names, nested or flattened; omitted ones at their
    defaults) set for `method`, or None when they set none of them."""
    sent = flatten(kwargs)
    defaults = flatten(framework_kwargs(method, framework, torch_defaults(method)))
    for point in grid():
        if point.method != method:
            continue
        expected = flatten(framework_kwargs(method, framework, point.settings()))
        given = all(name in expected and _close(value, expected[name]) for name, value in sent.items())
        omitted = all(
            _close(defaults[name], value)
            for name, value in expected.items()
            if name not in sent and name in defaults
        )
        if given and omitted:
            return point.key
    return None


def _dropped(runs: Sequence[Reported], best: Reported | None) -> dict[Method, str]:
    """Methods that lost by a clear margin, with the reason quoting their numbers."""
    if best is None or best.method is None:
        return {}
    scale = max(abs(best.loss), 1e-12)
    reasons: dict[Method, str] = {}
    for method in dict.fromkeys(run.method for run in runs if run.method is not None):
        if method == best.method:
            continue
        theirs = min((run for run in runs if run.method == method), key=lambda run: run.loss)
        if math.isinf(theirs.loss):
            reasons[method] = f"{method} dropped: every run of it diverged ({theirs.label} among them)"
        elif theirs.loss - best.loss > DROP_MARGIN * scale:
            behind = (theirs.loss - best.loss) / scale
            reasons[method] = (
                f"{method} dropped: its best run, {theirs.quoted()}, is {behind:.0%} behind the best "
                f"(more than the {DROP_MARGIN:.0%} that counts as a clear margin)"
            )
    return reasons


def reweighted(evidence: Evidence, prior: Matrix, runs: Sequence[Reported]) -> tuple[Matrix, int]:
    """Task weights given the observed order of the reported grid runs, and how many ordered pairs of
    distinct configurations informed them (0: the prior weights, unchanged)."""
    on_grid = [run for run in runs if run.configuration is not None]
    regret = evidence.regret_matrix
    log_likelihood = np.zeros(len(evidence.tasks))
    pairs = 0
    for better in on_grid:
        for worse in on_grid:
            if better.loss < worse.loss and better.configuration != worse.configuration:
                assert better.configuration is not None and worse.configuration is not None
                gap = (
                    regret[:, evidence.grid.index(worse.configuration)]
                    - regret[:, evidence.grid.index(better.configuration)]
                )
                # log σ(gap / T): how likely the task makes this order.
                log_likelihood -= np.logaddexp(0.0, -gap / TEMPERATURE)
                pairs += 1
    if not pairs:
        return prior, 0
    floored = (1.0 - PRIOR_FLOOR) * prior + PRIOR_FLOOR / len(prior)
    log_posterior = np.log(floored) + log_likelihood
    weights: Matrix = np.exp(log_posterior - log_posterior.max())
    return weights / weights.sum(), pairs


def _weights_note(evidence: Evidence, stages: Situation, weights: Matrix, pairs: int) -> str:
    similar_share = float(weights[stages.similar.rows].sum())
    top = np.argsort(-weights, kind="stable")[:_SHOWN_TASKS]
    named = ", ".join(
        f"{evidence.tasks[row].name} ({evidence.tasks[row].family}, {weights[row]:.0%})" for row in top
    )
    return (
        f"the {pairs} ordered pairs of reported grid runs reweighted the evidence: the tasks whose regrets "
        f"order them as reported weigh most ({named}); the similar tasks now carry {similar_share:.0%} of "
        "the weight"
    )


def _neighbours_of(best: Reported | None, candidates: Sequence[int], evidence: Evidence) -> list[int]:
    """Untried columns one learning-rate step from the best run, same method and variant."""
    if best is None or best.configuration is None:
        return []
    point = ConfigPoint.parse(best.configuration)
    return [
        column
        for column in candidates
        if (other := evidence.points[column]).method == point.method
        and other.variant == point.variant
        and abs(other.lr_step - point.lr_step) == 1
    ]


def _best(runs: Sequence[Reported]) -> Reported | None:
    """The reported run with the lowest finite loss, if any."""
    best = min(runs, key=lambda run: run.loss) if runs else None
    return best if best is not None and math.isfinite(best.loss) else None


def _search(
    evidence: Evidence,
    stages: Situation,
    runs: Sequence[Reported],
    dropped: Mapping[Method, str],
    rationale: list[str],
) -> tuple[int | None, str]:
    """The untried configuration that most lowers the reweighted tasks' shortfall (or narrows around the
    best run), with its reason; None and why to stop when none is expected to help. A note on how the
    runs reweighted the tasks goes to `rationale`."""
    regret, best = evidence.regret_matrix, _best(runs)
    weights, pairs = reweighted(evidence, stages.similar.weights, runs)
    if pairs:
        rationale.append(_weights_note(evidence, stages, weights, pairs))
    done = {evidence.grid.index(run.configuration) for run in runs if run.configuration is not None}
    candidates = [
        column
        for column in stages.limits.allowed
        if column not in done and evidence.points[column].method not in dropped
    ]
    start = np.min(regret[:, sorted(done)], axis=1) if done else None
    steps = greedy_plan(
        regret,
        weights,
        stages.limits.baseline,
        candidates,
        1,
        objective=objective_of(evidence),
        start=start,
    )
    before = float(weights @ (start if start is not None else np.ones(len(weights))))
    neighbours = _neighbours_of(best, candidates, evidence)
    if steps:
        column = steps[0].column
        narrowing = " narrows the learning rate around the best run;" if column in neighbours else ""
        return column, (
            f"{describe_point(evidence.points[column])}:{narrowing} on the reweighted tasks it lowers the "
            f"expected shortfall of the best run so far from {before:.2%} to {steps[0].regret:.2%}"
        )
    if neighbours:
        column = min(neighbours, key=lambda column: (float(weights @ regret[:, column]), column))
        return column, (
            f"{describe_point(evidence.points[column])}: no untried configuration is expected to improve "
            f"on the best run on the reweighted tasks, so this narrows the learning rate around it"
        )
    return (
        None,
        "no untried configuration of the remaining methods is expected to improve on the best run: stop",
    )


def next_run(
    request: RecommendationRequest,
    ruleset: RuleSet,
    runs: Sequence[Reported],
    *,
    plan: Sequence[str] = (),
    measured: MeasuredProfile | None = None,
) -> NextStep:
    """The next run of the study whose request, measurements and tuning `plan` (configuration keys) these
    are, after the reported `runs` (oldest first)."""
    evidence, stages = ruleset.evidence, situation(request, ruleset, measured)
    budget = stages.budget
    best = _best(runs)
    rationale = [f"{len(runs)} of the {budget} runs of the budget reported"]
    if best is not None:
        rationale.append(f"best so far: {best.quoted()}")
    dropped = _dropped(runs, best)
    rationale += dropped.values()
    column: int | None
    if len(runs) >= budget:
        column, why = None, f"the budget of {budget} runs is spent: stop, and keep the best run"
    elif not runs and plan:
        column, why = evidence.grid.index(plan[0]), "the first run of the tuning plan: the recommendation"
    else:
        column, why = _search(evidence, stages, runs, dropped, rationale)
    run = None
    if column is not None:
        point = evidence.points[column]
        run = TuningRun(
            method=point.method,
            kwargs=framework_kwargs(point.method, request.framework, point.settings()),
            configuration=point.key,
            reason=why,
        )
    return NextStep(
        done=run is None,
        run=run,
        runs_reported=len(runs),
        budget=budget,
        best=best.quoted() if best is not None else None,
        dropped=list(dropped),
        rationale=rationale if run is not None else [*rationale, why],
    )
