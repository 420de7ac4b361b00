"""POST /v1/recommendations: choose an optimizer and its hyperparameters."""

from fastapi import Request, Response

from optadvisor.service.bodies import JsonBody, parse_json, read_body
from optadvisor.service.dependencies import Services, owner
from optadvisor.service.jobs import declared_recommendation, recommendation_job
from optadvisor.service.openapi import problem_responses, request_body
from optadvisor.service.routes import api_router
from optadvisor.service.schemas import RecommendationBody, RecommendationUpload, StudyAnswer
from optadvisor.service.studies import Advice

router = api_router("recommendations")

# A JSON body this small is read and parsed on the event loop (well under a millisecond); when its parsed
# document holds no gradients it is a declared-only profile, which the rules answer in well under a
# millisecond too, so it is answered there instead of queueing behind gradient profiles.
INLINE_BODY_BYTES = 64 * 1024


@router.post(
    "/recommendations",
    summary="Recommend an optimizer",
    description="Method, hyperparameters in the framework's own names, ready configs for torch, Keras and "
    "Optax, rationale with the numbers, ranked alternatives and a tuning plan. `{}` is a valid body. "
    "Gradient files go in a multipart form: the JSON in field `request`, the file in field `gradients`.",
    response_model=StudyAnswer,
    responses={
        200: {
            "description": "The recommendation, stored as a study: `id` and `links` (self, outcomes, next, "
            "report) come first.",
        },
        **problem_responses(400, 401, 408, 413, 415, 422, 503),
    },
    openapi_extra=request_body(RecommendationBody, form=RecommendationUpload),
)
async def create_recommendation(request: Request) -> Response:
    # The services are read here rather than injected: resolving a FastAPI dependency costs about 10 µs of
    # every request on the service's busiest route.
    services: Services = request.app.state.services
    # Every body is received before it asks for a compute place, so a slow sender delays only itself.
    try:
        body = await read_body(request, services.settings, multipart=True)
        advice = None
        if isinstance(body, JsonBody) and len(body.raw) <= INLINE_BODY_BYTES:
            advice = _declared_answer(body, services)
        if advice is None:
            snapshot = services.studies.snapshot
            advice = await services.pool.run(
                recommendation_job, body, services.ruleset, snapshot, services.job_limits
            )
    finally:
        await request.close()
    # Every POST is its own study, committed before the answer leaves (the cache holds advice only).
    content = await services.studies.create(owner(request), advice)
    return Response(content, media_type="application/json")


def _declared_answer(body: JsonBody, services: Services) -> Advice | None:
    """The advice for a body without gradients, or None when it has some (they are measured in the pool).

    Decided on the parsed document, never on the bytes: `"gradient\\u0073"` is the key `gradients`.
    """
    cached = services.declared_answers.get(body.raw)
    if cached is not None:
        services.metrics.declared_cache_hits.inc()
        return cached
    document = parse_json(body.raw, services.job_limits.max_json_depth)
    if isinstance(document, dict) and document.get("gradients") is not None:
        return None
    advice = declared_recommendation(document, body.raw, services.ruleset, services.studies.snapshot)
    services.declared_answers.put(body.raw, advice)
    return advice
