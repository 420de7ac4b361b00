"""Scoring, the search space and the protocol, with an advisor that does not need the service."""

import json
import math
from pathlib import Path

import pytest
import torch

from benchmarks.quality.harness import (
    ADAM_DEFAULTS,
    Advice,
    BenchmarkPlan,
    collect_advice,
    fresh_seed_tasks,
    recommendation_tasks,
    score_cells,
    score_on_fresh_seeds,
)
from benchmarks.quality.problem import Problem
from benchmarks.quality.report import markdown, plot_curves, to_json, write_json
from benchmarks.quality.runner import RunOutcome, RunTask, downsample, run_task, run_tasks
from benchmarks.quality.scoring import rank_among, relative_gap, standing
from benchmarks.quality.search_space import (
    LEARNING_RATE_RANGES,
    METHODS,
    Config,
    build_optimizer,
    random_search,
)

BESTS = {"adagrad": 0.50, "rmsprop": 0.40, "adadelta": 0.60, "adam": 0.41, "adamw": 0.45, "sgd": 0.70}


def test_rank_counts_the_methods_strictly_better() -> None:
    assert rank_among(0.39, BESTS) == 1
    assert rank_among(0.40, BESTS) == 1
    assert rank_among(0.42, BESTS) == 3
    assert rank_among(math.inf, BESTS) == 7


def test_gap_is_relative_to_the_best_candidate() -> None:
    assert relative_gap(0.42, 0.40) == pytest.approx(0.05)
    assert relative_gap(0.38, 0.40) == pytest.approx(-0.05)
    assert relative_gap(math.inf, 0.40) == math.inf
    assert standing(0.419, BESTS).within
    assert not standing(0.421, BESTS).within


def test_random_search_is_seeded_log_uniform_and_nested() -> None:
    for method in METHODS:
        long_search = random_search(method, 16, seed=5)
        low, high = LEARNING_RATE_RANGES[method]
        rates = [dict(config.kwargs)["lr"] for config in long_search]
        assert all(low <= rate <= high for rate in rates)
        assert random_search(method, 4, seed=5) == long_search[:4]
        assert random_search(method, 16, seed=6) != long_search


def test_configs_map_to_torch_classes_and_bad_kwargs_are_refused() -> None:
    parameters = [torch.nn.Parameter(torch.zeros(3))]
    config = Config.of("adam", {"lr": 0.01, "betas": [0.8, 0.99]})
    optimizer = build_optimizer(config, parameters)
    assert isinstance(optimizer, torch.optim.Adam)
    assert optimizer.defaults["betas"] == (0.8, 0.99)
    with pytest.raises(TypeError):
        build_optimizer(Config.of("sgd", {"learning_rate": 0.1}), parameters)
    with pytest.raises(ValueError, match="Unknown optimizer method"):
        Config.of("lion")


def test_a_config_torch_rejects_scores_inf_with_the_reason() -> None:
    outcome = run_task(RunTask("digits_mlp", Config.of("rmsprop", {"lr": -1.0}), seed=0, steps=3))
    assert math.isinf(outcome.final_metric)
    assert outcome.error is not None and "learning rate" in outcome.error


def test_downsample_keeps_the_mean_and_caps_the_length() -> None:
    curve = [float(value) for value in range(1000)]
    points = downsample(curve, 100)
    assert len(points) == 100
    assert sum(points) / 100 == pytest.approx(sum(curve) / 1000)
    assert downsample(curve[:5], 100) == tuple(curve[:5])


class FixedAdvisor:
    """Recommends an Adam learning-rate sweep, with one entry beyond any budget that torch would refuse."""

    def advise(self, problem: Problem, seed: int, steps: int, budget: int) -> Advice:
        sweep = tuple(Config.of("adam", {"lr": rate}) for rate in (1e-2, 3e-3, 3e-2, 1e-3)[:budget])
        return Advice("adam", (*sweep, Config.of("adam", {"x": 1})))


