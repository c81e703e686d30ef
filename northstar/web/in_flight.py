"""The limit on requests in flight: past it a 503 with Retry-After, so memory stays bounded under overload.

It counts requests, not sockets (uvicorn's `limit_concurrency` counts both, so idle
connections alone turned every request into a 503). `/health` is never refused: liveness
says the process answers, and a probe that fails under load would have the process killed
just when it is busiest.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from northstar.web.responses import error_response

__all__ = ["RequestsInFlight"]

_RETRY_AFTER = "5"
_NEVER_REFUSED = "/health"


class RequestsInFlight:
    """ASGI middleware: at most `limit` HTTP requests inside `app` at once; `on_refused()` counts each 503.

    Single event loop only (the counter is not locked): uvicorn runs one per process.
    """

    def __init__(self, app: ASGIApp, limit: int, on_refused: Callable[[], None]) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self._on_refused = on_refused
        self._refusal = error_response(503, f"over {limit} requests in flight; retry later",
                                       {"Retry-After": _RETRY_AFTER})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == _NEVER_REFUSED:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self._on_refused()
            await self._refusal(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
