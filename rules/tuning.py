"""The tuning plan: at most `budget` runs, best first.

Order: the estimate itself; a log-spaced sweep of the learning rate around it, coarse points first
(`lr_sweep_decades`, each tried below then above; only above when the estimate is the framework default
standing in as a floor); the method's second hyperparameter; then the
runner-up method, and a sweep around it if budget remains.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from rules.canonical import Setting
from rules.frameworks import framework_kwargs
from rules.hyperparameters import significant
from rules.recommendation import TuningRun
from rules.request import Framework, Method
from rules.ruleset import Estimators


@dataclass(frozen=True)
class PlannedMethod:
    """A method, its estimated torch-form hyperparameters, and whether its lr is only a lower bound."""

    method: Method
    settings: dict[str, Setting]
    lr_is_floor: bool = False


def _sweep(planned: PlannedMethod, constants: Estimators) -> Iterator[dict[str, Setting]]:
    centre = float(planned.settings["lr"])
    # Below a floor a method only stalls: a floored estimate is searched upwards only.
    directions = (1.0,) if planned.lr_is_floor else (-1.0, 1.0)
    for decades in constants.lr_sweep_decades:
        for direction in directions:
            yield {**planned.settings, "lr": significant(centre * 10.0 ** (direction * decades))}


def _second(planned: PlannedMethod, constants: Estimators) -> list[dict[str, Setting]]:
    second = constants.second_hyperparameter.get(planned.method)
    if second is None:
        return []
    return [
        {**planned.settings, second.name: value}
        for value in second.values
        if value != planned.settings.get(second.name)
    ]


def tuning_plan(
    best: PlannedMethod,
    runner_up: PlannedMethod | None,
    budget: int,
    framework: Framework,
    constants: Estimators,
) -> list[TuningRun]:
    """Runs in the requested framework's names, never more than `budget`."""
    runner_slots = 1 if runner_up is not None and budget >= 4 else 0
    seconds = _second(best, constants)
    second_slots = min(len(seconds), max(0, budget - 1 - runner_slots - 2))
    sweep = list(_sweep(best, constants))[: max(0, budget - 1 - runner_slots - second_slots)]
    runs: list[tuple[Method, dict[str, Setting]]] = [(best.method, best.settings)]
    runs += [(best.method, settings) for settings in sweep]
    runs += [(best.method, settings) for settings in seconds[:second_slots]]
    if runner_up is not None and runner_slots:
        runs.append((runner_up.method, runner_up.settings))
        runs += [(runner_up.method, settings) for settings in _sweep(runner_up, constants)]
    return [
        TuningRun(method=method, kwargs=framework_kwargs(method, framework, settings))
        for method, settings in runs[:budget]
    ]
