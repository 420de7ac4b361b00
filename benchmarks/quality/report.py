"""Summaries of the scored cells: JSON for machines, a markdown table for the README, a PNG of curves."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.quality.harness import ADAM_DEFAULTS, BenchmarkPlan, Cell
from benchmarks.quality.problems import PROBLEMS
from benchmarks.quality.runner import RunOutcome, RunTask
from benchmarks.quality.scoring import WITHIN, Standing
from benchmarks.quality.search_space import LEARNING_RATE_RANGES

STRATEGIES = ("recommendation", "adam_defaults", "best_torch_default")
STRATEGY_TITLES = {
    "recommendation": "Recommendation",
    "adam_defaults": "Adam defaults",
    "best_torch_default": "Best torch default",
}


def _standing(cell: Cell, strategy: str) -> Standing:
    found: Standing = getattr(cell, strategy)
    return found


def _fresh_standing(cell: Cell, strategy: str) -> Standing:
    if cell.fresh is None:
        raise ValueError(f"cell {cell.problem}/{cell.budget}/{cell.seed} has no fresh-seed scores")
    found: Standing = getattr(cell.fresh, strategy)
    return found


def _standing_json(found: Standing) -> dict[str, Any]:
    return {
        "final_metric": _finite_or_none(found.value),
        "rank": found.rank,
        "gap": _finite_or_none(found.gap),
        "within_5_percent": found.within,
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def summarise(cells: Sequence[Cell]) -> dict[str, Any]:
    """Per strategy, overall and per problem: fraction of cells within 5% of the best, and mean rank;
    the same on fresh seeds when the cells were scored there too."""

    def figures(subset: Sequence[Cell], of: Callable[[Cell, str], Standing] = _standing) -> dict[str, Any]:
        return {
            strategy: {
                "within_5_percent": sum(of(cell, strategy).within for cell in subset) / len(subset),
                "mean_rank": statistics.fmean(of(cell, strategy).rank for cell in subset),
            }
            for strategy in STRATEGIES
        }

    overall = figures(cells)
    problems = dict.fromkeys(cell.problem for cell in cells)
    fresh: dict[str, Any] = {}
    rescored = [cell.fresh for cell in cells if cell.fresh is not None]
    if rescored and len(rescored) == len(cells):
        fresh = {
            "fresh_seeds": {
                "seeds": list(rescored[0].seeds),
                **figures(cells, _fresh_standing),
                "per_problem": {
                    problem: figures([cell for cell in cells if cell.problem == problem], _fresh_standing)
                    for problem in problems
                },
            }
        }
    return {
        "cells": len(cells),
        **overall,
        "goals": {
            "recommendation_within_5_percent_in_80_percent_of_cells": overall["recommendation"][
                "within_5_percent"
            ]
            >= 0.8,
            "recommendation_mean_rank_better_than_adam_defaults": overall["recommendation"]["mean_rank"]
            < overall["adam_defaults"]["mean_rank"],
        },
        "per_problem": {
            problem: figures([cell for cell in cells if cell.problem == problem]) for problem in problems
        },
        **fresh,
    }


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {
        "problem": cell.problem,
        "budget": cell.budget,
        "seed": cell.seed,
        "recommended_method": cell.advice.method,
        "rules_version": cell.advice.response.get("rules_version"),
        "rules_fired": [entry.get("rule") for entry in cell.advice.response.get("rationale", [])],
        "measured": cell.advice.response.get("measured"),
        "plan": [
            {
                **config.as_dict(),
                "final_metric": _finite_or_none(outcome.final_metric),
                "diverged": outcome.diverged,
                "error": outcome.error,
            }
            for config, outcome in cell.plan_outcomes
        ],
        "best_method": cell.best_method,
        "method_bests": {
            method: {
                "final_metric": _finite_or_none(value),
                "config": cell.method_best_configs[method].as_dict(),
            }
            for method, value in cell.method_bests.items()
        },
        "torch_defaults": {method: _finite_or_none(value) for method, value in cell.torch_defaults.items()},
        **{strategy: _standing_json(_standing(cell, strategy)) for strategy in STRATEGIES},
        **_fresh_json(cell),
    }


def _fresh_json(cell: Cell) -> dict[str, Any]:
    if cell.fresh is None:
        return {}
    kept = cell.recommendation_config
    return {
        "fresh_seeds": {
            "seeds": list(cell.fresh.seeds),
            "recommendation_config": None if kept is None else kept.as_dict(),
            "best_torch_default_config": cell.best_torch_default_config.as_dict(),
            "method_means": {
                method: _finite_or_none(value) for method, value in cell.fresh.method_means.items()
            },
            **{strategy: _standing_json(_fresh_standing(cell, strategy)) for strategy in STRATEGIES},
        }
    }


def to_json(
    plan: BenchmarkPlan, cells: Sequence[Cell], settings: Mapping[str, Any], timing: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        "settings": {
            "problems": list(plan.problems),
            "seeds": list(plan.seeds),
            "budgets": list(plan.budgets),
            "steps": dict(plan.steps),
            "fresh_seeds": list(plan.fresh_seeds),
            **settings,
        },
        "learning_rate_ranges": {method: list(bounds) for method, bounds in LEARNING_RATE_RANGES.items()},
        "problems": {
            name: {
                "regime": PROBLEMS[name].regime,
                "metric": PROBLEMS[name].metric,
                "declared_profile": PROBLEMS[name].profile,
            }
            for name in plan.problems
        },
        "summary": summarise(cells),
        "timing": dict(timing),
        "cells": [_cell_json(cell) for cell in cells],
    }


def write_json(document: Mapping[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n", encoding="utf-8")


def _gap_text(gaps: Sequence[float]) -> str:
    median = statistics.median(gaps)
    return "diverged" if not math.isfinite(median) else f"{median * 100:+.1f}%"


def markdown(cells: Sequence[Cell]) -> str:
    """One row per (problem, budget), seeds pooled: mean rank (1 = best of 7), median gap, seeds within 5%."""
    header = [
        "| Problem | Budget | Recommended | Best method | "
        + " | ".join(f"{STRATEGY_TITLES[s]}: rank / gap / ≤5%" for s in STRATEGIES)
        + " |",
        "|---|---:|---|---|" + "---|" * len(STRATEGIES),
    ]
    rows = []
    groups: dict[tuple[str, int], list[Cell]] = {}
    for cell in cells:
        groups.setdefault((cell.problem, cell.budget), []).append(cell)
    for (problem, budget), group in groups.items():
        recommended = ", ".join(sorted({cell.advice.method for cell in group}))
        best = ", ".join(sorted({cell.best_method for cell in group}))
        columns = []
        for strategy in STRATEGIES:
            standings = [_standing(cell, strategy) for cell in group]
            mean_rank = statistics.fmean(s.rank for s in standings)
            within = sum(s.within for s in standings)
            columns.append(
                f"{mean_rank:.1f} / {_gap_text([s.gap for s in standings])} / {within}/{len(group)}"
            )
        rows.append(f"| {problem} | {budget} | {recommended} | {best} | " + " | ".join(columns) + " |")
    summary = summarise(cells)
    fresh = summary.get("fresh_seeds")
    totals = [
        "",
        f"Over {summary['cells']} cells (problem × budget × seed); rank 1 = better than or equal to every "
        "candidate method's random search of the same budget, 7 = worse than all six; gap = relative "
        f"final-metric gap to the best candidate (median over seeds); ≤{WITHIN:.0%} = seeds within "
        f"{WITHIN:.0%} of the best.",
        "",
        "| Strategy | Cells within 5% of best | Mean rank |"
        + (" On fresh seeds: within 5% | Mean rank |" if fresh else ""),
        "|---|---:|---:|" + ("---:|---:|" if fresh else ""),
        *(
            f"| {STRATEGY_TITLES[s]} | {summary[s]['within_5_percent']:.0%} | {summary[s]['mean_rank']:.2f} |"
            + (f" {fresh[s]['within_5_percent']:.0%} | {fresh[s]['mean_rank']:.2f} |" if fresh else "")
            for s in STRATEGIES
        ),
    ]
    if fresh:
        totals += [
            "",
            f"On fresh seeds: each strategy's kept config (its best-scoring run) trained again on seeds "
            f"{', '.join(map(str, fresh['seeds']))}, which no choice was made on; a cell is scored on the "
            "means.",
        ]
    return "\n".join(header + rows + totals) + "\n"


def plot_curves(
    plan: BenchmarkPlan, cells: Sequence[Cell], outcomes: Mapping[RunTask, RunOutcome], path: Path
) -> None:
    """Per problem (first seed, largest budget): each method's best, the recommendation, Adam defaults."""
    budget, seed = max(plan.budgets), plan.seeds[0]
    chosen = {cell.problem: cell for cell in cells if cell.budget == budget and cell.seed == seed}
    columns = min(4, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False)
    for axis, (problem, cell) in zip(axes.flat, chosen.items(), strict=False):
        steps = plan.steps[problem]

        def draw(outcome: RunOutcome, label: str, axis: Any = axis, steps: int = steps, **style: Any) -> None:
            if outcome.curve:
                x = [steps * (index + 0.5) / len(outcome.curve) for index in range(len(outcome.curve))]
                axis.plot(x, outcome.curve, label=label, **style)

        for method, config in cell.method_best_configs.items():
            draw(outcomes[plan.task(problem, config, seed)], f"{method} (best of {budget})", linewidth=0.9)
        draw(outcomes[plan.task(problem, ADAM_DEFAULTS, seed)], "adam defaults", color="grey", linestyle="--")
        if cell.recommendation_run is not None:
            config, outcome = cell.recommendation_run
            draw(outcome, f"recommended: {config.method}", color="black", linewidth=2.0)
        # A diverging run's spike would flatten every other curve: cap the axis at 1.5x the starting level.
        starts = [float(line.get_ydata()[0]) for line in axis.get_lines()]
        finite_starts = [value for value in starts if math.isfinite(value)]
        if finite_starts:
            axis.set_ylim(bottom=0.0, top=1.5 * max(finite_starts))
        axis.set_title(f"{problem}", fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.set_ylabel("training curve (lower is better)", fontsize=7)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=6)
    for axis in list(axes.flat)[len(chosen) :]:
        axis.set_visible(False)
    figure.suptitle(f"Training curves (seed {seed}, tuning budget {budget})", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
