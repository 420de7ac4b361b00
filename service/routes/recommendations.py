"""POST /v1/recommendations: choose an optimizer and its hyperparameters."""

from fastapi import Request, Response

from optadvisor.rules import Recommendation
from optadvisor.service.bodies import JSON_MEDIA_TYPE, JsonBody, MultipartBody, media_type, read_body
from optadvisor.service.dependencies import Services, ServicesDep
from optadvisor.service.examples import (
    RECOMMENDATION_EXAMPLE,
    RECOMMENDATION_FORM_ENCODING,
    RECOMMENDATION_FORM_SCHEMA,
)
from optadvisor.service.jobs import recommendation_job
from optadvisor.service.openapi import json_request_body, problem_responses
from optadvisor.service.routes import api_router
from optadvisor.service.schemas import RecommendationBody

router = api_router("recommendations")

# A JSON body this small without gradients is a declared-only profile: the rules answer it in well under a
# millisecond, so it is answered on the event loop instead of queueing behind gradient profiles.
INLINE_BODY_BYTES = 64 * 1024


def _small_json(request: Request) -> bool:
    declared = request.headers.get("content-length", "")
    return (
        media_type(request) == JSON_MEDIA_TYPE
        and declared.isdigit()
        and int(declared) <= INLINE_BODY_BYTES
        and request.headers.get("content-encoding", "identity").strip().lower() == "identity"
    )


@router.post(
    "/recommendations",
    summary="Recommend an optimizer",
    description="Method, hyperparameters in the framework's own names, ready configs for torch, Keras and "
    "Optax, rationale with the numbers, ranked alternatives and a tuning plan. `{}` is a valid body. "
    "Gradient files go in a multipart form: the JSON in field `request`, the file in field `gradients`.",
    response_model=None,
    responses={
        200: {"model": Recommendation, "description": "The recommendation."},
        **problem_responses(400, 401, 408, 413, 415, 422, 503),
    },
    openapi_extra=json_request_body(
        RecommendationBody,
        RECOMMENDATION_EXAMPLE,
        multipart=RECOMMENDATION_FORM_SCHEMA,
        multipart_encoding=RECOMMENDATION_FORM_ENCODING,
    ),
)
async def create_recommendation(request: Request, services: ServicesDep) -> Response:
    if _small_json(request):
        small = await read_body(request, services.settings, multipart=False)
        if isinstance(small, JsonBody) and b'"gradients"' not in small.raw:
            return Response(_declared_answer(small, services), media_type="application/json")
        async with services.pool.admit():
            return await _computed(small, services)
    async with services.pool.admit():
        try:
            body = await read_body(request, services.settings, multipart=True)
            return await _computed(body, services)
        finally:
            await request.close()


def _declared_answer(body: JsonBody, services: Services) -> bytes:
    cached = services.declared_answers.get(body.raw)
    if cached is not None:
        services.metrics.declared_cache_hits.inc()
        return cached
    content = recommendation_job(body, services.ruleset, services.job_limits)
    services.declared_answers.put(body.raw, content)
    return content


async def _computed(body: JsonBody | MultipartBody, services: Services) -> Response:
    content = await services.pool.run(recommendation_job, body, services.ruleset, services.job_limits)
    return Response(content, media_type="application/json")
