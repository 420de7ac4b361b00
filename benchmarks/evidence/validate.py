"""Leave-one-family-out validation: ``python -m benchmarks.evidence validate``.

For each family, the evidence base is fitted on every other family (``fit.fit``, its own choices made by
cross-validation inside those families) and the held-out family's tasks are scored. A cell is (task, seed,
budget, candidate set); in it every strategy's best configuration (each one trained in the dataset, none
interpolated) is compared with each candidate method tuned with the same budget: its default at budget 1,
the expected best of that many draws from its grid beyond (``scoring.tuned``). Strategies:

- ``advice:<mode>``: the fitted engine, sent what the capture helper sends (capture), the gradient arrays
  alone (arrays), or only the declared profile (declared);
- ``portfolio``: the best fixed list of configurations, fitted greedily on the training families;
- ``default:<method>``: that method's torch defaults, every time;
- ``previous:<mode>``: the previous rule set's plan (``data/previous_advice.json``, trained beside the grid);
- ``sequential:<mode>``: ask/tell (``rules.ask_tell``, as ``GET /v1/recommendations/{id}/next`` answers):
  after each run, that configuration's metric on the cell's task and seed (every grid configuration was
  trained, so it is read from the dataset) is reported and the next run asked for, until the budget is
  spent or it stops. Compared cell by cell with ``advice:<mode>`` (the static plan) in ``sequential``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.evidence import scoring
from benchmarks.evidence.dataset import Dataset, Samples, TaskOutcomes, read_captures, read_outcomes
from benchmarks.evidence.fit import (
    MODES,
    SIX,
    Measurements,
    advise,
    declared,
    fit,
    packaged_rules,
    provenance,
    sources,
)
from benchmarks.evidence.generate import PREVIOUS_ADVICE_PATH
from optadvisor.rules.ask_tell import Reported, next_run
from optadvisor.rules.engine import recommend
from optadvisor.rules.evidence import Evidence, baseline_regret, greedy_plan, objective_of, preference_order
from optadvisor.rules.grid import default_point
from optadvisor.rules.request import RecommendationRequest
from optadvisor.rules.ruleset import RuleSet, parse_ruleset

BUDGETS = (1, 4, 16)
CANDIDATE_SETS: dict[str, tuple[str, ...]] = {"four": ("adagrad", "rmsprop", "adadelta", "adam"), "six": SIX}
RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


@dataclass
class Tally:
    """Cells of one strategy: how many were within 5% of the best baseline, and the ranks."""

    within: int = 0
    cells: int = 0
    ranks: list[int] = field(default_factory=list)

    def add(self, standing: scoring.Standing) -> None:
        self.cells += 1
        self.within += standing.within
        self.ranks.append(standing.rank)

    def summary(self) -> dict[str, float | int]:
        return {
            "cells": self.cells,
            "within": self.within,
            "within_share": round(self.within / self.cells, 4) if self.cells else float("nan"),
            "mean_rank": round(float(np.mean(self.ranks)), 3) if self.ranks else float("nan"),
        }


def portfolio_keys(evidence: Evidence, candidates: Sequence[str], budget: int) -> list[str]:
    """The fixed portfolio: the greedy plan with every training task weighted alike."""
    allowed = [column for column, point in enumerate(evidence.points) if point.method in candidates]
    weights = np.full(len(evidence.tasks), 1.0 / len(evidence.tasks))
    baseline = baseline_regret(evidence, candidates, budget)
    plan = greedy_plan(
        evidence.regret_matrix,
        weights,
        baseline,
        preference_order(evidence.points, allowed),
        budget,
        objective=objective_of(evidence),
    )
    return [evidence.grid[step.column] for step in plan]


def sequential_keys(  # noqa: PLR0913  keyword-only cell options, named at every call
    ruleset: RuleSet,
    measurements: Measurements,
    task: TaskOutcomes,
    seed_index: int,
    *,
    mode: str,
    budget: int,
    candidates: Sequence[str],
) -> list[str]:
    """The configurations ask/tell runs in one cell: each next run asked for after reporting the metric
    every earlier one reached on this task and seed (a diverged run reported as diverged)."""
    seed = measurements.dataset.seeds[seed_index]
    request = RecommendationRequest(
        profile=declared(task, budget),
        framework="torch",
        candidates=list(candidates),  # type: ignore[arg-type]
    )
    measured = measurements.report(task.name, seed, mode)
    answer = recommend(request, ruleset, measured)
    plan = [run.configuration for run in answer.tuning_plan if run.configuration is not None]
    runs: list[Reported] = []
    while len(runs) < budget:
        step = next_run(request, ruleset, runs, plan=plan, measured=measured)
        if step.run is None or step.run.configuration is None:
            break
        value = task.outcomes[step.run.configuration][seed_index]
        runs.append(
            Reported(
                label=f"run {len(runs) + 1}",
                method=step.run.method,
                configuration=step.run.configuration,
                metric=value,
                diverged=value is None,
                lower_is_better=True,
                metric_name=task.metric,
            )
        )
    return [run.configuration for run in runs if run.configuration is not None]


@dataclass
class Comparison:
    """Sequential against the static plan, cell by cell: gaps to the cell's best baseline (capped at 1)."""

    static_gaps: list[float] = field(default_factory=list)
    sequential_gaps: list[float] = field(default_factory=list)
    not_worse: int = 0
    better: int = 0

    def add(self, static: scoring.Standing, sequential: scoring.Standing) -> None:
        self.static_gaps.append(min(static.gap, 1.0))
        self.sequential_gaps.append(min(sequential.gap, 1.0))
        self.not_worse += sequential.value <= static.value
        self.better += sequential.value < static.value

    def summary(self) -> dict[str, float | int]:
        cells = len(self.static_gaps)
        return {
            "cells": cells,
            "mean_gap_static": round(scoring.mean(self.static_gaps), 4),
            "mean_gap_sequential": round(scoring.mean(self.sequential_gaps), 4),
            "not_worse_share": round(self.not_worse / cells, 4) if cells else float("nan"),
            "better_share": round(self.better / cells, 4) if cells else float("nan"),
        }


