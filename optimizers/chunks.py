"""Cache-sized chunks of a step's tensors, and reusable scratch for the step's temporaries.

torch.optim's default on CPU is its single-tensor loop: each tensor goes through the whole chain
of elementwise operations while it is still in cache. A ``torch._foreach_*`` call over the whole
list (on CPU, a C++ loop of the same per-tensor operations) instead streams every tensor from
memory once per operation: 200 tensors of 50k elements made Adam 1.43× slower than torch.optim.
Chunks of about :data:`CHUNK_BYTES` per column and thread keep a chunk's working set in a 2 MB L2
cache through all the operations, while one foreach call per operation still covers many small
tensors (with one thread, 2,000 tensors of 1k elements are 32 chunks, not 2,000 Python-level
iterations).
Tensors larger than a slice (:data:`SLICE_BYTES`) are split into contiguous slices, so a 10M tensor
is treated the same.

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

# Bytes of one column's share of a chunk per torch thread (256 KiB: 65,536 float32 elements). A step
# touches five to seven columns (parameter, gradient, state, scratch), so the part of a chunk that
# one thread works on stays within its core's 2 MB L2 cache; with more threads a chunk grows with
# them, which also keeps the number of parallel regions (each a barrier) per step down.
CHUNK_BYTES = 256 * 1024
# Bytes per column and torch thread of the slices a larger tensor is cut into. Every slice costs each
# op a Python-level call and, with several threads, a parallel region: on a 10M tensor with two
# threads SGD took 1.14x torch.optim's time with 256 KiB slices and 0.99x with 1 MiB, and Adam 0.50x
# and 0.45x (its 6 MiB working set then sits in L3, which measured no slower).
SLICE_BYTES = 1024 * 1024

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

        Tensors are packed into chunks of :data:`CHUNK_BYTES` per torch thread; one of more than
        :data:`SLICE_BYTES` per thread is split into slices of that size when every column's tensor
        is contiguous (each slice then a chunk of its own), and kept whole otherwise. Each chunk
        carries ``scratch`` lists of scratch tensors; they are valid until the next chunk is produced.
        """
        sizes = [(tensor.numel(), tensor.element_size()) for tensor in columns[0]]
        if not sizes:
            return  # foreach ops refuse empty lists
        threads = torch.get_num_threads()
        chunk_bytes, slice_bytes = CHUNK_BYTES * threads, SLICE_BYTES * threads
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
            if tensor_bytes > slice_bytes and all(column[index].is_contiguous() for column in columns):
                limit = slice_bytes // element_size
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
