"""Result models of profiles and replays (pydantic; the HTTP layer serialises them as they are)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from optadvisor.profiler.figures import Figures
from optadvisor.profiler.runs import ReplayRun


class ReplayTrajectory(BaseModel):
    """How one optimizer's per-coordinate step size and update size evolve over the replayed stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[int] = Field(description="Step numbers (1-based, after that step's update), at most 200.")
    effective_step_p10: list[float | None] = Field(
        description="10th percentile over coordinates of the effective step size (the multiplier the next "
        "update applies to the gradient), over coordinates that have seen a nonzero gradient (null if none)."
    )
    effective_step_p50: list[float | None] = Field(description="Median of the effective step size, as above.")
    effective_step_p90: list[float | None] = Field(
        description="90th percentile of the effective step size, as above."
    )
    update_rms: list[float | None] = Field(
        description="Root mean square over coordinates of that step's update (null where an update is not "
        "finite: the method overflowed in float32, as it would in training)."
    )


class StateTrace(BaseModel):
    """Internal optimizer state of a few coordinates, step by step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    coordinates: list[int] = Field(description="Traced coordinates (column indices of the group).")
    steps: list[int] = Field(description="Step numbers (1-based) at which the state was read.")
    state: dict[str, list[list[float | None]]] = Field(
        description="Named state (e.g. Adagrad 'sum'; RMSprop 'square_avg', 'grad_avg'; Adadelta "
        "'square_avg', 'acc_delta', 'last_delta'): one row per step, one value per traced coordinate "
        "(null where the value overflowed float32)."
    )


class GroupProfile(BaseModel):
    """Figures and replay trajectories of one gradient group."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    figures: Figures
    replay: dict[str, ReplayTrajectory] = Field(
        description="Trajectory per method (adagrad, rmsprop, adadelta, adam, adamw, sgd)."
    )


class GroupContrast(BaseModel):
    """The measured figure on which two gradient groups differ most: what can make one method serve a
    model's groups unequally (`POST /v1/recommendations` then judges whether it does)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    figure: str = Field(
        description="The descriptor (as `GET /v1/rules` names it: sparsity, nonstationarity, log_gsnr, ...)."
    )
    values: dict[str, float] = Field(description="Its value in each of the two groups, by group name.")
    spreads: float = Field(
        description="How far apart the two values are, in that descriptor's spreads over the evidence base."
    )
    text: str


class ProfileReport(BaseModel):
    """What the profiler measured in a set of gradient samples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str = Field(
        description="Framework whose semantics and defaults the replay and projections use."
    )
    training_steps: int = Field(description="Planned training length the projections use (given or assumed).")
    overall: Figures = Field(description="Figures over all groups, weighted by coordinate count.")
    groups: dict[str, GroupProfile]
    assumptions: list[str] = Field(description="Assumptions made where the request left something open.")
    estimates: list[str] = Field(description="Which figures are estimates rather than exact measurements.")
    group_contrast: GroupContrast | None = Field(
        default=None,
        description="With two or more groups: the figure on which they differ most (null otherwise).",
    )


class GroupReplay(BaseModel):
    """One run's trajectory for one group, with the state trace when requested."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trajectory: ReplayTrajectory
    trace: StateTrace | None = None


class RunReplay(BaseModel):
    """One run of a replay request and its per-group results."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: ReplayRun = Field(description="The run as replayed: every hyperparameter, given or default.")
    groups: dict[str, GroupReplay]


class ReplayReport(BaseModel):
    """Results of replaying gradient samples through chosen optimizer runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    runs: list[RunReplay]
    assumptions: list[str]
    estimates: list[str]
    group_contrast: GroupContrast | None = Field(
        default=None,
        description="With two or more groups: the figure on which they differ most (null otherwise).",
    )
