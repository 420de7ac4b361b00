"""One gradient group: a stream of T ≥ 2 steps of D ≥ 1 coordinates, with optional context."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optadvisor.profiler.errors import GradientError, InvalidGradients

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]

# Rows checked for finiteness at a time: bounds the boolean temporary to a few MiB.
_FINITE_CHECK_ELEMENTS = 1 << 21
# Larger magnitudes (possible in float64 JSON) become inf in the float32 replays, and NaN in the figures.
_LARGEST_FLOAT32 = float(np.finfo(np.float32).max)
_LARGEST_ENTRY_COUNT = 2**63 - 1
_FLOAT32_REASON = "the largest float32 (the replays run in float32, as the frameworks train)"


@dataclass(frozen=True, eq=False)
class GradientSample:
    """A gradient stream ``values[t, d]`` (float32 or float64, C-contiguous, finite, within float32's range).

    ``parameters`` (shape [D]) or ``parameter_rms`` give the parameter scale. A sample of a fixed
    subset of a larger tensor's coordinates sets ``total_coordinates`` (the tensor's size) and may
    carry exact per-step aggregates over the whole tensor: ``step_norms`` (L2 norm of each step's
    gradient) and ``step_nonzeros`` (its number of nonzero entries). COO input is densified on load
    (within the element limit), so every sample is measured the same way.

    Construction validates everything and raises :class:`InvalidGradients` (without a group name;
    :func:`make_sample` adds it).
    """

    values: FloatArray
    parameters: FloatArray | None = None
    parameter_rms: float | None = None
    total_coordinates: int | None = None
    step_norms: FloatArray | None = None
    step_nonzeros: IntArray | None = None

    def __post_init__(self) -> None:
        _check_values(self.values)
        steps, coordinates = self.values.shape
        if self.parameters is not None:
            _check_vector("parameters", self.parameters, coordinates, "coordinates")
            _check_bound("parameters", self.parameters, _LARGEST_FLOAT32, _FLOAT32_REASON)
        if self.parameter_rms is not None and not (0 <= self.parameter_rms <= _LARGEST_FLOAT32):
            raise InvalidGradients(f"parameter_rms must be a number from 0 to {_LARGEST_FLOAT32:.4g}")
        if self.total_coordinates is not None and self.total_coordinates < coordinates:
            raise InvalidGradients(
                f"total_coordinates ({self.total_coordinates}) is smaller than the {coordinates} "
                "coordinates sent"
            )
        tensor_size = self.total_coordinates if self.total_coordinates is not None else coordinates
        # The figures count entries over every step of the whole tensor in 64-bit integers.
        if steps * tensor_size > _LARGEST_ENTRY_COUNT:
            raise InvalidGradients(
                f"total_coordinates x steps must be at most 2^63 - 1 (the entries counted over the whole "
                f"stream); {tensor_size} x {steps} is more"
            )
        if self.step_norms is not None:
            _check_vector("step_norms", self.step_norms, steps, "steps")
            if np.any(self.step_norms < 0):
                raise InvalidGradients("step_norms must be >= 0")
            _check_bound(
                "step_norms",
                self.step_norms,
                _LARGEST_FLOAT32 * np.sqrt(tensor_size),
                f"the largest norm of {tensor_size} float32s",
            )
        if self.step_nonzeros is not None:
            _check_vector("step_nonzeros", self.step_nonzeros, steps, "steps")
            if np.any(self.step_nonzeros < 0) or np.any(self.step_nonzeros > tensor_size):
                raise InvalidGradients(f"step_nonzeros must lie between 0 and {tensor_size}")

    @property
    def steps(self) -> int:
        """T: the number of steps."""
        return int(self.values.shape[0])

    @property
    def coordinates(self) -> int:
        """D: the number of coordinates sent."""
        return int(self.values.shape[1])

    @property
    def is_coordinate_subset(self) -> bool:
        """Whether the coordinates are a subset of a larger tensor (figures from them are estimates)."""
        return self.total_coordinates is not None and self.total_coordinates > self.coordinates

    @property
    def known_parameter_rms(self) -> float | None:
        """``parameter_rms`` if given, else the RMS of ``parameters``, else None."""
        if self.parameter_rms is not None:
            return self.parameter_rms
        if self.parameters is not None:
            return float(np.sqrt(np.mean(np.square(self.parameters, dtype=np.float64))))
        return None


def make_sample(group: str, values: FloatArray, **context: object) -> GradientSample:
    """Build a :class:`GradientSample`, naming ``group`` in any validation error."""
    try:
        return GradientSample(values, **context)  # type: ignore[arg-type]
    except GradientError as error:
        raise type(error)(error.detail, group=group) from None


def _check_values(values: FloatArray) -> None:
    if not isinstance(values, np.ndarray) or values.dtype not in (np.float32, np.float64):
        raise InvalidGradients("values must be a float32 or float64 array")
    if values.ndim != 2:
        raise InvalidGradients(f"values must have 2 dimensions [steps, coordinates], got {values.ndim}")
    steps, coordinates = values.shape
    if steps < 2:
        raise InvalidGradients(f"at least 2 steps are needed, got {steps}")
    if coordinates < 1:
        raise InvalidGradients("each step needs at least 1 coordinate, got 0")
    if not values.flags.c_contiguous:
        raise InvalidGradients("values must be C-contiguous")
    rows = max(1, _FINITE_CHECK_ELEMENTS // coordinates)
    for start in range(0, steps, rows):
        block = values[start : start + rows]
        # Both comparisons fail on NaN, so one max and one min check the common case in two passes.
        if block.max() <= _LARGEST_FLOAT32 and block.min() >= -_LARGEST_FLOAT32:
            continue
        finite = np.isfinite(block)
        if not finite.all():
            bad_row = start + int(np.argmin(finite.all(axis=1)))
            raise InvalidGradients(f"row {bad_row} holds a NaN or infinite value")
        bad_row = start + int(np.argmax((np.abs(block) > _LARGEST_FLOAT32).any(axis=1)))
        raise InvalidGradients(
            f"row {bad_row} holds a value beyond ±{_LARGEST_FLOAT32:.4g}, {_FLOAT32_REASON}"
        )


def _check_bound(name: str, vector: FloatArray, bound: float, what: str) -> None:
    """Refuse magnitudes beyond `bound` (`what` it is), naming the first one."""
    beyond = np.abs(vector) > bound
    if beyond.any():
        raise InvalidGradients(f"{name}[{int(np.argmax(beyond))}] is beyond ±{bound:.4g}, {what}")


def _check_vector(name: str, vector: npt.NDArray[np.generic], length: int, unit: str) -> None:
    if vector.shape != (length,):
        raise InvalidGradients(f"{name} has shape {list(vector.shape)} but the sample has {length} {unit}")
    if vector.dtype.kind == "f" and not np.isfinite(vector).all():
        raise InvalidGradients(f"{name} holds a NaN or infinite value")
