"""The scoring and the leave-one-family-out validation, on a small synthetic dataset."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from benchmarks.evidence import fit as fit_module
from benchmarks.evidence import scoring, validate
from benchmarks.evidence.dataset import Dataset, Samples, TaskOutcomes
from optadvisor.rules.grid import default_point, grid

SEEDS = (0, 1)


def synthetic_task(name: str, family: str, best: str, rng: np.random.Generator) -> TaskOutcomes:
    """Random metrics around 1.0, with `best` clearly best and one diverged run."""
    outcomes: dict[str, tuple[float | None, ...]] = {
        point.key: tuple(float(1.0 + rng.uniform(0.1, 0.5)) for _ in SEEDS) for point in grid()
    }
    outcomes[best] = (1.0, 1.0)
    outcomes["sgd:+6:0"] = (None, None)
    return TaskOutcomes(
        name=name,
        family=family,
        steps=500,
        batch_size=8,
        metric="loss",
        gap_basis="best",
        profile={"model_family": "mlp", "training_steps": 500},
        variant={},
        initial=(2.0, 2.0),
        outcomes=outcomes,
    )


def synthetic(families: int = 3, per_family: int = 2) -> tuple[Dataset, dict[tuple[str, int], Samples]]:
    rng = np.random.default_rng(0)
    winners = ["adam:+1:0", "rmsprop:+0:0", "adagrad:+2:0"]
    tasks = {}
    captures: dict[tuple[str, int], Samples] = {}
    for family, index in itertools.product(range(families), range(per_family)):
        name = f"f{family}/t{index}"
        tasks[name] = synthetic_task(name, f"f{family}", winners[family % len(winners)], rng)
        for seed in SEEDS:
            values = rng.normal(0.0, 0.01 * (family + 1), (8, 16))
            captures[(name, seed)] = {
                "w": {"format": "dense", "values": values.tolist(), "parameter_rms": 0.1}
            }
    dataset = Dataset(seeds=SEEDS, grid=tuple(p.key for p in grid()), tasks=tasks, provenance={})
    return dataset, captures


def test_expected_best_of_draws_matches_enumeration() -> None:
    values = [3.0, 1.0, 2.0, 5.0]
    for draws in (1, 2, 3):
        outcomes = [min(choice) for choice in itertools.product(values, repeat=draws)]
        assert scoring.expected_best_of(values, draws) == pytest.approx(np.mean(outcomes))


def test_a_diverged_run_counts_as_the_worst_value_and_budget_one_is_the_default() -> None:
    task = synthetic_task("t", "f", "adam:+1:0", np.random.default_rng(1))
    finite = [values[0] for values in task.outcomes.values() if values[0] is not None]
    assert scoring.metric(task, "sgd:+6:0", 0) == max([*finite, 2.0])
    assert scoring.tuned(task, "adam", 1, 0) == scoring.metric(task, default_point("adam").key, 0)
    assert scoring.tuned(task, "adam", 16, 0) < scoring.tuned(task, "adam", 1, 0)


def test_a_standing_is_within_five_percent_of_the_best_baseline_and_ranked_among_them() -> None:
    task = synthetic_task("t", "f", "adam:+1:0", np.random.default_rng(1))
    baselines = {"adam": 1.0, "rmsprop": 1.2, "sgd": 1.5}
    assert scoring.standing(task, 0, 1.04, baselines).within
    assert not scoring.standing(task, 0, 1.06, baselines).within
    assert scoring.standing(task, 0, 1.3, baselines).rank == 3
    assert scoring.standing(task, 0, 0.9, baselines).rank == 1


def test_regrets_are_zero_at_the_best_capped_at_one_and_averaged_over_seeds() -> None:
    task = synthetic_task("t", "f", "adam:+1:0", np.random.default_rng(2))
    regrets = dict(zip(scoring.GRID_KEYS, scoring.regrets(task), strict=True))
    assert regrets["adam:+1:0"] == 0.0
    assert regrets["sgd:+6:0"] == 1.0
    assert all(0.0 <= value <= 1.0 for value in regrets.values())


@contextmanager
def forbidding_held_out_families(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every fit the validation runs fails if it reads a task, or the capture of a task, of the family it
    is validated on."""
    folds: list[str] = []
    real_fit = validate.fit

    def guarded_fit(tasks: list[TaskOutcomes], measurements: Any, provenance: Any, rules: Any) -> Any:
        (held_out,) = provenance.held_out_families
        folds.append(held_out)
        assert all(task.family != held_out for task in tasks), f"a {held_out} task reached its own fold's fit"
        real_report = measurements.report

        def report(task: str, seed: int, mode: str) -> Any:
            assert measurements.dataset.tasks[task].family != held_out, (
                f"{task}'s capture reached its fold's fit"
            )
            return real_report(task, seed, mode)

        monkeypatch.setattr(measurements, "report", report)
        try:
            return real_fit(tasks, measurements, provenance, rules)
        finally:
            monkeypatch.setattr(measurements, "report", real_report)

    monkeypatch.setattr(validate, "fit", guarded_fit)
    yield folds


