"""POST /v1/recommendations: choose an optimizer and its hyperparameters."""

from fastapi import Request, Response

from rules import Recommendation
from service.bodies import read_body
from service.dependencies import ServicesDep
from service.examples import (
    RECOMMENDATION_EXAMPLE,
    RECOMMENDATION_FORM_ENCODING,
    RECOMMENDATION_FORM_SCHEMA,
)
from service.jobs import recommendation_job
from service.openapi import json_request_body, problem_responses
from service.routes import api_router
from service.schemas import RecommendationBody

router = api_router("recommendations")


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
    async with services.pool.admit():
        try:
            body = await read_body(request, multipart=True, max_form_fields=services.settings.max_form_fields)
            content = await services.pool.run(recommendation_job, body, services.ruleset, services.job_limits)
        finally:
            await request.close()
    return Response(content, media_type="application/json")
