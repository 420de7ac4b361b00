"""The engine's answer: method, hyperparameters, framework configs, rationale, alternatives, plan."""

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from optadvisor.profiler.figures import Figures
from optadvisor.rules.request import Framework, Method

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
    """One reason, from a rule (its id) or a hyperparameter estimate (`estimate.<name>`)."""

    model_config = ConfigDict(frozen=True)

    rule: str
    text: str
    evidence: dict[str, Scalar | None]


class Alternative(BaseModel):
    """A candidate that ranked lower, and why."""

    model_config = ConfigDict(frozen=True)

    method: Method
    score: float
    reason: str


class TuningRun(BaseModel):
    """One training run of the tuning plan."""

    model_config = ConfigDict(frozen=True)

    method: Method
    kwargs: dict[str, Kwarg]


class Recommendation(BaseModel):
    """A recommended optimizer with ready-to-use configs and the reasons for it."""

    model_config = ConfigDict(frozen=True)

    method: Method
    framework: Framework
    hyperparameters: dict[str, float | bool] = Field(
        description="Flat scalars in the requested framework's names (tuples flattened as name_0, name_1)."
    )
    configs: Configs
    rationale: list[RationaleItem]
    alternatives: list[Alternative] = Field(description="Other candidates, best first.")
    tuning_plan: list[TuningRun] = Field(description="At most tuning_budget runs, best first.")
    measured: Figures | None = Field(description="The profiler's overall figures, when gradients were sent.")
    assumptions: list[str]
    rules_version: str
