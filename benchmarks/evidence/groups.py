"""Held-out check of per-group advice (issue 16): does the per-group answer beat one method for the model?

For each family named below, the evidence base is fitted on every *other* family (``fit.fit``, its constants
chosen by cross-validation inside them), then each of the family's tasks is asked about exactly as the
service is asked (the declared profile and the captured gradients, ``rules.recommend``). A cell is a task, a
seed and a tuning budget.

- Where the answer is per group, every run of its per-group tuning plan is trained here on that seed
  (``train_group_runs``: one stacked model per run, each parameter stepped by torch.optim's update rules for
  its group's method, ``benchmarks.evidence.batched``), and the best of them is compared with
  - the best single method tuned with the same budget (for each method the expected best of that many
    draws from its grid, or its defaults at budget 1, from the committed outcomes; the lowest of the six),
  - the single-method advice (the whole-model plan's best run, from the committed outcomes).
- Where the answer is for the whole model, the service trains what the single-method advice trains: its
  final metric is the single-method advice's by construction.

Mixed families have a sparse table beside dense layers (``MIXED``); alike families are dense throughout
(``ALIKE``). Margins are relative to the same reference as every regret (``scoring.scale``).

    PYTHONPATH=. python -m benchmarks.evidence.groups            # writes benchmarks/results/groups.json
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from benchmarks.evidence import scoring
from benchmarks.evidence.batched import BATCHED, BatchedMethod
from benchmarks.evidence.dataset import Dataset, TaskOutcomes, read_captures, read_outcomes
from benchmarks.evidence.families import task_named
from benchmarks.evidence.fit import SIX, Measurements, declared, fit, packaged_rules, provenance, sources
from benchmarks.evidence.task import Batch, Task
from optadvisor.rules import RecommendationRequest, RuleSet, parse_ruleset, recommend
from optadvisor.rules.engine import recommend as recommend_whole_model
from optadvisor.rules.evidence import Evidence
from optadvisor.rules.grid import ConfigPoint

MIXED = ("text_classifier", "embedding_mf")
ALIKE = ("tabular_mlp",)
BUDGETS = (1, 4)
RESULTS = Path(__file__).resolve().parents[1] / "results" / "groups.json"

# One per-group run: each parameter's (method, torch kwargs).
GroupRun = Mapping[str, tuple[str, Mapping[str, Any]]]


def _torch_kwargs(key: str) -> tuple[str, dict[str, Any]]:
    point = ConfigPoint.parse(key)
    settings = dict(point.settings())
    kwargs: dict[str, Any] = {}
    for name, value in settings.items():
        if name in ("beta1", "beta2"):
            kwargs["betas"] = (float(settings["beta1"]), float(settings["beta2"]))
        else:
            kwargs[name] = value
    return point.method, kwargs


def run_of(groups: Sequence[tuple[Sequence[str], str]], names: Sequence[str], rest: str) -> GroupRun:
    """A per-group run from (parameters, configuration key) pairs; parameters none names take `rest`."""
    chosen = {name: key for parameters, key in groups for name in parameters}
    return {name: _torch_kwargs(chosen.get(name, rest)) for name in names}


def train_group_runs(task: Task, runs: Sequence[GroupRun], seed: int) -> list[float | None]:
    """Train each per-group run once on ``seed``; the final metric of each (None when diverged)."""
    model = task.build(seed)
    template = model
    stacked, buffers = stack_module_state([task.build(seed) for _ in runs])
    if buffers:
        raise ValueError(f"{task.spec.name}: models with buffers are not supported")
    params = {name: value.detach().clone() for name, value in stacked.items()}
    data = task.data(seed)

    def slice_loss(slice_params: dict[str, Tensor], batch: Batch) -> tuple[Tensor, Tensor]:
        return task.loss(lambda *inputs: functional_call(template, slice_params, inputs), batch)

    def slice_metric(slice_params: dict[str, Tensor], holdout: Batch) -> Tensor:
        return task.metric(lambda *inputs: functional_call(template, slice_params, inputs), holdout)

    gradient = vmap(grad_and_value(slice_loss, has_aux=True), in_dims=(0, None))
    # Per parameter and method: the runs (slices) that step it with that method, as their own tensor.
    steppers: list[tuple[str, Tensor, BatchedMethod, Tensor]] = []
    for name in params:
        by_method: dict[str, list[int]] = {}
        for index, run in enumerate(runs):
            by_method.setdefault(run[name][0], []).append(index)
        for method, indices in by_method.items():
            where = torch.tensor(indices)
            own = params[name][where].clone()
            optimizer = BATCHED[method]([own], [dict(runs[i][name][1]) for i in indices])
            steppers.append((name, where, optimizer, own))
    steps = task.spec.steps
    scores = torch.empty(steps, len(runs))
    for step in range(steps):
        grads, (_, score) = gradient(params, task.batch(data, step))
        scores[step] = score.detach()
        for name, where, optimizer, own in steppers:
            optimizer.step([grads[name][where]])
            params[name][where] = own
    holdout = task.holdout(data)
    if holdout is None:
        finals = scores.mean(dim=0)
    else:
        with torch.no_grad():
            finals = vmap(slice_metric, in_dims=(0, None))(params, holdout)
    results: list[float | None] = []
    for index in range(len(runs)):
        final = float(finals[index])
        finite = all(bool(value[index].isfinite().all()) for value in params.values())
        results.append(final if math.isfinite(final) and finite else None)
    return results


@dataclass
class Cell:
    family: str
    task: str
    seed: int
    budget: int
    scope: str
    groups: int
    per_group: float | None  # best per-group plan run (None: whole-model answer)
    single_advice: float  # the single-method advice's best plan run
    best_single_tuned: float  # the best of the six methods tuned with the same budget
    scale: float

    def margin(self, value: float, against: float) -> float:
        return (against - value) / self.scale  # > 0: value is better


FOLDS = Path(tempfile.gettempdir()) / "optadvisor_group_folds"


def _fold_ruleset(dataset: Dataset, measurements: Measurements, family: str) -> RuleSet:
    """The rule set fitted without ``family`` (kept in FOLDS, keyed by the data's hashes, for reruns)."""
    hashes = sources()
    cached = FOLDS / f"{family}-{hashes[0][:12]}-{hashes[1][:12]}.json"
    if cached.exists():
        evidence = Evidence.model_validate_json(cached.read_text())
    else:
        inner = [task for task in dataset.tasks.values() if task.family != family]
        evidence, _ = fit(inner, measurements, provenance(hashes, [family]), packaged_rules())
        FOLDS.mkdir(parents=True, exist_ok=True)
        cached.write_text(evidence.model_dump_json())
    return parse_ruleset(packaged_rules(), evidence)


def _value(task: TaskOutcomes, value: float | None, seed_index: int) -> float:
    return scoring.worst_value(task, seed_index) if value is None else value


def evaluate(families: Sequence[str], budgets: Sequence[int] = BUDGETS) -> dict[str, Any]:
    dataset = read_outcomes()
    measurements = Measurements(dataset, read_captures())
    cells: list[Cell] = []
    checks: list[dict[str, Any]] = []
    started = time.perf_counter()
    for family in families:
        ruleset = _fold_ruleset(dataset, measurements, family)
        print(f"{family}: fold fitted ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        for outcomes in (t for t in dataset.tasks.values() if t.family == family):
            task = task_named(outcomes.name)
            names = [name for name, _ in task.build(0).named_parameters()]
            for seed_index, seed in enumerate(dataset.seeds):
                report = measurements.report(outcomes.name, seed, "capture")
                answers, whole_plans = {}, {}
                runs: list[GroupRun] = []
                per_group_runs: dict[int, list[int]] = {}
                for budget in budgets:
                    request = RecommendationRequest(profile=declared(outcomes, budget), framework="torch")
                    answer = recommend(request, ruleset, report)
                    whole = [
                        run.configuration
                        for run in recommend_whole_model(request, ruleset, report).tuning_plan
                        if run.configuration is not None
                    ]
                    answers[budget], whole_plans[budget] = answer, whole
                    if answer.advice_scope != "per_group":
                        continue
                    indices = []
                    for plan_run in answer.tuning_plan:
                        assert plan_run.groups is not None
                        pairs = [(group.parameters, group.configuration) for group in plan_run.groups]
                        run = run_of(pairs, names, whole[0])
                        if run not in runs:
                            runs.append(run)
                        indices.append(runs.index(run))
                    per_group_runs[budget] = indices
                # A check of this trainer against the committed outcomes: every group at the whole-model
                # configuration, trained beside the per-group runs.
                check_key = whole_plans[budgets[0]][0]
                if runs:
                    runs.append(run_of([], names, check_key))
                values = train_group_runs(task, runs, seed) if runs else []
                if runs:
                    checks.append(
                        {
                            "task": outcomes.name,
                            "seed": seed,
                            "configuration": check_key,
                            "committed": scoring.metric(outcomes, check_key, seed_index),
                            "retrained": _value(outcomes, values[-1], seed_index),
                        }
                    )
                for budget, answer in answers.items():
                    single = scoring.plan_value(outcomes, whole_plans[budget], seed_index)
                    tuned = min(scoring.tuned(outcomes, method, budget, seed_index) for method in SIX)
                    per_group = None
                    if budget in per_group_runs:
                        per_group = min(
                            _value(outcomes, values[i], seed_index) for i in per_group_runs[budget]
                        )
                    cells.append(
                        Cell(
                            family=family,
                            task=outcomes.name,
                            seed=seed,
                            budget=budget,
                            scope=answer.advice_scope,
                            groups=len(answer.groups or []),
                            per_group=per_group,
                            single_advice=single,
                            best_single_tuned=tuned,
                            scale=scoring.scale(outcomes, seed_index, min(single, tuned)),
                        )
                    )
            print(f"  {outcomes.name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return summarise(cells, checks, families, time.perf_counter() - started)


def summarise(
    cells: Sequence[Cell], checks: Sequence[dict[str, Any]], families: Sequence[str], seconds: float
) -> dict[str, Any]:
    def block(selected: Sequence[Cell]) -> dict[str, Any]:
        grouped = [cell for cell in selected if cell.per_group is not None]
        beats = [
            cell for cell in grouped if cell.per_group is not None and cell.per_group < cell.best_single_tuned
        ]
        margins = sorted(
            cell.margin(cell.per_group, cell.best_single_tuned)
            for cell in grouped
            if cell.per_group is not None
        )
        against_advice = [
            cell.margin(cell.per_group, cell.single_advice) for cell in grouped if cell.per_group is not None
        ]
        relative = [
            (cell.per_group - cell.single_advice) / abs(cell.single_advice)
            for cell in grouped
            if cell.per_group is not None and cell.single_advice != 0
        ]
        return {
            "cells": len(selected),
            "per_group_cells": len(grouped),
            "whole_model_cells": len(selected) - len(grouped),
            "per_group_beats_best_single_tuned": len(beats),
            "share_beating": round(len(beats) / len(grouped), 4) if grouped else None,
            "margin_vs_best_single_tuned_median": round(margins[len(margins) // 2], 4) if margins else None,
            "margin_vs_best_single_tuned_min_max": [round(margins[0], 4), round(margins[-1], 4)]
            if margins
            else None,
            "per_group_beats_single_advice": sum(m > 0 for m in against_advice),
            "final_loss_vs_single_advice_within_2_percent": sum(abs(r) <= 0.02 for r in relative),
            "final_loss_vs_single_advice_relative": [round(r, 4) for r in relative],
        }

    budgets = sorted({c.budget for c in cells})
    by = {
        f"{kind}:budget{budget}": block([c for c in cells if c.family in group and c.budget == budget])
        for kind, group in (("mixed", MIXED), ("alike", ALIKE), ("all", tuple(families)))
        for budget in budgets
    }
    by |= {
        f"{family}:budget{budget}": block([c for c in cells if c.family == family and c.budget == budget])
        for family in families
        for budget in budgets
    }
    return {
        "command": "PYTHONPATH=. python -m benchmarks.evidence.groups",
        "families": list(families),
        "seconds": round(seconds, 1),
        "summary": by,
        "trainer_check": list(checks),
        "cells": [cell.__dict__ for cell in cells],
    }


def main() -> None:
    """`python -m benchmarks.evidence.groups [FAMILY ...]`; `--summary` rewrites the summary of the
    results file from its cells."""
    if sys.argv[1:] == ["--summary"]:
        saved = json.loads(RESULTS.read_text())
        cells = [Cell(**cell) for cell in saved["cells"]]
        result = summarise(cells, saved["trainer_check"], saved["families"], saved["seconds"])
        RESULTS.write_text(json.dumps(result, indent=1) + "\n")
        print(json.dumps(result["summary"], indent=1))
        return
    families = sys.argv[1:] or [*MIXED, *ALIKE]
    torch.set_num_threads(1)
    result = evaluate(families)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["summary"], indent=1))


if __name__ == "__main__":
    main()
