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


def margins(results: Mapping[str, Any], candidates: str = "four") -> str:
    """The advice's margin over the best other strategy (share within 5%), at budgets 1 and 4."""
    rows = _rows(results, candidates)
    parts = []
    for budget in (1, 4):
        advice = rows["advice:capture"][budget]["within_share"]
        others = {
            s: r[budget]["within_share"]
            for s, r in rows.items()
            if not s.startswith("advice") and budget in r
        }
        best = max(others, key=lambda strategy: others[strategy])
        parts.append(
            f"budget {budget}: advice {advice:.0%}, best other strategy {_label(best)} {others[best]:.0%}, "
            f"margin {100 * (advice - others[best]):+.0f} points"
        )
    return "; ".join(parts) + "."


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
