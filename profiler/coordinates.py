"""Fixed, deterministic coordinate subsets for the costly per-step work (replay, direction)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

Columns = npt.NDArray[np.intp]


def fixed_subset(coordinates: int, size: int) -> Columns:
    """``size`` sorted coordinates of ``range(coordinates)`` drawn with a fixed seed (all if fewer)."""
    if coordinates <= size:
        return np.arange(coordinates, dtype=np.intp)
    rng = np.random.default_rng(coordinates)
    return np.sort(rng.choice(coordinates, size=size, replace=False)).astype(np.intp)


def replay_subsets(
    coordinate_counts: Mapping[str, int], *, per_group: int, total: int, minimum: int
) -> dict[str, Columns]:
    """Subsets of at most ``per_group`` coordinates per group and about ``total`` overall, shared in
    proportion to group size but never fewer than ``minimum`` (or the whole group) per group."""
    capped = {name: min(count, per_group) for name, count in coordinate_counts.items()}
    overall = sum(capped.values())
    scale = min(1.0, total / overall)
    return {
        name: fixed_subset(count, min(count, max(minimum, int(capped[name] * scale))))
        for name, count in coordinate_counts.items()
    }
