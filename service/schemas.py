"""Request bodies the HTTP layer accepts and the documents it answers with, built from the domain packages'
own models. The OpenAPI document is generated from these models (`service.openapi`): request bodies, the
multipart forms and raw-upload query parameters, their examples, and the responses."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from optadvisor.optimizers.catalogue.names import Framework, Method
from optadvisor.profiler import ReplayRun
from optadvisor.profiler.replay import MAX_TRACED_COORDINATES
from optadvisor.profiler.schema import GradientSampleJSON
from optadvisor.rules import Recommendation, RecommendationRequest
from optadvisor.rules.request import DeclaredProfile
from optadvisor.service.examples import (
    OUTCOME_EXAMPLE,
    PROFILE_EXAMPLE,
    RECOMMENDATION_EXAMPLE,
    REPLAY_EXAMPLE,
)

# One bound on training_steps for every endpoint: the one the rules' declared profile sets (10^15). Beyond
# it a profile's projections would overflow a float.
MAX_TRAINING_STEPS: int = next(
    bound.le for bound in DeclaredProfile.model_fields["training_steps"].metadata if hasattr(bound, "le")
)

TracedCoordinates = Annotated[
    list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=MAX_TRACED_COORDINATES)
]

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

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PROFILE_EXAMPLE]})

    gradients: dict[str, GradientSampleJSON] = Field(min_length=1, description=GRADIENTS_DESCRIPTION)
    training_steps: int | None = Field(
        None,
        ge=1,
        le=MAX_TRAINING_STEPS,
        description="Planned length of training in steps (1 to 10^15); drives the projections.",
    )
    framework: Framework = Field("torch", description="Whose optimizer semantics the replay follows.")
    recorded_every: RecordedEvery = 1


class ProfileForm(BaseModel):
    """Text fields of the multipart form of POST /v1/profiles (the file goes in field `gradients`), or the
    query parameters of a file sent as the body."""

    model_config = ConfigDict(extra="forbid")

    training_steps: int | None = Field(
        None,
        ge=1,
        le=MAX_TRAINING_STEPS,
        description=ProfileRequest.model_fields["training_steps"].description,
    )
    framework: Framework = Field("torch", description=ProfileRequest.model_fields["framework"].description)
    recorded_every: int = Field(
        1, ge=1, le=10**9, description=ProfileRequest.model_fields["recorded_every"].description
    )


GRADIENT_FILE_DESCRIPTION = (
    ".npy (one group, named after the file), .npz (one group per array) or .safetensors (one group per "
    "tensor); arrays shaped [T, ...]."
)


class ProfileUpload(ProfileForm):
    """The multipart form of POST /v1/profiles, as documented (the service reads it with its own parser)."""

    gradients: bytes = Field(description=GRADIENT_FILE_DESCRIPTION)


class ProfileQuery(ProfileForm):
    """The query parameters of POST /v1/profiles with an application/octet-stream body (the file itself)."""

    filename: str = Field(
        min_length=1,
        description="Only with an application/octet-stream body, where it is required: the file's name, "
        "whose extension (.npy, .npz, .safetensors) gives the format and, for .npy, whose stem names the "
        "group.",
    )


def _candidates_are_unique(schema: dict[str, Any]) -> None:
    # The rules refuse repeated candidates; the published schema says so, as schema-driven clients need.
    schema["properties"]["candidates"]["uniqueItems"] = True


def _recommendation_body_schema(schema: dict[str, Any]) -> None:
    _candidates_are_unique(schema)
    schema["examples"] = [RECOMMENDATION_EXAMPLE]


class RecommendationBody(RecommendationRequest):
    """Body of POST /v1/recommendations: a declared profile, optionally with gradient samples to measure."""

    model_config = ConfigDict(json_schema_extra=_recommendation_body_schema)

    gradients: dict[str, GradientSampleJSON] | None = Field(
        None,
        min_length=1,
        description=GRADIENTS_DESCRIPTION + " A measured figure replaces a declared one only where the "
        "sample can show it: sparsity, and drift faster than the sample's span.",
    )
    recorded_every: RecordedEvery = 1


class RecommendationUpload(BaseModel):
    """The multipart form of POST /v1/recommendations, as documented (the service reads it with its own
    parser): the JSON request in field `request`, a gradient file in field `gradients`."""

    request: RecommendationBody | None = Field(
        None,
        description="The JSON request body (without `gradients`), as the text of this form field.",
    )
    gradients: bytes = Field(description=GRADIENT_FILE_DESCRIPTION)


class ReplayRequest(BaseModel):
    """Body of POST /v1/replays."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [REPLAY_EXAMPLE]})

    gradients: dict[str, GradientSampleJSON] = Field(min_length=1, description=GRADIENTS_DESCRIPTION)
    runs: list[ReplayRun] = Field(
        min_length=1, max_length=18, description="Methods, frameworks and hyperparameters to replay."
    )
    trace_coordinates: dict[str, TracedCoordinates] | None = Field(
        None,
        description="Per group sent in `gradients`, 1 to 8 coordinate (column) indices below the "
        "group's D, whose internal optimizer state is traced step by step.",
    )


KwargValue = (
    Annotated[float, Field(allow_inf_nan=False)] | bool | list[Annotated[float, Field(allow_inf_nan=False)]]
)
Kwargs = Annotated[dict[Annotated[str, Field(max_length=64)], KwargValue], Field(max_length=32)]


