"""`.npy` arrays read safely: the header is parsed and checked before anything is allocated."""

from __future__ import annotations

import tokenize
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from optadvisor.profiler.errors import InvalidGradients, UnsupportedGradientFormat
from optadvisor.profiler.limits import Limits
from optadvisor.profiler.loaders.common import ElementBudget, check_dtype, check_shape, read_exactly

NPY_MAGIC = b"\x93NUMPY"


@dataclass(frozen=True)
class NpyHeader:
    """What an `.npy` header declares, and where its data starts in the stream."""

    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]
    fortran_order: bool
    data_offset: int

    @property
    def data_bytes(self) -> int:
        """Bytes of data the header promises."""
        count = 1
        for extent in self.shape:
            count *= extent
        return count * self.dtype.itemsize


def read_npy_header(stream: BinaryIO, limits: Limits, group: str) -> NpyHeader:
    """Parse and check the header at the stream's position (magic, version, size, dtype, shape)."""
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(
                stream, max_header_size=limits.max_header_bytes
            )
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(
                stream, max_header_size=limits.max_header_bytes
            )
        else:
            raise UnsupportedGradientFormat(f".npy format version {version} is not supported", group=group)
    # numpy parses the header's dict with Python's tokenizer and ast.literal_eval: a header cut short
    # raises tokenize.TokenError, a deeply nested one RecursionError or MemoryError.
    except (
        ValueError,
        SyntaxError,
        EOFError,
        OverflowError,
        TypeError,
        tokenize.TokenError,
        RecursionError,
        MemoryError,
    ) as error:
        if isinstance(error, UnsupportedGradientFormat):
            raise
        raise InvalidGradients(
            f"malformed .npy header (or larger than {limits.max_header_bytes} bytes)", group=group
        ) from None
    check_dtype(dtype, group)
    check_shape(shape, limits, group)
    return NpyHeader(tuple(int(n) for n in shape), dtype, bool(fortran_order), stream.tell())


def read_npy(
    stream: BinaryIO, available_bytes: int, limits: Limits, budget: ElementBudget, group: str
) -> np.ndarray:
    """Read one `.npy` whose header starts at the stream's position and whose data ends after
    ``available_bytes`` bytes (counted from that position): a declared size that disagrees is refused."""
    start = stream.tell()
    header = read_npy_header(stream, limits, group)
    budget.take(header.shape, header.dtype, group)
    present = available_bytes - (header.data_offset - start)
    if present != header.data_bytes:
        raise InvalidGradients(
            f"header declares {header.data_bytes} bytes of data but {present} are present "
            "(truncated or padded file)",
            group=group,
        )
    if header.fortran_order:
        return read_exactly(stream, header.shape[::-1], header.dtype, group).T
    return read_exactly(stream, header.shape, header.dtype, group)
