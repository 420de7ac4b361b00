"""Exception handlers: every error leaves the service as an RFC 9457 problem, never with a traceback."""

import logging

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match

from optadvisor.profiler.errors import GradientError, GradientLimitExceeded, UnsupportedGradientFormat
from optadvisor.service.problems import FieldError, ProblemError, problem_response, reported_name
from optadvisor.service.storage.writer import StorageError

logger = logging.getLogger("optadvisor.errors")


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def _problem(request: Request, error: ProblemError) -> Response:
    return problem_response(
        error.status,
        error.detail,
        instance=request.url.path,
        request_id=_request_id(request),
        errors=error.errors,
        headers=error.headers,
    )


async def handle_problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, ProblemError)
    return _problem(request, error)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _methods_at(request: Request) -> set[str]:
    """Every method some route of the app answers at this request's path, asked of the routes themselves
    (so included routers and their prefixes count as the router counts them)."""
    return {
        method
        for method in _METHODS
        for route in request.app.router.routes
        if route.matches({**request.scope, "method": method})[0] == Match.FULL
    }


async def handle_http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    detail = error.detail if isinstance(error.detail, str) else "The request could not be processed."
    # The path is the client's own text (it is in `instance`, cut to length): the detail does not repeat it.
    if error.status_code == 404 and detail == "Not Found":
        detail = "No resource at this path."
    elif error.status_code == 405:
        # Starlette names the methods of the first route at this path only; several routes may share it.
        allowed = ", ".join(sorted(_methods_at(request)))
        error.headers = {**(error.headers or {}), "Allow": allowed}
        detail = "This method is not allowed on this path" + (f"; allowed: {allowed}." if allowed else ".")
    return _problem(request, ProblemError(error.status_code, detail, headers=error.headers))


async def handle_request_validation(request: Request, error: Exception) -> Response:
    # FastAPI's own handler echoes `input` (and crashes serialising NaN); this one reports places only.
    assert isinstance(error, RequestValidationError)
    errors = [FieldError(loc=list(item["loc"]), msg=item["msg"]) for item in error.errors()]
    where = ".".join(str(part) for part in errors[0].loc) if errors else "the request"
    message = errors[0].msg if errors else "invalid"
    return _problem(request, ProblemError(422, f"Invalid value at {where}: {message}.", errors=errors))


async def handle_gradient_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, GradientError)
    status = 422
    # The domain's message names the group as sent; a client-chosen name is reported cut to length.
    message = error.detail if error.group is None else f"group {reported_name(error.group)!r}: {error.detail}"
    if isinstance(error, GradientLimitExceeded):
        status = 413
    elif isinstance(error, UnsupportedGradientFormat):
        status = 415
    return _problem(request, ProblemError(status, message))


async def handle_unexpected(request: Request, error: Exception) -> Response:
    request_id = _request_id(request)
    # This handler runs outside the request-id middleware, whose context has ended: name the id explicitly.
    logger.error(
        "unhandled error serving %s %s",
        request.method,
        request.url.path,
        exc_info=error,
        extra={"request_id": request_id},
    )
    detail = f"Internal error; quote request id {request_id} when reporting it."
    return _problem(request, ProblemError(500, detail))


async def handle_storage_error(request: Request, error: Exception) -> Response:
    # The database refused or failed: nothing of this request was stored; the client may retry.
    logger.error("study store failed serving %s %s", request.method, request.url.path, exc_info=error)
    detail = "The study store is unavailable; nothing was stored. Retry later."
    return _problem(request, ProblemError(503, detail, headers={"Retry-After": "2"}))


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on `app`."""
    app.add_exception_handler(ProblemError, handle_problem)
    app.add_exception_handler(HTTPException, handle_http_exception)
    app.add_exception_handler(RequestValidationError, handle_request_validation)
    app.add_exception_handler(GradientError, handle_gradient_error)
    app.add_exception_handler(StorageError, handle_storage_error)
    app.add_exception_handler(SQLAlchemyError, handle_storage_error)
    app.add_exception_handler(Exception, handle_unexpected)
