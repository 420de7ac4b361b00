"""``create`` and ``defaults``: build an optimizer from one framework's hyperparameter names."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

from torch import Tensor

from optadvisor.optimizers import catalogue
from optadvisor.optimizers.adadelta import Adadelta
from optadvisor.optimizers.adagrad import Adagrad
from optadvisor.optimizers.adam import Adam, AdamW
from optadvisor.optimizers.base import AdaptiveOptimizer
from optadvisor.optimizers.catalogue.models import FrameworkHyperparameter
from optadvisor.optimizers.catalogue.names import FRAMEWORKS
from optadvisor.optimizers.frameworks import OPTAX_ADADELTA_WITHOUT_LEARNING_RATE, RULES, optax_rmsprop
from optadvisor.optimizers.rmsprop import RMSprop
from optadvisor.optimizers.sgd import SGD

_CLASSES: dict[str, type[AdaptiveOptimizer]] = {
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": Adadelta,
    "adam": Adam,
    "adamw": AdamW,
    "sgd": SGD,
}

_ADADELTA_ASCENT_WARNING = (
    "optax.adadelta(learning_rate=None) applies no learning rate and no sign flip, so its updates move "
    "up the gradient (ascent); reproducing that faithfully. Pass learning_rate=1.0 for the paper's descent."
)


def framework_hyperparameters(method: str, framework: str) -> dict[str, tuple[str, FrameworkHyperparameter]]:
    """``{framework name: (canonical name, spec)}`` for ``method`` in ``framework``."""
    entry = catalogue.entry(method)
    if framework not in FRAMEWORKS:
        raise ValueError(f"Unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    table = {}
    for hyperparameter in entry.hyperparameters:
        spec = hyperparameter.in_framework(framework)
        if spec is not None:
            table[spec.name] = (hyperparameter.name, spec)
    return table


def defaults(method: str, framework: str = "torch") -> dict[str, object]:
    """``framework``'s defaults for ``method`` in its own names (a required value shows as None)."""
    return {name: spec.default for name, (_, spec) in framework_hyperparameters(method, framework).items()}


def create(
    method: str,
    params: Iterable[Tensor] | Iterable[dict[str, Any]],
    *,
    framework: str = "torch",
    **hyperparameters: Any,
) -> AdaptiveOptimizer:
    """Build ``method`` with ``framework``'s hyperparameter names, defaults and update semantics.

    Raises ``ValueError`` naming the unknown method, framework or hyperparameter, a missing
    required value, or a value outside the catalogue's range.
    """
    table = framework_hyperparameters(method, framework)
    unknown = sorted(set(hyperparameters) - set(table))
    if unknown:
        raise ValueError(
            f"Unknown hyperparameter {unknown[0]!r} for {framework} {method}; "
            f"expected one of {', '.join(table)}"
        )
    canonical: dict[str, Any] = {}
    for name, (canonical_name, spec) in table.items():
        value = hyperparameters.get(name, spec.default)
        if value is None and spec.required:
            raise ValueError(f"{framework} {method} requires {name} (it has no default)")
        _check_value(f"{framework} {method}", name, value, spec)
        canonical[canonical_name] = value
    return _CLASSES[method](params, **_constructor_arguments(method, framework, canonical))


def _check_value(context: str, name: str, value: Any, spec: FrameworkHyperparameter) -> None:
    problem = f"Invalid {name} for {context}: {value!r}; expected {spec.range}"
    if spec.type == "bool":
        if not isinstance(value, bool):
            raise ValueError(problem)
        return
    if value is None and spec.type == "float | None":
        return
    numbers = (
        tuple(value) if spec.type == "tuple[float, float]" and isinstance(value, tuple | list) else (value,)
    )
    if spec.type == "tuple[float, float]" and len(numbers) != 2:
        raise ValueError(problem)
    for number in numbers:
        if isinstance(number, bool) or not isinstance(number, int | float) or not spec.admits(float(number)):
            raise ValueError(problem)
        if not math.isfinite(number):
            raise ValueError(problem)


def _constructor_arguments(method: str, framework: str, canonical: dict[str, Any]) -> dict[str, Any]:
    """Turn canonical values into the class's keyword arguments, adding the framework's ``rule``."""
    arguments = dict(canonical)
    if "beta1" in arguments:
        arguments["betas"] = (float(arguments.pop("beta1")), float(arguments.pop("beta2")))
    elif "betas" in arguments:
        arguments["betas"] = tuple(float(b) for b in arguments["betas"])
    for switch_off in ("weight_decay", "momentum"):
        if switch_off in arguments and arguments[switch_off] is None:
            arguments[switch_off] = 0.0
    if arguments.get("nesterov") and arguments.get("momentum") == 0 and framework != "torch":
        arguments["nesterov"] = False  # Keras and Optax accept it and it changes nothing without momentum
    arguments["rule"] = RULES[framework][method]
    if method == "adadelta" and framework == "optax" and arguments["lr"] is None:
        warnings.warn(_ADADELTA_ASCENT_WARNING, UserWarning, stacklevel=3)
        arguments["lr"], arguments["rule"] = 1.0, OPTAX_ADADELTA_WITHOUT_LEARNING_RATE
    if method == "rmsprop" and framework == "optax":
        arguments["rule"] = optax_rmsprop(
            eps_in_sqrt=arguments.pop("eps_in_sqrt"),
            bias_correction=arguments.pop("bias_correction"),
            initial_scale=arguments.pop("initial_scale"),
        )
    return arguments
