"""What a caller asks for: the declared profile, the framework and the candidate methods.

Gradients are not part of this model; the caller profiles them and passes the report to `recommend`.
"""

from typing import Annotated, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from optadvisor.optimizers.catalogue.names import FRAMEWORKS, METHODS, Framework, Method

__all__ = [
    "FRAMEWORKS",
    "METHODS",
    "MODEL_FAMILIES",
    "DeclaredProfile",
    "Framework",
    "Method",
    "ModelFamily",
    "RecommendationRequest",
]

ModelFamily = Literal["linear", "mlp", "cnn", "rnn", "transformer", "embedding", "rl", "other"]
MODEL_FAMILIES: tuple[str, ...] = get_args(ModelFamily)

# Strict: a JSON true or "0.5" is not a number, and "yes" is not a boolean.
UnitInterval = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]


def _integral(value: object) -> object:
    """A count written as a float with no fraction (1e5, 100000.0) is that integer; 1.5 stays a float and
    is refused, and so does a boolean."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2.0**63:
        return int(value)
    return value


Count = Annotated[int, BeforeValidator(_integral)]


class DeclaredProfile(BaseModel):
    """What the user knows about the training problem. Every field is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gradient_sparsity: UnitInterval | None = Field(
        default=None, description="Fraction of gradient entries that are exactly zero, in [0, 1]."
    )
    stationarity: Literal["stationary", "non_stationary"] | UnitInterval | None = Field(
        default=None,
        description='"stationary", "non_stationary", or a non-stationarity score in [0, 1] '
        "(0: the gradient distribution stays put; 1: it changes by an order of magnitude).",
    )
    tuning_budget: Count | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        strict=True,
        description="Training runs the user can afford for hyperparameter tuning (1 to 10^6).",
    )
    training_steps: Count | None = Field(
        default=None,
        ge=1,
        le=10**15,
        strict=True,
        description="Planned length of training, in optimizer steps (1 to 10^15).",
    )
    model_family: ModelFamily | None = Field(default=None, description="Kind of model being trained.")
    convex: bool | None = Field(default=None, strict=True, description="Whether the objective is convex.")


class RecommendationRequest(BaseModel):
    """A declared profile, the framework the configs are for, and the methods to choose from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: DeclaredProfile = Field(
        default_factory=DeclaredProfile, description="What the user declares about the problem."
    )
    framework: Framework = Field(
        default="torch", description="Framework whose hyperparameter names the answer uses."
    )
    candidates: list[Method] = Field(
        default_factory=lambda: list(METHODS),
        min_length=1,
        description="Methods to choose from (default: all six); unique.",
    )

    @field_validator("candidates")
    @classmethod
    def _unique(cls, candidates: list[Method]) -> list[Method]:
        repeated = sorted({method for method in candidates if candidates.count(method) > 1})
        if repeated:
            raise ValueError(f"candidates must be unique; repeated: {', '.join(repeated)}")
        return candidates
