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

__all__ = [
    "Behaviour",
    "FrameworkHyperparameter",
    "HyperparameterEntry",
    "MethodEntry",
    "NameMapping",
    "entries",
    "entry",
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
