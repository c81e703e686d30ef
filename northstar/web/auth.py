"""Credentials on requests: one guard per credential kind, applied declaratively per route.

Every route is an `ApiRoute` naming the `Credential` it needs; `Guards.route` wraps its
handler in that credential's one guard. The kinds:

- `WRITE_KEY`: the public write key, or an SDK key, as the HTTP Basic username (`POST /v1/assign`).
- `SDK_KEY`: a server-side SDK key as the HTTP Basic username (`GET /v1/sdk/definitions`:
  targeting rules, overrides, payloads); a write key is refused with 403 and the reason.
- `EVENT_WRITE_KEY`: the write key as the Basic username or inside the body (Segment's
  `writeKey`, PostHog's `api_key`); ingestion checks it after decoding, to count refusals.
- `ADMIN_SECRET`: `Authorization: Bearer <admin secret>` (management, results, operators).
- `DASHBOARD_SESSION`: the dashboard's session cookie (a random server-side session,
  `northstar.web.sessions`), the bearer secret, or `?token=<admin secret>` which starts one.
- `PUBLIC`: nothing (health, readiness, metrics, the dashboard's login form and stylesheet).

Every secret a request presents (admin secret, SDK key, and any key on `/v1/assign`, where an
SDK key is accepted) is checked through `SecretChecks`, which counts refusals per client
address and answers 429 with `Retry-After` past the limit (`northstar.web.throttle`).

The routes with their credentials stay readable (`ApiRoute` list) for an API description.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import math
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from collector.settings import CollectorSettings
from northstar.web.responses import error_response
from northstar.web.sessions import SessionStore
from northstar.web.throttle import GuessThrottle, client_address

__all__ = [
    "ApiRoute", "Attempt", "Credential", "DashboardSession", "Guards", "Handler", "SESSION_COOKIE", "SecretChecks",
    "basic_auth_username", "bearer_token",
]

Handler = Callable[[Request], Awaitable[Response]]

SESSION_COOKIE = "northstar_session"
DEFINITIONS_NEED_SDK_KEY = "definitions need the server-side SDK key; browsers use POST /v1/assign"


class Credential(enum.Enum):
    """What a request must carry to reach a route."""

    PUBLIC = "public"
    WRITE_KEY = "write_key"
    SDK_KEY = "sdk_key"
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


def _is_one_of(presented: str, secrets: Collection[str]) -> bool:
    """Constant-time comparison with each secret (there are a few)."""
    given = presented.encode("utf-8", "surrogatepass")
    return any([hmac.compare_digest(given, secret.encode()) for secret in secrets])


@dataclass(frozen=True)
class Attempt:
    """What became of a presented secret; `retry_after` (whole seconds) when throttled."""

    outcome: Literal["accepted", "absent", "refused", "throttled"]
    retry_after: int = 0


class SecretChecks:
    """Checks presented secrets, counting refusals per client address in one `GuessThrottle`."""

    def __init__(self, throttle: GuessThrottle) -> None:
        self.throttle = throttle

    def check(self, request: Request, presented: str | None, secrets: Collection[str]) -> Attempt:
        """`absent` without a secret; `throttled` (unchecked) while the address is blocked, or when
        this refusal blocks it; else `accepted` or `refused`."""
        if not presented:
            return Attempt("absent")
        address = client_address(request.client.host if request.client else None)
        blocked = self.throttle.retry_after(address)
        if blocked > 0:
            return Attempt("throttled", math.ceil(blocked))
        if _is_one_of(presented, secrets):
            return Attempt("accepted")
        blocked = self.throttle.refused(address)
        return Attempt("throttled", math.ceil(blocked)) if blocked > 0 else Attempt("refused")


def _too_many(attempt: Attempt) -> Response:
    return error_response(429, f"too many wrong secrets from this address: retry after {attempt.retry_after} s",
                          {"Retry-After": str(attempt.retry_after)})


class DashboardSession:
    """The dashboard's sign-in, sessions and sign-out, over one `SessionStore`.

    The cookie holds a random session token: HttpOnly, SameSite=Strict, path /dashboard, and
    Secure when the request came over https or `secure_cookies` says so (TLS ended by a proxy).
    `refusal_page(message)` renders the page for a refused or throttled sign-in.
    """

    def __init__(
        self, admin_secret: str, checks: SecretChecks, sessions: SessionStore, refusal_page: Callable[[str], str],
        *, secure_cookies: bool = False,
    ) -> None:
        self._secrets = (admin_secret,)
        self._checks = checks
        self._sessions = sessions
        self._refusal_page = refusal_page
        self._secure_cookies = secure_cookies

    def signed_in(self, request: Request) -> bool:
        """True for a live session cookie (which then counts as used)."""
        token = request.cookies.get(SESSION_COOKIE)
        return token is not None and token != "" and self._sessions.touch(token)

    def check(self, request: Request, presented: str | None) -> Attempt:
        """`presented` as the admin secret, counted like every secret."""
        return self._checks.check(request, presented, self._secrets)

    def sign_in(self, request: Request, presented: str | None, then: str) -> Response:
        """A new session and a redirect to `then` for the admin secret; else the refusal page (401, 429)."""
        attempt = self.check(request, presented)
        if attempt.outcome == "accepted":
            response = RedirectResponse(then, 303)
            response.set_cookie(SESSION_COOKIE, self._sessions.start(), max_age=int(self._sessions.max_seconds),
                                httponly=True, samesite="strict", path="/dashboard",
                                secure=self._secure_cookies or request.url.scheme == "https")
            return response
        if attempt.outcome == "throttled":
            return HTMLResponse(self._refusal_page(
                f"Too many wrong secrets from your address: try again in {attempt.retry_after} s."), 429,
                {"Retry-After": str(attempt.retry_after)})
        return HTMLResponse(self._refusal_page("That is not the admin secret."), 401)

    def sign_out(self, request: Request, then: str) -> Response:
        """End the request's session (the cookie is worthless from now on) and redirect to `then`."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            self._sessions.end(token)
        response = RedirectResponse(then, 303)
        response.delete_cookie(SESSION_COOKIE, path="/dashboard", httponly=True, samesite="strict",
                               secure=self._secure_cookies or request.url.scheme == "https")
        return response


