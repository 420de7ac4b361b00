"""Fit the evidence base from the outcomes dataset and the captures: ``python -m benchmarks.evidence fit``.

What is fitted, all from the tasks it is given (a validation fold never sees its held-out family):
- each task's descriptors, measured on its captures exactly as the service measures a request's gradients
  (``profiler.profile`` then ``rules.similarity.describe``), averaged over seeds;
- each grid configuration's regret on each task (``scoring.regrets``);
- each descriptor's spread over the tasks;
- how many neighbours a request is advised from, and how much weight goes to all tasks instead, chosen by
  leave-one-family-out cross-validation within the given tasks: the pair whose advice is within 5% of the
  best baseline in the most cells at budgets 1 and 4.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import TypeAdapter

from benchmarks.evidence import scoring
from benchmarks.evidence.dataset import (
    CAPTURES_PATH,
    OUTCOMES_PATH,
    Dataset,
    Samples,
    TaskOutcomes,
    file_hash,
    read_captures,
    read_outcomes,
)
from optadvisor import profiler
from optadvisor.optimizers.catalogue.names import METHODS, Method
from optadvisor.rules.engine import recommend
from optadvisor.rules.evidence import Evidence, EvidenceTask, Provenance
from optadvisor.rules.features import without_signal
from optadvisor.rules.request import DeclaredProfile, RecommendationRequest
from optadvisor.rules.ruleset import RuleSet, parse_ruleset
from optadvisor.rules.similarity import DESCRIPTORS, Descriptors, describe

EVIDENCE_PATH = Path(__file__).resolve().parents[2] / "rules" / "evidence.json"
FIT_COMMAND = "python -m benchmarks.evidence fit"
NEIGHBOUR_CHOICES = (3, 6, 12)
SHRINKAGE_CHOICES = (0.0, 0.3, 0.6, 1.0)
# How much a departure from a method's defaults must pay for itself (in regret) to be planned.
DEPARTURE_CHOICES = (0.0, 0.1)
# (plan objective, penalty): regret with no, some or a large penalty for falling behind the tuned
# baselines; or the share of tasks not within 5% of them.
OBJECTIVE_CHOICES: tuple[tuple[Literal["regret", "within"], float], ...] = (
    ("regret", 0.0),
    ("regret", 1.0),
    ("regret", 4.0),
    ("within", 0.0),
)
MEASURED_CHOICES = (True, False)
SELECTION_BUDGETS = (1, 4)
SIX: tuple[Method, ...] = METHODS
_SAMPLES = TypeAdapter(dict[str, profiler.GradientSampleJSON])
# What the service is sent: everything the capture helper sends; the arrays alone (a user posting .npy
# files); or nothing but the declared profile.
MODES = ("capture", "arrays", "declared")
_HELPER_ONLY_FIELDS = ("parameter_rms", "total_coordinates", "step_norms", "step_nonzeros")


def declared(task: TaskOutcomes, budget: int | None = None) -> DeclaredProfile:
    profile = dict(task.profile)
    if budget is not None:
        profile["tuning_budget"] = budget
    return DeclaredProfile.model_validate(profile)


def sent(samples: Samples, mode: str) -> Samples | None:
    if mode == "declared":
        return None
    if mode == "arrays":
        return {
            group: {name: value for name, value in sample.items() if name not in _HELPER_ONLY_FIELDS}
            for group, sample in samples.items()
        }
    return samples


def measure(task: TaskOutcomes, samples: Samples | None) -> profiler.ProfileReport | None:
    """The profile the service computes for this request's gradients (None without gradients)."""
    if samples is None:
        return None
    loaded = profiler.samples_from_json(_SAMPLES.validate_python(samples), profiler.Limits())
    return profiler.profile(loaded, training_steps=task.steps, framework="torch", replays=False)


