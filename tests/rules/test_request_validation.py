"""Invalid requests fail validation naming the field (the service answers 422 with it)."""

from typing import Any

import pytest
from pydantic import ValidationError

from optadvisor.rules import METHODS, RecommendationRequest


def _error_locations(payload: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        RecommendationRequest.model_validate(payload)
    return [error["loc"] for error in caught.value.errors()]


@pytest.mark.parametrize(
    ("payload", "location"),
    [
        ({"profile": {"gradient_sparsity": 1.5}}, ("profile", "gradient_sparsity")),
        ({"profile": {"gradient_sparsity": -0.1}}, ("profile", "gradient_sparsity")),
        ({"profile": {"gradient_sparsity": float("nan")}}, ("profile", "gradient_sparsity")),
        ({"profile": {"tuning_budget": 0}}, ("profile", "tuning_budget")),
        ({"profile": {"tuning_budget": True}}, ("profile", "tuning_budget")),
        ({"profile": {"tuning_budget": 10**7}}, ("profile", "tuning_budget")),
        ({"profile": {"training_steps": 10**400}}, ("profile", "training_steps")),
        ({"profile": {"gradient_sparsity": True}}, ("profile", "gradient_sparsity")),
        ({"profile": {"convex": "yes"}}, ("profile", "convex")),
        ({"profile": {"training_steps": 0}}, ("profile", "training_steps")),
        ({"profile": {"model_family": "gan"}}, ("profile", "model_family")),
        ({"profile": {"stationarity": "sometimes"}}, ("profile", "stationarity")),
        ({"profile": {"stationarity": 1.2}}, ("profile", "stationarity")),
        ({"profile": {"sparsity": 0.5}}, ("profile", "sparsity")),
        ({"framework": "jax"}, ("framework",)),
        ({"candidates": []}, ("candidates",)),
        ({"candidates": ["adagrad", "adagrad"]}, ("candidates",)),
        ({"candidates": ["adagrad", "lion"]}, ("candidates", 1)),
        ({"gradients": {}}, ("gradients",)),
    ],
)
def test_invalid_values_name_the_field(payload: dict[str, Any], location: tuple[Any, ...]) -> None:
    locations = _error_locations(payload)
    assert any(found[: len(location)] == location for found in locations), locations


def test_unknown_candidate_error_names_it() -> None:
    with pytest.raises(ValidationError) as caught:
        RecommendationRequest.model_validate({"candidates": ["lion"]})
    assert "lion" in str(caught.value)


def test_empty_body_is_valid_with_all_six_candidates() -> None:
    request = RecommendationRequest.model_validate({})
    assert request.framework == "torch"
    assert tuple(request.candidates) == METHODS
    assert request.profile.model_dump() == dict.fromkeys(request.profile.model_dump())


def test_numeric_stationarity_in_range_is_accepted() -> None:
    request = RecommendationRequest.model_validate({"profile": {"stationarity": 0.4, "convex": False}})
    assert request.profile.stationarity == 0.4


def test_every_profile_field_is_described() -> None:
    schema = RecommendationRequest.model_json_schema()
    profile_fields = schema["$defs"]["DeclaredProfile"]["properties"]
    assert {name for name, field in profile_fields.items() if not field.get("description")} == set()
