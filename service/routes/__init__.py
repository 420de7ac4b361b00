"""HTTP routes: thin handlers that read the request, hand work to `service.jobs` and answer."""

from fastapi import APIRouter

API_PREFIX = "/v1"


def api_router(tag: str) -> APIRouter:
    """A router for /v1 routes (every path under the prefix requires an API key when keys are configured:
    `service.auth.ApiKeyMiddleware`)."""
    return APIRouter(prefix=API_PREFIX, tags=[tag])
