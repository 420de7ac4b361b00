"""Turn validated JSON samples into :class:`GradientSample` objects, checking what pydantic cannot."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from optadvisor.profiler.errors import GradientLimitExceeded, InvalidGradients
from optadvisor.profiler.limits import Limits, reserve_sample_memory
from optadvisor.profiler.sample import FloatArray, GradientSample, make_sample
from optadvisor.profiler.schema import CooSampleJSON, DenseSampleJSON


def samples_from_json(
    gradients: Mapping[str, DenseSampleJSON | CooSampleJSON], limits: Limits
) -> dict[str, GradientSample]:
    """Validate and convert each named JSON sample; errors name the group, row and entry, never values.

    Raises:
        InvalidGradients: ragged rows, T < 2, D = 0, COO entries out of range, negative or
            duplicated, lists of different lengths, context that disagrees with the shape.
        GradientLimitExceeded: more groups or dense elements than ``limits`` allow.
    """
    if not gradients:
        raise InvalidGradients("no gradient groups were sent")
    if len(gradients) > limits.max_groups:
        raise GradientLimitExceeded(f"{len(gradients)} groups exceed the limit of {limits.max_groups}")
    budget = limits.max_elements
    samples: dict[str, GradientSample] = {}
    for group, sample in gradients.items():
        steps, coordinates = _shape(group, sample)
        if steps * coordinates > budget:
            raise GradientLimitExceeded(
                f"{steps} x {coordinates} elements exceed the remaining limit of {budget} "
                f"(max_elements {limits.max_elements} over all groups)",
                group=group,
            )
        budget -= steps * coordinates
        # Dense or COO, every sample from JSON becomes a float64 array of T x D.
        reserve_sample_memory(steps * coordinates, 8, "measuring a gradient group")
        values = _dense_values(sample) if isinstance(sample, DenseSampleJSON) else _coo_values(group, sample)
        samples[group] = make_sample(
            group,
            values,
            parameters=None if sample.parameters is None else np.asarray(sample.parameters, np.float64),
            parameter_rms=sample.parameter_rms,
            total_coordinates=sample.total_coordinates,
            step_norms=None if sample.step_norms is None else np.asarray(sample.step_norms, np.float64),
            step_nonzeros=None
            if sample.step_nonzeros is None
            else np.asarray(sample.step_nonzeros, np.int64),
        )
    return samples


def _shape(group: str, sample: DenseSampleJSON | CooSampleJSON) -> tuple[int, int]:
    """(T, D) after the checks that must precede any allocation."""
    if isinstance(sample, CooSampleJSON):
        steps, coordinates = sample.shape
    else:
        steps = len(sample.values)
        coordinates = len(sample.values[0]) if sample.values else 0
        for row, entries in enumerate(sample.values):
            if len(entries) != coordinates:
                raise InvalidGradients(
                    f"ragged rows: row {row} has {len(entries)} values, row 0 has {coordinates}", group=group
                )
    if steps < 2:
        raise InvalidGradients(f"at least 2 steps are needed, got {steps}", group=group)
    if coordinates < 1:
        raise InvalidGradients(f"each step needs at least 1 coordinate, got {coordinates}", group=group)
    return steps, coordinates


def _dense_values(sample: DenseSampleJSON) -> FloatArray:
    return np.array(sample.values, dtype=np.float64)


def _coo_values(group: str, sample: CooSampleJSON) -> FloatArray:
    steps, coordinates = sample.shape
    lengths = {"step": len(sample.step), "index": len(sample.index), "values": len(sample.values)}
    if len(set(lengths.values())) != 1:
        raise InvalidGradients(
            "step, index and values must have the same length, got "
            + ", ".join(f"{name} {length}" for name, length in lengths.items()),
            group=group,
        )
    step = np.asarray(sample.step, dtype=np.int64)
    index = np.asarray(sample.index, dtype=np.int64)
    for name, positions, bound in (("step", step, steps), ("index", index, coordinates)):
        bad = np.flatnonzero((positions < 0) | (positions >= bound))
        if bad.size:
            raise InvalidGradients(
                f"entry {int(bad[0])}: {name} is outside [0, {bound})"
                + (f" ({bad.size} such entries)" if bad.size > 1 else ""),
                group=group,
            )
    flat = step * coordinates + index
    order = np.argsort(flat, kind="stable")
    repeated = np.flatnonzero(flat[order][1:] == flat[order][:-1])
    if repeated.size:
        first, second = sorted((int(order[repeated[0]]), int(order[repeated[0] + 1])))
        raise InvalidGradients(f"entries {first} and {second} give the same (step, index) pair", group=group)
    values = np.zeros((steps, coordinates), dtype=np.float64)
    values.reshape(-1)[flat] = np.asarray(sample.values, dtype=np.float64)
    return values
