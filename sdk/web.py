"""Web middleware: analytics calls made while a request is handled get its context and a stable
anonymous id, and the client is flushed when the app shuts down.

Duck-typed, so no framework is a dependency of the SDK:

- `ASGIMiddleware` for any ASGI app (Starlette, FastAPI, Django's ASGI handler): flushes on the
  lifespan shutdown;
- `WSGIMiddleware` for any WSGI app (Flask: ``app.wsgi_app = WSGIMiddleware(app.wsgi_app)``);
- `DjangoMiddleware` for Django's ``MIDDLEWARE`` setting.

While a request is handled, every `track()`/`page()`/... call without an explicit
``anonymous_id`` gets the request's, from a first-party cookie (``ns_anonymous_id`` by default;
set, HttpOnly, SameSite=Lax, Secure over https, on the response that first saw the browser),
and its context gets ``page`` (url, path, search, referrer) and ``userAgent`` under whatever
the call passes itself; ``ip`` only with ``include_ip=True`` (it is personal data: the app
decides). Behind a proxy, let the server set the client address (uvicorn
``--proxy-headers``, werkzeug ``ProxyFix``). The middleware never raises into the app: a
request it cannot read is served without context.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any

from .client import FLUSH_TIMEOUT, Client
from .errors import logger
from .request_context import RequestContext, _current, current_request

__all__ = ["ASGIMiddleware", "COOKIE_NAME", "DjangoMiddleware", "WSGIMiddleware", "current_anonymous_id",
           "current_request"]

COOKIE_NAME = "ns_anonymous_id"
COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def current_anonymous_id() -> str | None:
    """The anonymous id of the request being handled here (e.g. as a `get_variant` unit), or None."""
    request = current_request()
    return None if request is None else request.anonymous_id


class _RequestTracking:
    """The options every middleware shares and the context it builds from one request."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        cookie_name: str = COOKIE_NAME,
        cookie_max_age: int = COOKIE_MAX_AGE,
        include_ip: bool = False,
        flush_timeout: float = FLUSH_TIMEOUT,
    ) -> None:
        self._client = client
        self.cookie_name = cookie_name
        self.cookie_max_age = cookie_max_age
        self.include_ip = include_ip
        self.flush_timeout = flush_timeout

    @property
    def client(self) -> Client:
        if self._client is not None:
            return self._client
        from . import _default  # the module-level default client, built on first use

        return _default()

    def flush(self) -> None:
        """Flush the client (at app shutdown); never raises."""
        try:
            self.client.flush(self.flush_timeout)
        except Exception:
            logger.exception("northstar: flush at shutdown failed")

    def request_context(
        self, scheme: str, host: str, path: str, query: str, headers: Mapping[str, str], client_ip: str | None
    ) -> RequestContext:
        """`headers`: lower-case names (``user-agent``, ``referer``, ``cookie``)."""
        anonymous_id = _cookie(headers.get("cookie", ""), self.cookie_name)
        is_new = anonymous_id is None or not _VALID_ID.fullmatch(anonymous_id)
        if anonymous_id is None or is_new:
            anonymous_id = str(uuid.uuid4())
        page: dict[str, Any] = {"path": path, "url": f"{scheme}://{host}{path}{'?' if query else ''}{query}",
                                "search": f"?{query}" if query else ""}
        if "referer" in headers:
            page["referrer"] = headers["referer"]
        context: dict[str, Any] = {"page": page}
        if "user-agent" in headers:
            context["userAgent"] = headers["user-agent"]
        if self.include_ip and client_ip:
            context["ip"] = client_ip
        return RequestContext(anonymous_id, context, is_new)

    def set_cookie_header(self, request: RequestContext, https: bool) -> str:
        secure = "; Secure" if https else ""
        return (f"{self.cookie_name}={request.anonymous_id}; Max-Age={self.cookie_max_age}; Path=/; "
                f"SameSite=Lax; HttpOnly{secure}")

    def from_environ(self, environ: Mapping[str, Any]) -> RequestContext:
        """From a WSGI environ (or Django's ``request.META``, the same shape)."""
        headers = {key[5:].lower().replace("_", "-"): value for key, value in environ.items()
                   if key.startswith("HTTP_") and isinstance(value, str)}
        host = headers.get("host") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        path = f"{environ.get('SCRIPT_NAME', '')}{environ.get('PATH_INFO', '')}" or "/"
        return self.request_context(str(environ.get("wsgi.url_scheme", "http")), host, path,
                                    str(environ.get("QUERY_STRING", "")), headers, environ.get("REMOTE_ADDR"))


