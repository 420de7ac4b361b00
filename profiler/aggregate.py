"""Overall figures of all groups.

Quantile figures summarise the pooled coordinates of every group (a proportional fixed sample of
at most POOLED_COORDINATES when there are more); the others are weighted over groups by
coordinate count, except typical_parameter_rms: the median over groups' parameter RMS weighted by
tensor size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from optadvisor.profiler.coordinates import fixed_subset
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.measure import (
    DecaySettings,
    GroupMeasurement,
    PerCoordinate,
    decay_figures,
    summarise,
)

POOLED_COORDINATES = 1 << 18

# Figures that span decades are averaged on a log scale (a weighted geometric mean).
_LOG_SCALE = {"drift_timescale_steps"}
# Figures whose overall value is the RMS over all coordinates (a weighted quadratic mean).
_QUADRATIC = {"gradient_rms", "parameter_rms"}
_WEIGHTED = ("sparsity", "nonstationarity", "drift_timescale_steps", "gradient_rms", "parameter_rms")


def pooled_sizes(coordinate_counts: Mapping[str, int]) -> dict[str, int]:
    """Coordinates each group contributes to the pool: all of them, or a share proportional to size."""
    total = sum(coordinate_counts.values())
    scale = min(1.0, POOLED_COORDINATES / total)
    return {name: min(count, max(1, round(count * scale))) for name, count in coordinate_counts.items()}


def overall_figures(groups: Mapping[str, GroupMeasurement], decay: DecaySettings) -> Figures:
    """The overall figures of ``groups`` (measured with ``decay``)."""
    figures = [group.figures for group in groups.values()]
    # Shares follow each group's true size; they never exceed the coordinates it was measured on.
    sizes = pooled_sizes({name: group.figures.coordinates for name, group in groups.items()})
    pooled = PerCoordinate.concatenate(
        [
            group.per_coordinate.take(fixed_subset(group.per_coordinate.size, sizes[name]))
            for name, group in groups.items()
        ]
    )
    combined: dict[str, object] = {
        "steps": max(f.steps for f in figures),
        "window_steps": max(f.window_steps for f in figures),
        "coordinates": sum(f.coordinates for f in figures),
    }
    for name in _WEIGHTED:
        pairs = [(getattr(f, name), float(f.coordinates)) for f in figures if getattr(f, name) is not None]
        combined[name] = _weighted(name, pairs) if pairs else None
    combined["typical_parameter_rms"] = _size_weighted_median(
        [
            (group.figures.parameter_rms, group.tensor_size)
            for group in groups.values()
            if group.figures.parameter_rms is not None
        ]
    )
    timescale, parameter_rms = combined["drift_timescale_steps"], combined["parameter_rms"]
    combined.update(summarise(pooled))
    combined.update(decay_figures(decay, timescale, parameter_rms))  # type: ignore[arg-type]
    return Figures.model_validate(combined)


def _weighted(name: str, pairs: list[tuple[float, float]]) -> float:
    total = sum(weight for _, weight in pairs)
    if name in _QUADRATIC:
        return math.sqrt(sum(value * value * weight for value, weight in pairs) / total)
    if name in _LOG_SCALE:
        return math.exp(sum(math.log(value) * weight for value, weight in pairs) / total)
    return sum(value * weight for value, weight in pairs) / total


def _size_weighted_median(pairs: list[tuple[float, int]]) -> float | None:
    """The value at which half of the total size is reached, values taken in increasing order."""
    total = sum(size for _, size in pairs)
    reached = 0
    for value, size in sorted(pairs):
        reached += size
        if 2 * reached >= total:
            return value
    return None
