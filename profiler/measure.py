"""Figures of one gradient group, each defined in one line (the same line as its API description)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optadvisor.profiler.adagrad_projection import RateCurve, project_adagrad
from optadvisor.profiler.coordinates import Columns, fixed_subset
from optadvisor.profiler.figures import Figures
from optadvisor.profiler.sample import GradientSample
from optadvisor.profiler.stationarity import DIRECTION_COORDINATES, measure_stationarity, window_means
from optadvisor.profiler.stream_stats import StreamStats, stream_stats
from optadvisor.profiler.thresholds import INTERMITTENT_AT_MOST, RARE_BELOW

# Per-coordinate statistics cost ~80 bytes per coordinate: wider groups are measured on a fixed
# subset of this many coordinates, so memory stays bounded however short and wide a sample is.
MEASURED_COORDINATES = 1 << 20
NEVER_BEYOND = 1e9

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DecaySettings:
    """The requested framework's RMSprop and Adadelta settings the memory figures refer to."""

    rmsprop_alpha: float
    adadelta_rho: float
    adadelta_eps: float
    adadelta_lr: float


@dataclass(frozen=True)
class PerCoordinate:
    """Per-coordinate quantities that the quantile figures summarise; NaN where undefined."""

    frequency: Vector  # fraction of steps with g != 0
    window: Vector  # steps the coordinate was recorded over (its group's T)
    rms: Vector  # sqrt(mean g² over steps); NaN if never nonzero
    gsnr: Vector  # mean² / variance over steps; NaN if the gradient never varies
    dying_step: Vector  # projected Adagrad dying step; NaN if never nonzero
    rate_ratio: Vector  # projected Adagrad rate ratio at training_steps; NaN if never nonzero

    @property
    def size(self) -> int:
        """Number of coordinates described."""
        return int(self.frequency.size)

    def take(self, columns: Columns) -> PerCoordinate:
        """The same quantities for ``columns`` only."""
        return PerCoordinate(*(values[columns] for values in self._arrays()))

    @staticmethod
    def concatenate(parts: Sequence[PerCoordinate]) -> PerCoordinate:
        """All parts' coordinates side by side."""
        return PerCoordinate(
            *(np.concatenate(arrays) for arrays in zip(*(p._arrays() for p in parts), strict=True))
        )

    def _arrays(self) -> tuple[Vector, ...]:
        return self.frequency, self.window, self.rms, self.gsnr, self.dying_step, self.rate_ratio


@dataclass(frozen=True)
class GroupMeasurement:
    """A group's figures, the per-coordinate quantities behind them, and its tensor's size."""

    figures: Figures
    per_coordinate: PerCoordinate
    tensor_size: int  # the whole tensor's coordinates (total_coordinates when a subset was sent)


def measure_group(
    sample: GradientSample,
    curve: RateCurve,
    decay: DecaySettings,
    training_steps: int,
    recorded_every: int = 1,
) -> GroupMeasurement:
    """Measure every figure of ``sample`` (one blocked pass plus per-window work).

    ``recorded_every`` is the number of training steps between two recorded steps: the sample spans
    ``steps * recorded_every`` training steps, and drift timescales are reported in training steps.
    """
    measured = (
        None
        if sample.coordinates <= MEASURED_COORDINATES
        else fixed_subset(sample.coordinates, MEASURED_COORDINATES)
    )
    stats = stream_stats(sample.values, measured)
    per_coordinate = _per_coordinate(stats, curve, training_steps)
    direction_columns = (
        None
        if sample.coordinates <= DIRECTION_COORDINATES
        else fixed_subset(sample.coordinates, DIRECTION_COORDINATES)
    )
    stationarity = measure_stationarity(
        _step_mean_square(sample, stats), window_means(sample.values, direction_columns)
    )
    timescale = (
        None if stationarity.timescale_steps is None else stationarity.timescale_steps * recorded_every
    )
    figures = Figures.model_validate(
        {
            "steps": sample.steps,
            "window_steps": sample.steps * recorded_every,
            "coordinates": sample.coordinates,
            # sparsity: fraction of entries exactly zero (of the whole tensor when step_nonzeros is sent).
            "sparsity": _sparsity(sample, stats),
            "nonstationarity": stationarity.score,
            "drift_timescale_steps": timescale,
            # gradient RMS: sqrt of the mean g² over all entries (whole tensor when step_norms is sent).
            "gradient_rms": _gradient_rms(sample, stats),
            "parameter_rms": sample.known_parameter_rms,
            "typical_parameter_rms": sample.known_parameter_rms,
            **summarise(per_coordinate),
            **decay_figures(decay, timescale, sample.known_parameter_rms),
        }
    )
    return GroupMeasurement(figures, per_coordinate, sample.total_coordinates or sample.coordinates)


