"""The evidence base's pieces: validation, nearest tasks, weights and the greedy plan (properties)."""

import numpy as np
import pytest
from pydantic import ValidationError

from optadvisor.rules.evidence import (
    Evidence,
    Objective,
    baseline_regret,
    expected_best_of,
    greedy_plan,
    nearest,
    preference_order,
    task_weights,
)
from tests.rules import evidence_fixture


def test_an_unknown_configuration_or_a_short_regret_row_is_refused() -> None:
    good = evidence_fixture.evidence().model_dump()
    with pytest.raises(ValidationError, match="unknown configuration"):
        Evidence.model_validate({**good, "grid": ["adam:+9:0", *good["grid"][1:]]})
    short = {**good, "tasks": [{**good["tasks"][0], "regret": good["tasks"][0]["regret"][:-1]}]}
    with pytest.raises(ValidationError, match="regrets for"):
        Evidence.model_validate(short)


def test_nearest_keeps_every_task_tied_with_the_last_one() -> None:
    evidence = evidence_fixture.evidence(neighbours=1)
    # Only the family is declared: both recurrent tasks are at distance 0.
    found = nearest(evidence, {"model_family": "rnn"})
    assert sorted(n.task.name for n in found) == ["recurrent/a", "recurrent/b"]
    assert all(n.distance == 0.0 for n in found)


def test_an_unstated_flag_counts_as_its_default_when_the_request_states_it() -> None:
    """A task nobody declared non-stationary is not as close to a declared drifting run as a drifting one."""
    evidence = evidence_fixture.evidence(neighbours=2)
    found = nearest(
        evidence, {"model_family": "linear", "declared_nonstationarity": 1.0, "log_training_steps": 3.0}
    )
    assert {n.task.name for n in found} == {"drifting/a", "drifting/b"}


@pytest.mark.parametrize("shrinkage", [0.0, 0.3, 1.0])
def test_weights_sum_to_one_and_shrinkage_spreads_them(shrinkage: float) -> None:
    evidence = evidence_fixture.evidence(neighbours=2, shrinkage=shrinkage)
    weights = task_weights(evidence, nearest(evidence, {"model_family": "mlp"}))
    assert weights.sum() == pytest.approx(1.0)
    assert weights.min() == pytest.approx(shrinkage / len(evidence.tasks))


def _random_regret(seed: int, tasks: int = 12, columns: int = 30) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (tasks, columns)) ** 3


@pytest.mark.parametrize("seed", range(5))
def test_each_run_of_a_greedy_plan_lowers_the_plan_regret_and_is_allowed(seed: int) -> None:
    regret = _random_regret(seed)
    weights = np.random.default_rng(seed + 100).dirichlet(np.ones(regret.shape[0]))
    allowed = list(range(0, regret.shape[1], 2))
    plan = greedy_plan(regret, weights, np.zeros(len(weights)), allowed, budget=8)
    assert [step.column for step in plan] == list(dict.fromkeys(step.column for step in plan))
    assert all(step.column in allowed for step in plan)
    values = [step.regret for step in plan]
    assert values == sorted(values, reverse=True)
    assert values[-1] == pytest.approx(float(weights @ regret[:, [s.column for s in plan]].min(axis=1)))
    # The first run is the single best allowed column.
    assert plan[0].regret == pytest.approx(min(float(weights @ regret[:, c]) for c in allowed))


def test_a_plan_is_the_prefix_of_a_longer_plan() -> None:
    regret = _random_regret(7)
    weights = np.full(regret.shape[0], 1 / regret.shape[0])
    allowed = list(range(regret.shape[1]))
    zero = np.zeros(len(weights))
    long = [step.column for step in greedy_plan(regret, weights, zero, allowed, budget=10)]
    for budget in (1, 4):
        assert [step.column for step in greedy_plan(regret, weights, zero, allowed, budget)] == long[:budget]


def test_a_plan_stops_when_no_run_improves_any_task_and_honours_a_forced_first() -> None:
    regret = np.array([[0.0, 0.5, 1.0], [0.0, 0.5, 1.0]])
    weights = np.array([0.5, 0.5])
    zero = np.zeros(2)
    assert [step.column for step in greedy_plan(regret, weights, zero, [0, 1, 2], budget=3)] == [0]
    forced = greedy_plan(regret, weights, zero, [0, 1, 2], budget=3, first=1)
    assert [step.column for step in forced] == [1, 0]


