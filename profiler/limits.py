"""Bounds on what one request may ask the profiler to load and measure: static limits, and the budget of
memory, work and time a caller may grant each request."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limits:
    """Resource limits, checked before anything of that size is allocated.

    Attributes:
        max_elements: dense elements (T·D summed over groups) one request may hold.
        max_groups: gradient groups per request.
        max_file_members: arrays in one ``.npz`` archive or tensors in one ``.safetensors`` file.
        max_decompressed_bytes: total uncompressed size of the members of an ``.npz`` archive.
        max_compression_ratio: uncompressed / compressed size allowed for any ``.npz`` member.
        max_header_bytes: size of an ``.npy`` header (numpy's own default is 10,000).
        max_metadata_bytes: size of a ``.safetensors`` JSON header.
        max_dimensions: dimensions of one array (``[T, ...]``, flattened to ``[T, D]``).
    """

    max_elements: int = 2**26
    max_groups: int = 256
    max_file_members: int = 1024
    max_decompressed_bytes: int = 2**29
    max_compression_ratio: float = 200.0
    max_header_bytes: int = 10_000
    max_metadata_bytes: int = 2**20
    max_dimensions: int = 8

    def __post_init__(self) -> None:
        for name in (
            "max_elements",
            "max_groups",
            "max_file_members",
            "max_decompressed_bytes",
            "max_header_bytes",
            "max_metadata_bytes",
            "max_dimensions",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"Invalid {name}: {getattr(self, name)}")
        if not self.max_compression_ratio >= 1:
            raise ValueError(f"Invalid max_compression_ratio: {self.max_compression_ratio}")


class ComputeBudget(Protocol):
    """What a caller (the HTTP service) grants one request beyond the static limits: memory for what the
    request expands to, units of work, and time. Each method raises when the grant is exhausted."""

    def reserve_memory(self, nbytes: int, what: str) -> None:
        """Account for ``nbytes`` about to be allocated for ``what`` (before allocating them)."""

    def charge_work(self, units: int, what: str) -> None:
        """Account for ``units`` of work about to start (one unit: one coordinate for one optimizer step)."""

    def check_deadline(self) -> None:
        """Raise when the request has run out of time (called between steps of long loops)."""


_BUDGET: ContextVar[ComputeBudget | None] = ContextVar("compute_budget", default=None)

# Memory that measuring a sample costs per element of it beyond the sample itself: the profile's
# temporaries, measured at 6.8 bytes per float32 element (benchmarks/README.md, hardening/memory.py).
PROFILE_TEMPORARIES_PER_ITEM_BYTE = 2


@contextmanager
def compute_budget(budget: ComputeBudget) -> Iterator[None]:
    """Make ``budget`` the one the loaders, the profile and the replays of this context report to.

    A context variable rather than a parameter: ``profile`` and ``replay`` are pure functions of their
    samples, and a budget is the caller's policy, not part of what they compute. Without one (library use)
    nothing is counted.
    """
    token = _BUDGET.set(budget)
    try:
        yield
    finally:
        _BUDGET.reset(token)


def reserve_memory(nbytes: int, what: str) -> None:
    """Report ``nbytes`` about to be allocated for ``what`` to the current budget, if any."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.reserve_memory(nbytes, what)


def reserve_sample_memory(elements: int, itemsize: int, what: str) -> None:
    """Report a sample of ``elements`` values of ``itemsize`` bytes about to be built and then measured."""
    reserve_memory(elements * itemsize * (1 + PROFILE_TEMPORARIES_PER_ITEM_BYTE), what)


def charge_work(units: int, what: str) -> None:
    """Report ``units`` of work about to start to the current budget, if any."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.charge_work(units, what)


def check_deadline() -> None:
    """Raise if the current budget's time is up."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.check_deadline()
