"""One blocked pass over a sample: per-coordinate and per-step sums that every figure derives from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optadvisor.profiler.coordinates import Columns
from optadvisor.profiler.sample import FloatArray

# Elements per block: small enough that the float32 temporaries stay in cache and memory stays flat.
_BLOCK_ELEMENTS = 1 << 18
_MAX_BLOCK_ROWS = 1024


@dataclass(frozen=True)
class StreamStats:
    """Sums over the stream ``g[t, d]``; float64 accumulators, whatever the sample's dtype.

    Per-coordinate arrays cover the measured coordinates (all, or a fixed subset).

    Attributes:
        nonzero_count: per coordinate, steps with ``g != 0``.
        total: per coordinate, ``Σ_t g``.
        total_square: per coordinate, ``Σ_t g²``.
        first_active_step: per coordinate, first step (0-based) with ``g != 0``; -1 if never.
        first_active_square: per coordinate, ``g²`` at that step (0 if never active).
        step_square: per step, ``Σ_d g²``.
        step_nonzero: per step, coordinates with ``g != 0``.
    """

    steps: int
    nonzero_count: npt.NDArray[np.int64]
    total: npt.NDArray[np.float64]
    total_square: npt.NDArray[np.float64]
    first_active_step: npt.NDArray[np.int64]
    first_active_square: npt.NDArray[np.float64]
    step_square: npt.NDArray[np.float64]
    step_nonzero: npt.NDArray[np.int64]


def stream_stats(values: FloatArray, measured: Columns | None = None) -> StreamStats:
    """Accumulate :class:`StreamStats` block by block, never copying the whole array.

    Per-step sums cover every coordinate; per-coordinate sums cover ``measured`` (sorted column
    indices; all when None), which bounds their memory for very wide, short samples.
    """
    steps, coordinates = values.shape
    block_rows = min(steps, _MAX_BLOCK_ROWS)
    block_columns = max(1, _BLOCK_ELEMENTS // block_rows)
    width = coordinates if measured is None else measured.size
    nonzero_count = np.zeros(width, np.int64)
    total = np.zeros(width, np.float64)
    total_square = np.zeros(width, np.float64)
    first_active_step = np.full(width, -1, np.int64)
    first_active_square = np.zeros(width, np.float64)
    step_square = np.zeros(steps, np.float64)
    step_nonzero = np.zeros(steps, np.int64)
    for column in range(0, coordinates, block_columns):
        stop = min(column + block_columns, coordinates)
        if measured is None:
            targets, local = slice(column, stop), None
        else:
            bounds = np.searchsorted(measured, [column, stop])
            targets, local = slice(int(bounds[0]), int(bounds[1])), measured[bounds[0] : bounds[1]] - column
        for row in range(0, steps, block_rows):
            rows = slice(row, min(row + block_rows, steps))
            block = values[rows, column:stop]
            active = block != 0
            square = np.square(block)
            # Block sums stay in the sample's dtype (≤ 1024 terms each); totals accumulate in float64.
            step_square[rows] += square.sum(axis=1)
            step_nonzero[rows] += np.count_nonzero(active, axis=1)
            if local is not None:
                block, active, square = block[:, local], active[:, local], square[:, local]
            nonzero_count[targets] += np.count_nonzero(active, axis=0)
            total[targets] += block.sum(axis=0)
            total_square[targets] += square.sum(axis=0)
            _note_first_active(active, square, row, first_active_step[targets], first_active_square[targets])
    return StreamStats(
        steps,
        nonzero_count,
        total,
        total_square,
        first_active_step,
        first_active_square,
        step_square,
        step_nonzero,
    )


def _note_first_active(
    active: npt.NDArray[np.bool_],
    square: FloatArray,
    row_offset: int,
    first_step: npt.NDArray[np.int64],
    first_square: npt.NDArray[np.float64],
) -> None:
    """Record, in place, the first active step of coordinates not seen active in earlier blocks."""
    unseen = first_step < 0
    if not unseen.any():
        return
    # Most coordinates of a dense stream are active in the block's first row: settle those cheaply.
    settled = np.flatnonzero(unseen & active[0])
    first_step[settled] = row_offset
    first_square[settled] = square[0, settled]
    pending = np.flatnonzero((first_step < 0) & active.any(axis=0))
    if pending.size:
        rows = np.argmax(active[:, pending], axis=0)
        first_step[pending] = row_offset + rows
        first_square[pending] = square[rows, pending]
