"""Dashboard routes: experiment list and results pages, behind the admin secret.

Signing in (the login form, or `?token=<admin secret>` on any page) sets a session
cookie holding an HMAC of the secret, never the secret itself: HttpOnly, SameSite=Strict,
scoped to /dashboard. A bearer header works too. Without either, pages redirect to the
login form and show no data.
"""

from __future__ import annotations

import hashlib
import hmac
from importlib.resources import files
from urllib.parse import parse_qs

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from collector.auth import Handler, has_secret
from collector.request_body import read_limited
from experiments.dashboard.pages import list_page, login_page, results_page
from experiments.evaluation import Evaluation
from experiments.metric_catalog import UnknownMetric
from experiments.report import result_document
from experiments.service import UnknownExperiment

__all__ = ["dashboard_routes", "SESSION_COOKIE"]

SESSION_COOKIE = "northstar_session"
_STYLESHEET = (files(__package__) / "dashboard.css").read_bytes()
"""Read through importlib.resources, like the page template: it works from any install."""
_MAX_LOGIN_BYTES = 4096


def dashboard_routes(evaluation: Evaluation, admin_secret: str) -> list[Route]:
    session = hmac.new(admin_secret.encode(), b"northstar dashboard session", hashlib.sha256).hexdigest()

    def signed_in(request: Request) -> bool:
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), session.encode()) or has_secret(request, admin_secret)

    def with_session(response: Response) -> Response:
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path="/dashboard")
        return response

    def guarded(handler: Handler) -> Handler:
        async def page(request: Request) -> Response:
            token = request.query_params.get("token")
            if token is not None:
                if not hmac.compare_digest(token.encode(), admin_secret.encode()):
                    return HTMLResponse(login_page("Wrong token."), 401)
                return with_session(RedirectResponse(request.url.path, 303))
            if not signed_in(request):
                return RedirectResponse("/dashboard/login", 303)
            response = await handler(request)
            response.headers["Cache-Control"] = "no-store"
            return response

        return page

    async def login_form(request: Request) -> Response:
        return HTMLResponse(login_page())

    async def login(request: Request) -> Response:
        body = (await read_limited(request, _MAX_LOGIN_BYTES)).decode(errors="replace")
        secret = parse_qs(body).get("secret", [""])[0]
        if not hmac.compare_digest(secret.encode(), admin_secret.encode()):
            return HTMLResponse(login_page("That is not the admin secret."), 401)
        return with_session(RedirectResponse("/dashboard", 303))

    async def logout(request: Request) -> Response:
        response = RedirectResponse("/dashboard/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/dashboard", httponly=True, samesite="strict")
        return response

    async def experiments(request: Request) -> Response:
        definitions = await run_in_threadpool(evaluation.experiments.list)
        return HTMLResponse(list_page([msgspec.to_builtins(d) for d in definitions]))

    async def results(request: Request) -> Response:
        try:
            result = await run_in_threadpool(evaluation.result, request.path_params["key"])
        except (UnknownExperiment, UnknownMetric) as error:
            return HTMLResponse(f"<p>Not found: {type(error).__name__} {error.args[0]!r}</p>", 404)
        return HTMLResponse(results_page(result_document(result)))

    async def stylesheet(request: Request) -> Response:
        return Response(_STYLESHEET, media_type="text/css")

    return [
        Route("/dashboard/login", login_form, methods=["GET"]),
        Route("/dashboard/login", login, methods=["POST"]),
        Route("/dashboard/logout", logout, methods=["POST"]),
        Route("/dashboard/static/dashboard.css", stylesheet, methods=["GET"]),
        Route("/dashboard", guarded(experiments), methods=["GET"]),
        Route("/dashboard/experiments/{key}", guarded(results), methods=["GET"]),
    ]
