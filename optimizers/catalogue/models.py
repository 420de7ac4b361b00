"""The catalogue's schema: JSON-serialisable pydantic models."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, computed_field

HyperparameterType = Literal["float", "bool", "float | None", "tuple[float, float]"]
HyperparameterValue = float | bool | tuple[float, float] | None


class FrameworkHyperparameter(BaseModel):
    """One hyperparameter as one framework spells it, with its default and valid range."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: HyperparameterType
    default: HyperparameterValue
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    maximum_inclusive: bool = True
    note: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def range(self) -> str:
        """The valid values as text, e.g. ``[0, 1)`` or ``None or [0, ∞)``."""
        if self.type == "bool":
            return "True or False"
        low = "(-∞" if self.minimum is None else f"[{self.minimum:g}"
        high = "∞)" if self.maximum is None else f"{self.maximum:g}{']' if self.maximum_inclusive else ')'}"
        interval = f"{low}, {high}"
        if self.type == "tuple[float, float]":
            return f"each in {interval}"
        return f"None or {interval}" if self.type == "float | None" else interval

    def admits(self, value: float) -> bool:
        """Whether a number lies in the range (non-finite numbers never do)."""
        if not math.isfinite(value):
            return False
        if self.minimum is not None and value < self.minimum:
            return False
        if self.maximum is None:
            return True
        return value <= self.maximum if self.maximum_inclusive else value < self.maximum


class HyperparameterEntry(BaseModel):
    """A hyperparameter under its canonical name, with each framework's spelling (None if absent)."""

    model_config = ConfigDict(frozen=True)

    name: str
    meaning: str
    torch: FrameworkHyperparameter | None = None
    keras: FrameworkHyperparameter | None = None
    optax: FrameworkHyperparameter | None = None

    def in_framework(self, framework: str) -> FrameworkHyperparameter | None:
        spec: FrameworkHyperparameter | None = getattr(self, framework)
        return spec


class NameMapping(BaseModel):
    """The same quantity's name in each framework (None where the framework lacks it)."""

    model_config = ConfigDict(frozen=True)

    canonical: str
    torch: str | None
    keras: str | None
    optax: str | None


class Behaviour(BaseModel):
    """An explanation of one aspect of a method's dynamics, with figures."""

    model_config = ConfigDict(frozen=True)

    topic: str
    explanation: str


class MethodEntry(BaseModel):
    """Everything the catalogue knows about one method."""

    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    summary: str
    update_rule: dict[str, str]
    hyperparameters: list[HyperparameterEntry]
    pitfalls: list[str]
    behaviour: list[Behaviour]
    failure_mode: str
    constructors: dict[str, str | None]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name_mapping(self) -> list[NameMapping]:
        """Each hyperparameter's name in torch, Keras and Optax."""
        return [
            NameMapping(
                canonical=h.name,
                torch=h.torch.name if h.torch else None,
                keras=h.keras.name if h.keras else None,
                optax=h.optax.name if h.optax else None,
            )
            for h in self.hyperparameters
        ]
