"""RFC 9457 problem details: the one shape of every error response."""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"

# Bounds on every part of a problem document. Messages are written not to quote input, but some carry
# text from elsewhere (a library's message, a name from the request); these keep any of it from coming back
# unbounded.
MAX_REPORTED_NAME = 64
_MAX_DETAIL = 600
_MAX_MESSAGE = 300
_MAX_INSTANCE = 200
_MAX_FIELD_ERRORS = 20


def reported_name(name: str) -> str:
    """A name from the request (field, key, group, path), cut to MAX_REPORTED_NAME characters."""
    return _cut(name, MAX_REPORTED_NAME)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class FieldError(BaseModel):
    """One invalid value: where it is and what is wrong with it (never the value itself)."""

    loc: list[str | int] = Field(description="Path to the offending field, e.g. ['body', 'profile', 'x'].")
    msg: str = Field(description="What is wrong there.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(default="about:blank", description="URI identifying the problem type.")
    title: str = Field(description="Short summary of the problem type (the HTTP reason phrase).")
    status: int = Field(description="HTTP status code.")
    detail: str = Field(description="What went wrong in this request, and where.")
    instance: str | None = Field(default=None, description="Path of the request that failed.")
    request_id: str | None = Field(
        default=None, description="Id of the request, as in the X-Request-ID header."
    )
    errors: list[FieldError] | None = Field(
        default=None, description=f"The invalid fields, for 422 responses (the first {_MAX_FIELD_ERRORS})."
    )


class ProblemError(Exception):
    """Raised anywhere in the service to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        self.headers = dict(headers or {})


def problem_body(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    request_id: str | None = None,
    errors: Sequence[FieldError] | None = None,
) -> dict[str, Any]:
    """The JSON document of one problem, without null members."""
    bounded = None
    if errors is not None:
        bounded = [
            FieldError(
                loc=[part if isinstance(part, int) else reported_name(part) for part in error.loc],
                msg=_cut(error.msg, _MAX_MESSAGE),
            )
            for error in errors[:_MAX_FIELD_ERRORS]
        ]
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=_cut(detail, _MAX_DETAIL),
        instance=None if instance is None else _cut(instance, _MAX_INSTANCE),
        request_id=request_id,
        errors=bounded,
    )
    return problem.model_dump(mode="json", exclude_none=True)


def problem_response(  # noqa: PLR0913  keyword-only optional fields of a problem document
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    request_id: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem document as an `application/problem+json` response."""
    body = problem_body(status, detail, instance=instance, request_id=request_id, errors=errors)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_MEDIA_TYPE)
