"""HTTP routes: thin handlers that read the request, hand work to `service.jobs` and answer."""

from fastapi import APIRouter, Depends

from service.dependencies import require_api_key

API_PREFIX = "/v1"


def api_router(tag: str) -> APIRouter:
    """A router for /v1 routes: every route on it requires an API key when keys are configured."""
    return APIRouter(prefix=API_PREFIX, tags=[tag], dependencies=[Depends(require_api_key)])