class ASGIMiddleware(_RequestTracking):
    """ASGI middleware: ``app = ASGIMiddleware(app)``; Starlette/FastAPI:
    ``app.add_middleware(ASGIMiddleware)``. Keyword options as `WSGIMiddleware`."""

    def __init__(self, app: ASGIApp, client: Client | None = None, **options: Any) -> None:
        super().__init__(client, **options)
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, self._flushing_on_shutdown(send))
            return
        request = self._read(scope) if scope["type"] == "http" else None
        if request is None:
            await self.app(scope, receive, send)
            return
        respond = send
        if request.is_new:
            cookie = self.set_cookie_header(request, scope.get("scheme") == "https").encode("latin-1")

            async def respond(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), (b"set-cookie", cookie)]}
                await send(message)
        token = _current.set(request)
        try:
            await self.app(scope, receive, respond)
        finally:
            _current.reset(token)

    def _read(self, scope: Scope) -> RequestContext | None:
        try:
            headers: dict[str, str] = {}
            for name, value in scope.get("headers", ()):
                key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                headers[key] = f"{headers[key]}; {text}" if key == "cookie" and key in headers else text
            server = scope.get("server") or ("", None)
            host = headers.get("host") or f"{server[0]}{'' if server[1] is None else f':{server[1]}'}"
            client = scope.get("client")
            path = f"{scope.get('root_path', '')}{scope.get('path', '')}" or "/"
            return self.request_context(scope.get("scheme", "http"), host, path,
                                        scope.get("query_string", b"").decode("latin-1"), headers,
                                        client[0] if client else None)
        except Exception:
            logger.exception("northstar: could not read the request's context")
            return None

    def _flushing_on_shutdown(self, send: Send) -> Send:
        async def send_after_flushing(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await asyncio.get_running_loop().run_in_executor(None, self.flush)
            await send(message)

        return send_after_flushing


class WSGIMiddleware(_RequestTracking):
    """WSGI middleware: ``app = WSGIMiddleware(app, client=None, *, cookie_name=..., include_ip=False)``
    (None: the module-level default client). Flushing at exit is the SDK's atexit hook (with
    gunicorn, also ``worker_exit = lambda server, worker: sdk.shutdown()``)."""

    def __init__(self, app: WSGIApp, client: Client | None = None, **options: Any) -> None:
        super().__init__(client, **options)
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            request = self.from_environ(environ)
        except Exception:
            logger.exception("northstar: could not read the request's context")
            return self.app(environ, start_response)
        respond = start_response
        if request.is_new:
            cookie = self.set_cookie_header(request, environ.get("wsgi.url_scheme") == "https")

            def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                return start_response(status, [*headers, ("Set-Cookie", cookie)], exc_info)
        token = _current.set(request)
        try:
            return self.app(environ, respond)
        finally:
            _current.reset(token)


class DjangoMiddleware(_RequestTracking):
    """Django middleware: add ``"sdk.web.DjangoMiddleware"`` to ``MIDDLEWARE``. It uses the
    default client (`sdk.configure`); subclass and set `options` to change the others."""

    options: Mapping[str, Any] = {}

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        super().__init__(**self.options)
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        try:
            context = self.from_environ(request.META)
        except Exception:
            logger.exception("northstar: could not read the request's context")
            return self.get_response(request)
        token = _current.set(context)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        if context.is_new:
            response.set_cookie(self.cookie_name, context.anonymous_id, max_age=self.cookie_max_age, path="/",
                                samesite="Lax", httponly=True, secure=request.is_secure())
        return response


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value.strip('"')
    return None
