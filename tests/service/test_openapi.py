"""The OpenAPI document declares every status, both body forms and a request example per endpoint; it is
generated from the request and response models, and live responses validate against those models."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from optadvisor.rules import Recommendation
from optadvisor.service.schemas import (
    ProfileQuery,
    ProfileRequest,
    ProfileUpload,
    RecommendationBody,
    RecommendationUpload,
    StoredOutcome,
    StudyAnswer,
    StudyDocument,
    StudyPage,
)


@pytest.fixture(scope="module")
def document(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def test_post_endpoints_declare_their_body_forms_and_an_example(document: dict[str, Any]) -> None:
    profiles = document["paths"]["/v1/profiles"]["post"]
    assert set(profiles["requestBody"]["content"]) == {
        "application/json",
        "multipart/form-data",
        "application/octet-stream",
    }
    # recorded_every was accepted in the query string before it was documented there (now from ProfileQuery).
    assert {p["name"] for p in profiles["parameters"]} == {
        "filename",
        "training_steps",
        "framework",
        "recorded_every",
    }
    content = document["paths"]["/v1/recommendations"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    for path in ("/v1/profiles", "/v1/recommendations", "/v1/replays"):
        content = document["paths"][path]["post"]["requestBody"]["content"]
        schema_name = content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schema_name in document["components"]["schemas"]
        assert content["application/json"]["example"]


def test_get_endpoints_with_parameters_have_examples(document: dict[str, Any]) -> None:
    parameters = document["paths"]["/v1/optimizers/{name}"]["get"]["parameters"]
    assert parameters[0]["schema"]["examples"] == ["rmsprop"]


def test_error_statuses_are_declared_as_problems(document: dict[str, Any]) -> None:
    for path in ("/v1/profiles", "/v1/recommendations", "/v1/replays"):
        responses = document["paths"][path]["post"]["responses"]
        for status in ("400", "401", "413", "415", "422", "503"):
            assert "application/problem+json" in responses[status]["content"], (path, status)
    assert "Problem" in document["components"]["schemas"]


def test_request_examples_are_accepted(api: httpx.Client, document: dict[str, Any]) -> None:
    for path in ("/v1/profiles", "/v1/recommendations", "/v1/replays"):
        example = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        response = api.post(path, json=example)
        assert response.status_code == 200, (path, response.text)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for ref in set(_refs(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[-1] in schemas, ref


def test_request_bodies_come_from_the_models(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in (ProfileRequest, RecommendationBody):
        assert set(schemas[model.__name__]["properties"]) == set(model.model_fields)
        assert schemas[model.__name__]["examples"] == model.model_json_schema()["examples"]
    profiles = document["paths"]["/v1/profiles"]["post"]
    form = profiles["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(form["properties"]) == set(ProfileUpload.model_fields)
    assert {p["name"] for p in profiles["parameters"]} == set(ProfileQuery.model_fields)
    recommendations = document["paths"]["/v1/recommendations"]["post"]["requestBody"]["content"]
    form = recommendations["multipart/form-data"]
    assert set(form["schema"]["properties"]) == set(RecommendationUpload.model_fields)
    assert form["encoding"] == {"request": {"contentType": "application/json"}}
    assert form["schema"]["properties"]["gradients"]["format"] == "binary"


def test_responses_come_from_the_models(document: dict[str, Any]) -> None:
    """The answer's schema is Recommendation's fields plus the study's id and links, whatever fields the
    engine's model gains."""
    answer = document["paths"]["/v1/recommendations"]["post"]["responses"]["200"]["content"]
    name = answer["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = document["components"]["schemas"][name]["properties"]
    assert set(properties) == set(Recommendation.model_fields) | {"id", "links"}
    for path, method, status, model in (
        ("/v1/recommendations", "get", "200", StudyPage),
        ("/v1/recommendations/{study_id}", "get", "200", StudyDocument),
        ("/v1/recommendations/{study_id}/outcomes", "post", "201", StoredOutcome),
        ("/v1/recommendations/{study_id}/outcomes", "post", "200", StoredOutcome),
    ):
        content = document["paths"][path][method]["responses"][status]["content"]["application/json"]
        assert content["schema"]["$ref"].endswith(f"/{model.__name__}"), (path, status)


def test_live_answers_validate_against_their_response_models(api: httpx.Client) -> None:
    created = api.post("/v1/recommendations", json={"profile": {"model_family": "mlp", "tuning_budget": 2}})
    assert created.status_code == 200, created.text
    answer = StudyAnswer.model_validate_json(created.content)
    outcome = api.post(
        f"/v1/recommendations/{answer.id}/outcomes",
        json={"plan_index": 0, "metric": 0.5},
        headers={"Idempotency-Key": "k"},
    )
    assert outcome.status_code == 201, outcome.text
    StoredOutcome.model_validate_json(outcome.content)
    StudyDocument.model_validate_json(api.get(f"/v1/recommendations/{answer.id}").content)
    StudyPage.model_validate_json(api.get("/v1/recommendations").content)
