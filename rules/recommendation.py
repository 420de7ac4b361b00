"""The engine's answer: method, hyperparameters, framework configs, rationale, alternatives, plan."""

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from optadvisor.optimizers.catalogue.names import Framework, Method
from optadvisor.profiler.figures import Figures

Scalar = float | int | str | bool
Kwarg = float | bool | list[float]


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, serialize_by_alias=True)

    kwargs: dict[str, Kwarg] = Field(description="Keyword arguments, in this framework's names.")
    code: str = Field(description="Ready-to-paste constructor call.")
    notes: list[str] = Field(
        description="Where this config cannot reproduce the torch config exactly, and by how much."
    )
    equivalent: bool = Field(
        description="True when this config's trajectory matches the torch config's within the stated "
        "tolerance (the notes quantify any residual difference)."
    )
    single_method_code: str | None = Field(
        default=None,
        description="The one-line constructor of the single whole-model method (`class`/`function` and "
        "`kwargs`). Equal to `code` when the advice is for the whole model; with per-group advice `code` is "
        "the snippet that builds every group's optimizer instead.",
    )


class ClassConfig(_Config):
    """A torch or Keras optimizer class and its arguments."""

    class_: str = Field(
        validation_alias=AliasChoices("class", "class_"),
        serialization_alias="class",
        description="Fully qualified optimizer class.",
    )


class FunctionConfig(_Config):
    """An Optax optimizer function and its arguments."""

    function: str = Field(description="Fully qualified optax function.")


class Configs(BaseModel):
    """The recommended configuration in each framework."""

    model_config = ConfigDict(frozen=True)

    torch: ClassConfig
    keras: ClassConfig
    optax: FunctionConfig


class RationaleItem(BaseModel):
    """One reason: the evidence (`evidence`), a guardrail or an explanation (its id), or a note."""

    model_config = ConfigDict(frozen=True)

    rule: str
    text: str
    evidence: dict[str, Scalar | None]


class Alternative(BaseModel):
    """A candidate that ranked lower: its best configuration on the similar tasks, and why it lost."""

    model_config = ConfigDict(frozen=True)

    method: Method
    score: float = Field(
        description="1 minus the weighted mean shortfall of this method's best configuration on the similar "
        "tasks (1: as good as the best result on every one); 0 when a guardrail excludes it."
    )
    kwargs: dict[str, Kwarg] = Field(
        description="Its best configuration, in the requested framework's names."
    )
    reason: str = Field(description="What favoured it, what counted against it, and where it would win.")


class PlanGroup(BaseModel):
    """One parameter group's configuration in a per-group run of the tuning plan."""

    model_config = ConfigDict(frozen=True)

    parameters: list[str] = Field(description="The group names as sent (e.g. the capture helper's names).")
    method: Method
    kwargs: dict[str, Kwarg] = Field(description="In the requested framework's names.")
    configuration: str = Field(description="The evidence base's name of this group's configuration.")


class TuningRun(BaseModel):
    """One training run of the tuning plan: one method for the whole model (`method`, `kwargs`), or, with
    per-group advice, one configuration per parameter group (`groups`; `method` and `kwargs` are null)."""

    model_config = ConfigDict(frozen=True)

    method: Method | None
    kwargs: dict[str, Kwarg] | None
    configuration: str | None = Field(
        description="The evidence base's name of this configuration: method:lr step:variant, the lr being "
        "the torch default x 10^(step/2) and variant 1 the method's alternative second hyperparameter "
        "(null for a per-group run: each group names its own)."
    )
    groups: list[PlanGroup] | None = Field(
        default=None, description="Per-group runs only: each parameter group's method and kwargs."
    )
    reason: str = Field(description="What this run adds: the expected shortfall of the best run so far.")


class SimilarTask(BaseModel):
    """A task of the evidence base the advice was drawn from."""

    model_config = ConfigDict(frozen=True)

    name: str
    family: str
    distance: float = Field(description="Distance in descriptor spreads (0: indistinguishable).")


