"""The tuning plan: at most `budget` runs, best first.

Runs are taken in this order of priority until the budget is spent: the recommendation's estimate and
the first two points of its coarse sweep (`lr_sweep_decades`, each distance below then above; only
above when the estimate is the framework default standing in as a floor); the runner-up method's
estimate; the recommendation's second hyperparameter; the rest of its coarse sweep; the runner-up's
coarse sweep; each further method (up to `plan_methods`) with its estimate and coarse sweep; last, the
recommendation's fine sweep (`lr_fill_decades`). The plan lists the chosen runs method by method, the
recommendation first.
"""

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice

from optadvisor.rules.canonical import Setting
from optadvisor.rules.frameworks import framework_kwargs
from optadvisor.rules.hyperparameters import significant
from optadvisor.rules.recommendation import TuningRun
from optadvisor.rules.request import Framework, Method
from optadvisor.rules.ruleset import Estimators


@dataclass(frozen=True)
class PlannedMethod:
    """A method, its estimated torch-form hyperparameters, and whether its lr is only a lower bound."""

    method: Method
    settings: dict[str, Setting]
    lr_is_floor: bool = False


def _sweep(planned: PlannedMethod, decades: Iterable[float]) -> list[dict[str, Setting]]:
    centre = float(planned.settings["lr"])
    # Below a floor a method only stalls: a floored estimate is searched upwards only.
    directions = (1.0,) if planned.lr_is_floor else (-1.0, 1.0)
    return [
        {**planned.settings, "lr": significant(centre * 10.0 ** (direction * distance))}
        for distance in decades
        for direction in directions
    ]


def _second(planned: PlannedMethod, constants: Estimators) -> list[dict[str, Setting]]:
    second = constants.second_hyperparameter.get(planned.method)
    if second is None:
        return []
    return [
        {**planned.settings, second.name: value}
        for value in second.values
        if value != planned.settings.get(second.name)
    ]


def _by_priority(
    methods: Sequence[PlannedMethod], constants: Estimators
) -> Iterator[tuple[int, dict[str, Setting]]]:
    """(index into `methods`, settings) of every run a plan may take, most valuable first."""
    best = methods[0]
    coarse = _sweep(best, constants.lr_sweep_decades)
    yield 0, best.settings
    yield from ((0, settings) for settings in coarse[:2])
    if len(methods) > 1:
        yield 1, methods[1].settings
    yield from ((0, settings) for settings in _second(best, constants))
    yield from ((0, settings) for settings in coarse[2:])
    for index, other in enumerate(methods[1:], start=1):
        if index > 1:  # the runner-up's estimate was taken above
            yield index, other.settings
        yield from ((index, settings) for settings in _sweep(other, constants.lr_sweep_decades))
    yield from ((0, settings) for settings in _sweep(best, constants.lr_fill_decades))


def tuning_plan(
    methods: Sequence[PlannedMethod], budget: int, framework: Framework, constants: Estimators
) -> list[TuningRun]:
    """Runs for `methods` (the recommendation first, then its alternatives in rank order) in the
    requested framework's names, never more than `budget`."""
    chosen = list(islice(_by_priority(methods, constants), budget))
    runs = []
    # Method by method; the sort is stable, so each method's runs stay in priority order.
    for index, settings in sorted(chosen, key=lambda run: run[0]):
        method = methods[index].method
        runs.append(TuningRun(method=method, kwargs=framework_kwargs(method, framework, settings)))
    return runs
