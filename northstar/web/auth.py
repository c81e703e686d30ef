"""Credentials on requests: one guard per credential kind, applied declaratively per route.

Every route is an `ApiRoute` naming the `Credential` it needs; `Guards.route` wraps its
handler in that credential's one guard. The kinds:

- `WRITE_KEY`: the public write key as the HTTP Basic username (SDK definitions, assignment).
- `EVENT_WRITE_KEY`: the write key as the Basic username or inside the body (Segment's
  `writeKey`, PostHog's `api_key`); ingestion checks it after decoding, to count refusals.
- `ADMIN_SECRET`: `Authorization: Bearer <admin secret>` (management, results, operators).
- `DASHBOARD_SESSION`: the dashboard's session cookie (an HMAC of the admin secret, never the
  secret itself), the bearer secret, or `?token=<admin secret>` which sets the cookie.
- `PUBLIC`: nothing (health, readiness, metrics, the dashboard's login form and stylesheet).

The routes with their credentials stay readable (`ApiRoute` list) for an API description.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from northstar.web.responses import error_response

__all__ = [
    "ApiRoute", "Credential", "DashboardSession", "Guards", "Handler", "SESSION_COOKIE", "basic_auth_username",
    "bearer_token", "has_secret",
]

Handler = Callable[[Request], Awaitable[Response]]

SESSION_COOKIE = "northstar_session"


class Credential(enum.Enum):
    """What a request must carry to reach a route."""

    PUBLIC = "public"
    WRITE_KEY = "write_key"
    EVENT_WRITE_KEY = "event_write_key"
    ADMIN_SECRET = "admin_secret"
    DASHBOARD_SESSION = "dashboard_session"


@dataclass(frozen=True)
class ApiRoute:
    """One route of the HTTP API: path, methods, handler and the credential it needs.

    `body` (the JSON request body's type), `query` (a Struct of the query parameters) and
    `answers` (status → response body type; None: no body; a tuple: one of them) describe
    it in the OpenAPI document (`northstar.web.openapi`); refusals need not be declared.
    """

    path: str
    methods: tuple[str, ...]
    handler: Handler
    credential: Credential
    body: Any = None
    query: Any = None
    answers: Mapping[int, Any] = field(default_factory=dict)
    media_type: str = "application/json"


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
    """The token of `Authorization: Bearer …`, if the request carries one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def has_secret(request: Request, secret: str) -> bool:
    """True when the request carries `secret` as a bearer token (constant-time compare)."""
    token = bearer_token(request)
    return token is not None and hmac.compare_digest(token.encode(), secret.encode())


class DashboardSession:
    """The dashboard's session: a cookie holding an HMAC of the admin secret.

    HttpOnly, SameSite=Strict, scoped to /dashboard; a bearer header works too.
    """

    def __init__(self, admin_secret: str) -> None:
        self._secret = admin_secret
        self._session = hmac.new(admin_secret.encode(), b"northstar dashboard session", hashlib.sha256).hexdigest()

    def is_secret(self, text: str) -> bool:
        """True when `text` is the admin secret (constant-time compare)."""
        return hmac.compare_digest(text.encode(), self._secret.encode())

    def signed_in(self, request: Request) -> bool:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self._session.encode()) or has_secret(request, self._secret)

    def start(self, response: Response) -> Response:
        response.set_cookie(SESSION_COOKIE, self._session, httponly=True, samesite="strict", path="/dashboard")
        return response

    @staticmethod
    def end(response: Response) -> Response:
        response.delete_cookie(SESSION_COOKIE, path="/dashboard", httponly=True, samesite="strict")
        return response


class Guards:
    """The one guard of each credential kind, over the server's write keys and admin secret.

    `wrong_token_page` renders the dashboard's answer to a wrong `?token=` (401).
    """

    def __init__(self, write_keys: frozenset[str], admin_secret: str, wrong_token_page: Callable[[], str]) -> None:
        self._write_keys = write_keys
        self._admin_secret = admin_secret
        self._wrong_token_page = wrong_token_page
        self.dashboard = DashboardSession(admin_secret)

    def route(self, api_route: ApiRoute) -> Route:
        """The Starlette route of `api_route`, its handler behind its credential's guard."""
        guard = {
            Credential.PUBLIC: _unguarded,
            Credential.EVENT_WRITE_KEY: _unguarded,  # checked by ingestion itself: see the module docstring
            Credential.WRITE_KEY: self._write_key,
            Credential.ADMIN_SECRET: self._admin,
            Credential.DASHBOARD_SESSION: self._dashboard,
        }[api_route.credential]
        return Route(api_route.path, guard(api_route.handler), methods=list(api_route.methods))

    def _write_key(self, handler: Handler) -> Handler:
        write_keys = self._write_keys
        return _refusing_unless(lambda request: basic_auth_username(request) in write_keys,
                                "missing or unknown write key (HTTP Basic username)", handler)

    def _admin(self, handler: Handler) -> Handler:
        secret = self._admin_secret
        return _refusing_unless(lambda request: has_secret(request, secret),
                                "missing or wrong admin secret (Authorization: Bearer …)", handler)

    def _dashboard(self, handler: Handler) -> Handler:
        session = self.dashboard

        async def page(request: Request) -> Response:
            token = request.query_params.get("token")
            if token is not None:
                if not session.is_secret(token):
                    return HTMLResponse(self._wrong_token_page(), 401)
                return session.start(RedirectResponse(request.url.path, 303))
            if not session.signed_in(request):
                return RedirectResponse("/dashboard/login", 303)
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            return response

        return page


def _refusing_unless(allowed: Callable[[Request], bool], refusal: str, handler: Handler) -> Handler:
    """`handler` for requests `allowed` lets through; a 401 with `refusal` for the others."""

    async def guarded(request: Request) -> Response:
        if not allowed(request):
            return error_response(401, refusal)
        return await handler(request)

    return guarded


def _unguarded(handler: Handler) -> Handler:
    return handler