def test_protocol_scores_every_cell_and_writes_the_outputs(tmp_path: Path) -> None:
    plan = BenchmarkPlan.full(["digits_mlp", "drifting_regression"], seeds=(0,), budgets=(1, 2), max_steps=6)
    advice = collect_advice(plan, FixedAdvisor())
    tasks = plan.baseline_tasks() + recommendation_tasks(plan, advice)
    outcomes = run_tasks(tasks, workers=1)
    cells = score_cells(plan, advice, outcomes)

    assert {(cell.problem, cell.budget) for cell in cells} == {
        (problem, budget) for problem in plan.problems for budget in (1, 2)
    }
    for cell in cells:
        assert len(cell.plan_outcomes) <= cell.budget
        assert all(outcome.error is None for _, outcome in cell.plan_outcomes)
        assert cell.recommendation.value == min(outcome.final_metric for _, outcome in cell.plan_outcomes)
        assert cell.method_bests[cell.best_method] == min(cell.method_bests.values())
        assert cell.adam_defaults.value == cell.torch_defaults["adam"]
        assert 1 <= cell.recommendation.rank <= 7

    document = to_json(plan, cells, settings={"smoke": True}, timing={})
    write_json(document, tmp_path / "quality.json")
    reloaded = json.loads((tmp_path / "quality.json").read_text())
    assert reloaded["summary"]["cells"] == 4
    assert len(reloaded["cells"]) == 4
    table = markdown(cells)
    assert table.count("| digits_mlp |") == 2
    plot_curves(plan, cells, outcomes, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_fresh_seeds_must_differ_from_the_seeds_configs_are_chosen_on() -> None:
    with pytest.raises(ValueError, match=r"\[1\] are both"):
        BenchmarkPlan.full(["digits_mlp"], seeds=(0, 1), fresh_seeds=(1, 2))


def test_fresh_seeds_score_each_kept_config_on_its_mean_over_new_seeds(tmp_path: Path) -> None:
    plan = BenchmarkPlan.full(["digits_mlp"], seeds=(0,), budgets=(2,), max_steps=4, fresh_seeds=(7, 8))
    advice = collect_advice(plan, FixedAdvisor())
    cells = score_cells(
        plan, advice, run_tasks(plan.baseline_tasks() + recommendation_tasks(plan, advice), 1)
    )
    [cell] = cells
    kept = cell.recommendation_config
    assert kept is not None
    tasks = fresh_seed_tasks(plan, cells)
    assert {task.seed for task in tasks} == {7, 8}
    assert {task.config for task in tasks} == {
        *cell.method_best_configs.values(),
        kept,
        ADAM_DEFAULTS,
        cell.best_torch_default_config,
    }

    # Scores made up per (config, seed): each method's best scores 1 and 3 (mean 2); the kept plan entry
    # 1.9 and 2.0; Adam's defaults diverge on one seed.
    def outcome(task: RunTask) -> RunOutcome:
        if task.config == kept:
            value = 1.9 if task.seed == 7 else 2.0
        elif task.config == ADAM_DEFAULTS:
            value = math.inf if task.seed == 8 else 0.1
        else:
            value = 1.0 if task.seed == 7 else 3.0
        return RunOutcome(value, (), 0.0)

    [rescored] = score_on_fresh_seeds(plan, cells, {task: outcome(task) for task in tasks})
    assert rescored.fresh is not None
    assert rescored.recommendation == cell.recommendation  # the selection-run scores are kept
    assert rescored.fresh.method_means == dict.fromkeys(METHODS, 2.0)
    assert rescored.fresh.recommendation.value == pytest.approx(1.95)
    assert rescored.fresh.recommendation.rank == 1
    assert rescored.fresh.recommendation.gap == pytest.approx(-0.025)
    assert rescored.fresh.adam_defaults.value == math.inf
    assert not rescored.fresh.adam_defaults.within

    document = to_json(plan, [rescored], settings={}, timing={})
    assert document["settings"]["fresh_seeds"] == [7, 8]
    summary = document["summary"]["fresh_seeds"]
    assert summary["seeds"] == [7, 8]
    assert summary["recommendation"] == {"within_5_percent": 1.0, "mean_rank": 1.0}
    assert summary["adam_defaults"]["within_5_percent"] == 0.0
    assert document["cells"][0]["fresh_seeds"]["recommendation_config"] == kept.as_dict()
    write_json(document, tmp_path / "quality.json")  # the diverged mean is written as null, not Infinity
    assert "On fresh seeds" in markdown([rescored])
    assert "On fresh seeds" not in markdown(cells)


def test_without_fresh_seeds_the_cells_are_not_rescored() -> None:
    plan = BenchmarkPlan.full(["digits_mlp"], seeds=(0,), budgets=(1,), max_steps=2)
    advice = collect_advice(plan, FixedAdvisor())
    cells = score_cells(
        plan, advice, run_tasks(plan.baseline_tasks() + recommendation_tasks(plan, advice), 1)
    )
    assert fresh_seed_tasks(plan, cells) == []
    assert score_on_fresh_seeds(plan, cells, {}) == cells
    assert "fresh_seeds" not in to_json(plan, cells, settings={}, timing={})["summary"]
