"""Dashboard routes: home (experiments, saved insights), results and Insights pages, behind the
dashboard session; the stylesheet and scripts (vendored ECharts) are public static files.

Signing in (the login form, or `?token=<admin secret>` on any page) starts a session
(`northstar.web.auth.DashboardSession`); a bearer header works too. Without either, pages
redirect to the login form and show no data. Signing out ends the session on the server.
"""

from __future__ import annotations

import datetime as dt
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
from insights.catalog import EventCatalog
from insights.limits import AnalyticalQueries
from insights.query import InsightError
from insights.saved import SavedInsights
from insights.trends import Series, TrendsQuery, trends
from northstar.web.auth import ApiRoute, Credential, DashboardSession, Handler
from northstar.web.bodies import read_limited
from northstar.web.dashboard.insights_page import insights_body, query_from_form, saved_insights_section
from northstar.web.dashboard.pages import list_page, login_page, page, results_page
from northstar.web.dashboard.person_pages import person_list_page, person_page

__all__ = ["dashboard_routes", "person_dashboard_routes"]

_STYLESHEET = (files(__package__) / "dashboard.css").read_bytes()
"""Read through importlib.resources, like the page template: it works from any install."""
ECHARTS = "echarts-5.6.0.min.js"
"""Apache ECharts 5.6.0 (`dist/echarts.min.js` of the npm package), Apache-2.0: `static/ECHARTS-LICENSE`."""
_STATIC = {name: ((files(__package__) / "static" / name).read_bytes(), media_type) for name, media_type in (
    (ECHARTS, "text/javascript"), ("charts.js", "text/javascript"), ("customer-charts.js", "text/javascript"),
    ("ECHARTS-LICENSE", "text/plain"), ("ECHARTS-NOTICE", "text/plain"))}
_MAX_LOGIN_BYTES = 4096


def dashboard_routes(evaluation: Evaluation, session: DashboardSession, queries: AnalyticalQueries,
                     catalog: EventCatalog, saved: SavedInsights) -> list[ApiRoute]:
    """The dashboard's pages: sign-in and static files public, everything with data behind the session."""
    async def login_form(request: Request) -> Response:
        return HTMLResponse(login_page())

    async def login(request: Request) -> Response:
        body = (await read_limited(request, _MAX_LOGIN_BYTES)).decode(errors="replace")
        return session.sign_in(request, parse_qs(body).get("secret", [""])[0], then="/dashboard")

    async def logout(request: Request) -> Response:
        return session.sign_out(request, then="/dashboard/login")

    async def experiments(request: Request) -> Response:
        definitions = await run_in_threadpool(evaluation.experiments.list)
        insights = await run_in_threadpool(saved.list)
        return HTMLResponse(list_page(definitions, saved_insights_section(insights)))

    def insights_page(form: dict[str, list[str]]) -> str:
        events = catalog.events().events
        title = "Insights"
        try:
            if "saved" in form:
                insight = saved.get(form["saved"][0])
                query, title = insight.query, insight.label
            else:
                query = query_from_form(form, events[0].name if events else "", dt.date.today())
        except InsightError as error:  # the form again, with the reason (or, on a fresh store, what to do)
            query, result = _blank(events[0].name if events else ""), None
            message = str(error) if events or form else "No events in the last 30 days yet: send some, then pick one here."
        else:  # no event stored yet: the form alone
            result, message = (trends(queries.rows, query) if query.series[0].event else None), ""
        return page(title, insights_body(query, result, message, events, catalog.properties(None).properties,
                                         catalog.properties(None, "person").properties, title))

    async def insights(request: Request) -> Response:
        form = parse_qs(request.url.query, keep_blank_values=True)
        return HTMLResponse(await run_in_threadpool(insights_page, form))

    def static(name: str) -> Handler:
        body, media_type = _STATIC[name]

        async def serve(request: Request) -> Response:
            return Response(body, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

        return serve

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
        *(ApiRoute(f"/dashboard/static/{name}", ("GET",), static(name), public) for name in _STATIC),
        ApiRoute("/dashboard/insights", ("GET",), insights, signed_in),
        ApiRoute("/dashboard", ("GET",), experiments, signed_in),
        ApiRoute("/dashboard/experiments/{key}", ("GET",), results, signed_in),
    ]


def _blank(event: str) -> TrendsQuery:
    """The form's starting point when the URL's query is refused: the last 14 days of `event` (unchecked)."""
    today = dt.date.today()
    return TrendsQuery([Series(event)], today - dt.timedelta(days=13), today)


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