def test_no_fold_fit_sees_its_held_out_family_and_every_family_is_scored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dataset, captures = synthetic()
    monkeypatch.setattr(fit_module, "NEIGHBOUR_CHOICES", (1, 2))
    monkeypatch.setattr(fit_module, "SHRINKAGE_CHOICES", (0.0, 0.5))
    monkeypatch.setattr(validate, "previous_plans", dict)
    with forbidding_held_out_families(monkeypatch) as folds:
        result = validate.validate(dataset, captures, budgets=(1, 4))
    assert folds == ["f0", "f1", "f2"]
    cells = {(row["strategy"], row["budget"], row["candidates"]): row for row in result["overall"]}
    # 3 families x 2 tasks x 2 seeds per budget and candidate set.
    assert cells[("advice:capture", 1, "six")]["cells"] == 12
    assert {row["family"] for row in result["by_family"]} == {"f0", "f1", "f2"}
    assert ("portfolio", 4, "four") in cells and ("default:adam", 1, "six") in cells


def test_the_guard_would_catch_a_fit_that_peeks_at_its_held_out_family(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The leakage test above can fail: a fit given every task trips it."""
    dataset, captures = synthetic()
    monkeypatch.setattr(fit_module, "NEIGHBOUR_CHOICES", (1,))
    monkeypatch.setattr(fit_module, "SHRINKAGE_CHOICES", (0.0,))
    monkeypatch.setattr(validate, "previous_plans", dict)
    with forbidding_held_out_families(monkeypatch):
        guarded = validate.fit
        monkeypatch.setattr(
            validate, "fit", lambda tasks, m, p, r: guarded(list(dataset.tasks.values()), m, p, r)
        )
        with pytest.raises(AssertionError, match="reached its own fold's fit"):
            validate.validate(dataset, captures, budgets=(1,))


def test_the_sequential_mode_is_scored_beside_the_static_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    dataset, captures = synthetic()
    # The fit searches fit_module.CHOICES: two neighbour counts, no shrinkage, regret with penalty 1.
    small = tuple(fit_module.Choice(k, 0.0, "regret", 1.0, True, 0.0) for k in (1, 2))
    monkeypatch.setattr(fit_module, "CHOICES", small)
    monkeypatch.setattr(validate, "previous_plans", dict)
    result = validate.validate(dataset, captures, budgets=(1, 4))
    cells = {(row["strategy"], row["budget"], row["candidates"]): row for row in result["overall"]}
    assert ("sequential:capture", 4, "six") in cells and ("sequential:capture", 1, "six") not in cells
    compared = {(row["mode"], row["budget"], row["candidates"]): row for row in result["sequential"]}
    assert set(compared) == {(mode, 4, label) for mode in fit_module.MODES for label in ("four", "six")}
    row = compared[("capture", 4, "six")]
    assert row["cells"] == 12
    assert 0.0 <= row["better_share"] <= row["not_worse_share"] <= 1.0


def test_a_sequential_cell_starts_with_the_recommendation_and_never_repeats_a_run() -> None:
    dataset, captures = synthetic()
    measurements = fit_module.Measurements(dataset, captures)
    tasks = list(dataset.tasks.values())
    training, held_out = tasks[2:], tasks[0]
    provenance = fit_module.provenance(("", ""), held_out=["f0"])
    evidence = fit_module.evidence_of(
        training, measurements, fit_module.Choice(2, 0.0, "regret", 1.0, True, 0.0), provenance
    )
    ruleset = validate.parse_ruleset(fit_module.packaged_rules(), evidence)
    for budget in (4, 16):
        keys = validate.sequential_keys(
            ruleset, measurements, held_out, 0, mode="capture", budget=budget, candidates=fit_module.SIX
        )
        static = fit_module.advise(
            ruleset,
            measurements,
            held_out,
            SEEDS[0],
            mode="capture",
            budget=budget,
            candidates=fit_module.SIX,
        )
        assert keys[0] == static[0]
        assert len(keys) == len(set(keys)) and 1 <= len(keys) <= budget