def previous_plans(path: Path = PREVIOUS_ADVICE_PATH) -> Mapping[str, Mapping[str, list[str]]]:
    return json.loads(path.read_text())["plans"] if path.exists() else {}


def strategies(  # noqa: PLR0913  keyword-only cell options, named at every call
    task: TaskOutcomes,
    seed_index: int,
    budget: int,
    label: str,
    *,
    ruleset: RuleSet,
    measurements: Measurements,
    previous: Mapping[str, Mapping[str, list[str]]],
    sequential: bool = True,
) -> dict[str, list[str]]:
    """Every strategy's configuration keys in one cell (with ``sequential``, the ask/tell ones too where
    there is more than one run to choose)."""
    candidates = CANDIDATE_SETS[label]
    seed = measurements.dataset.seeds[seed_index]
    chosen: dict[str, list[str]] = {
        f"advice:{mode}": advise(
            ruleset, measurements, task, seed, mode=mode, budget=budget, candidates=candidates
        )
        for mode in MODES
    }
    if sequential and budget > 1:
        for mode in MODES:
            chosen[f"sequential:{mode}"] = sequential_keys(
                ruleset, measurements, task, seed_index, mode=mode, budget=budget, candidates=candidates
            )
    chosen["portfolio"] = portfolio_keys(ruleset.evidence, candidates, budget)
    for method in candidates:
        chosen[f"default:{method}"] = [default_point(method).key]  # type: ignore[arg-type]
    for mode in MODES:
        keys = previous.get(task.name, {}).get(f"{mode}:{label}:{budget}:{seed}")
        if keys:
            chosen[f"previous:{mode}"] = keys
    return chosen


Tallies = dict[tuple[str, ...], Tally]
Comparisons = dict[tuple[str, int, str], Comparison]


def _score(  # noqa: PLR0913  keyword-only options of one scoring pass
    tasks: Sequence[TaskOutcomes],
    seeds: Sequence[int],
    budgets: Sequence[int],
    *,
    ruleset: RuleSet,
    measurements: Measurements,
    previous: Mapping[str, Mapping[str, list[str]]],
    tallies: Tallies,
    family: str,
    compared: Comparisons | None = None,
) -> None:
    """Score every strategy in every cell of ``tasks`` into ``tallies`` (overall and per family) and,
    given ``compared``, each ask/tell sequence against the static plan of the same mode."""
    for task in tasks:
        for seed_index in range(len(seeds)):
            for budget in budgets:
                for label, candidates in CANDIDATE_SETS.items():
                    baselines = {m: scoring.tuned(task, m, budget, seed_index) for m in candidates}
                    cell = strategies(
                        task,
                        seed_index,
                        budget,
                        label,
                        ruleset=ruleset,
                        measurements=measurements,
                        previous=previous,
                        sequential=compared is not None,
                    )
                    standings: dict[str, scoring.Standing] = {}
                    for strategy, keys in cell.items():
                        value = scoring.plan_value(task, keys, seed_index)
                        standing = standings[strategy] = scoring.standing(task, seed_index, value, baselines)
                        tallies.setdefault((strategy, str(budget), label), Tally()).add(standing)
                        tallies.setdefault((family, strategy, str(budget), label), Tally()).add(standing)
                    if compared is not None:
                        for mode in MODES:
                            if f"sequential:{mode}" in standings:
                                compared.setdefault((mode, budget, label), Comparison()).add(
                                    standings[f"advice:{mode}"], standings[f"sequential:{mode}"]
                                )


