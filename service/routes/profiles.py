"""POST /v1/profiles: measure gradient samples."""

from fastapi import Request, Response

from optadvisor.profiler import ProfileReport
from optadvisor.service.bodies import read_body
from optadvisor.service.dependencies import ServicesDep
from optadvisor.service.examples import PROFILE_EXAMPLE, PROFILE_FORM_SCHEMA, PROFILE_QUERY_PARAMETERS
from optadvisor.service.jobs import profile_job
from optadvisor.service.openapi import json_request_body, problem_responses
from optadvisor.service.routes import api_router
from optadvisor.service.schemas import ProfileRequest

router = api_router("profiles")


@router.post(
    "/profiles",
    summary="Measure gradient samples",
    description="Sparsity, nonstationarity, scale spread, signal-to-noise and replays through every built-in "
    "optimizer, per group and overall. Send JSON; or a multipart form with a .npy/.npz/.safetensors file in "
    "field `gradients` and the other fields as form fields; or the file itself as an "
    "application/octet-stream body with `filename` (which gives its format and group name) and the other "
    "fields as query parameters, the fastest way to send a large file.",
    response_model=None,
    responses={
        200: {"model": ProfileReport, "description": "The profile."},
        **problem_responses(400, 401, 408, 413, 415, 422, 503),
    },
    openapi_extra=json_request_body(
        ProfileRequest, PROFILE_EXAMPLE, multipart=PROFILE_FORM_SCHEMA, raw_upload=PROFILE_QUERY_PARAMETERS
    ),
)
async def create_profile(request: Request, services: ServicesDep) -> Response:
    # The body is received first, holding no compute place: a slow sender delays only itself.
    try:
        body = await read_body(request, services.settings, multipart=True, raw_upload=True)
        content = await services.pool.run(profile_job, body, services.job_limits, services.ruleset)
    finally:
        await request.close()
    return Response(content, media_type="application/json")
