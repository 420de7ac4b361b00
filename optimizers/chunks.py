"""Cache-sized chunks of a step's tensors, and reusable scratch for the step's temporaries.

torch.optim's default on CPU is its single-tensor loop: each tensor goes through the whole chain
of elementwise operations while it is still in cache. A ``torch._foreach_*`` call over the whole
list (on CPU, a C++ loop of the same per-tensor operations) instead streams every tensor from
memory once per operation: 200 tensors of 50k elements made Adam 1.43× slower than torch.optim.
Chunks whose working set fits a core's L2 cache (:data:`WORKING_SET_BYTES` per thread) keep it
there through all the operations, while one foreach call per operation still covers many small
tensors (with one thread, Adam's 2,000 tensors of 1k elements are 32 chunks, not 2,000 Python-level
iterations). Tensors larger than a chunk are split into contiguous slices, so a 10M tensor is
treated the same.

Temporaries (a denominator, the gradient with weight decay or negated when maximizing) go into
scratch buffers kept by the optimizer instead of fresh tensors: a fresh model-sized temporary is
mapped and page-faulted in on every step (glibc hands large blocks back to the system when they
are freed), about 9,800 page faults per step for a 10M-element float32 tensor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import Tensor

# Bytes per torch thread that one chunk's pieces of all columns (parameter, gradient, state, scratch)
# take together: three quarters of a core's 2 MiB L2 cache, so a chunk stays there through all its
# ops while other work shares the cache. A column's share is this over the number of columns: 256 KiB
# for Adam's six, 512 KiB for SGD's three, whose few cheap ops need the larger pieces to outweigh
# the Python-level call and (with several threads) the parallel region that every piece costs each
# op. Measured on a 10M tensor with two threads: SGD 1.14x torch.optim's time with 256 KiB pieces per
# thread, 1.02x with 512 KiB; Adam 0.50x with 256 KiB, and slower with larger pieces when the
# machine was busy.
WORKING_SET_BYTES = 1536 * 1024

# Distinct chunk layouts whose scratch views are kept; a model has one per chunk of a step.
_CACHED_LAYOUTS = 4096

_T = TypeVar("_T")


@dataclass(frozen=True)
class Chunk:
    """Aligned pieces of each column (whole tensors or contiguous slices of one) and scratch for them.

    ``columns[c][i]`` is the i-th piece of column ``c``; ``owners[i]`` the index, in the lists
    passed to :meth:`Scratch.chunks`, of the tensor that piece belongs to (None: the pieces are
    those tensors, all of them); ``scratch[k][i]`` a scratch tensor shaped like the i-th piece,
    distinct for every ``k``.
    """

    columns: Sequence[list[Tensor]]
    owners: list[int] | None
    scratch: list[list[Tensor]]

    def per_piece(self, values: Sequence[_T]) -> Sequence[_T]:
        """``values`` (one per tensor) repeated for each piece of that tensor."""
        return values if self.owners is None else [values[owner] for owner in self.owners]


class Scratch:
    """Flat buffers, one per device and dtype, reused by every step for its temporaries."""

    def __init__(self) -> None:
        self._buffers: dict[tuple[torch.device, torch.dtype], Tensor] = {}
        # Views of the buffers per chunk layout: slicing and reshaping a view costs about 8 µs,
        # which for 2,000 tensors of 1k elements was a third of the step.
        self._views: dict[tuple[object, ...], list[list[Tensor]]] = {}

    def chunks(self, columns: Sequence[list[Tensor]], scratch: int = 0) -> Iterator[Chunk]:
        """``columns`` (equal-length lists of same-shaped tensors; the first sets the sizes) in chunks.

        A chunk holds up to :data:`WORKING_SET_BYTES` per torch thread over its columns and scratch
        lists together; a tensor larger than a column's share is split into slices of that size when
        every column's tensor is contiguous, and kept whole otherwise. Each chunk carries
        ``scratch`` lists of scratch tensors; they are valid until the next chunk is produced.
        """
        sizes = [(tensor.numel(), tensor.element_size()) for tensor in columns[0]]
        if not sizes:
            return  # foreach ops refuse empty lists
        chunk_bytes = WORKING_SET_BYTES * torch.get_num_threads() // (len(columns) + scratch)
        if sum(numel * element_size for numel, element_size in sizes) <= chunk_bytes:
            # All in one chunk, as they are: small models, and the profiler's replays of a few
            # thousand coordinates, which take hundreds of steps and feel every microsecond.
            yield Chunk(columns, None, self._scratch_views(columns[0], scratch) if scratch else [])
            return
        entries: list[tuple[int, int]] = []  # (tensor index, slice index or -1 for the whole tensor)
        slices: dict[int, list[tuple[Tensor, ...]]] = {}
        size = 0
        for index, (numel, element_size) in enumerate(sizes):
            tensor_bytes = numel * element_size
            parts: Sequence[tuple[int, int]] = ((-1, tensor_bytes),)
            if tensor_bytes > chunk_bytes and all(column[index].is_contiguous() for column in columns):
                limit = chunk_bytes // element_size
                slices[index] = [torch.split(column[index].view(-1), limit) for column in columns]
                parts = [(i, piece.numel() * element_size) for i, piece in enumerate(slices[index][0])]
            for part, part_bytes in parts:
                if entries and size + part_bytes > chunk_bytes:
                    yield self._chunk(columns, entries, slices, scratch)
                    entries, size = [], 0
                entries.append((index, part))
                size += part_bytes
        if entries:
            yield self._chunk(columns, entries, slices, scratch)

    def _chunk(
        self,
        columns: Sequence[list[Tensor]],
        entries: list[tuple[int, int]],
        slices: dict[int, list[tuple[Tensor, ...]]],
        count: int,
    ) -> Chunk:
        pieces = [
            [column[index] if part < 0 else slices[index][c][part] for index, part in entries]
            for c, column in enumerate(columns)
        ]
        owners = [index for index, _ in entries]
        return Chunk(pieces, owners, self._scratch_views(pieces[0], count) if count else [])

    def _scratch_views(self, pieces: list[Tensor], count: int) -> list[list[Tensor]]:
        """``count`` lists of non-overlapping scratch tensors shaped like ``pieces``."""
        layout = (count, *((piece.shape, piece.dtype, piece.device) for piece in pieces))
        views = self._views.get(layout)
        if views is not None:
            return views
        needed: dict[tuple[torch.device, torch.dtype], int] = {}
        for piece in pieces:
            key = (piece.device, piece.dtype)
            needed[key] = needed.get(key, 0) + piece.numel()
        for key, numel in needed.items():
            buffer = self._buffers.get(key)
            if buffer is None or buffer.numel() < count * numel:
                # Grows to the largest chunk seen, once; the views of the old buffer go with it.
                self._buffers[key] = torch.empty(count * numel, device=key[0], dtype=key[1])
                self._views.clear()
        if len(self._views) >= _CACHED_LAYOUTS:
            self._views.clear()  # layouts that keep changing (parameters that only sometimes have a gradient)
        offsets = dict.fromkeys(needed, 0)
        views = [[] for _ in range(count)]
        for slot in views:
            for piece in pieces:
                key = (piece.device, piece.dtype)
                start = offsets[key]
                offsets[key] = start + piece.numel()
                slot.append(self._buffers[key][start : offsets[key]].view(piece.shape))
        self._views[layout] = views
        return views
