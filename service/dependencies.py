"""What routes get injected: the app's services, and the API-key check guarding /v1."""

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from rules import RuleSet
from service.answer_cache import AnswerCache
from service.compute import ComputePool
from service.jobs import JobLimits
from service.metrics import Metrics
from service.problems import ProblemError
from service.settings import Settings


@dataclass(frozen=True)
class Services:
    """Everything a request handler needs, built once at start-up."""

    settings: Settings
    job_limits: JobLimits
    ruleset: RuleSet
    pool: ComputePool
    declared_answers: AnswerCache
    metrics: Metrics


# Both dependencies are async: a plain `def` dependency would be run in the thread pool on every request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


async def require_api_key(request: Request) -> None:
    """Refuse the request with 401 unless it carries one of the configured keys (no-op when none are set)."""
    settings: Settings = request.app.state.settings
    if not settings.api_keys:
        return
    presented = _presented_key(request)
    if presented is None:
        raise ProblemError(
            401,
            "Missing API key: send `X-API-Key: <key>` or `Authorization: Bearer <key>`.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Compare against every key, so the time taken says nothing about which (if any) matched.
    matches = [hmac.compare_digest(presented.encode(), key.encode()) for key in settings.api_keys]
    if not any(matches):
        raise ProblemError(401, "Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
