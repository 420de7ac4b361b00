"""The evidence pipeline end to end: a smoke generation, the committed fit reproduced from the committed
dataset, a held-out fold of the committed dataset, and the READMEs' tables matching the results file."""

import json
from pathlib import Path

import pytest

from benchmarks.evidence import report
from benchmarks.evidence.dataset import read_captures, read_outcomes
from benchmarks.evidence.fit import EVIDENCE_PATH, fit_all
from benchmarks.evidence.generate import generate
from benchmarks.evidence.validate import validate
from optadvisor.rules.grid import grid

SMOKE_TASKS = (
    "tabular_mlp/wine-n0.15-w32d2-b8-s300",
    "drifting_regression/walk0.02-linear-d20-n0.3-b16-s1000",
)


def test_a_smoke_generation_writes_every_configuration_and_capture(tmp_path: Path) -> None:
    outcomes, captures = tmp_path / "outcomes.json.gz", tmp_path / "captures.npz"
    dataset = generate(SMOKE_TASKS, steps=4, workers=1, outcomes_path=outcomes, captures_path=captures)
    assert dataset is not None
    read = read_outcomes(outcomes)
    for name in SMOKE_TASKS:
        task = read.tasks[name]
        assert task.outcomes == dataset.tasks[name].outcomes
        assert {point.key for point in grid()} <= set(task.outcomes)
        assert all(len(values) == 2 for values in task.outcomes.values())
        assert task.steps == 4 and len(task.initial) == 2
    stored = read_captures(captures)
    assert {key[0] for key in stored} == set(SMOKE_TASKS)
    assert all(len(sample["values"]) == 32 for samples in stored.values() for sample in samples.values())


@pytest.mark.slow
def test_a_refit_from_the_committed_dataset_reproduces_the_committed_evidence(tmp_path: Path) -> None:
    refit = tmp_path / "evidence.json"
    fit_all(refit)
    assert refit.read_text() == EVIDENCE_PATH.read_text()


@pytest.mark.slow
def test_a_held_out_fold_of_the_committed_dataset_is_scored() -> None:
    dataset = read_outcomes()
    family = sorted(dataset.families())[0]
    result = validate(dataset, read_captures(), families=[family], budgets=(1,))
    rows = {(row["strategy"], row["candidates"]): row for row in result["overall"]}
    expected = len(dataset.families()[family]) * len(dataset.seeds)
    assert rows[("advice:capture", "four")]["cells"] == expected
    assert result["folds"][family]["neighbours"] >= 1


def test_the_readmes_tables_are_generated_from_the_committed_results() -> None:
    results = json.loads(report.RESULTS.read_text())
    for document in report.DOCUMENTS:
        text = document.read_text()
        assert "<!-- evidence:four -->" in text or document.name != "README.md"
        assert report.render(text, results) == text, f"{document}: run python -m benchmarks.evidence report"
