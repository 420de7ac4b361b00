"""Each method's hyperparameters in one framework-neutral form: the catalogue's canonical names, with
torch's semantics and defaults.

The engine chooses values in this form; `rules.frameworks` translates them into each framework's names.
Adam's betas are kept as two scalars (`beta1`, `beta2`) so every value is a flat scalar.
"""

from collections.abc import Mapping
from functools import cache

from optadvisor.optimizers import catalogue, defaults
from optadvisor.optimizers.catalogue import FrameworkHyperparameter
from optadvisor.optimizers.catalogue.names import Method

Setting = float | bool
Settings = Mapping[str, Setting]

# What every config states explicitly. Adagrad's accumulator start is in the list because Keras and
# Optax start it at 0.1 where torch starts at 0.
STATED: Mapping[Method, tuple[str, ...]] = {
    "adagrad": ("lr", "eps", "initial_accumulator_value"),
    "rmsprop": ("lr", "alpha", "eps", "centered"),
    "adadelta": ("lr", "rho", "eps"),
    "adam": ("lr", "beta1", "beta2", "eps"),
    "adamw": ("lr", "beta1", "beta2", "eps", "weight_decay"),
    "sgd": ("lr", "momentum", "nesterov"),
}
_BETAS = {"beta1": 0, "beta2": 1}


def significant(value: float, digits: int = 3) -> float:
    """`value` rounded to `digits` significant digits, so configs read like hand-written ones."""
    return float(f"{value:.{digits}g}")


@cache
def torch_defaults(method: Method) -> dict[str, Setting]:
    """torch's defaults for the stated hyperparameters (betas split into beta1, beta2)."""
    torch = defaults(method, "torch")
    chosen: dict[str, Setting] = {}
    for name in STATED[method]:
        value = torch["betas"][_BETAS[name]] if name in _BETAS else torch[name]  # type: ignore[index]
        chosen[name] = value if isinstance(value, bool) else float(value)  # type: ignore[arg-type]
    return chosen


def _spec(method: Method, name: str) -> FrameworkHyperparameter | None:
    for entry in catalogue.entry(method).hyperparameters:
        if entry.name == name:
            # beta1/beta2 have no torch spelling (torch takes the pair `betas`); Keras' has the same range.
            return entry.torch or entry.keras
    return None


def check_setting(method: Method, name: str, value: object) -> str | None:
    """Why `value` cannot be `method`'s hyperparameter `name`, or None when it can."""
    stated = torch_defaults(method)
    spec = _spec(method, name)
    if name not in stated or spec is None:
        return f"unknown hyperparameter of {method} (known: {', '.join(stated)})"
    expected_bool = isinstance(stated[name], bool)
    if expected_bool != isinstance(value, bool) or not isinstance(value, int | float):
        return f"{value!r} is not a {'boolean' if expected_bool else 'number'}"
    if not expected_bool and not spec.admits(float(value)):
        return f"{value!r} is out of range {spec.range}"
    return None