class Measurements:
    """The profile of every (task, seed, mode) the service would compute, and each task's regrets, each
    worked out once."""

    def __init__(self, dataset: Dataset, captures: Mapping[tuple[str, int], Samples]) -> None:
        self.dataset = dataset
        self.captures = captures
        self._reports: dict[tuple[str, int, str], profiler.ProfileReport | None] = {}
        self._regrets: dict[str, list[float]] = {}

    def report(self, task: str, seed: int, mode: str) -> profiler.ProfileReport | None:
        key = (task, seed, mode)
        if key not in self._reports:
            self._reports[key] = measure(self.dataset.tasks[task], sent(self.captures[(task, seed)], mode))
        return self._reports[key]

    def regrets(self, task: TaskOutcomes) -> list[float]:
        """The task's regret per grid configuration, to the precision the evidence file keeps."""
        if task.name not in self._regrets:
            self._regrets[task.name] = [round(value, 4) for value in scoring.regrets(task)]
        return self._regrets[task.name]

    def descriptors(self, task: str, seed: int) -> Descriptors:
        """What the engine's similarity stage sees of the full capture of (task, seed)."""
        report = self.report(task, seed, "capture")
        usable = None if report is None or without_signal(report.overall) else report.overall
        return describe(declared(self.dataset.tasks[task]), usable)

    def averaged(self, task: str) -> Descriptors:
        """The task's descriptors from its full captures, numeric ones averaged over seeds."""
        per_seed = [self.descriptors(task, seed) for seed in self.dataset.seeds]
        merged: Descriptors = {}
        for name in per_seed[0]:
            values = [described[name] for described in per_seed if name in described]
            merged[name] = (
                values[0] if isinstance(values[0], str) else statistics.fmean(float(v) for v in values)
            )
        return merged


def spreads(described: Iterable[Descriptors]) -> dict[str, float]:
    """Each numeric descriptor's standard deviation over the tasks (at least 0.05, so a descriptor that
    barely varies in the evidence cannot dominate a distance)."""
    columns: dict[str, list[float]] = {}
    for descriptors in described:
        for name, value in descriptors.items():
            if not isinstance(value, str):
                columns.setdefault(name, []).append(float(value))
    return {
        name: round(max(statistics.pstdev(values), 0.05), 4)
        for name, values in sorted(columns.items())
        if DESCRIPTORS[name].kind == "number"
    }


@dataclass(frozen=True)
class Choice:
    """The fitted constants of an evidence base (see rules.evidence.Evidence)."""

    neighbours: int
    shrinkage: float
    plan_objective: Literal["regret", "within"]
    baseline_penalty: float
    measured_descriptors: bool
    departure_cost: float

    @property
    def label(self) -> str:
        measured = "declared+measured" if self.measured_descriptors else "declared"
        return (
            f"k={self.neighbours},shrinkage={self.shrinkage},{self.plan_objective}"
            f"{f'+{self.baseline_penalty}' if self.plan_objective == 'regret' else ''},{measured},"
            f"departure={self.departure_cost}"
        )


CHOICES = tuple(
    Choice(k, shrinkage, objective, penalty, measured, departure)
    for departure in DEPARTURE_CHOICES
    for measured in MEASURED_CHOICES
    for k in NEIGHBOUR_CHOICES
    for shrinkage in SHRINKAGE_CHOICES
    for objective, penalty in OBJECTIVE_CHOICES
)


def evidence_of(
    tasks: Sequence[TaskOutcomes], measurements: Measurements, choice: Choice, provenance: Provenance
) -> Evidence:
    described = {task.name: measurements.averaged(task.name) for task in tasks}
    return Evidence(
        provenance=provenance,
        grid=list(scoring.GRID_KEYS),
        spreads=spreads(described.values()),
        neighbours=choice.neighbours,
        shrinkage=choice.shrinkage,
        plan_objective=choice.plan_objective,
        baseline_penalty=choice.baseline_penalty,
        measured_descriptors=choice.measured_descriptors,
        departure_cost=choice.departure_cost,
        tasks=[
            EvidenceTask(
                name=task.name,
                family=task.family,
                descriptors={
                    name: value if isinstance(value, str) else round(value, 4)
                    for name, value in described[task.name].items()
                },
                regret=measurements.regrets(task),
            )
            for task in sorted(tasks, key=lambda task: task.name)
        ],
    )


