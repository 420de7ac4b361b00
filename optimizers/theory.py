"""Closed-form figures about the methods' dynamics, used by the catalogue's explanations."""

from __future__ import annotations

import math


def ema_memory_steps(decay: float) -> float:
    """Time constant ``1/(1 − decay)`` of an exponential moving average, in steps."""
    return 1.0 / (1.0 - decay)


def ema_half_life_steps(decay: float) -> float:
    """Steps after which a gradient's weight in the average has halved: ``ln 0.5 / ln decay``."""
    return math.log(0.5) / math.log(decay)


def adagrad_rate_ratio(updates: int) -> float:
    """Adagrad's effective rate after ``updates`` equal dense updates, relative to the first: 1/sqrt(n)."""
    return 1.0 / math.sqrt(updates)


def adagrad_updates_until_ratio(ratio: float) -> float:
    """Equal dense updates after which Adagrad's rate has fallen to ``ratio`` of its first value."""
    return 1.0 / ratio**2


def adadelta_first_step(eps: float, rho: float, gradient: float) -> float:
    """Size of Adadelta's first step (lr = 1): ``sqrt(eps) / sqrt((1 − rho)·g² + eps) · |g|``."""
    return math.sqrt(eps) * abs(gradient) / math.sqrt((1.0 - rho) * gradient**2 + eps)


def adadelta_first_step_limit(eps: float, rho: float) -> float:
    """The first step for gradients much larger than sqrt(eps): ``sqrt(eps / (1 − rho))``."""
    return math.sqrt(eps / (1.0 - rho))
