"""Project when Adagrad's per-coordinate rates die, from each coordinate's measured statistics.

A coordinate active (nonzero) a fraction p of steps with mean square r over its active steps, first
active at step t₁ with gradient g₁, has accumulator ``S(t) ≈ S₀ + g₁² + p·r·(t − t₁)``. Its effective
rate ``f(S)`` is read off the framework's own Adagrad (``effective_step_size`` after one update that
sets S), so ε placement, initial accumulator and learning rate follow the requested semantics. The
dying step solves ``f(S(t)) = DYING_FRACTION·f(S₀ + g₁²)`` (``profiler.thresholds``); the median over
active coordinates of the per-coordinate dying steps is the step at which the median coordinate's rate
has fallen to that share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from optadvisor import optimizers
from optadvisor.profiler.replay_engine import single_threaded_torch
from optadvisor.profiler.stream_stats import StreamStats
from optadvisor.profiler.thresholds import DYING_FRACTION

# Accumulator increments S − S₀ tabulated on a log grid: 10 points per decade, 1e-45 … 1e45.
_GRID = np.logspace(-45.0, 45.0, 901)


@dataclass(frozen=True)
class RateCurve:
    """Adagrad's effective rate as a function of the accumulator increment ``S − S₀``."""

    log_increment: npt.NDArray[np.float64]
    log_rate: npt.NDArray[np.float64]

    def log_rate_at(self, increment: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """log10 rate after the accumulator has grown by ``increment``."""
        clipped = np.clip(increment, _GRID[0], _GRID[-1])
        return np.interp(np.log10(clipped), self.log_increment, self.log_rate)

    def increment_at(self, log_rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Accumulator increment at which the log10 rate has fallen to ``log_rate`` (inf if never)."""
        # log_rate is non-increasing in the increment: interpolate the reversed (increasing) table.
        increment = 10.0 ** np.interp(-log_rate, -self.log_rate, self.log_increment)
        return np.where(log_rate < self.log_rate[-1], np.inf, increment)


def adagrad_rate_curve(framework: str, hyperparameters: Mapping[str, object]) -> RateCurve:
    """Tabulate ``f`` with one update of a float64 probe parameter per grid point."""
    probe = torch.zeros(_GRID.size, dtype=torch.float64)
    optimizer = optimizers.create("adagrad", [probe], framework=framework, **hyperparameters)
    probe.grad = torch.from_numpy(np.sqrt(_GRID))
    with single_threaded_torch():
        optimizer.step()
        rate = optimizer.effective_step_size(probe).numpy()
    with np.errstate(divide="ignore"):
        log_rate = np.log10(np.maximum(rate, np.finfo(np.float64).tiny))
    # Rounding can make a flat stretch wobble by an ulp; the curve is non-increasing by construction.
    return RateCurve(np.log10(_GRID), np.minimum.accumulate(log_rate))


def project_adagrad(
    stats: StreamStats, curve: RateCurve, horizon: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per coordinate: the dying step and the rate ratio at step ``horizon`` (NaN if never active).

    A dying step may be inf (the rate never falls that far, e.g. a large initial accumulator).
    """
    dying = np.full(stats.nonzero_count.size, np.nan)
    ratio = np.full(stats.nonzero_count.size, np.nan)
    active = stats.nonzero_count > 0
    growth_per_step = stats.total_square[active] / stats.steps  # p·r
    first_step = stats.first_active_step[active] + 1.0  # 1-based
    first_increment = stats.first_active_square[active]
    first_log_rate = curve.log_rate_at(first_increment)
    dying_increment = curve.increment_at(first_log_rate + np.log10(DYING_FRACTION))
    with np.errstate(divide="ignore", invalid="ignore"):  # squares that underflow to 0 never die
        dying[active] = first_step + (dying_increment - first_increment) / growth_per_step
    later = np.maximum(horizon - first_step, 0.0)
    ratio[active] = 10.0 ** (curve.log_rate_at(first_increment + growth_per_step * later) - first_log_rate)
    return dying, ratio
