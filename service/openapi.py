"""OpenAPI pieces FastAPI cannot infer: problem responses, and request bodies offered as JSON or multipart."""

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from optadvisor.service.problems import PROBLEM_MEDIA_TYPE, Problem

REF_TEMPLATE = "#/components/schemas/{model}"

_STATUS_MEANINGS = {
    400: "Malformed body: not UTF-8, not JSON, nested too deeply, or a broken multipart form.",
    401: "Missing or wrong API key (only when the server has keys configured).",
    404: "No such resource.",
    408: "The body did not arrive within the read deadline.",
    413: "Body larger than OPTADVISOR_MAX_REQUEST_BYTES; more gradient elements or groups than allowed; or "
    "more memory or work than one request may use.",
    415: "Unsupported Content-Type, Content-Encoding or gradient file format.",
    422: "Invalid values; `errors` lists each field and what is wrong with it.",
    503: "Saturated (see Retry-After): bodies buffer full, compute queue full or waited too long, memory "
    "held by other requests, or the request's compute time ran out; or the service is not ready.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given error statuses, each an RFC 9457 problem."""
    return {
        status: {
            "description": _STATUS_MEANINGS.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF_TEMPLATE.format(model="Problem")}}},
        }
        for status in statuses
    }


def json_request_body(
    model: type[BaseModel],
    example: dict[str, Any],
    *,
    multipart: dict[str, Any] | None = None,
    multipart_encoding: dict[str, Any] | None = None,
    raw_upload: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """`openapi_extra` for a body validated by hand: JSON (with `model`'s schema), optionally multipart
    (with the per-part `encoding`, e.g. which form fields carry JSON), optionally a file sent as an
    application/octet-stream body (with its query `parameters`)."""
    content: dict[str, Any] = {
        "application/json": {
            "schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)},
            "example": example,
        }
    }
    if multipart is not None:
        content["multipart/form-data"] = {"schema": multipart}
        if multipart_encoding is not None:
            content["multipart/form-data"]["encoding"] = multipart_encoding
    extra: dict[str, Any] = {"requestBody": {"required": True, "content": content}}
    if raw_upload is not None:
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
        extra["parameters"] = raw_upload
    return extra


def install_openapi(app: FastAPI, body_models: list[type[BaseModel]]) -> None:
    """Make `app.openapi()` also publish the problem schema and the hand-validated body models."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            models: list[type[BaseModel]] = [Problem, *body_models]
            for model in models:
                model_schema = model.model_json_schema(ref_template=REF_TEMPLATE)
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    openapi: Callable[[], dict[str, Any]] = build
    app.openapi = openapi  # type: ignore[method-assign]
