"""JSON form of gradient samples (pydantic v2), as accepted in request bodies.

Only finite numbers pass (NaN, Infinity and 1e999 fail validation with their location); unknown
fields are refused. Semantic checks that need the whole sample (ragged rows, index ranges,
duplicates, magnitudes beyond float32's range, in which the replays run) happen in
:func:`profiler.samples_from_json`.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
StrictInt = Annotated[int, Field(strict=True)]


class _SampleContext(BaseModel):
    """Fields shared by every sample format."""

    model_config = ConfigDict(extra="forbid")

    parameters: list[FiniteFloat] | None = Field(
        default=None,
        description="Parameter values of the D coordinates sent (for scale-aware figures).",
    )
    parameter_rms: Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Root mean square of the parameter values, when the values themselves are not sent.",
    )
    total_coordinates: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None,
        description="Size of the whole tensor when the D coordinates sent are a fixed subset of it; "
        "figures measured on the subset are then reported as estimates.",
    )
    step_norms: list[Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]] | None = Field(
        default=None,
        description="Exact L2 norm of each step's gradient over the whole tensor (T values).",
    )
    step_nonzeros: list[Annotated[int, Field(strict=True, ge=0)]] | None = Field(
        default=None,
        description="Exact number of nonzero gradient entries of each step over the whole tensor (T values).",
    )


class DenseSampleJSON(_SampleContext):
    """A gradient stream as T rows of D numbers."""

    format: Literal["dense"] = Field(description='"dense": values holds T rows of D numbers.')
    values: list[list[FiniteFloat]] = Field(
        description="Gradient values: one row per step (T >= 2), each with the same D >= 1 coordinates, "
        "within float32's range (|value| <= 3.4028235e38)."
    )


class CooSampleJSON(_SampleContext):
    """A gradient stream in coordinate (COO) form: listed entries, every other entry exactly zero."""

    format: Literal["coo"] = Field(description='"coo": entries listed as (step, index, value) triples.')
    shape: tuple[Annotated[StrictInt, Field(ge=2)], Annotated[StrictInt, Field(ge=1)]] = Field(
        description="[T, D]: steps (>= 2) and coordinates (>= 1)."
    )
    step: list[StrictInt] = Field(description="Step (row, 0-based) of each listed entry.")
    index: list[StrictInt] = Field(description="Coordinate (column, 0-based) of each listed entry.")
    values: list[FiniteFloat] = Field(description="Gradient value of each listed entry.")


GradientSampleJSON = Annotated[DenseSampleJSON | CooSampleJSON, Field(discriminator="format")]
