"""What can go wrong talking to optadvisor; HTTP errors carry the server's RFC 9457 problem."""

from typing import Any


class OptadvisorError(Exception):
    """Base of every error the client raises."""


class InvalidUrlError(OptadvisorError, ValueError):
    """The server URL is not an http:// or https:// URL with a host."""


class ServerUnreachableError(OptadvisorError):
    """No HTTP answer: connection refused, DNS failure, timeout."""


class UnencodableRequestError(OptadvisorError, ValueError):
    """The request holds a value JSON cannot carry (NaN, an infinity, an object); nothing was sent."""


class ApiProblemError(OptadvisorError):
    """The server answered with an error status; `problem` is its problem document."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.detail = str(problem.get("detail") or problem.get("title") or f"HTTP {status}")
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(f"HTTP {status}: {self.detail}")


class InvalidRequestError(ApiProblemError):
    """400, 413, 415 or 422: the request must change before it can succeed."""


class UnauthorizedError(ApiProblemError):
    """401: missing or wrong API key."""


class NotFoundError(ApiProblemError):
    """404: no such resource (e.g. an unknown optimizer name)."""


class ServerBusyError(ApiProblemError):
    """429 or 503: retry after `retry_after` seconds (None when the server did not say)."""

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None) -> None:
        super().__init__(status, problem)
        self.retry_after = retry_after


class ServerFaultError(ApiProblemError):
    """5xx other than 503: a fault on the server's side."""
