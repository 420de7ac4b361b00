"""Which optimizer runs a replay performs: method, framework semantics and hyperparameters."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from optadvisor import optimizers
from optadvisor.optimizers.catalogue import Framework, Method, framework_name
from optadvisor.profiler.errors import InvalidReplay

JSONScalar = float | int | bool | list[float] | None


class ReplayRun(BaseModel):
    """One replay: a built-in method in one framework's semantics with that framework's hyperparameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Method = Field(description="Optimizer to replay the gradients through.")
    framework: Framework = Field(
        default="torch", description="Whose defaults, hyperparameter names and update semantics to use."
    )
    hyperparameters: dict[str, JSONScalar] = Field(
        default_factory=dict,
        description="Hyperparameters in the framework's own names (e.g. torch 'alpha', Keras 'rho'); "
        "omitted ones take the framework's defaults.",
    )


def resolve_run(run: ReplayRun) -> tuple[dict[str, Any], list[str]]:
    """Complete ``run``'s hyperparameters and check them by building the optimizer once.

    A learning rate the framework requires (Optax) but the run omits takes torch's default for the
    method; the returned notes say so.

    Raises:
        InvalidReplay: unknown hyperparameter or invalid value (the optimizers' message).
    """
    hyperparameters: dict[str, Any] = dict(run.hyperparameters)
    notes: list[str] = []
    name = framework_name(run.method, "lr", run.framework)
    if optimizers.defaults(run.method, run.framework).get(name, 0.0) is None and name not in hyperparameters:
        torch_lr = optimizers.defaults(run.method, "torch")["lr"]
        hyperparameters[name] = torch_lr
        notes.append(
            f"{run.framework} {run.method} requires {name}; replayed with torch's default {torch_lr}"
        )
    for key, value in hyperparameters.items():
        if isinstance(value, list):
            hyperparameters[key] = tuple(value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            optimizers.create(run.method, [torch.zeros(1)], framework=run.framework, **hyperparameters)
    except (ValueError, TypeError) as error:
        raise InvalidReplay(f"{run.framework} {run.method}: {error}") from None
    return hyperparameters, notes


def as_replayed(run: ReplayRun, resolved: Mapping[str, Any]) -> ReplayRun:
    """``run`` with every hyperparameter it was replayed with: the given ones and the defaults."""
    values = {**optimizers.defaults(run.method, run.framework), **resolved}
    return run.model_copy(
        update={
            "hyperparameters": {
                name: list(value) if isinstance(value, tuple) else value for name, value in values.items()
            }
        }
    )


def hyperparameter(run: ReplayRun, resolved: Mapping[str, Any], canonical: str) -> float:
    """The value of the hyperparameter the catalogue calls ``canonical`` (given or default) as a float."""
    name = framework_name(run.method, canonical, run.framework)
    value = resolved.get(name, optimizers.defaults(run.method, run.framework)[name])
    return float(value)
