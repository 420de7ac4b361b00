"""POST /v1/profiles: measure gradient samples."""

from fastapi import Request, Response

from optadvisor.profiler import ProfileReport
from optadvisor.service.bodies import read_body
from optadvisor.service.dependencies import ServicesDep
from optadvisor.service.jobs import profile_job
from optadvisor.service.openapi import problem_responses, request_body
from optadvisor.service.routes import api_router
from optadvisor.service.schemas import ProfileQuery, ProfileRequest, ProfileUpload

router = api_router("profiles")


@router.post(
    "/profiles",
    summary="Measure gradient samples",
    description="Sparsity, nonstationarity, scale spread, signal-to-noise and replays through every built-in "
    "optimizer, per group and overall. Send JSON; or a multipart form with a .npy/.npz/.safetensors file in "
    "field `gradients` and the other fields as form fields; or the file itself as an "
    "application/octet-stream body with `filename` (which gives its format and group name) and the other "
    "fields as query parameters, the fastest way to send a large file.",
    response_model=ProfileReport,
    responses={
        200: {"description": "The profile."},
        **problem_responses(400, 401, 408, 413, 415, 422, 503),
    },
    openapi_extra=request_body(ProfileRequest, form=ProfileUpload, query=ProfileQuery),
)
async def create_profile(request: Request, services: ServicesDep) -> Response:
    # The body is received first, holding no compute place: a slow sender delays only itself.
    try:
        body = await read_body(request, services.settings, multipart=True, raw_upload=True)
        content = await services.pool.run(profile_job, body, services.job_limits, services.ruleset)
    finally:
        await request.close()
    return Response(content, media_type="application/json")