def summarise(per_coordinate: PerCoordinate) -> dict[str, float | None]:
    """The quantile figures of a set of coordinates."""
    frequency = per_coordinate.frequency
    active_steps = np.rint(frequency * per_coordinate.window)
    active = active_steps > 0
    rms = _defined(per_coordinate.rms)
    gsnr = _defined(per_coordinate.gsnr)
    dying = _defined(per_coordinate.dying_step)
    dying_step = float(np.median(dying)) if dying.size else math.inf
    return {
        # nonzero frequency: per coordinate, fraction of steps with g != 0; its quantiles.
        "nonzero_frequency_p10": float(np.quantile(frequency, 0.1)),
        "nonzero_frequency_median": float(np.median(frequency)),
        "nonzero_frequency_p90": float(np.quantile(frequency, 0.9)),
        # silent: zero in every step (a dead unit, or a feature rarer than the window can see).
        "silent_coordinate_fraction": float(np.mean(~active)),
        # rare: nonzero in at least one step and in at most RARE_BELOW of them (one step in short windows).
        "rare_coordinate_fraction": float(
            np.mean(active & (active_steps <= np.maximum(RARE_BELOW * per_coordinate.window, 1.0)))
        ),
        # intermittent: nonzero in at least one step and in at most INTERMITTENT_AT_MOST of them.
        "intermittent_coordinate_fraction": float(np.mean(active & (frequency <= INTERMITTENT_AT_MOST))),
        # scale spread: log10(p90 / p10) of per-coordinate RMS over coordinates ever nonzero.
        "scale_spread_decades": float(np.log10(np.quantile(rms, 0.9) / np.quantile(rms, 0.1)))
        if rms.size
        else None,
        # GSNR: per coordinate mean² / variance over steps (coordinates whose gradient varies).
        "gsnr_median": float(np.median(gsnr)) if gsnr.size else None,
        "gsnr_p90": float(np.quantile(gsnr, 0.9)) if gsnr.size else None,
        # mean to spread: median over coordinates of |mean| / standard deviation = sqrt(GSNR).
        "mean_to_spread_ratio": float(np.median(np.sqrt(gsnr))) if gsnr.size else None,
        # Adagrad: median over ever-active coordinates of the projected dying step and rate ratio.
        "adagrad_dying_step": dying_step if dying_step <= NEVER_BEYOND else None,
        "adagrad_rate_ratio_at_training_steps": float(np.median(_defined(per_coordinate.rate_ratio)))
        if dying.size
        else None,
    }


def decay_figures(
    decay: DecaySettings, timescale: float | None, parameter_rms: float | None
) -> dict[str, float | None]:
    """RMSprop memory and Adadelta first-step figures."""
    first_step = decay.adadelta_lr * math.sqrt(decay.adadelta_eps / (1.0 - decay.adadelta_rho))
    return {
        "rmsprop_alpha": decay.rmsprop_alpha,
        # half-life: steps until a gradient's weight in the running average halves, ln 0.5 / ln alpha.
        "rmsprop_half_life_steps": _half_life(decay.rmsprop_alpha),
        # matched alpha: memory 1 / (1 - alpha) equal to the drift timescale.
        "rmsprop_matched_alpha": None if timescale is None else 1.0 - 1.0 / max(timescale, 1.0),
        # Adadelta's first steps: lr · sqrt(eps / (1 - rho)) while E[Δx²] is still ~0.
        "adadelta_first_step": first_step,
        "adadelta_first_step_to_parameter_rms": first_step / parameter_rms if parameter_rms else None,
    }


def _per_coordinate(stats: StreamStats, curve: RateCurve, training_steps: int) -> PerCoordinate:
    steps = stats.steps
    mean = stats.total / steps
    variance = np.maximum(stats.total_square / steps - np.square(mean), 0.0) * steps / (steps - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        gsnr = np.where(variance > 0, np.square(mean) / variance, np.nan)
    rms = np.where(stats.nonzero_count > 0, np.sqrt(stats.total_square / steps), np.nan)
    dying, ratio = project_adagrad(stats, curve, training_steps)
    window = np.full(stats.nonzero_count.size, float(steps))
    return PerCoordinate(stats.nonzero_count / steps, window, rms, gsnr, dying, ratio)


def _defined(values: Vector) -> Vector:
    return values[~np.isnan(values)]


def _step_mean_square(sample: GradientSample, stats: StreamStats) -> Vector:
    """Per step, mean g² over the whole tensor when exact norms are sent, else over the sample."""
    if sample.step_norms is not None and sample.total_coordinates is not None:
        return np.square(sample.step_norms) / sample.total_coordinates
    return stats.step_square / sample.coordinates


def _sparsity(sample: GradientSample, stats: StreamStats) -> float:
    if sample.step_nonzeros is not None:
        total = sample.total_coordinates or sample.coordinates
        return 1.0 - float(sample.step_nonzeros.sum()) / (sample.steps * total)
    return 1.0 - float(stats.step_nonzero.sum()) / (sample.steps * sample.coordinates)


def _gradient_rms(sample: GradientSample, stats: StreamStats) -> float:
    if sample.step_norms is not None:
        total = sample.total_coordinates or sample.coordinates
        return math.sqrt(float(np.square(sample.step_norms).sum()) / (sample.steps * total))
    return math.sqrt(float(stats.step_square.sum()) / (sample.steps * sample.coordinates))


def _half_life(alpha: float) -> float:
    if alpha <= 0:
        return 0.0
    if alpha >= 1:
        return math.inf
    return math.log(0.5) / math.log(alpha)
