"""The thresholds the profiler measures with and the rules quote: each declared here once.

The profiler's modules use them; `rules` reads `QUOTED` to let rationale templates name them as
placeholders (`{rare_below:.0%}`) and to serve them with the rule set (`GET /v1/rules`, `thresholds`), and
the figures' and features' descriptions are written from them, so no text restates one as a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from optadvisor.optimizers.catalogue.methods import ADAGRAD_DECAY_STEPS

# Rare: nonzero in at least one step and in at most this share of them (one step in windows under 100).
RARE_BELOW: Final[float] = 0.01
# Intermittent: nonzero in at least one step and in at most this share of them.
INTERMITTENT_AT_MOST: Final[float] = 0.5
# Below this non-stationarity score a drift timescale would describe noise: none is reported.
STATIONARY_BELOW: Final[float] = 0.1
# Adagrad's rate has "died" when it has fallen to this share of its value after the first update.
DYING_FRACTION: Final[float] = 0.01
# Planned training length assumed when a profile is asked for without one.
DEFAULT_TRAINING_STEPS: Final[int] = 100_000


def as_share(value: float) -> str:
    """A share as the descriptions word it: "half", else a percentage ("1%")."""
    return "half" if value == 0.5 else f"{value:.0%}"


@dataclass(frozen=True)
class Threshold:
    """A number the rules may quote: its value, what it means, and the module that declares it."""

    value: float | int
    description: str
    home: str


QUOTED: Mapping[str, Threshold] = {
    "rare_below": Threshold(
        RARE_BELOW,
        "A coordinate is rare when nonzero in at least one step and at most this share of the steps.",
        "optadvisor.profiler.thresholds.RARE_BELOW",
    ),
    "intermittent_at_most": Threshold(
        INTERMITTENT_AT_MOST,
        "A coordinate is intermittent when nonzero in at least one step and at most this share of them.",
        "optadvisor.profiler.thresholds.INTERMITTENT_AT_MOST",
    ),
    "stationary_below": Threshold(
        STATIONARY_BELOW,
        "Below this non-stationarity no drift timescale is reported.",
        "optadvisor.profiler.thresholds.STATIONARY_BELOW",
    ),
    "dying_fraction": Threshold(
        DYING_FRACTION,
        "Adagrad's projected dying step is where its rate falls to this share of its first-update value.",
        "optadvisor.profiler.thresholds.DYING_FRACTION",
    ),
    "default_training_steps": Threshold(
        DEFAULT_TRAINING_STEPS,
        "Training length a profile assumes when none is given.",
        "optadvisor.profiler.thresholds.DEFAULT_TRAINING_STEPS",
    ),
    "adagrad_decay_steps": Threshold(
        ADAGRAD_DECAY_STEPS,
        "Dense updates after which the catalogue quotes Adagrad's remaining rate.",
        "optadvisor.optimizers.catalogue.methods.ADAGRAD_DECAY_STEPS",
    ),
}
