"""The configurations the evidence base holds outcomes for, and which the engine recommends from.

Each method has a log grid of learning rates around its torch default, half a decade apart, crossed with
two values of the hyperparameter that matters most after the rate (torch's default and one common
alternative). A point is named by method, lr step and variant (`rmsprop:+1:0` is RMSprop at 10^0.5 ≈ 3.2×
its default lr with torch's alpha), so evidence, answers and tests refer to configurations without
floating-point keys. Every recommended configuration is one of these points: it was trained on every task
of the evidence base.
"""

from dataclasses import dataclass
from functools import cache

from optadvisor.optimizers.catalogue.names import METHODS, Method
from optadvisor.rules.canonical import Setting, significant, torch_defaults

STEPS_PER_DECADE = 2
# Nine points, four decades. SGD's torch default (lr 1e-3, no momentum) sits at the low end of the rates
# SGD is used at, so its grid reaches up to lr 1.
LR_STEPS: dict[Method, range] = {method: range(-4, 5) for method in METHODS} | {"sgd": range(-2, 7)}

# The second hyperparameter (canonical name) and the alternative to torch's default.
SECOND: dict[Method, tuple[str, float]] = {
    "adagrad": ("initial_accumulator_value", 0.1),  # Keras' and Optax's start
    "rmsprop": ("alpha", 0.9),  # Keras' rho: a ten-step memory instead of a hundred
    "adadelta": ("rho", 0.99),
    "adam": ("beta1", 0.5),  # less momentum: less lag behind a moving gradient
    "adamw": ("weight_decay", 0.1),
    "sgd": ("momentum", 0.9),
}


@dataclass(frozen=True, order=True)
class ConfigPoint:
    """One grid point: lr = torch default × 10^(lr_step/2); variant 1 sets the method's SECOND value."""

    method: Method
    lr_step: int
    variant: int

    @property
    def key(self) -> str:
        return f"{self.method}:{self.lr_step:+d}:{self.variant}"

    @staticmethod
    def parse(key: str) -> "ConfigPoint":
        method, step, variant = key.split(":")
        if method not in METHODS:
            raise ValueError(f"unknown method in configuration key {key!r}")
        return ConfigPoint(method, int(step), int(variant))

    @property
    def lr_multiplier(self) -> float:
        return float(10.0 ** (self.lr_step / STEPS_PER_DECADE))

    @property
    def is_default(self) -> bool:
        return self.lr_step == 0 and self.variant == 0

    def settings(self) -> dict[str, Setting]:
        """The canonical (torch-semantics) hyperparameters of this point; the lr to three significant
        digits, as trained in the corpus and as a config states it."""
        return dict(_settings(self))


@cache
def grid() -> tuple[ConfigPoint, ...]:
    """Every configuration, in a fixed order (the order of the evidence base's columns)."""
    return tuple(
        ConfigPoint(method, step, variant)
        for method in METHODS
        for step in LR_STEPS[method]
        for variant in (0, 1)
    )


def default_point(method: Method) -> ConfigPoint:
    return ConfigPoint(method, 0, 0)


@cache
def _settings(point: ConfigPoint) -> tuple[tuple[str, Setting], ...]:
    chosen = dict(torch_defaults(point.method))
    chosen["lr"] = significant(float(chosen["lr"]) * point.lr_multiplier)
    if point.variant:
        name, value = SECOND[point.method]
        chosen[name] = value
    return tuple(chosen.items())
