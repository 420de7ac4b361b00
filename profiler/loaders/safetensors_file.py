"""`.safetensors` files read safely: the JSON header is bounded and checked, then each tensor's
bytes are read straight into its array.

Format: 8-byte little-endian header length N, N bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}``, then the data,
offsets relative to its start.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, BinaryIO, NamedTuple

import numpy as np

from optadvisor.profiler.errors import GradientLimitExceeded, InvalidGradients, UnsupportedGradientFormat
from optadvisor.profiler.limits import Limits
from optadvisor.profiler.loaders.common import ElementBudget, check_group_name, check_shape, read_exactly

_MAX_INT_DIGITS = 20
_DTYPES: dict[str, np.dtype[np.generic]] = {
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I8": np.dtype("i1"),
    "I16": np.dtype("<i2"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),
    "U16": np.dtype("<u2"),
}


def read_safetensors(
    stream: BinaryIO, size: int, limits: Limits, budget: ElementBudget
) -> dict[str, np.ndarray]:
    """One array per tensor, in the order of their data."""
    if size < 8:
        raise InvalidGradients("not a .safetensors file (shorter than its 8-byte header length)")
    (header_length,) = struct.unpack("<Q", stream.read(8))
    if header_length > limits.max_metadata_bytes:
        raise GradientLimitExceeded(
            f".safetensors header of {header_length} bytes exceeds "
            f"max_metadata_bytes ({limits.max_metadata_bytes})"
        )
    if 8 + header_length > size:
        raise InvalidGradients(
            f".safetensors header claims {header_length} bytes but the file is {size} bytes"
        )
    try:
        header = json.loads(
            stream.read(header_length), parse_int=_header_int, object_pairs_hook=_unique_names
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidGradients("the .safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise InvalidGradients("the .safetensors header is not a JSON object")
    header.pop("__metadata__", None)
    if not header:
        raise InvalidGradients("the .safetensors file holds no tensors")
    if len(header) > limits.max_file_members:
        raise GradientLimitExceeded(
            f"{len(header)} tensors exceed max_file_members ({limits.max_file_members})"
        )
    data_start = 8 + header_length
    entries = [_entry(name, spec, size - data_start, limits) for name, spec in header.items()]
    entries.sort(key=lambda entry: entry.begin)
    previous_end = 0
    for entry in entries:
        if entry.begin < previous_end:
            raise InvalidGradients("tensor data overlaps another tensor's", group=entry.group)
        previous_end = entry.end
        budget.take(entry.shape, entry.dtype, entry.group)
    arrays: dict[str, np.ndarray] = {}
    for entry in entries:
        stream.seek(data_start + entry.begin)
        arrays[entry.group] = read_exactly(stream, entry.shape, entry.dtype, entry.group)
    return arrays


def _header_int(text: str) -> int:
    # Offsets and extents are at most 64-bit; int() of 4,300+ digits raises a plain ValueError.
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise InvalidGradients("the .safetensors header holds an integer beyond 64 bits")
    return int(text)


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Plain json.loads keeps the last of repeated names: one tensor would silently replace another.
    names: dict[str, Any] = {}
    for name, value in pairs:
        if name in names:
            raise InvalidGradients("the .safetensors header names a tensor (or key) twice", group=name)
        names[name] = value
    return names


class _Entry(NamedTuple):
    group: str
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]
    begin: int
    end: int


def _entry(name: str, spec: Any, data_bytes: int, limits: Limits) -> _Entry:
    group = check_group_name(name)
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise InvalidGradients("tensor entry needs exactly dtype, shape and data_offsets", group=group)
    dtype_name, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if dtype_name == "BF16":
        raise UnsupportedGradientFormat(
            "bfloat16 tensors are not supported; convert them to float32", group=group
        )
    if not isinstance(dtype_name, str) or dtype_name not in _DTYPES:
        raise UnsupportedGradientFormat(
            "tensor dtype is not supported; use F16, F32, F64 or integers", group=group
        )
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise InvalidGradients("tensor shape must be a list of non-negative integers", group=group)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(n) is int for n in offsets)):
        raise InvalidGradients("data_offsets must be two integers", group=group)
    check_shape(tuple(shape), limits, group)
    dtype = _DTYPES[dtype_name]
    begin, end = offsets
    if not 0 <= begin <= end <= data_bytes:
        raise InvalidGradients("data_offsets point outside the file's data", group=group)
    if end - begin != math.prod(shape) * dtype.itemsize:
        raise InvalidGradients("data_offsets disagree with the tensor's shape and dtype", group=group)
    return _Entry(group, tuple(shape), dtype, begin, end)
