"""The API serves the names and thresholds from their one home: the schema's enums and GET /v1/rules."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from optadvisor.optimizers.catalogue.names import FRAMEWORKS, METHODS
from optadvisor.profiler.thresholds import QUOTED


@pytest.fixture(scope="module")
def document(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def served_rules(api: httpx.Client) -> dict[str, Any]:
    response = api.get("/v1/rules")
    assert response.status_code == 200
    return dict(response.json())


def _enums(node: object) -> Iterator[list[object]]:
    if isinstance(node, dict):
        if isinstance(node.get("enum"), list):
            yield node["enum"]
        for value in node.values():
            yield from _enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _enums(value)


def _enum_of(schema: dict[str, Any], document: dict[str, Any]) -> list[object]:
    """The enum a property's schema allows (through $ref, anyOf and array items)."""
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return next(_enums(schema))


def test_every_method_or_framework_enum_in_the_schema_is_the_catalogues(document: dict[str, Any]) -> None:
    named = [enum for enum in _enums(document) if set(enum) & {"adagrad", "torch"}]
    assert named, "the schema names methods and frameworks"
    for enum in named:
        assert enum in (list(METHODS), list(FRAMEWORKS)), enum


def test_the_request_models_enums_follow_the_catalogue(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    request = schemas["RecommendationBody"]["properties"]
    assert _enum_of(request["framework"], document) == list(FRAMEWORKS)
    assert _enum_of(request["candidates"], document) == list(METHODS)
    replay = schemas["ReplayRun"]["properties"]
    assert _enum_of(replay["method"], document) == list(METHODS)
    assert _enum_of(replay["framework"], document) == list(FRAMEWORKS)


def test_the_rules_serve_the_catalogues_names(served_rules: dict[str, Any]) -> None:
    assert served_rules["methods"] == list(METHODS)
    assert served_rules["frameworks"] == list(FRAMEWORKS)
    excluded = {method for guardrail in served_rules["guardrails"] for method in guardrail["excludes"]}
    argued = {explanation["argues_for"] for explanation in served_rules["explanations"]}
    assert excluded | argued <= set(METHODS)


def test_the_rules_serve_the_quoted_thresholds_from_their_home(served_rules: dict[str, Any]) -> None:
    assert set(served_rules["thresholds"]) == set(QUOTED)
    for name, quoted in QUOTED.items():
        served = served_rules["thresholds"][name]
        assert served["value"] == quoted.value
        module, _, constant = quoted.home.rpartition(".")
        assert getattr(__import__(module, fromlist=[constant]), constant) == served["value"]
