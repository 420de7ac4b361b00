"""Ranks and relative gaps of a strategy's result against the candidate methods' random-search bests."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

WITHIN = 0.05


def rank_among(value: float, method_bests: Mapping[str, float]) -> int:
    """1 + the number of candidate methods whose best result is strictly better (lower) than ``value``."""
    return 1 + sum(best < value for best in method_bests.values())


def relative_gap(value: float, best: float) -> float:
    """(value - best) / |best|; negative when ``value`` beats the best candidate, inf when it diverged."""
    if not math.isfinite(value):
        return math.inf
    if best == 0.0:
        return 0.0 if value == 0.0 else math.inf
    return (value - best) / abs(best)


@dataclass(frozen=True)
class Standing:
    """Where one strategy's result lands among the candidate methods in one cell."""

    value: float
    rank: int
    gap: float

    @property
    def within(self) -> bool:
        return self.gap <= WITHIN


def standing(value: float, method_bests: Mapping[str, float]) -> Standing:
    best = min(method_bests.values())
    return Standing(value, rank_among(value, method_bests), relative_gap(value, best))