def test_equal_evidence_goes_to_the_configuration_nearest_the_defaults() -> None:
    evidence = evidence_fixture.evidence()
    columns = [evidence.grid.index(key) for key in ("adam:+2:1", "adam:+0:0", "adam:-1:0")]
    assert [evidence.grid[c] for c in preference_order(evidence.points, columns)] == [
        "adam:+0:0",
        "adam:-1:0",
        "adam:+2:1",
    ]
    regret = np.zeros((2, len(evidence.grid)))
    plan = greedy_plan(
        regret, np.array([0.5, 0.5]), np.zeros(2), preference_order(evidence.points, columns), budget=1
    )
    assert evidence.grid[plan[0].column] == "adam:+0:0"


def test_the_plan_aims_at_the_tuned_baselines_not_at_the_grid_best() -> None:
    """A column that matches each task's baseline everywhere beats one that is best on one task only."""
    regret = np.array([[0.0, 0.10, 0.9], [0.9, 0.10, 0.0]])
    baseline = np.array([0.1, 0.1])
    weights = np.array([0.5, 0.5])
    plan = greedy_plan(regret, weights, baseline, [0, 1, 2], budget=1, objective=Objective("regret", 4.0))
    assert plan[0].column == 1 and plan[0].shortfall == 0.0
    # Without the penalty, regret alone: column 1 (0.10 everywhere) still beats 0.45 on average.
    assert (
        greedy_plan(regret, weights, baseline, [0, 1, 2], budget=1, objective=Objective("regret", 0.0))[
            0
        ].column
        == 1
    )
    lopsided = np.array([[0.0, 0.30], [0.2, 0.30]])
    assert (
        greedy_plan(lopsided, weights, baseline, [0, 1], budget=1, objective=Objective("regret", 0.0))[
            0
        ].column
        == 0
    )
    assert (
        greedy_plan(
            lopsided, weights, np.array([0.0, 0.0]), [0, 1], budget=1, objective=Objective("regret", 4.0)
        )[0].column
        == 0
    )
    assert (
        greedy_plan(
            lopsided, weights, np.array([0.3, 0.0]), [0, 1], budget=1, objective=Objective("regret", 4.0)
        )[0].column
        == 0
    )


def test_expected_best_of_draws_and_the_baseline_per_budget() -> None:
    rows = np.array([[5.0, 3.0, 2.0, 1.0]])  # worst first
    assert expected_best_of(rows, 1)[0] == pytest.approx(2.75)
    assert expected_best_of(rows, 2)[0] == pytest.approx(
        np.mean([min(a, b) for a in rows[0] for b in rows[0]])
    )
    evidence = evidence_fixture.evidence()
    one = baseline_regret(evidence, ["adam", "rmsprop"], 1)
    # dense/a: Adam's default 0.2, RMSprop's 0.3; recurrent/a: RMSprop's default is the best (0).
    names = [task.name for task in evidence.tasks]
    assert one[names.index("dense/a")] == pytest.approx(0.2)
    assert one[names.index("recurrent/a")] == 0.0
    # More draws from a method's grid never expect worse (budget 1 is the default, not a draw).
    four, sixteen = (baseline_regret(evidence, ["adam", "rmsprop"], budget) for budget in (4, 16))
    assert np.all(sixteen <= four + 1e-12)


def test_the_within_objective_counts_tasks_reached_not_regret() -> None:
    """One column reaches both tasks' baselines within 5%; another is best on one and far off on the other."""
    regret = np.array([[0.0, 0.16], [0.2, 0.16]])  # column 0: lower mean regret (0.1 against 0.16)
    baseline = np.array([0.12, 0.12])  # within 5%: regret <= 0.12 + 0.05 x 1.12 = 0.176
    weights = np.array([0.5, 0.5])
    within = greedy_plan(regret, weights, baseline, [0, 1], budget=1, objective=Objective("within"))
    assert within[0].column == 1
    assert (
        greedy_plan(regret, weights, baseline, [0, 1], budget=1, objective=Objective("regret", 0.0))[0].column
        == 0
    )