class TrackerLink(BaseModel):
    """Where the run is recorded in an experiment tracker."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mlflow", "wandb", "other"] = Field(description="Which tracker.")
    run: str = Field(min_length=1, max_length=512, description="The tracker's run id or URI.")


class GroupConfig(BaseModel):
    """The optimizer one parameter group was trained with."""

    model_config = ConfigDict(extra="forbid")

    method: Method
    kwargs: Kwargs = Field(default_factory=dict, description="In the study's framework's names.")


class OutcomeBody(BaseModel):
    """Body of POST /v1/recommendations/{id}/outcomes: one finished (or diverged) run of the study."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [OUTCOME_EXAMPLE]})

    plan_index: int | None = Field(
        None,
        ge=0,
        le=63,
        description="Which run of the study's tuning plan this was (0: the recommendation).",
    )
    method: Method | None = Field(None, description="Or the method the run used (with `kwargs`).")
    kwargs: Kwargs | None = Field(
        None, description="Its hyperparameters in the study's framework's names; omitted ones at defaults."
    )
    groups: (
        Annotated[dict[Annotated[str, Field(max_length=256)], GroupConfig], Field(max_length=64)] | None
    ) = Field(
        None, description="Or, for per-group optimizers, the method and kwargs of each parameter group."
    )
    metric: float | None = Field(
        None, allow_inf_nan=False, description="The run's final metric (may be omitted only if it diverged)."
    )
    metric_name: str = Field("metric", min_length=1, max_length=64, description="What the metric is.")
    lower_is_better: bool = Field(True, description="False for metrics such as accuracy.")
    steps: int | None = Field(None, ge=0, le=10**15, description="Training steps the run took.")
    diverged: bool = Field(False, description="The run diverged (it counts as the worst run).")
    tracker: TrackerLink | None = Field(None, description="Where the run is recorded, e.g. MLflow.")

    @model_validator(mode="after")
    def _one_configuration_and_a_metric(self) -> "OutcomeBody":
        named = [
            name
            for name, given in (
                ("plan_index", self.plan_index is not None),
                ("method", self.method is not None),
                ("groups", self.groups is not None),
            )
            if given
        ]
        if len(named) != 1:
            raise ValueError(
                "name the run's configuration in exactly one way: plan_index, method (with kwargs) or groups"
                + (f"; got {', '.join(named)}" if named else "")
            )
        if self.kwargs is not None and self.method is None:
            raise ValueError("kwargs go with method")
        if self.metric is None and not self.diverged:
            raise ValueError("metric is required unless the run diverged")
        return self


# --- responses ------------------------------------------------------------------------------------------


class StudyLinks(BaseModel):
    """Where a study's resources are."""

    model_config = ConfigDict(extra="forbid")

    self: str = Field(description="The study: GET it back.")
    outcomes: str = Field(description="POST a finished run's outcome here.")
    next: str = Field(description="GET the next run to try (ask/tell).")
    report: str = Field(
        description="The study's HTML report (with API keys configured, it carries a signed token that "
        "expires)."
    )


class StudyAnswer(Recommendation):
    """POST /v1/recommendations' answer: the recommendation, stored as a study (`id` and `links` come first
    in the JSON)."""

    id: str = Field(description="The study's id.")
    links: StudyLinks


class StudySummary(BaseModel):
    """One study in a listing."""

    id: str
    created_at: str = Field(description="When it was made (ISO 8601).")
    method: Method = Field(description="The method it recommended.")
    framework: str = Field(description="The framework whose names its hyperparameters use.")
    outcomes: int = Field(ge=0, description="How many outcomes were reported to it.")
    links: StudyLinks


class StudyPage(BaseModel):
    """GET /v1/recommendations: the caller's studies, newest first."""

    items: list[StudySummary]
    next_cursor: str | None = Field(
        description="Pass it back as `cursor` for the next page (null: the last)."
    )


class OutcomeLinks(BaseModel):
    """Where the study an outcome belongs to is."""

    model_config = ConfigDict(extra="forbid")

    study: str
    next: str


class StoredOutcome(BaseModel):
    """An outcome as stored: the reported fields (as `OutcomeBody`), what it resolved to, and links."""

    id: str
    study_id: str
    created_at: str = Field(description="When it was reported (ISO 8601).")
    method: Method | None = Field(description="The method the run used (null: groups used several).")
    configuration: str | None = Field(description="Its configuration in the grid (null: off the grid).")
    plan_index: int | None = None
    kwargs: dict[str, Any] | None = None
    groups: dict[str, Any] | None = None
    metric: float | None = None
    metric_name: str
    lower_is_better: bool
    steps: int | None = None
    diverged: bool
    tracker: TrackerLink | None = None
    links: OutcomeLinks


class StoredMeasurements(BaseModel):
    """What a study keeps of the measured gradients."""

    overall: dict[str, Any] = Field(description="The profiler's overall figures.")
    assumptions: list[str]


class StudyDocument(BaseModel):
    """GET /v1/recommendations/{id}: the answer, what was asked and measured, every outcome."""

    id: str
    created_at: str = Field(description="When it was made (ISO 8601).")
    links: StudyLinks
    request: dict[str, Any] = Field(description="The request as sent (without gradients).")
    measured: StoredMeasurements | None
    answer: StudyAnswer
    outcomes: list[StoredOutcome]
