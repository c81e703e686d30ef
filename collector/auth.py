"""Credentials on requests: write keys for ingestion, a bearer secret for reads and admin."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request

__all__ = ["basic_auth_username", "bearer_token", "has_secret"]


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