def test_a_departure_cost_keeps_a_default_unless_the_departure_pays_for_it() -> None:
    # Column 0 is a default; column 1 is better by 0.05 on each task.
    regret = np.array([[0.10, 0.05], [0.10, 0.05]])
    weights = np.array([0.5, 0.5])
    zero = np.zeros(2)
    costs = np.array([0.0, 0.1])
    cheap = greedy_plan(regret, weights, zero, [0, 1], budget=1, objective=Objective("regret", 0.0))
    assert cheap[0].column == 1
    costly = greedy_plan(regret, weights, zero, [0, 1], budget=1, objective=Objective("regret", 0.0, costs))
    assert costly[0].column == 0
    assert costly[0].regret == pytest.approx(0.10)  # reported on the true regret, without the cost
    paying = np.array([[0.10, -0.01], [0.10, -0.01]]) + 0.01  # better by 0.11: worth its cost
    assert (
        greedy_plan(paying, weights, zero, [0, 1], budget=1, objective=Objective("regret", 0.0, costs))[
            0
        ].column
        == 1
    )


def _plain_greedy_plan(  # noqa: PLR0913  mirrors greedy_plan's options, one by one
    regret: np.ndarray,
    weights: np.ndarray,
    baseline: np.ndarray,
    allowed: list[int],
    budget: int,
    objective: Objective,
    first: int | None,
    start: np.ndarray | None,
    bonus: np.ndarray | None,
) -> list[int]:
    """The greedy plan as its docstring states it, the value of every candidate plan recomputed in full at
    every step (the form `greedy_plan` had before it kept each run's per-task cost), each column's value on
    its own: a matrix product may round two identical columns differently (BLAS kernels treat a block's
    last columns apart), which would break the tie between them that the earlier entry of `allowed` wins."""
    best = np.ones(len(weights)) if start is None else start.copy()
    judged = regret if objective.costs is None else regret + objective.costs[None, :]
    best_judged = best.copy()
    columns = list(allowed)
    plan: list[int] = []

    def value(plans: np.ndarray) -> np.ndarray:
        losses = objective.losses(plans, baseline)
        return np.array(
            [float(weights @ losses[:, j]) + 1e-6 * float(plans[:, j].mean()) for j in range(plans.shape[1])]
        )

    if first is not None:
        best_judged = np.minimum(best_judged, judged[:, first])
        plan.append(first)
        columns.remove(first)
    current = float(value(best_judged[:, None])[0])
    while len(plan) < budget and columns:
        plans = np.minimum(best_judged[:, None], judged[:, columns])
        values = value(plans)
        pick = int(np.argmin(values if bonus is None else values - bonus[columns]))
        if (plan or start is not None) and values[pick] >= current - 1e-12 / len(weights):
            break
        best_judged, current = plans[:, pick], float(values[pick])
        plan.append(columns.pop(pick))
    return plan


@pytest.mark.parametrize("seed", range(24))
def test_the_greedy_plan_is_the_plan_recomputed_in_full_at_every_step(seed: int) -> None:
    rng = np.random.default_rng(seed)
    tasks, grid = 30, 40
    # Regrets as the evidence has them: many exact ties (capped at 1, exact zeros for the best) and repeats.
    regret = np.clip(rng.uniform(-0.3, 1.4, (tasks, grid)), 0.0, 1.0).round(rng.choice([2, 6]))
    regret[:, grid - 3 :] = regret[:, :3]
    weights = rng.dirichlet(np.ones(tasks)) * 0.8 + 0.2 / tasks
    baseline = rng.uniform(0.0, 0.3, tasks)
    allowed = [int(c) for c in rng.permutation(grid)[: rng.integers(5, grid)]]
    objective = [
        Objective("regret", 4.0),
        Objective("within"),
        Objective("regret", 0.0, rng.choice([0.0, 0.05], grid)),
    ][seed % 3]
    first = allowed[1] if seed % 4 == 1 else None
    start = rng.uniform(0.0, 1.0, tasks) if seed % 4 == 2 else None
    bonus = rng.uniform(0.0, 0.01, grid) if seed % 4 == 3 else None
    budget = int(rng.integers(1, 17))
    found = greedy_plan(
        regret, weights, baseline, allowed, budget, objective=objective, first=first, start=start, bonus=bonus
    )
    expected = _plain_greedy_plan(regret, weights, baseline, allowed, budget, objective, first, start, bonus)
    assert [step.column for step in found] == expected
