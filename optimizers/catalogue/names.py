"""The names every layer shares: the methods, the frameworks, and each hyperparameter's spelling.

This is their one home. `profiler`, `rules`, `service` and `client` import `Method`, `Framework`,
`METHODS`, `FRAMEWORKS` and `framework_name` from here; a new method or framework is added here and in the
catalogue's tables, and every request model, schema enum and name map follows.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, get_args

from optadvisor.optimizers.catalogue.hyperparameters import HYPERPARAMETERS

Method = Literal["adagrad", "rmsprop", "adadelta", "adam", "adamw", "sgd"]
Framework = Literal["torch", "keras", "optax"]

METHODS: tuple[Method, ...] = get_args(Method)
FRAMEWORKS: tuple[Framework, ...] = get_args(Framework)


@cache
def framework_names(method: str, framework: str) -> dict[str, str]:
    """Canonical hyperparameter name -> ``framework``'s name for it, for ``method`` (names the framework
    lacks are left out). Read from the catalogue's hyperparameter table."""
    if framework not in FRAMEWORKS:
        raise ValueError(f"Unknown framework {framework!r}; expected one of {', '.join(FRAMEWORKS)}")
    if method not in HYPERPARAMETERS:
        raise ValueError(f"Unknown method {method!r}; expected one of {', '.join(METHODS)}")
    names: dict[str, str] = {}
    for entry in HYPERPARAMETERS[method]:
        spec = entry.in_framework(framework)
        if spec is not None:
            names[entry.name] = spec.name
    return names


def framework_name(method: str, canonical: str, framework: str) -> str:
    """``framework``'s name for ``method``'s hyperparameter ``canonical`` (e.g. RMSprop's ``alpha`` is
    Keras' ``rho`` and Optax's ``decay``); ``ValueError`` if that framework lacks it."""
    try:
        return framework_names(method, framework)[canonical]
    except KeyError:
        raise ValueError(f"{framework} {method} has no hyperparameter {canonical!r}") from None
