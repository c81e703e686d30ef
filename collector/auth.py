"""Credentials on requests: write keys for ingestion, a bearer secret for reads and admin."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from collector.responses import error_response

__all__ = ["basic_auth_username", "bearer_token", "has_secret", "require_secret", "Handler"]

Handler = Callable[[Request], Awaitable[Response]]


def basic_auth_username(request: Request) -> str | None:
    """The username of HTTP Basic auth (Segment sends the write key there), if any."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not credentials:
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def has_secret(request: Request, secret: str) -> bool:
    """True when the request carries `secret` as a bearer token (constant-time compare)."""
    token = bearer_token(request)
    return token is not None and hmac.compare_digest(token.encode(), secret.encode())


def require_secret(secret: str) -> Callable[[Handler], Handler]:
    """Wrap a route handler so it answers 401 unless the request carries `secret`."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: Request) -> Response:
            if not has_secret(request, secret):
                return error_response(401, "missing or wrong admin secret (Authorization: Bearer …)")
            return await handler(request)

        return guarded

    return wrap
