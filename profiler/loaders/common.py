"""Pieces every file loader shares: the dtype allow-list, the element budget and array → sample."""

from __future__ import annotations

import io
import math
from typing import BinaryIO

import numpy as np

from optadvisor.profiler.errors import GradientLimitExceeded, InvalidGradients, UnsupportedGradientFormat
from optadvisor.profiler.limits import Limits, reserve_memory, reserve_sample_memory
from optadvisor.profiler.sample import GradientSample, make_sample

# Kinds and sizes a gradient may come in; everything else (object, structured, complex, bool,
# strings, datetimes) is refused before any data is read.
_ALLOWED = {("f", 2), ("f", 4), ("f", 8), ("i", 1), ("i", 2), ("i", 4), ("i", 8), ("u", 1), ("u", 2)}
_MAX_GROUP_NAME = 256


def check_dtype(dtype: np.dtype[np.generic], group: str) -> None:
    """Refuse dtypes that are not plain little- or big-endian numbers of an allowed size."""
    if dtype.hasobject:
        raise UnsupportedGradientFormat("object arrays are refused (they would need unpickling)", group=group)
    if dtype.fields is not None or dtype.subdtype is not None or (dtype.kind, dtype.itemsize) not in _ALLOWED:
        raise UnsupportedGradientFormat(
            f"dtype {dtype.str} is not supported; use float16, float32, float64 or integers", group=group
        )


def check_group_name(name: str) -> str:
    """A group name taken from a file: non-empty, bounded, printable."""
    if not name or len(name) > _MAX_GROUP_NAME or not name.isprintable():
        raise InvalidGradients(f"unusable array name (1 to {_MAX_GROUP_NAME} printable characters needed)")
    return name


def check_shape(shape: tuple[int, ...], limits: Limits, group: str) -> None:
    """An array must be [T, ...] with a bounded number of dimensions."""
    if len(shape) == 0:
        raise InvalidGradients("a 0-dimensional array holds no steps; shape [T, ...] is needed", group=group)
    if any(extent < 0 for extent in shape):
        raise InvalidGradients("array extents must be >= 0", group=group)
    # One extent alone is bounded too: next to a zero extent a huge one keeps the element count at 0, and
    # numpy cannot even describe such an array.
    if any(extent > limits.max_elements for extent in shape):
        raise GradientLimitExceeded(
            f"an extent exceeds max_elements ({limits.max_elements}), whatever the other extents",
            group=group,
        )
    if len(shape) > limits.max_dimensions:
        raise InvalidGradients(
            f"{len(shape)} dimensions exceed the limit of {limits.max_dimensions}", group=group
        )
    if len(shape) == 1:
        # Read as T steps of one coordinate it would profile a scalar parameter; far more often it is one
        # step of a flattened tensor. Say what is expected instead of guessing.
        raise InvalidGradients(
            f"a 1-dimensional array of {shape[0]} values has no steps axis: send shape [T, ...] with T >= 2 "
            f"recorded steps first (for {shape[0]} steps of one coordinate, shape ({shape[0]}, 1))",
            group=group,
        )


class ElementBudget:
    """What is left of ``limits.max_elements`` and ``limits.max_groups`` while a request is loaded."""

    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        self._elements = limits.max_elements
        self._groups = limits.max_groups

    def take(self, shape: tuple[int, ...], dtype: np.dtype[np.generic], group: str) -> None:
        """Account for one more array of ``shape`` and ``dtype``, or raise GradientLimitExceeded; then
        report the memory it will take to the request's compute budget (the array as read, the float32 or
        float64 sample made of it, and measuring that)."""
        self._groups -= 1
        if self._groups < 0:
            raise GradientLimitExceeded(
                f"more than {self._limits.max_groups} groups (max_groups)", group=group
            )
        elements = math.prod(shape)
        if elements > self._elements:
            raise GradientLimitExceeded(
                f"shape {list(shape)} holds {elements} elements, more than the {self._elements} left of "
                f"max_elements ({self._limits.max_elements}) for this request",
                group=group,
            )
        self._elements -= elements
        reserve_memory(elements * dtype.itemsize, "an array as read")
        reserve_sample_memory(elements, 8 if dtype == np.float64 else 4, "measuring an array")


def _truncated(present: int, declared: int, group: str) -> InvalidGradients:
    return InvalidGradients(
        f"data ends after {present} of the {declared} bytes its header declares", group=group
    )


def read_exactly(
    stream: BinaryIO, shape: tuple[int, ...], dtype: np.dtype[np.generic], group: str
) -> np.ndarray:
    """The next array in ``stream``: a view of its bytes when the stream is an in-memory ``io.BytesIO`` (no
    copy at all), else read straight into a fresh array (``readinto``: no intermediate copy)."""
    count = math.prod(shape)
    size = count * dtype.itemsize
    if isinstance(stream, io.BytesIO):
        start = stream.tell()
        present = min(size, stream.seek(0, io.SEEK_END) - start)
        stream.seek(start + present)
        if present < size:
            raise _truncated(present, size, group)
        view = np.frombuffer(stream.getbuffer(), dtype=dtype, count=count, offset=start).reshape(shape)
        # A .safetensors tensor may start at any byte; torch and fast numpy paths want aligned data.
        return view if view.flags.aligned else view.copy()
    array = np.empty(shape, dtype=dtype)
    buffer = memoryview(array.reshape(-1).view(np.uint8).data)
    filled = 0
    while filled < size:
        read = stream.readinto(buffer[filled:])  # type: ignore[attr-defined]
        if not read:
            raise _truncated(filled, size, group)
        filled += read
    return array


def to_sample(array: np.ndarray, group: str) -> GradientSample:
    """Flatten ``[T, ...]`` to ``[T, D]`` in native float32/float64 and validate it."""
    if array.dtype.byteorder == ">" or (array.dtype.byteorder == "=" and not np.little_endian):
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype not in (np.float32, np.float64):
        # float16 squares overflow and integers are not gradients yet: measure both in float32.
        array = array.astype(np.float32)
    steps = array.shape[0]
    flat = np.ascontiguousarray(array).reshape(steps, -1) if steps else array.reshape(0, 0)
    return make_sample(group, flat)
