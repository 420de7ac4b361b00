"""``replay``: replay gradient samples through chosen runs, optionally tracing internal state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from optadvisor.profiler.coordinates import Columns, replay_subsets
from optadvisor.profiler.errors import InvalidGradients, InvalidReplay
from optadvisor.profiler.profile import (
    REPLAY_COORDINATES_MINIMUM,
    REPLAY_COORDINATES_PER_GROUP,
    REPLAY_COORDINATES_TOTAL,
    estimate_notes,
    replay_assumptions,
)
from optadvisor.profiler.replay_engine import RunSpec, replay_groups
from optadvisor.profiler.report import GroupReplay, ReplayReport, RunReplay
from optadvisor.profiler.runs import ReplayRun, as_replayed, resolve_run
from optadvisor.profiler.sample import GradientSample

MAX_TRACED_COORDINATES = 8
MAX_RUNS = 32


def replay(
    samples: Mapping[str, GradientSample],
    runs: Sequence[ReplayRun],
    *,
    trace_coordinates: Mapping[str, Sequence[int]] | None = None,
) -> ReplayReport:
    """Trajectories of every run on every group; state traces of up to 8 coordinates per group.

    Raises:
        InvalidReplay: no runs or too many, invalid hyperparameters, or traces of unknown groups,
            out-of-range or too many coordinates.
        InvalidGradients: no samples.
    """
    if not samples:
        raise InvalidGradients("no gradient groups were sent")
    if not 1 <= len(runs) <= MAX_RUNS:
        raise InvalidReplay(f"between 1 and {MAX_RUNS} runs are needed, got {len(runs)}")
    traced = _traced_columns(samples, trace_coordinates or {})
    assumptions: list[str] = []
    specs, replayed = [], []
    for run in runs:
        resolved, notes = resolve_run(run)
        assumptions.extend(notes)
        specs.append(RunSpec(run.method, run.framework, resolved))
        replayed.append(as_replayed(run, resolved))
    columns = replay_subsets(
        {name: sample.coordinates for name, sample in samples.items()},
        per_group=REPLAY_COORDINATES_PER_GROUP,
        total=REPLAY_COORDINATES_TOTAL,
        minimum=REPLAY_COORDINATES_MINIMUM,
    )
    for name, coordinates in traced.items():
        columns[name] = np.union1d(columns[name], coordinates)
    outcomes = replay_groups(samples, columns, specs, traced)
    assumptions.extend(replay_assumptions(samples))
    return ReplayReport(
        runs=[
            RunReplay(
                run=run,
                groups={
                    name: GroupReplay(trajectory=result.trajectory, trace=result.trace)
                    for name, result in outcome.items()
                },
            )
            for run, outcome in zip(replayed, outcomes, strict=True)
        ],
        assumptions=assumptions,
        estimates=estimate_notes(samples, columns),
    )


def _traced_columns(
    samples: Mapping[str, GradientSample], requested: Mapping[str, Sequence[int]]
) -> dict[str, Columns]:
    traced = {}
    for name, coordinates in requested.items():
        if name not in samples:
            raise InvalidReplay("trace requested for a group that was not sent", group=name)
        unique = sorted(set(coordinates))
        if not 1 <= len(unique) <= MAX_TRACED_COORDINATES:
            raise InvalidReplay(
                f"between 1 and {MAX_TRACED_COORDINATES} coordinates can be traced", group=name
            )
        bound = samples[name].coordinates
        if unique[0] < 0 or unique[-1] >= bound:
            raise InvalidReplay(f"traced coordinates must lie in [0, {bound})", group=name)
        traced[name] = np.array(unique, dtype=np.intp)
    return traced