class Guards:
    """The one guard of each credential kind, over the settings' keys and admin secret.

    `refusal_page(message)` renders the dashboard's page for a refused or throttled sign-in.
    """

    def __init__(self, settings: CollectorSettings, refusal_page: Callable[[str], str],
                 throttle: GuessThrottle | None = None) -> None:
        self._write_keys = settings.write_keys
        self._sdk_keys = settings.sdk_keys
        self._admin_secrets = (settings.admin_secret,)
        self.checks = SecretChecks(throttle or GuessThrottle(burst=settings.secret_guess_burst))
        sessions = SessionStore(idle_seconds=settings.session_idle_seconds, max_seconds=settings.session_max_seconds)
        self.dashboard = DashboardSession(settings.admin_secret, self.checks, sessions, refusal_page,
                                          secure_cookies=settings.secure_cookies)

    def route(self, api_route: ApiRoute) -> Route:
        """The Starlette route of `api_route`, its handler behind its credential's guard."""
        guard = {
            Credential.PUBLIC: _unguarded,
            Credential.EVENT_WRITE_KEY: _unguarded,  # checked by ingestion itself: see the module docstring
            Credential.WRITE_KEY: self._write_key,
            Credential.SDK_KEY: self._sdk_key,
            Credential.ADMIN_SECRET: self._admin,
            Credential.DASHBOARD_SESSION: self._dashboard,
        }[api_route.credential]
        return Route(api_route.path, guard(api_route.handler), methods=list(api_route.methods))

    def _write_key(self, handler: Handler) -> Handler:
        # The public write key passes unchecked (and uncounted: it is no secret); an SDK key is checked.
        return self._secret_guard(handler, basic_auth_username, self._sdk_keys,
                                  "missing or unknown write key (HTTP Basic username)", public=self._write_keys)

    def _sdk_key(self, handler: Handler) -> Handler:
        return self._secret_guard(handler, basic_auth_username, self._sdk_keys,
                                  "missing or unknown SDK key (HTTP Basic username)",
                                  forbidden=(self._write_keys, DEFINITIONS_NEED_SDK_KEY))

    def _admin(self, handler: Handler) -> Handler:
        return self._secret_guard(handler, bearer_token, self._admin_secrets,
                                  "missing or wrong admin secret (Authorization: Bearer …)")

    def _secret_guard(
        self, handler: Handler, presented: Callable[[Request], str | None], secrets: Collection[str], refusal: str,
        *, public: Collection[str] = (), forbidden: tuple[Collection[str], str] = ((), ""),
    ) -> Handler:
        """`handler` for a request presenting one of `secrets` (checked and counted) or of `public`
        (let through as it is); 403 with the reason for a `forbidden` credential, 429 while throttled,
        401 with `refusal` otherwise."""
        checks = self.checks
        forbidden_credentials, forbidden_reason = forbidden

        async def guarded(request: Request) -> Response:
            given = presented(request)
            if given in public:
                return await handler(request)
            if given in forbidden_credentials:
                return error_response(403, forbidden_reason)
            attempt = checks.check(request, given, secrets)
            if attempt.outcome == "accepted":
                return await handler(request)
            if attempt.outcome == "throttled":
                return _too_many(attempt)
            return error_response(401, refusal)

        return guarded

    def _dashboard(self, handler: Handler) -> Handler:
        session = self.dashboard

        async def page(request: Request) -> Response:
            token = request.query_params.get("token")
            if token is not None:  # back to the same view (an Insights URL holds its query), without the token
                kept = urlencode([(name, value) for name, value in request.query_params.multi_items() if name != "token"])
                return session.sign_in(request, token, then=request.url.path + (f"?{kept}" if kept else ""))
            if not session.signed_in(request):
                bearer = session.check(request, bearer_token(request))
                if bearer.outcome == "throttled":
                    return _too_many(bearer)
                if bearer.outcome != "accepted":
                    return RedirectResponse("/dashboard/login", 303)
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            return response

        return page


def _unguarded(handler: Handler) -> Handler:
    return handler
