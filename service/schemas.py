"""Request bodies the HTTP layer accepts, built from the domain packages' own models."""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from optadvisor.profiler import ReplayRun
from optadvisor.profiler.schema import GradientSampleJSON
from optadvisor.rules import RecommendationRequest

Framework = Literal["torch", "keras", "optax"]

GRADIENTS_DESCRIPTION = (
    "Gradient samples by group name (usually one parameter tensor each): T >= 2 steps of D coordinates, "
    "dense or sparse COO."
)


RecordedEvery = Annotated[
    int,
    Field(
        ge=1,
        le=10**9,
        strict=True,
        description="Training steps between two recorded steps (the capture helper's `every`): the sample "
        "spans steps x recorded_every training steps, which bounds the drift it can show.",
    ),
]


class ProfileRequest(BaseModel):
    """Body of POST /v1/profiles (the JSON form)."""

    model_config = ConfigDict(extra="forbid")

    gradients: dict[str, GradientSampleJSON] = Field(min_length=1, description=GRADIENTS_DESCRIPTION)
    training_steps: int | None = Field(
        None, ge=1, description="Planned length of training in steps; drives the projections."
    )
    framework: Framework = Field("torch", description="Whose optimizer semantics the replay follows.")
    recorded_every: RecordedEvery = 1


class ProfileForm(BaseModel):
    """Text fields of the multipart form of POST /v1/profiles (the file goes in field `gradients`)."""

    model_config = ConfigDict(extra="forbid")

    training_steps: int | None = Field(None, ge=1)
    framework: Framework = "torch"
    recorded_every: int = Field(1, ge=1, le=10**9)


class RecommendationBody(RecommendationRequest):
    """Body of POST /v1/recommendations: a declared profile, optionally with gradient samples to measure."""

    gradients: dict[str, GradientSampleJSON] | None = Field(
        None,
        min_length=1,
        description=GRADIENTS_DESCRIPTION + " A measured figure replaces a declared one only where the "
        "sample can show it: sparsity, and drift faster than the sample's span.",
    )
    recorded_every: RecordedEvery = 1


class ReplayRequest(BaseModel):
    """Body of POST /v1/replays."""

    model_config = ConfigDict(extra="forbid")

    gradients: dict[str, GradientSampleJSON] = Field(min_length=1, description=GRADIENTS_DESCRIPTION)
    runs: list[ReplayRun] = Field(
        min_length=1, max_length=18, description="Methods, frameworks and hyperparameters to replay."
    )
    trace_coordinates: dict[str, list[int]] | None = Field(
        None,
        description="Per group, up to 8 coordinate (column) indices whose internal optimizer state is "
        "traced step by step.",
    )
