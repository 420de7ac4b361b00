"""Markdown tables from the validation results, written into the READMEs between markers.

``python -m benchmarks.evidence report`` rewrites the blocks between ``<!-- evidence:NAME -->`` and
``<!-- /evidence:NAME -->`` in README.md and benchmarks/README.md from
``benchmarks/results/evidence_validation.json``; a test checks they agree, so no figure is copied by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.evidence.validate import RESULTS_DIR

ROOT = Path(__file__).resolve().parents[2]
RESULTS = RESULTS_DIR / "evidence_validation.json"
DOCUMENTS = (ROOT / "README.md", ROOT / "benchmarks" / "README.md")

_LABELS = {
    "advice:capture": "advice, sent what the capture helper sends",
    "advice:arrays": "advice, sent the gradient arrays only",
    "advice:declared": "advice, sent the declared profile only",
    "previous:capture": "previous rule set, capture helper's figures",
    "previous:arrays": "previous rule set, arrays only",
    "previous:declared": "previous rule set, declared profile only",
    "portfolio": "best fixed portfolio (greedy on the training families)",
    "sequential:capture": "ask/tell, sent what the capture helper sends",
    "sequential:arrays": "ask/tell, sent the gradient arrays only",
    "sequential:declared": "ask/tell, sent the declared profile only",
}


def _label(strategy: str) -> str:
    if strategy.startswith("default:"):
        return f"{strategy.split(':')[1]} at its torch defaults, every time"
    return _LABELS.get(strategy, strategy)


def _cell(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "—"
    return f"{row['within_share']:.0%} ({row['within']}/{row['cells']}), {row['mean_rank']:.2f}"


def _rows(results: Mapping[str, Any], candidates: str) -> dict[str, dict[int, Mapping[str, Any]]]:
    table: dict[str, dict[int, Mapping[str, Any]]] = {}
    for row in results["overall"]:
        if row["candidates"] == candidates:
            table.setdefault(row["strategy"], {})[row["budget"]] = row
    return table


def _order(strategy: str) -> tuple[int, str]:
    rank = ("advice:", "sequential:", "portfolio", "previous:", "default:")
    return next(index for index, prefix in enumerate(rank) if strategy.startswith(prefix)), strategy


def overall_table(results: Mapping[str, Any], candidates: str, budgets: Sequence[int] = (1, 4, 16)) -> str:
    """Held-out share of cells within 5% of the best baseline, and mean rank, per strategy and budget."""
    rows = _rows(results, candidates)
    header = "| strategy | " + " | ".join(f"budget {b}: within 5%, mean rank" for b in budgets) + " |"
    lines = [header, "|---|" + "---:|" * len(budgets)]
    for strategy in sorted(rows, key=_order):
        cells = " | ".join(_cell(rows[strategy].get(budget)) for budget in budgets)
        lines.append(f"| {_label(strategy)} | {cells} |")
    return "\n".join(lines)


def family_table(results: Mapping[str, Any], candidates: str = "four") -> str:
    """Per held-out family: the advice (capture) against the portfolio, at budgets 1 and 4."""
    found: dict[tuple[str, str, int], Mapping[str, Any]] = {
        (row["family"], row["strategy"], row["budget"]): row
        for row in results["by_family"]
        if row["candidates"] == candidates
    }
    lines = [
        "| held-out family | advice, budget 1 | portfolio, budget 1 | advice, budget 4 "
        "| portfolio, budget 4 |",
        "|---|---:|---:|---:|---:|",
    ]
    for family in results["families"]:
        cells = [
            _cell(found.get((family, strategy, budget)))
            for budget in (1, 4)
            for strategy in ("advice:capture", "portfolio")
        ]
        lines.append(f"| {family} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _points(advice: Mapping[str, Any], rival: Mapping[str, Any]) -> float:
    return 100.0 * (float(advice["within_share"]) - float(rival["within_share"]))


def margins(results: Mapping[str, Any], candidates: str = "four") -> str:
    """The advice's margins (share within 5%) over each kind of rival at budgets 1 and 4, and where the
    issue's bar stands: above every constant strategy and the previous rule set (must); at least 80%
    within, mean rank at most 1.5 and 10 points above the fixed portfolio (goal)."""
    rows = _rows(results, candidates)
    lines = [
        "| budget | advice | best constant | previous rule set | fixed portfolio | must | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for budget in (1, 4):
        advice = rows["advice:capture"][budget]
        constants = {s: r[budget] for s, r in rows.items() if s.startswith("default:")}
        best = max(constants, key=lambda strategy: constants[strategy]["within_share"])
        previous, portfolio = rows["previous:capture"][budget], rows["portfolio"][budget]
        must = min(_points(advice, constants[best]), _points(advice, previous)) > 0
        goal = (
            advice["within_share"] >= 0.8 and advice["mean_rank"] <= 1.5 and _points(advice, portfolio) >= 10
        )
        cells = [
            f"{best.split(':')[1]} defaults {constants[best]['within_share']:.0%} "
            f"({_points(advice, constants[best]):+.0f} points)",
            f"{previous['within_share']:.0%} ({_points(advice, previous):+.0f})",
            f"{portfolio['within_share']:.0%} ({_points(advice, portfolio):+.0f})",
            "met" if must else "**not met**",
            "met" if goal else "**not met**",
        ]
        lines.append(f"| {budget} | {_cell(advice)} | {' | '.join(cells)} |")
    return "\n".join(lines)


def corpus_table(results: Mapping[str, Any]) -> str:
    """The corpus: per family, its tasks, run lengths, batch sizes, declared model family and metric."""
    corpus = results["corpus"]
    lines = [
        "| family | tasks | steps | batch sizes | declared as | metric | grid seconds |",
        "|---|---:|---|---|---|---|---:|",
    ]
    for family, facts in corpus["families"].items():
        low, high = facts["steps"]
        lines.append(
            f"| {family} | {facts['tasks']} | {low}–{high} | {', '.join(map(str, facts['batch_sizes']))} "
            f"| {', '.join(facts['declared_families'])} | {'; '.join(facts['metrics'])} "
            f"| {facts['seconds']:.0f} |"
        )
    lines.append(
        f"\n{len(corpus['families'])} families, {corpus['tasks']} tasks, {corpus['runs']:,} training runs."
    )
    return "\n".join(lines)


def provenance(results: Mapping[str, Any]) -> str:
    made = results["corpus"]["provenance"]
    return (
        f"The committed dataset: `{made['command']}` took {made['seconds'] / 60:.0f} minutes on "
        f"{made['machine']} with {made['workers']} workers (torch {made['torch']}); captures: "
        f"{made['capture']['steps']} steps, at most {made['capture']['max_total_values']:,} values each, "
        f"{made['capture']['optimizer']}."
    )


def in_sample(results: Mapping[str, Any]) -> str:
    """The advice fitted on every task and scored on those same tasks: fit, not generalisation."""
    rows = {(row["candidates"], row["budget"]): row for row in results.get("in_sample", [])}
    cells = "; ".join(
        f"{label} candidates, budget {budget}: {_cell(rows.get((label, budget)))}"
        for label in ("four", "six")
        for budget in (1, 4, 16)
    )
    return f"**In-sample** (fitted on every task, scored on the same tasks; this measures fit): {cells}."


def sequential_table(results: Mapping[str, Any]) -> str:
    """Ask/tell against the static plan, cell by cell, per mode, candidate set and budget."""
    lines = [
        "| sent | candidates | budget | cells | mean gap, static plan | mean gap, ask/tell "
        "| ask/tell as good or better | strictly better |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results.get("sequential", []):
        lines.append(
            f"| {row['mode']} | {row['candidates']} | {row['budget']} | {row['cells']} "
            f"| {row['mean_gap_static']:.1%} | {row['mean_gap_sequential']:.1%} "
            f"| {row['not_worse_share']:.0%} | {row['better_share']:.0%} |"
        )
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "four": lambda results: overall_table(results, "four"),
    "six": lambda results: overall_table(results, "six"),
    "families": family_table,
    "margins": margins,
    "corpus": corpus_table,
    "provenance": provenance,
    "insample": in_sample,
    "sequential": sequential_table,
}


def render(text: str, results: Mapping[str, Any]) -> str:
    """``text`` with every evidence block regenerated from ``results``."""

    def block(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"<!-- evidence:{name} -->\n{BLOCKS[name](results)}\n<!-- /evidence:{name} -->"

    return re.sub(r"<!-- evidence:(\w+) -->.*?<!-- /evidence:\1 -->", block, text, flags=re.DOTALL)


def write_reports(results_path: Path = RESULTS, documents: Sequence[Path] = DOCUMENTS) -> None:
    results = json.loads(results_path.read_text())
    for document in documents:
        document.write_text(render(document.read_text(), results))
