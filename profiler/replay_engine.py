"""Replay gradient streams through the built-in optimizers and record what they do.

All groups with the same number of steps are replayed together as one flat float32 parameter per
run (the optimizers are coordinate-wise, so this equals replaying each group alone), on a fixed
subset of each group's coordinates. Gradients are gathered a block of steps at a time and shared,
read-only, by every run; the effective step size and update size are read at ≤ 200 recorded steps.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from optadvisor import optimizers
from optadvisor.profiler.coordinates import Columns
from optadvisor.profiler.errors import InvalidReplay
from optadvisor.profiler.limits import charge_work, check_deadline, reserve_memory
from optadvisor.profiler.report import ReplayTrajectory, StateTrace
from optadvisor.profiler.sample import GradientSample

TRAJECTORY_POINTS = 200
MAX_REPLAY_STEPS = 4096
_GATHER_ELEMENTS = 1 << 20
# Work of one optimizer step, in units of one coordinate: a step costs about 110 µs whatever its width, plus
# about 15 ns per coordinate (2-core build machine), so its fixed part is worth about 8,000 coordinates.
STEP_OVERHEAD_UNITS = 8192


@dataclass(frozen=True)
class RunSpec:
    """A resolved run: method, framework and complete, validated hyperparameters."""

    method: str
    framework: str
    hyperparameters: Mapping[str, Any]


@dataclass(frozen=True)
class GroupResult:
    """What one run did to one group."""

    trajectory: ReplayTrajectory
    trace: StateTrace | None


def recorded_steps(steps: int) -> npt.NDArray[np.int64]:
    """At most TRAJECTORY_POINTS 1-based step numbers, evenly spread, always with the first and last."""
    return np.unique(np.round(np.linspace(1, steps, min(steps, TRAJECTORY_POINTS))).astype(np.int64))


def replay_groups(
    samples: Mapping[str, GradientSample],
    columns: Mapping[str, Columns],
    runs: Sequence[RunSpec],
    traced: Mapping[str, Columns] | None = None,
) -> list[dict[str, GroupResult]]:
    """Per run, per group results. ``columns[g]`` must include ``traced[g]`` (sorted, unique)."""
    results: list[dict[str, GroupResult]] = [{} for _ in runs]
    partitions: dict[int, list[str]] = {}
    for name, sample in samples.items():
        partitions.setdefault(min(sample.steps, MAX_REPLAY_STEPS), []).append(name)
    widths = {steps: sum(columns[name].size for name in names) for steps, names in partitions.items()}
    charge_work(
        sum(steps * len(runs) * (width + STEP_OVERHEAD_UNITS) for steps, width in widths.items()),
        f"replaying {len(runs)} runs over {len(partitions)} distinct step counts",
    )
    # Partitions are replayed one after the other: the largest one's state is what is held at once.
    reserve_memory(
        max(_state_bytes(steps, width, len(runs)) for steps, width in widths.items()), "replay state"
    )
    with single_threaded_torch():
        for steps, names in partitions.items():
            partition = _Partition(steps, names, samples, columns, traced or {})
            for result, outcome in zip(results, partition.outcomes(runs), strict=True):
                result.update(outcome)
    return [{name: result[name] for name in samples} for result in results]


def _state_bytes(steps: int, width: int, runs: int) -> int:
    """Memory a partition's replay holds: per run the recorded effective steps (float32) and the
    parameter, its gradient, a copy and up to three state tensors (float32); the gathered block."""
    recorded = min(steps, TRAJECTORY_POINTS)
    return runs * (recorded * width * 4 + 6 * width * 4) + _GATHER_ELEMENTS * 4


@contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch ops on the calling thread only, restoring the previous setting afterwards.

    Replay tensors hold at most a few thousand coordinates per group: splitting such ops across
    threads costs more than it saves, and on a busy machine each split op waits for a descheduled
    worker (measured: 15 ms instead of 2 µs for a 4096-element sqrt). With torch's OpenMP backend
    the setting belongs to the calling thread, so concurrent callers do not see it.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass
class _RunState:
    parameter: torch.Tensor
    optimizer: optimizers.AdaptiveOptimizer
    effective: npt.NDArray[np.float32]
    update_rms: npt.NDArray[np.float64]
    trace: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)


class _Partition:
    """Groups sharing a step count, laid out side by side in one flat vector."""

    def __init__(
        self,
        steps: int,
        names: list[str],
        samples: Mapping[str, GradientSample],
        columns: Mapping[str, Columns],
        traced: Mapping[str, Columns],
    ) -> None:
        self.steps = steps
        self.names = names
        self.samples = samples
        self.columns = {name: columns[name] for name in names}
        sizes = np.array([self.columns[name].size for name in names])
        self.sizes = sizes
        self.offsets = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        self.width = int(sizes.sum())
        self.recorded = recorded_steps(steps)
        self.traced = {name: traced[name] for name in names if name in traced}
        # Flat positions of all traced coordinates, and each group's share of that list.
        positions = [
            self.offsets[names.index(name)] + np.searchsorted(self.columns[name], coordinates)
            for name, coordinates in self.traced.items()
        ]
        self.trace_positions = np.concatenate(positions) if positions else np.zeros(0, np.intp)
        bounds = np.cumsum([0] + [p.size for p in positions])
        self.trace_slices = {
            name: slice(int(bounds[i]), int(bounds[i + 1])) for i, name in enumerate(self.traced)
        }

    def outcomes(self, runs: Sequence[RunSpec]) -> list[dict[str, GroupResult]]:
        """Replay every run over the partition's steps; each step's gradients are gathered once."""
        states = [self._start(run) for run in runs]
        record_index = {int(step): index for index, step in enumerate(self.recorded)}
        seen = np.zeros(self.width, bool)
        block = max(1, _GATHER_ELEMENTS // self.width)
        gradients = np.empty((block, self.width), np.float32)
        for start in range(0, self.steps, block):
            stop = min(start + block, self.steps)
            self._gather(gradients, start, stop)
            for offset in range(stop - start):
                check_deadline()
                row = gradients[offset]
                seen |= row != 0
                gradient = torch.from_numpy(row)
                step = start + offset + 1
                index = record_index.get(step)
                for run, state in zip(runs, states, strict=True):
                    state.parameter.grad.copy_(gradient)  # type: ignore[union-attr]
                    try:
                        if index is None:
                            state.optimizer.step()
                        else:
                            self._recorded_step(state, index, seen)
                    except RuntimeError as error:
                        # torch's wording when a scalar of the update (Adam's lr / (1 - beta1^t), say)
                        # does not fit the parameters' float32; anything else is a fault of ours.
                        if "overflow" not in str(error):
                            raise
                        raise InvalidReplay(
                            f"{run.framework} {run.method}: step {step} cannot be taken in float32: {error} "
                            "(training would fail the same way; a smaller lr avoids it)"
                        ) from None
        return [self._results(state) for state in states]

    def _results(self, state: _RunState) -> dict[str, GroupResult]:
        results = {}
        for index, name in enumerate(self.names):
            window = slice(int(self.offsets[index]), int(self.offsets[index] + self.sizes[index]))
            p10, p50, p90 = _row_quantiles(state.effective[:, window], (0.1, 0.5, 0.9))
            trajectory = ReplayTrajectory(
                steps=self.recorded.tolist(),
                effective_step_p10=p10,
                effective_step_p50=p50,
                effective_step_p90=p90,
                update_rms=_finite_or_none(state.update_rms[:, index]),
            )
            trace = None
            if name in self.traced:
                share = self.trace_slices[name]
                trace = StateTrace(
                    coordinates=[int(c) for c in self.traced[name]],
                    steps=self.recorded.tolist(),
                    state={
                        key: [_finite_or_none(row) for row in values[:, share]]
                        for key, values in state.trace.items()
                    },
                )
            results[name] = GroupResult(trajectory, trace)
        return results

    def _initial_parameters(self) -> npt.NDArray[np.float32]:
        parts = []
        for name in self.names:
            parameters = self.samples[name].parameters
            columns = self.columns[name]
            parts.append(np.zeros(columns.size, np.float32) if parameters is None else parameters[columns])
        return np.concatenate(parts).astype(np.float32)

    def _start(self, run: RunSpec) -> _RunState:
        parameter = torch.from_numpy(self._initial_parameters())
        parameter.grad = torch.zeros_like(parameter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            optimizer = optimizers.create(
                run.method, [parameter], framework=run.framework, **run.hyperparameters
            )
        return _RunState(
            parameter,
            optimizer,
            np.full((self.recorded.size, self.width), np.nan, np.float32),
            np.zeros((self.recorded.size, len(self.names))),
        )

    def _gather(self, gradients: npt.NDArray[np.float32], start: int, stop: int) -> None:
        for index, name in enumerate(self.names):
            values = self.samples[name].values
            columns = self.columns[name]
            window = slice(int(self.offsets[index]), int(self.offsets[index] + self.sizes[index]))
            rows = values[start:stop] if columns.size == values.shape[1] else values[start:stop, columns]
            gradients[: stop - start, window] = rows

    def _recorded_step(self, state: _RunState, index: int, seen: npt.NDArray[np.bool_]) -> None:
        before = state.parameter.clone()
        state.optimizer.step()
        effective = state.optimizer.effective_step_size(state.parameter).numpy()
        np.copyto(state.effective[index], effective, where=seen)
        update = before.sub_(state.parameter).numpy()
        # Squared in float64: a float32 square overflows from |update| ≈ 1.8e19 on.
        squares = np.add.reduceat(np.square(update, dtype=np.float64), self.offsets)
        state.update_rms[index] = np.sqrt(squares / self.sizes)
        if self.trace_positions.size:
            for key, tensor in state.optimizer.state_trace(state.parameter).items():
                if tensor.numel() != self.width:  # a per-parameter scalar, not per-coordinate state
                    continue
                values = state.trace.setdefault(
                    key, np.zeros((self.recorded.size, self.trace_positions.size))
                )
                values[index] = tensor.reshape(-1).double().numpy()[self.trace_positions]


def _finite_or_none(values: npt.NDArray[np.floating]) -> list[float | None]:
    """JSON-ready values: NaN and infinities (a method overflowing float32) become None."""
    return [float(v) if np.isfinite(v) else None for v in values]


def _row_quantiles(matrix: npt.NDArray[np.float32], quantiles: Sequence[float]) -> list[list[float | None]]:
    """Per row, linear-interpolated quantiles of the non-NaN, finite entries (None for an empty row)."""
    ordered = np.sort(np.where(np.isfinite(matrix), matrix, np.nan), axis=1)  # NaN sorts last
    counts = np.isfinite(ordered).sum(axis=1)
    rows = np.arange(ordered.shape[0])
    out: list[list[float | None]] = []
    for quantile in quantiles:
        position = quantile * np.maximum(counts - 1, 0)
        lower = np.floor(position).astype(np.int64)
        upper = np.minimum(lower + 1, np.maximum(counts - 1, 0))
        fraction = position - lower
        low, high = ordered[rows, lower].astype(np.float64), ordered[rows, upper].astype(np.float64)
        value = low * (1 - fraction) + high * fraction
        out.append([float(v) if n else None for v, n in zip(value, counts, strict=True)])
    return out
