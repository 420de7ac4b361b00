"""The outcomes grid: the configurations every corpus task is trained with.

Each method gets a log grid of learning rates around its torch default, half a decade apart, crossed with
two values of the hyperparameter that matters most after the rate (the torch default and one common
alternative). Every point is named by its method, its lr step and its variant, so the evidence the engine is
fitted on can say "rmsprop at 3.2x its default lr" without floating-point keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from optadvisor import optimizers

METHODS: tuple[str, ...] = tuple(optimizers.METHODS)
SEEDS: tuple[int, ...] = (0, 1)

# lr = default * 10 ** (step / 2): nine points, four decades. SGD's torch default (1e-3, no momentum) sits
# at the low end of the rates SGD with momentum is used at, so its grid reaches up to 1.0.
LR_STEPS: dict[str, range] = {method: range(-4, 5) for method in METHODS} | {"sgd": range(-2, 7)}
STEPS_PER_DECADE = 2

# The second hyperparameter: (torch name, the alternative to torch's default).
SECOND: dict[str, tuple[str, float]] = {
    "adagrad": ("initial_accumulator_value", 0.1),  # Keras' and Optax's start
    "rmsprop": ("alpha", 0.9),  # Keras' rho: a ten-step memory instead of a hundred
    "adadelta": ("rho", 0.99),
    "adam": ("beta1", 0.5),  # less momentum: less lag behind a moving gradient
    "adamw": ("weight_decay", 0.1),
    "sgd": ("momentum", 0.9),
}


def _torch_default(method: str, name: str) -> Any:
    return optimizers.defaults(method, "torch")[name]


def default_lr(method: str) -> float:
    return float(_torch_default(method, "lr"))


@dataclass(frozen=True, order=True)
class GridConfig:
    """One grid point: ``lr = default_lr(method) * 10 ** (lr_step / 2)``; ``variant`` 1 sets ``SECOND``."""

    method: str
    lr_step: int
    variant: int

    @property
    def key(self) -> str:
        return f"{self.method}:{self.lr_step:+d}:{self.variant}"

    @staticmethod
    def parse(key: str) -> GridConfig:
        method, step, variant = key.split(":")
        return GridConfig(method, int(step), int(variant))

    @property
    def lr(self) -> float:
        return default_lr(self.method) * float(10.0 ** (self.lr_step / STEPS_PER_DECADE))

    @property
    def is_default(self) -> bool:
        return self.lr_step == 0 and self.variant == 0

    def kwargs(self) -> dict[str, Any]:
        """The torch.optim keyword arguments (those that differ from torch's defaults, plus lr)."""
        settings: dict[str, Any] = {"lr": self.lr}
        if self.variant:
            name, value = SECOND[self.method]
            if name == "beta1":
                settings["betas"] = (value, _torch_default(self.method, "betas")[1])
            else:
                settings[name] = value
        return settings


def grid() -> tuple[GridConfig, ...]:
    """Every configuration, in a fixed order."""
    return tuple(
        GridConfig(method, step, variant)
        for method in METHODS
        for step in LR_STEPS[method]
        for variant in (0, 1)
    )


def default_config(method: str) -> GridConfig:
    return GridConfig(method, 0, 0)