class EvidenceBasis(BaseModel):
    """What the advice was drawn from: the request's descriptors and the most similar tasks."""

    model_config = ConfigDict(frozen=True)

    descriptors: dict[str, float | str] = Field(
        description="The request's descriptors (`GET /v1/rules` lists their meaning)."
    )
    similar_tasks: list[SimilarTask]
    tasks_in_evidence: int
    shrinkage: float = Field(description="Share of the weight spread over every task of the evidence base.")


class StudiesEvidence(BaseModel):
    """What other users' studies like this one reported, and whether it moved the advice."""

    model_config = ConfigDict(frozen=True)

    similar_studies: int = Field(
        description="Studies with reported outcomes at least as alike as the similar tasks of the evidence."
    )
    clients: int = Field(description="Distinct API keys among them (0 when the service runs without keys).")
    recommended_best: int = Field(description="Of them, how many had the recommended method as best run.")
    moved: bool = Field(description="Whether they moved the advice (see the policy in the README).")
    moves: dict[str, float] = Field(
        description="Bonus per configuration, in units of regret, that the plan weighed (empty: none)."
    )
    text: str


class GroupAdvice(BaseModel):
    """The advice for one parameter group (one or more of the gradient groups sent, which share it)."""

    model_config = ConfigDict(frozen=True)

    parameters: list[str] = Field(description="The group names as sent (e.g. the capture helper's names).")
    method: Method
    hyperparameters: dict[str, float | bool] = Field(
        description="Flat scalars in the requested framework's names, as the top-level `hyperparameters`."
    )
    configuration: str = Field(description="The evidence base's name of this group's configuration.")
    rationale: list[RationaleItem] = Field(description="Why, quoting this group's measured figures.")
    configs: Configs = Field(description="This group's optimizer alone, in each framework.")


AdviceScope = Literal["per_group", "whole_model"]


class Recommendation(BaseModel):
    """A recommended optimizer with ready-to-use configs and the reasons for it."""

    model_config = ConfigDict(frozen=True)

    method: Method
    framework: Framework
    hyperparameters: dict[str, float | bool] = Field(
        description="Flat scalars in the requested framework's names (tuples flattened as name_0, name_1), "
        "for experiment trackers; to build the optimizer, splat configs.<framework>.kwargs instead."
    )
    configs: Configs
    rationale: list[RationaleItem]
    alternatives: list[Alternative] = Field(description="Other candidates, best first.")
    tuning_plan: list[TuningRun] = Field(
        description="At most tuning_budget runs, in order: each next run is the one that most lowers the "
        "expected shortfall of the best run so far on the similar tasks."
    )
    measured: Figures | None = Field(description="The profiler's overall figures, when gradients were sent.")
    basis: EvidenceBasis
    assumptions: list[str]
    rules_version: str
    evidence: StudiesEvidence | None = Field(
        default=None, description="Cross-study evidence: other studies like this one and what won there."
    )
    evidence_version: str | None = Field(
        default=None,
        description="Name of the snapshot of other studies' outcomes this answer used (null: none was used).",
    )
    advice_scope: AdviceScope = Field(
        default="whole_model",
        description="`per_group`: the measured gradient groups differ enough that one method serves some "
        "of them badly, so `groups` and the configs' `code` give each group its own optimizer; "
        "`whole_model`: one method (`method`, `hyperparameters`) for every parameter.",
    )
    advice_scope_reason: str = Field(
        default="no gradient groups were measured, so the advice is for the whole model",
        description="Why the advice has this scope, with the figures that decided.",
    )
    groups: list[GroupAdvice] | None = Field(
        default=None,
        description="Per-group advice (null unless `advice_scope` is `per_group`); the top-level `method` "
        "and `hyperparameters` stay the single best choice for the whole model.",
    )
