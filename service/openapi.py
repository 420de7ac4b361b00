"""The OpenAPI document, generated from the request and response models.

The service parses request bodies itself (duplicate keys refused, a depth limit, parsing off the event
loop, memory bounds: `service.bodies`), so FastAPI never sees a body parameter from which to describe
one. `request_body` declares it instead, in the route's `openapi_extra`, from the models alone: the JSON
body's model (with the example it carries), the model of the multipart form (its file fields are `bytes`,
its fields holding a model are JSON parts) and the model of the query parameters of a file sent as the
body. `install_openapi` publishes every model those declarations name, found on the routers' routes, and
the problem schema. Responses are the routes' `response_model`s.
"""

import typing
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, APIRouter
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


class RequestBodyExtra(dict[str, Any]):
    """A route's `openapi_extra` declaring its request body, and the models that declaration names."""

    def __init__(self, extra: dict[str, Any], models: list[type[BaseModel]]) -> None:
        super().__init__(extra)
        self.models = models


def request_body(
    model: type[BaseModel],
    *,
    form: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
) -> RequestBodyExtra:
    """`openapi_extra` for a body the service parses itself: JSON with `model`'s schema and its first
    example; optionally a multipart form described by `form`; optionally (`query`) a file sent as an
    application/octet-stream body, with `query`'s fields as its query parameters."""
    examples = model.model_json_schema(ref_template=REF_TEMPLATE).get("examples")
    if not examples:
        raise ValueError(f"{model.__name__} carries no example (json_schema_extra examples)")
    content: dict[str, Any] = {"application/json": {"schema": _ref(model), "example": examples[0]}}
    models: list[type[BaseModel]] = [model]
    if form is not None:
        content["multipart/form-data"] = _form(form)
        models.extend(_nested_models(form).values())
    extra: dict[str, Any] = {"requestBody": {"required": True, "content": content}}
    if query is not None:
        content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
        extra["parameters"] = _query_parameters(query)
    return RequestBodyExtra(extra, models)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _form(form: type[BaseModel]) -> dict[str, Any]:
    """A multipart form's media type: the model's schema, inline; its model-valued fields are JSON parts."""
    schema = form.model_json_schema(ref_template=REF_TEMPLATE)
    schema.pop("$defs", None)  # published as components by install_openapi
    schema.pop("title", None)
    for name, field in schema["properties"].items():
        field.pop("title", None)
        schema["properties"][name] = _without_null(field)
    media: dict[str, Any] = {"schema": schema}
    json_parts = {name: {"contentType": "application/json"} for name in _nested_models(form)}
    if json_parts:
        media["encoding"] = json_parts
    return media


def _nested_models(form: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """The form's fields that hold a model (or None), by name: JSON parts."""
    found = {}
    for name, field in form.model_fields.items():
        for kind in typing.get_args(field.annotation) or (field.annotation,):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                found[name] = kind
    return found


def _query_parameters(query: type[BaseModel]) -> list[dict[str, Any]]:
    """`query`'s fields as query parameters, each optional: they apply only to the octet-stream body."""
    properties = query.model_json_schema(ref_template=REF_TEMPLATE)["properties"]
    parameters = []
    for name, field in properties.items():
        schema = _without_null(
            {key: value for key, value in field.items() if key not in ("title", "description")}
        )
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": False,
                "description": field.get("description", ""),
                "schema": schema,
            }
        )
    return parameters


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field's schema without its `null` branch: a form field or query parameter is left out
    rather than sent as null."""
    branches = schema.get("anyOf")
    if not branches:
        return schema
    kept = [branch for branch in branches if branch != {"type": "null"}]
    if len(kept) != 1:
        return schema
    rest = {key: value for key, value in schema.items() if key not in ("anyOf", "default")}
    return {**kept[0], **rest}


def body_models(routers: Iterable[APIRouter]) -> list[type[BaseModel]]:
    """Every model the routers' routes name in a `request_body` declaration."""
    found: list[type[BaseModel]] = []
    for router in routers:
        for route in router.routes:
            extra = route.openapi_extra if isinstance(route, APIRoute) else None
            for model in getattr(extra, "models", ()):
                if model not in found:
                    found.append(model)
    return found


def install_openapi(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Make `app.openapi()` also publish the problem schema and the models of the request bodies that the
    routes of `routers` (included in `app`) declare."""
    declared = body_models(routers)

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            models: list[type[BaseModel]] = [Problem, *declared]
            for model in models:
                model_schema = model.model_json_schema(ref_template=REF_TEMPLATE)
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
            app.openapi_schema = schema
        return app.openapi_schema

    openapi: Callable[[], dict[str, Any]] = build
    app.openapi = openapi  # type: ignore[method-assign]
