"""``profile``: measure gradient samples and replay them through every built-in optimizer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from optadvisor import optimizers
from optadvisor.profiler.adagrad_projection import adagrad_rate_curve
from optadvisor.profiler.aggregate import overall_figures, pooled_sizes
from optadvisor.profiler.coordinates import Columns, replay_subsets
from optadvisor.profiler.errors import InvalidGradients, InvalidReplay
from optadvisor.profiler.measure import MEASURED_COORDINATES, DecaySettings, measure_group
from optadvisor.profiler.replay_engine import MAX_REPLAY_STEPS, GroupResult, RunSpec, replay_groups
from optadvisor.profiler.report import GroupProfile, ProfileReport, ReplayTrajectory
from optadvisor.profiler.runs import ReplayRun, hyperparameter, resolve_run
from optadvisor.profiler.sample import GradientSample
from optadvisor.profiler.thresholds import DEFAULT_TRAINING_STEPS

REPLAY_COORDINATES_PER_GROUP = 4096
REPLAY_COORDINATES_TOTAL = 16384
REPLAY_COORDINATES_MINIMUM = 64


def profile(  # noqa: PLR0913  public entry point: keyword-only options with defaults
    samples: Mapping[str, GradientSample],
    *,
    training_steps: int | None = None,
    framework: str = "torch",
    hyperparameters: Mapping[str, Mapping[str, object]] | None = None,
    recorded_every: int = 1,
    replays: bool = True,
) -> ProfileReport:
    """Figures per group and overall, and trajectories of all six methods in ``framework``'s semantics.

    ``hyperparameters`` maps a method to its hyperparameters in ``framework``'s names; omitted ones
    take that framework's defaults. ``recorded_every`` is the number of training steps between two
    recorded steps (the capture helper's ``every``). ``replays=False`` leaves the trajectories out (each
    group's ``replay`` is empty): a recommendation reads only the figures, and the replays are most of a
    profile's work. Deterministic: the same input gives the same report.

    Raises:
        InvalidGradients: no samples, or a non-positive ``training_steps``.
        InvalidReplay: unknown framework, method or hyperparameter.
    """
    chosen = dict(hyperparameters or {})
    _check_arguments(samples, training_steps, recorded_every, framework, chosen)
    assumptions: list[str] = []
    if training_steps is None:
        training_steps = DEFAULT_TRAINING_STEPS
        assumptions.append(f"training_steps not given; assumed {DEFAULT_TRAINING_STEPS}")
    runs = _resolved_runs(framework, chosen, assumptions)
    resolved_by_method: dict[str, tuple[ReplayRun, Mapping[str, Any]]] = {
        run.method: (run, spec.hyperparameters) for run, spec in runs
    }
    decay = _decay_settings(resolved_by_method)
    curve = adagrad_rate_curve(framework, resolved_by_method["adagrad"][1])
    measured = {
        name: measure_group(sample, curve, decay, training_steps, recorded_every)
        for name, sample in samples.items()
    }
    columns = replay_subsets(
        {name: sample.coordinates for name, sample in samples.items()},
        per_group=REPLAY_COORDINATES_PER_GROUP,
        total=REPLAY_COORDINATES_TOTAL,
        minimum=REPLAY_COORDINATES_MINIMUM,
    )
    outcomes = replay_groups(samples, columns, [spec for _, spec in runs]) if replays else None
    if replays:
        assumptions.extend(replay_assumptions(samples, recorded_every))
    return ProfileReport(
        framework=framework,
        training_steps=training_steps,
        overall=overall_figures(measured, decay),
        groups={
            name: GroupProfile(figures=measured[name].figures, replay=_trajectories(name, runs, outcomes))
            for name in samples
        },
        assumptions=assumptions,
        estimates=estimate_notes(samples, columns if replays else None) + _pool_notes(samples),
    )


def _check_arguments(
    samples: Mapping[str, GradientSample],
    training_steps: int | None,
    recorded_every: int,
    framework: str,
    chosen: Mapping[str, object],
) -> None:
    if not samples:
        raise InvalidGradients("no gradient groups were sent")
    if training_steps is not None and training_steps < 1:
        raise InvalidGradients(f"training_steps must be >= 1, got {training_steps}")
    if recorded_every < 1:
        raise InvalidGradients(f"recorded_every must be >= 1, got {recorded_every}")
    if framework not in optimizers.FRAMEWORKS:
        raise InvalidReplay(
            f"unknown framework {framework!r}; expected one of {', '.join(optimizers.FRAMEWORKS)}"
        )
    unknown = sorted(set(chosen) - set(optimizers.METHODS))
    if unknown:
        raise InvalidReplay(f"unknown method {unknown[0]!r}; expected one of {', '.join(optimizers.METHODS)}")


def _resolved_runs(
    framework: str, chosen: Mapping[str, Mapping[str, object]], assumptions: list[str]
) -> list[tuple[ReplayRun, RunSpec]]:
    """Every method's run in ``framework`` with its hyperparameters completed; notes go to
    ``assumptions``."""
    runs: list[tuple[ReplayRun, RunSpec]] = []
    for method in optimizers.METHODS:
        run = ReplayRun.model_validate(
            {"method": method, "framework": framework, "hyperparameters": dict(chosen.get(method, {}))}
        )
        resolved, notes = resolve_run(run)
        assumptions.extend(notes)
        runs.append((run, RunSpec(method, framework, resolved)))
    return runs


def _trajectories(
    name: str, runs: list[tuple[ReplayRun, RunSpec]], outcomes: list[dict[str, GroupResult]] | None
) -> dict[str, ReplayTrajectory]:
    """Group ``name``'s trajectory per method (none without replays)."""
    if outcomes is None:
        return {}
    return {run.method: outcome[name].trajectory for (run, _), outcome in zip(runs, outcomes, strict=True)}


def _decay_settings(resolved: Mapping[str, tuple[ReplayRun, Mapping[str, Any]]]) -> DecaySettings:
    rmsprop, rmsprop_values = resolved["rmsprop"]
    adadelta, adadelta_values = resolved["adadelta"]
    return DecaySettings(
        rmsprop_alpha=hyperparameter(rmsprop, rmsprop_values, "alpha"),
        adadelta_rho=hyperparameter(adadelta, adadelta_values, "rho"),
        adadelta_eps=hyperparameter(adadelta, adadelta_values, "eps"),
        adadelta_lr=abs(hyperparameter(adadelta, adadelta_values, "lr")),
    )


def replay_assumptions(samples: Mapping[str, GradientSample], recorded_every: int = 1) -> list[str]:
    """What a replay of ``samples`` assumes: starting parameters, the replayed length, and consecutive
    steps where only one in ``recorded_every`` was recorded."""
    notes = []
    if any(sample.parameters is None for sample in samples.values()):
        notes.append("replays start from zero parameters where parameter values were not sent")
    long = sorted(name for name, sample in samples.items() if sample.steps > MAX_REPLAY_STEPS)
    if long:
        notes.append(f"replays cover the first {MAX_REPLAY_STEPS} steps of {', '.join(long)}")
    if recorded_every > 1:
        notes.append(
            f"one step in {recorded_every} was recorded: replays treat the recorded steps as consecutive"
        )
    return notes


def _pool_notes(samples: Mapping[str, GradientSample]) -> list[str]:
    counts = {name: sample.coordinates for name, sample in samples.items()}
    pooled = sum(pooled_sizes(counts).values())
    if pooled == sum(counts.values()):
        return []
    return [f"overall quantile figures are estimates from {pooled} of {sum(counts.values())} coordinates"]


def estimate_notes(samples: Mapping[str, GradientSample], columns: Mapping[str, Columns] | None) -> list[str]:
    """Which figures of which groups are estimates rather than exact (``columns``: the replayed ones,
    None when nothing was replayed)."""
    notes = []
    for name, sample in samples.items():
        if sample.coordinates > MEASURED_COORDINATES:
            notes.append(
                f"{name}: per-coordinate quantile figures are estimates from {MEASURED_COORDINATES} "
                f"of {sample.coordinates} coordinates"
            )
        if sample.is_coordinate_subset:
            exact = [
                figure
                for figure, known in (
                    ("sparsity", sample.step_nonzeros is not None),
                    ("gradient_rms", sample.step_norms is not None),
                )
                if known
            ]
            notes.append(
                f"{name}: {sample.coordinates} of {sample.total_coordinates} coordinates sent; "
                "per-coordinate figures are estimates from that subset"
                + (f" ({', '.join(exact)} exact from the per-step aggregates)" if exact else "")
            )
        replayed = sample.coordinates if columns is None else columns[name].size
        if replayed < sample.coordinates:
            notes.append(
                f"{name}: replay trajectories are estimates from {replayed} "
                f"of {sample.coordinates} coordinates"
            )
    return notes
