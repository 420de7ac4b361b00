"""The OpenAPI document declares every status, both body forms and a request example per endpoint."""

from typing import Any

import httpx
import pytest


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
    assert {p["name"] for p in profiles["parameters"]} == {"filename", "training_steps", "framework"}
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