def _rows(tallies: Tallies, per_family: bool) -> list[dict[str, Any]]:
    rows = []
    for key, tally in sorted(tallies.items()):
        if (len(key) == 4) != per_family:
            continue
        *family, strategy, budget, label = key
        row: dict[str, Any] = {"strategy": strategy, "budget": int(budget), "candidates": label}
        rows.append({**({"family": family[0]} if family else {}), **row, **tally.summary()})
    return rows


def validate(  # noqa: PLR0913  keyword-only options of the validation run
    dataset: Dataset,
    captures: Mapping[tuple[str, int], Samples],
    *,
    families: Iterable[str] | None = None,
    budgets: Sequence[int] = BUDGETS,
    hashes: tuple[str, str] = ("", ""),
    in_sample: bool = False,
) -> dict[str, Any]:
    """The held-out table: per strategy, budget and candidate set, overall and per family; with
    ``in_sample``, also the advice fitted on every task scored on those same tasks (labelled as such)."""
    measurements = Measurements(dataset, captures)
    rules = packaged_rules()
    previous = previous_plans()
    everything = list(dataset.tasks.values())
    tallies: Tallies = {}
    compared: Comparisons = {}
    folds: dict[str, Any] = {}
    for family in sorted(families or {task.family for task in everything}):
        training = [task for task in everything if task.family != family]
        held_out = [task for task in everything if task.family == family]
        evidence, selection = fit(training, measurements, provenance(hashes, held_out=[family]), rules)
        folds[family] = {
            "neighbours": evidence.neighbours,
            "shrinkage": evidence.shrinkage,
            "plan_objective": evidence.plan_objective,
            "baseline_penalty": evidence.baseline_penalty,
            "measured_descriptors": evidence.measured_descriptors,
            "departure_cost": evidence.departure_cost,
            "selection": selection,
        }
        ruleset = parse_ruleset(rules, evidence)
        _score(
            held_out,
            dataset.seeds,
            budgets,
            ruleset=ruleset,
            measurements=measurements,
            previous=previous,
            tallies=tallies,
            family=family,
            compared=compared,
        )
    result: dict[str, Any] = {
        "families": sorted(folds),
        "folds": folds,
        "overall": _rows(tallies, per_family=False),
        "by_family": _rows(tallies, per_family=True),
        "sequential": [
            {"mode": mode, "budget": budget, "candidates": label, **comparison.summary()}
            for (mode, budget, label), comparison in sorted(compared.items())
        ],
    }
    if in_sample:
        evidence, _ = fit(everything, measurements, provenance(hashes), rules)
        fitted: Tallies = {}
        _score(
            everything,
            dataset.seeds,
            budgets,
            ruleset=parse_ruleset(rules, evidence),
            measurements=measurements,
            previous=previous,
            tallies=fitted,
            family="all",
        )
        result["in_sample"] = [
            row for row in _rows(fitted, per_family=False) if row["strategy"] == "advice:capture"
        ]
    return result


def corpus_summary(dataset: Dataset) -> dict[str, Any]:
    """What the dataset holds: per family its tasks, lengths and batch sizes; and how it was made."""
    families = {
        family: {
            "tasks": len(tasks),
            "steps": [min(t.steps for t in tasks), max(t.steps for t in tasks)],
            "batch_sizes": sorted({t.batch_size for t in tasks}),
            "declared_families": sorted({str(t.profile.get("model_family")) for t in tasks}),
            "metrics": sorted({t.metric for t in tasks}),
            "seconds": round(sum(t.seconds for t in tasks), 1),
        }
        for family, tasks in sorted(dataset.families().items())
    }
    runs = sum(len(task.outcomes) * len(dataset.seeds) for task in dataset.tasks.values())
    return {
        "families": families,
        "tasks": len(dataset.tasks),
        "runs": runs,
        "provenance": dict(dataset.provenance),
    }


def main_validate(output: Path = RESULTS_DIR / "evidence_validation.json") -> dict[str, Any]:
    dataset = read_outcomes()
    result = validate(dataset, read_captures(), hashes=sources(), in_sample=True)
    result["corpus"] = corpus_summary(dataset)
    output.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result
