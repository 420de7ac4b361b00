"""GET /v1/rules: the rule set in force."""

from typing import Any

from optadvisor.service.dependencies import ServicesDep
from optadvisor.service.openapi import problem_responses
from optadvisor.service.routes import api_router

router = api_router("rules")


@router.get(
    "/rules",
    summary="The rule set in force and its version",
    responses={
        200: {"description": "The rule set, with its content-hash `version`."},
        **problem_responses(401),
    },
)
def get_rules(services: ServicesDep) -> dict[str, Any]:
    return services.ruleset.model_dump(mode="json")