def packaged_rules() -> dict[str, Any]:
    """The packaged rule file's guardrails, explanations and constants (the evidence is the fit's)."""
    return dict(yaml.safe_load(resources.files("optadvisor.rules").joinpath("default.yaml").read_text()))


def advise(  # noqa: PLR0913  keyword-only cell options, named at every call
    ruleset: RuleSet,
    measurements: Measurements,
    task: TaskOutcomes,
    seed: int,
    *,
    mode: str,
    budget: int,
    candidates: Sequence[str],
) -> list[str]:
    """The plan the engine gives this cell, as the service would: the configuration of each run."""
    request = RecommendationRequest(
        profile=declared(task, budget),
        framework="torch",
        candidates=list(candidates),  # type: ignore[arg-type]
    )
    answer = recommend(request, ruleset, measurements.report(task.name, seed, mode))
    return [run.configuration for run in answer.tuning_plan if run.configuration is not None]


def within_share(
    ruleset: RuleSet,
    held_out: Sequence[TaskOutcomes],
    measurements: Measurements,
    budgets: Sequence[int],
    seeds: Sequence[int],
) -> tuple[float, float]:
    """(share of cells within 5%, mean gap) of the advice on ``held_out``, six candidates."""
    within, gaps = [], []
    for task in held_out:
        for seed_index, seed in enumerate(seeds):
            for budget in budgets:
                keys = advise(
                    ruleset, measurements, task, seed, mode="capture", budget=budget, candidates=SIX
                )
                baselines: dict[str, float] = {
                    method: scoring.tuned(task, method, budget, seed_index) for method in SIX
                }
                result = scoring.standing(
                    task, seed_index, scoring.plan_value(task, keys, seed_index), baselines
                )
                within.append(1.0 if result.within else 0.0)
                gaps.append(min(result.gap, 1.0))
    return scoring.mean(within), scoring.mean(gaps)


def fit(
    tasks: Sequence[TaskOutcomes], measurements: Measurements, provenance: Provenance, rules: dict[str, Any]
) -> tuple[Evidence, dict[str, Any]]:
    """The evidence base of ``tasks``, its neighbour count and shrinkage chosen by inner
    leave-one-family-out validation of the engine under ``rules``; also the selection table."""
    families = sorted({task.family for task in tasks})
    table: dict[str, Any] = {}
    scores: dict[Choice, tuple[float, float]] = {}
    for choice in CHOICES:
        within, gaps = [], []
        for family in families:
            inner = [task for task in tasks if task.family != family]
            held_out = [task for task in tasks if task.family == family]
            share, gap = within_share(
                parse_ruleset(rules, evidence_of(inner, measurements, choice, provenance)),
                held_out,
                measurements,
                SELECTION_BUDGETS,
                measurements.dataset.seeds,
            )
            within.append(share)
            gaps.append(gap)
        scores[choice] = (scoring.mean(within), scoring.mean(gaps))
        table[choice.label] = {"within": round(scores[choice][0], 4), "mean_gap": round(scores[choice][1], 4)}
    # The most cells within 5%, then the smallest mean gap, then the earliest (simplest) choice.
    chosen = min(CHOICES, key=lambda choice: (-scores[choice][0], scores[choice][1], CHOICES.index(choice)))
    return evidence_of(tasks, measurements, chosen, provenance), table


def sources() -> tuple[str, str]:
    """The hashes of the committed outcomes and captures."""
    return file_hash(OUTCOMES_PATH), file_hash(CAPTURES_PATH)


def provenance(hashes: tuple[str, str], held_out: Sequence[str] = ()) -> Provenance:
    outcomes, captures = hashes
    return Provenance(
        command=FIT_COMMAND, outcomes=outcomes, captures=captures, held_out_families=sorted(held_out)
    )


def fit_all(output: Path = EVIDENCE_PATH) -> Evidence:
    """Fit on every task of the committed dataset and write the packaged evidence file."""
    dataset = read_outcomes()
    measurements = Measurements(dataset, read_captures())
    evidence, _ = fit(list(dataset.tasks.values()), measurements, provenance(sources()), packaged_rules())
    output.write_text(evidence.model_dump_json(indent=1) + "\n")
    return evidence
