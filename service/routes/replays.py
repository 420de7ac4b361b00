"""POST /v1/replays: run gradient samples through chosen optimizers and watch their state."""

from fastapi import Request, Response

from optadvisor.profiler import ReplayReport
from optadvisor.service.bodies import JsonBody, read_body
from optadvisor.service.dependencies import ServicesDep
from optadvisor.service.jobs import replay_job
from optadvisor.service.openapi import problem_responses, request_body
from optadvisor.service.routes import api_router
from optadvisor.service.schemas import ReplayRequest

router = api_router("replays")


@router.post(
    "/replays",
    summary="Replay gradients through optimizers",
    description="Trajectories of the effective step size and update RMS for each run and, for "
    "the coordinates in `trace_coordinates`, the optimizer's internal state step by step.",
    response_model=ReplayReport,
    responses={
        200: {"description": "The replay."},
        **problem_responses(400, 401, 408, 413, 415, 422, 503),
    },
    openapi_extra=request_body(ReplayRequest),
)
async def create_replay(request: Request, services: ServicesDep) -> Response:
    body = await read_body(request, services.settings, multipart=False)
    assert isinstance(body, JsonBody)
    content = await services.pool.run(replay_job, body, services.job_limits, services.ruleset)
    return Response(content, media_type="application/json")
