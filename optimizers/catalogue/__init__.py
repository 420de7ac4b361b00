"""The catalogue of methods as data: hyperparameters per framework, update rules, pitfalls, behaviour."""

from __future__ import annotations

from optadvisor.optimizers.catalogue.methods import ENTRIES
from optadvisor.optimizers.catalogue.models import (
    Behaviour,
    FrameworkHyperparameter,
    HyperparameterEntry,
    MethodEntry,
    NameMapping,
)
from optadvisor.optimizers.catalogue.names import (
    FRAMEWORKS,
    METHODS,
    Framework,
    Method,
    framework_name,
    framework_names,
)

__all__ = [
    "FRAMEWORKS",
    "METHODS",
    "Behaviour",
    "Framework",
    "FrameworkHyperparameter",
    "HyperparameterEntry",
    "Method",
    "MethodEntry",
    "NameMapping",
    "entries",
    "entry",
    "framework_name",
    "framework_names",
]


def entries() -> list[MethodEntry]:
    """All methods, in the order of ``optimizers.METHODS``."""
    return list(ENTRIES.values())


def entry(method: str) -> MethodEntry:
    """The entry for ``method``; ``ValueError`` naming it if unknown."""
    try:
        return ENTRIES[method]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown method {method!r}; expected one of {', '.join(ENTRIES)}") from None
