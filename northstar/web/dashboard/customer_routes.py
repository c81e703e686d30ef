"""Dashboard routes of customer insight: the Customer health page, each panel's full insight and
a cohort's page, behind the dashboard session (`northstar.web.dashboard.customer_page`)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from insights.cohorts import Cohorts
from insights.query import InsightError
from insights.sql import Rows
from insights.surveys import Surveys
from insights.targets import TargetStore
from northstar.web.auth import ApiRoute, Credential
from northstar.web.dashboard.customer_page import KINDS, cohort_body, full_insight_body, health_body, health_data
from northstar.web.dashboard.pages import page

__all__ = ["customer_dashboard_routes"]



def customer_dashboard_routes(rows: Rows, cohorts: Cohorts, surveys: Surveys, targets: TargetStore) -> list[ApiRoute]:
    """`/dashboard/customer`, `/dashboard/customer/{actives|lifecycle|nps|paths}`, `/dashboard/customer/cohorts/{key}`."""
    def render(kind: str | None, form: dict[str, list[str]]) -> str:
        try:
            health, message = health_data(rows, cohorts, surveys, targets, form), ""
        except InsightError as error:  # a bad URL parameter: the default view, and why
            health, message = health_data(rows, cohorts, surveys, targets, {}), str(error)
        if kind is None:
            return page("Customer health", health_body(health, message))
        return page(kind, full_insight_body(kind, health))

    async def health(request: Request) -> Response:
        return HTMLResponse(await run_in_threadpool(render, None, parse_qs(request.url.query)))

    async def full_insight(request: Request) -> Response:
        kind = request.path_params["key"]
        if kind not in KINDS:
            raise InsightError("kind", f"one of {', '.join(KINDS)}")
        return HTMLResponse(await run_in_threadpool(render, kind, parse_qs(request.url.query)))

    async def cohort(request: Request) -> Response:
        key = request.path_params["key"]
        detail = await run_in_threadpool(cohorts.detail, key, 30)
        members = await run_in_threadpool(cohorts.members, key, 0, 50)
        return HTMLResponse(page(detail.cohort.label, cohort_body(detail, members.persons)))

    signed_in = Credential.DASHBOARD_SESSION
    return [
        ApiRoute("/dashboard/customer", ("GET",), health, signed_in),
        ApiRoute("/dashboard/customer/cohorts/{key}", ("GET",), cohort, signed_in),
        ApiRoute("/dashboard/customer/{key}", ("GET",), full_insight, signed_in),
    ]
