"""Nonstationarity: does the stream's scale or direction change within the sample, and how fast?

The stream is cut into n ≤ 512 windows of equal length. Two window series are compared:

* scale: ``x_i`` = log10 of the window's RMS gradient;
* direction: ``u_i`` = the window's mean gradient (on up to 1024 fixed coordinates).

For a similarity ``S(i, j)`` between windows (``-(x_i - x_j)²/2`` for scale, ``cos(u_i, u_j)`` for
direction), ``excess(L)`` = mean similarity of windows L apart minus the mean over all pairs. A
stationary stream's windows are exchangeable, so ``excess(1)`` is then only sampling noise; the
noise level is measured by shuffling the windows (fixed seed) and is subtracted. Adjacent windows
of a drifting stream are more alike than distant ones, so ``excess(1)`` is positive: for scale it
is the variance of log10 RMS that short-lag noise does not explain (decades²), for direction the
loss of alignment (cosine). The timescale is twice the lag at which ``excess`` falls to 1/e of
``excess(1)`` (the correlation time of a switching or drifting signal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optadvisor.profiler.sample import FloatArray
from optadvisor.profiler.thresholds import STATIONARY_BELOW

MAX_WINDOWS = 512
DIRECTION_COORDINATES = 1024
_SHUFFLES = 32
# Window mean squares are floored at this fraction of the stream's mean square, so an all-zero
# step counts as a drop of 3 decades rather than an infinite one.
_SCALE_FLOOR = 1e-3


@dataclass(frozen=True)
class Stationarity:
    """Nonstationarity score in [0, 1] and the drift timescale in steps (None when stationary)."""

    score: float
    timescale_steps: float | None


def window_length(steps: int) -> int:
    """Steps per window so that there are at most MAX_WINDOWS windows."""
    return -(-steps // MAX_WINDOWS)


def measure_stationarity(
    step_mean_square: npt.NDArray[np.float64], direction_windows: FloatArray
) -> Stationarity:
    """Score ``max(scale, direction)``; timescale of the stronger component.

    Args:
        step_mean_square: per step, mean of g² over the tensor's coordinates.
        direction_windows: [n windows, k coordinates] window means of the gradient (see
            :func:`window_means`).
    """
    window = window_length(step_mean_square.size)
    windows = direction_windows.shape[0]
    scale = _scale_series(step_mean_square[: windows * window].reshape(windows, window).mean(axis=1))
    scale_similarity = -0.5 * np.square(scale[:, None] - scale[None, :])
    scale_strength, scale_lag = _drift(scale_similarity)
    scale_score = float(np.tanh(2.0 * np.sqrt(scale_strength)))  # 2·sd: peak-to-peak decades
    direction_strength, direction_lag = _drift(_cosine_similarity(direction_windows))
    direction_score = float(min(direction_strength, 1.0))
    score, lag = max((scale_score, scale_lag), (direction_score, direction_lag))
    if score < STATIONARY_BELOW:
        return Stationarity(score, None)
    return Stationarity(score, 2.0 * lag * window)


def window_means(values: FloatArray, columns: npt.NDArray[np.intp] | None) -> FloatArray:
    """[n, k] mean gradient of each window over ``columns`` (all when None), trailing steps dropped."""
    window = window_length(values.shape[0])
    windows = values.shape[0] // window
    width = values.shape[1] if columns is None else columns.size
    means = np.empty((windows, width), np.float64)
    for index in range(windows):
        block = values[index * window : (index + 1) * window]
        means[index] = (block if columns is None else block[:, columns]).mean(axis=0, dtype=np.float64)
    return means


def _scale_series(window_mean_square: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    reference = float(window_mean_square.mean())
    if reference == 0:
        return np.zeros_like(window_mean_square)
    return 0.5 * np.log10(window_mean_square + _SCALE_FLOOR * reference)


def _cosine_similarity(vectors: FloatArray) -> npt.NDArray[np.float64]:
    norms = np.linalg.norm(vectors, axis=1)
    unit = np.divide(vectors, norms[:, None], out=np.zeros_like(vectors), where=norms[:, None] > 0)
    unit32 = unit.astype(np.float32)  # cosines need no more than float32: halves the Gram matrix's cost
    similarity: npt.NDArray[np.float64] = (unit32 @ unit32.T).astype(np.float64)
    return similarity


def _drift(similarity: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(noise-corrected excess(1), 1/e lag) of a window similarity matrix."""
    windows = similarity.shape[0]
    if windows < 4:
        return 0.0, 0.0
    off_diagonal = (similarity.sum() - np.trace(similarity)) / (windows * (windows - 1))
    strength = float(np.mean(np.diagonal(similarity, 1)) - off_diagonal)
    rng = np.random.default_rng(0)
    noise = max(
        float(np.mean(similarity[order[:-1], order[1:]]) - off_diagonal)
        for order in (rng.permutation(windows) for _ in range(_SHUFFLES))
    )
    if strength - noise <= 0:
        return 0.0, 0.0
    lags = np.arange(1, windows // 2 + 1)
    excess = np.array([np.mean(np.diagonal(similarity, lag)) for lag in lags]) - off_diagonal
    return strength - noise, _decay_lag(lags, excess / strength)


def _decay_lag(lags: npt.NDArray[np.int64], relative: npt.NDArray[np.float64]) -> float:
    """First lag where ``relative`` drops below 1/e, interpolated; the last lag if it never does."""
    below = np.flatnonzero(relative < np.exp(-1.0))
    if below.size == 0 or below[0] == 0:
        return float(lags[-1] if below.size == 0 else lags[0])
    upper = below[0]
    previous, current = relative[upper - 1], relative[upper]
    fraction = (previous - np.exp(-1.0)) / (previous - current)
    return float(lags[upper - 1] + fraction * (lags[upper] - lags[upper - 1]))
