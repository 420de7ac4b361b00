"""Liveness, readiness and metrics: open even when API keys are configured."""

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from optadvisor.service.openapi import problem_responses
from optadvisor.service.problems import ProblemError

router = APIRouter(tags=["probes"])


# HEAD too: load balancers and container health checks often probe with it.
@router.api_route("/healthz", methods=["GET", "HEAD"], summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the rule set is loaded", responses=problem_responses(503))
async def readyz(request: Request) -> dict[str, str]:
    services = getattr(request.app.state, "services", None)
    if services is None:
        raise ProblemError(503, "Not ready: the rule set is not loaded yet.")
    return {"status": "ready", "rules_version": services.ruleset.version}


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."}},
)
async def metrics(request: Request) -> Response:
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
