"""What routes get injected: the app's services (the API-key check is `service.auth`'s middleware)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from optadvisor.rules import RuleSet
from optadvisor.service.answer_cache import AnswerCache
from optadvisor.service.compute import ComputePool
from optadvisor.service.jobs import JobLimits
from optadvisor.service.metrics import Metrics
from optadvisor.service.settings import Settings
from optadvisor.service.studies import Advice, Studies


@dataclass(frozen=True)
class Services:
    """Everything a request handler needs, built once at start-up."""

    settings: Settings
    job_limits: JobLimits
    ruleset: RuleSet
    pool: ComputePool
    declared_answers: AnswerCache[Advice]
    metrics: Metrics
    studies: Studies


# Async: a plain `def` dependency would be run in the thread pool on every request.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def owner(request: Request) -> str:
    """Whose studies this request may see: the API key's owner, or "" when the service has no keys
    (`service.auth` sets it)."""
    return str(request.scope.get("state", {}).get("owner", ""))
