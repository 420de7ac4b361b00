import json

import pytest
from pydantic import TypeAdapter, ValidationError

from optadvisor.profiler.schema import CooSampleJSON, DenseSampleJSON, GradientSampleJSON

ADAPTER: TypeAdapter[DenseSampleJSON | CooSampleJSON] = TypeAdapter(GradientSampleJSON)


def test_the_format_field_selects_the_model() -> None:
    dense = ADAPTER.validate_python({"format": "dense", "values": [[1.0, 2.0], [3.0, 4.0]]})
    coo = ADAPTER.validate_python(
        {"format": "coo", "shape": [2, 3], "step": [0], "index": [2], "values": [1.5]}
    )
    assert isinstance(dense, DenseSampleJSON)
    assert isinstance(coo, CooSampleJSON)
    assert coo.shape == (2, 3)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_fail_with_their_location(literal: str) -> None:
    body = '{"format": "dense", "values": [[1.0, 2.0], [3.0, ' + literal + "]]}"
    with pytest.raises(ValidationError) as caught:
        ADAPTER.validate_python(json.loads(body))
    locations = [error["loc"] for error in caught.value.errors()]
    assert ("dense", "values", 1, 1) in locations


def test_non_numeric_values_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"format": "dense", "values": [["1.0", 2.0], [3.0, 4.0]]})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"format": "dense", "values": [[1.0], [2.0]], "colour": "red"})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({"format": "csr", "values": [[1.0], [2.0]]})


def test_every_field_is_described() -> None:
    for model in (DenseSampleJSON, CooSampleJSON):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
