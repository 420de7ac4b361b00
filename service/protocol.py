"""uvicorn's h11 protocol with what it lacks for a server facing clients directly.

- A deadline for each request's line and headers, from the moment a connection opens or a later request's
  first byte arrives: uvicorn has none (its keep-alive timer starts only after a response and every received
  byte cancels it), so 300 connections that never sent a byte stayed open for good and, counted by
  `--limit-concurrency`, made every request 503. Silent connections are closed; one that started a request
  and stalled gets a 408 problem first.
- A body refused before it was read (the server is busy) is discarded as it arrives, so the client gets the
  answer, but must finish arriving within the same deadline.
- Refusals uvicorn writes itself (malformed framing, the concurrency limit) are RFC 9457 problems like every
  other error, not text/plain.

`optadvisor serve` runs uvicorn with `guarded_h11_protocol(settings)`.
"""

import asyncio
import json
from http import HTTPStatus
from typing import Any

import h11
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from optadvisor.service.problems import PROBLEM_MEDIA_TYPE, problem_body
from optadvisor.service.settings import Settings

_BUSY_DETAIL = "The server has too many open connections. Retry later."


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with a request-head deadline and problem+json refusals (configure with the factory)."""

    head_timeout: float = 10.0
    retry_after_seconds: int = 2

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # The concurrency limit is enforced by `_admit` below, which answers with a problem; uvicorn's own
        # check would answer text/plain.
        self.connection_limit = self.limit_concurrency
        self.limit_concurrency = None
        self.guarded_app = self.app
        self.app = self._admit
        self._head_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._head_bytes += len(data)
            if self._head_timer is None:
                self._start_head_timer()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request's head is in: its body has its own deadline
            self._stop_head_timer()
            self._head_bytes = 0
        if self._drain_timer is not None and not self._draining():
            self._drain_timer.cancel()
            self._drain_timer = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle between requests is the keep-alive timer's; the next head's deadline starts at its first byte.
        self._stop_head_timer()
        if self._draining():
            # Answered before its body was read (a busy refusal): uvicorn discards the rest as it arrives,
            # and every byte would restart its keep-alive timer; the rest must arrive within the deadline.
            self._drain_timer = self.loop.call_later(self.head_timeout, self._drain_timed_out)

    def _draining(self) -> bool:
        return self.conn.our_state is h11.DONE and self.conn.their_state is h11.SEND_BODY

    def send_400_response(self, msg: str) -> None:
        self._send_problem(
            400, "The request is not valid HTTP/1.1 (malformed request line, headers or framing)."
        )

    def _start_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _drain_timed_out(self) -> None:
        self._drain_timer = None
        if self._draining():
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self._head_bytes and self.conn.our_state is h11.IDLE:
            self._send_problem(
                408, f"The request line and headers did not arrive within {self.head_timeout:g} seconds."
            )
        else:
            self.transport.close()

    def _send_problem(self, status: int, detail: str) -> None:
        """Write a problem response outside any request cycle (h11 may be in an error state) and close."""
        body = json.dumps(problem_body(status, detail)).encode()
        reason = HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: {PROBLEM_MEDIA_TYPE}\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        # This request's own task and connection are already counted, hence ">" where uvicorn has ">=".
        limit = self.connection_limit
        if limit is not None and (len(self.connections) > limit or len(self.tasks) > limit):
            self.logger.warning("Exceeded concurrency limit.")
            body = json.dumps(problem_body(503, _BUSY_DETAIL)).encode()
            headers = [
                (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                (b"retry-after", str(self.retry_after_seconds).encode()),
            ]
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.guarded_app(scope, receive, send)


def guarded_h11_protocol(settings: Settings) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn should serve with, configured from `settings`."""
    return type(
        "ConfiguredH11Protocol",
        (GuardedH11Protocol,),
        {"head_timeout": settings.request_head_timeout, "retry_after_seconds": settings.retry_after_seconds},
    )
