"""Gradient streams with known ground truth, for testing and demonstrating the profiler.

Every generator is deterministic for a given ``seed`` and returns a float32 array [steps, coordinates].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Stream = npt.NDArray[np.float32]


def stationary_gaussian(
    steps: int, coordinates: int, *, scale: float = 1.0, mean: float = 0.0, seed: int = 0
) -> Stream:
    """i.i.d. N(mean, scale²) entries: nonstationarity 0, no drift timescale, sparsity 0."""
    rng = np.random.default_rng(seed)
    return (mean + scale * rng.standard_normal((steps, coordinates))).astype(np.float32)


def regime_switches(
    steps: int, coordinates: int, *, period: int, ratio: float = 10.0, seed: int = 0
) -> Stream:
    """Gaussian noise whose scale alternates between 1 and ``ratio`` every ``period`` steps.

    Ground truth: the scale changes by ``ratio`` every ``period`` steps (drift timescale ``period``).
    """
    regime = (np.arange(steps) // period) % 2
    scales = np.where(regime == 1, ratio, 1.0)
    return (stationary_gaussian(steps, coordinates, seed=seed) * scales[:, None]).astype(np.float32)


def drifting_scale(steps: int, coordinates: int, *, decades: float = 1.0, seed: int = 0) -> Stream:
    """Gaussian noise whose scale grows smoothly by ``decades`` orders of magnitude over the sample.

    Ground truth: one decade of change every ``steps / decades`` steps.
    """
    scales = 10.0 ** (decades * np.arange(steps) / max(steps - 1, 1))
    return (stationary_gaussian(steps, coordinates, seed=seed) * scales[:, None]).astype(np.float32)


def zipf_activity(vocabulary: int, *, words_per_step: int, exponent: float = 1.1) -> npt.NDArray[np.float64]:
    """Probability that each coordinate (word rank) is nonzero in one step of :func:`zipf_bag_of_words`."""
    weights = 1.0 / np.arange(1, vocabulary + 1) ** exponent
    word_probability = weights / weights.sum()
    activity: npt.NDArray[np.float64] = 1.0 - (1.0 - word_probability) ** words_per_step
    return activity


def zipf_bag_of_words(
    steps: int, vocabulary: int, *, words_per_step: int = 32, exponent: float = 1.1, seed: int = 0
) -> Stream:
    """Embedding-row gradients of a bag-of-words model: each step draws ``words_per_step`` words from
    a Zipf(``exponent``) vocabulary; drawn words get N(0, 1) gradients (summed when drawn twice), all
    other coordinates are exactly zero.

    Ground truth: coordinate d is nonzero with probability ``zipf_activity(...)[d]`` per step.
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, vocabulary + 1) ** exponent
    words = rng.choice(vocabulary, size=(steps, words_per_step), p=weights / weights.sum())
    stream = np.zeros((steps, vocabulary), np.float32)
    rows = np.repeat(np.arange(steps), words_per_step)
    np.add.at(
        stream, (rows, words.reshape(-1)), rng.standard_normal(steps * words_per_step).astype(np.float32)
    )
    return stream


def intermittent_gaussian(
    steps: int, coordinates: int, *, activity: float, scale: float = 1.0, seed: int = 0
) -> Stream:
    """N(0, scale²) entries, each present (nonzero) with probability ``activity``, else exactly zero."""
    rng = np.random.default_rng(seed)
    present = rng.random((steps, coordinates)) < activity
    return (scale * rng.standard_normal((steps, coordinates)) * present).astype(np.float32)
