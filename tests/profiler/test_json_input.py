import json
from typing import Any

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from optadvisor.profiler import (
    GradientLimitExceeded,
    InvalidGradients,
    Limits,
    samples_from_json,
)
from optadvisor.profiler.profile import profile
from optadvisor.profiler.schema import GradientSampleJSON

ADAPTER: TypeAdapter[Any] = TypeAdapter(dict[str, GradientSampleJSON])


def load(gradients: dict[str, Any], limits: Limits | None = None) -> dict[str, Any]:
    return samples_from_json(ADAPTER.validate_python(gradients), limits or Limits())


def dense(values: list[list[float]], **extra: Any) -> dict[str, Any]:
    return {"format": "dense", "values": values, **extra}


def coo(
    shape: list[int], step: list[int], index: list[int], values: list[float], **extra: Any
) -> dict[str, Any]:
    return {"format": "coo", "shape": shape, "step": step, "index": index, "values": values, **extra}


def test_dense_and_coo_describe_the_same_stream() -> None:
    samples = load(
        {
            "a": dense([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]),
            "b": coo([2, 3], [0, 1, 1], [1, 0, 2], [1.5, 2.0, -1.0]),
        }
    )
    np.testing.assert_array_equal(samples["a"].values, samples["b"].values)


def expect(
    error: type[Exception], gradients: dict[str, Any], *fragments: str, limits: Limits | None = None
) -> str:
    with pytest.raises(error) as caught:
        load(gradients, limits)
    message = str(caught.value)
    assert caught.value.group == "embedding.weight"  # type: ignore[attr-defined]
    for fragment in fragments:
        assert fragment in message
    return message


def test_ragged_rows_name_the_row() -> None:
    expect(InvalidGradients, {"embedding.weight": dense([[1.0, 2.0], [3.0], [4.0, 5.0]])}, "ragged", "row 1")


def test_fewer_than_two_steps() -> None:
    expect(InvalidGradients, {"embedding.weight": dense([[1.0, 2.0]])}, "at least 2 steps")


def test_no_coordinates() -> None:
    expect(InvalidGradients, {"embedding.weight": dense([[], []])}, "at least 1 coordinate")


@pytest.mark.parametrize(("shape", "position"), [([1, 4], 0), ([3, 0], 1), ([-2, 4], 0)])
def test_coo_shape_bounds_are_part_of_the_schema(shape: list[int], position: int) -> None:
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python({"embedding.weight": coo(shape, [], [], [])})
    (error,) = caught.value.errors()
    assert error["loc"] == ("embedding.weight", "coo", "shape", position)


@pytest.mark.parametrize(
    ("step", "index", "fragment"),
    [
        ([0, 5], [0, 1], "entry 1: step"),
        ([0, 1], [0, 4], "entry 1: index"),
        ([0, -1], [0, 1], "entry 1: step"),
    ],
)
def test_coo_positions_out_of_range(step: list[int], index: list[int], fragment: str) -> None:
    message = expect(InvalidGradients, {"embedding.weight": coo([3, 4], step, index, [7.25, 8.5])}, fragment)
    assert "7.25" not in message and "8.5" not in message


def test_coo_duplicates_name_both_entries() -> None:
    expect(
        InvalidGradients,
        {"embedding.weight": coo([3, 4], [0, 2, 1, 2], [1, 3, 0, 3], [1.0, 2.0, 3.0, 4.0])},
        "entries 1 and 3",
    )


def test_coo_lists_of_different_lengths() -> None:
    expect(InvalidGradients, {"embedding.weight": coo([3, 4], [0, 1], [0], [1.0, 2.0])}, "index 1")


def test_parameters_that_disagree_with_the_shape() -> None:
    expect(
        InvalidGradients,
        {"embedding.weight": dense([[1.0, 2.0], [3.0, 4.0]], parameters=[1.0, 2.0, 3.0])},
        "parameters",
        "2 coordinates",
    )


def test_aggregates_are_checked_against_the_shape() -> None:
    expect(
        InvalidGradients,
        {"embedding.weight": dense([[1.0, 2.0], [3.0, 4.0]], total_coordinates=10, step_norms=[1.0])},
        "step_norms",
    )
    expect(
        InvalidGradients,
        {"embedding.weight": dense([[1.0, 2.0], [3.0, 4.0]], total_coordinates=10, step_nonzeros=[3, 11])},
        "step_nonzeros",
    )
    expect(
        InvalidGradients,
        {"embedding.weight": dense([[1.0, 2.0], [3.0, 4.0]], total_coordinates=1)},
        "smaller",
    )


def test_element_limit_is_checked_before_densifying() -> None:
    expect(
        GradientLimitExceeded,
        {"embedding.weight": coo([2**20, 2**20], [0], [0], [1.0])},
        "elements",
    )


def test_group_limit() -> None:
    with pytest.raises(GradientLimitExceeded):
        load({f"g{i}": dense([[1.0], [2.0]]) for i in range(3)}, Limits(max_groups=2))


LARGEST_FLOAT32 = float(np.finfo(np.float32).max)


def test_magnitudes_beyond_float32_are_refused_naming_the_place() -> None:
    # The replays run in float32: larger values would turn into inf there and NaN in the figures.
    expect(InvalidGradients, {"embedding.weight": dense([[1.0, 0.0], [0.0, -1e300]])}, "row 1", "float32")
    expect(
        InvalidGradients, {"embedding.weight": dense([[1.0], [2.0]], parameters=[3.5e38])}, "parameters[0]"
    )
    expect(InvalidGradients, {"embedding.weight": dense([[1.0], [2.0]], parameter_rms=1e39)}, "parameter_rms")
    expect(
        InvalidGradients,
        {"embedding.weight": dense([[1.0], [2.0]], total_coordinates=100, step_norms=[1.0, 3.5e39])},
        "step_norms[1]",
        "100 float32s",
    )


def test_the_float32_extremes_give_a_finite_profile() -> None:
    largest = LARGEST_FLOAT32
    samples = load(
        {
            "embedding.weight": dense(
                [[largest, -largest, 0.0], [5e-324, largest, 1.0], [-largest, 0.0, 1e-45]],
                parameters=[largest, 0.0, -largest],
                total_coordinates=4,
                step_norms=[largest * 2.0, largest, largest],
            )
        }
    )
    report = profile(samples, training_steps=1000).model_dump(mode="json")
    assert json.dumps(report, allow_nan=False)
    assert report["overall"]["steps"] == 3
