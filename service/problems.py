"""RFC 9457 problem details: the one shape of every error response."""

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

PROBLEM_MEDIA_TYPE = "application/problem+json"


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
        default=None, description="Each invalid field, for 422 responses."
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
    problem = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id,
        errors=list(errors) if errors is not None else None,
    )
    return problem.model_dump(mode="json", exclude_none=True)


def problem_response(
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
