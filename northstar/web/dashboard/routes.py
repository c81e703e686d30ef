"""Dashboard routes: experiment list and results pages, behind the dashboard session.

Signing in (the login form, or `?token=<admin secret>` on any page) starts a session
(`northstar.web.auth.DashboardSession`); a bearer header works too. Without either, pages
redirect to the login form and show no data. Signing out ends the session on the server.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from collector.persons.derivation import PersonDerivation
from collector.persons.store import find_person, list_persons, recent_person_events
from collector.storage.clickhouse import Client, per_thread
from experiments.evaluation import Evaluation
from experiments.result_document import result_document
from northstar.web.auth import ApiRoute, Credential, DashboardSession
from northstar.web.bodies import read_limited
from northstar.web.dashboard.pages import list_page, login_page, results_page
from northstar.web.dashboard.person_pages import person_list_page, person_page

__all__ = ["dashboard_routes", "person_dashboard_routes"]

_STYLESHEET = (files(__package__) / "dashboard.css").read_bytes()
"""Read through importlib.resources, like the page template: it works from any install."""
_MAX_LOGIN_BYTES = 4096


def dashboard_routes(evaluation: Evaluation, session: DashboardSession) -> list[ApiRoute]:
    """The dashboard's pages: sign-in and stylesheet public, everything with data behind the session."""
    async def login_form(request: Request) -> Response:
        return HTMLResponse(login_page())

    async def login(request: Request) -> Response:
        body = (await read_limited(request, _MAX_LOGIN_BYTES)).decode(errors="replace")
        return session.sign_in(request, parse_qs(body).get("secret", [""])[0], then="/dashboard")

    async def logout(request: Request) -> Response:
        return session.sign_out(request, then="/dashboard/login")

    async def experiments(request: Request) -> Response:
        definitions = await run_in_threadpool(evaluation.experiments.list)
        return HTMLResponse(list_page(definitions))

    async def results(request: Request) -> Response:
        result = await run_in_threadpool(evaluation.result, request.path_params["key"])
        return HTMLResponse(results_page(result_document(result)))

    async def stylesheet(request: Request) -> Response:
        return Response(_STYLESHEET, media_type="text/css")

    public, signed_in = Credential.PUBLIC, Credential.DASHBOARD_SESSION
    return [
        ApiRoute("/dashboard/login", ("GET",), login_form, public),
        ApiRoute("/dashboard/login", ("POST",), login, public),
        ApiRoute("/dashboard/logout", ("POST",), logout, public),
        ApiRoute("/dashboard/static/dashboard.css", ("GET",), stylesheet, public),
        ApiRoute("/dashboard", ("GET",), experiments, signed_in),
        ApiRoute("/dashboard/experiments/{key}", ("GET",), results, signed_in),
    ]


_PERSONS_PER_PAGE = 100


def person_dashboard_routes(persons: PersonDerivation, connect: Callable[[], Client]) -> list[ApiRoute]:
    """The person list (`?property=&value=`) and person pages, behind the dashboard session."""
    client = per_thread(connect)

    async def person_list(request: Request) -> Response:
        property_name, value = request.query_params.get("property", ""), request.query_params.get("value", "")
        await run_in_threadpool(persons.refresh)
        found = await run_in_threadpool(list_persons, client(), property_name, value, _PERSONS_PER_PAGE)
        title = f"Persons with {property_name} = {value}" if property_name else "Persons"
        return HTMLResponse(person_list_page(title, found, property_name, value))

    async def person(request: Request) -> Response:
        await run_in_threadpool(persons.refresh)
        found = await run_in_threadpool(find_person, client(), request.path_params["id"])
        events = await run_in_threadpool(recent_person_events, client(), found.distinct_ids)
        return HTMLResponse(person_page(found, events))

    signed_in = Credential.DASHBOARD_SESSION
    return [
        ApiRoute("/dashboard/persons", ("GET",), person_list, signed_in),
        ApiRoute("/dashboard/persons/{id}", ("GET",), person, signed_in),
    ]
