"""HTTP routes for product insights: trends, funnels, retention, the event catalog and saved insights (admin secret).

Every analytical query goes through `insights.limits.AnalyticalQueries` (time, memory and
concurrency limits); domain errors map to responses in `northstar.web.errors`.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from insights.catalog import CatalogEvents, CatalogProperties, EventCatalog
from insights.funnel_queries import (
    FunnelPersonsRequest,
    FunnelRequest,
    RetentionRequest,
    parse_funnel_persons_request,
    parse_funnel_request,
    parse_retention_request,
    run_funnel,
    run_funnel_persons,
    run_retention,
)
from insights.funnels import FunnelPersons, FunnelResult
from insights.limits import AnalyticalQueries
from insights.query import InsightError
from insights.retention import RetentionResult
from insights.saved import SavedInsight, SavedInsights, parse_saved_insight
from insights.scan import CohortMembers, no_cohorts
from insights.trends import TrendsQuery, TrendsResult, parse_trends_query, trends
from northstar.web.api_types import CatalogPropertiesQuery, SavedInsightAnswer, SavedInsightList
from northstar.web.auth import ApiRoute, Credential
from northstar.web.bodies import read_limited
from northstar.web.responses import json_response

__all__ = ["insight_routes"]

_MAX_QUERY_BYTES = 64 * 1024


def insight_routes(queries: AnalyticalQueries, catalog: EventCatalog, saved: SavedInsights,
                   cohorts: CohortMembers = no_cohorts) -> list[ApiRoute]:
    """Trends, catalog and saved insights; every route needs the admin secret (cohort filters and
    breakdowns read the members `cohorts` gives)."""
    async def trends_route(request: Request) -> Response:
        """Trends: one value per interval per series (and breakdown value)."""
        query = parse_trends_query(await read_limited(request, _MAX_QUERY_BYTES))
        return json_response(await run_in_threadpool(trends, queries.rows, query, cohorts))

    async def funnel_route(request: Request) -> Response:
        """Funnel: persons reaching each step, conversion and time between steps (and per breakdown value)."""
        query = parse_funnel_request(await read_limited(request, _MAX_QUERY_BYTES))
        return json_response(await run_in_threadpool(run_funnel, queries.rows, query))

    async def funnel_persons_route(request: Request) -> Response:
        """The persons who reached a funnel step, or dropped after it (one page of person ids)."""
        query = parse_funnel_persons_request(await read_limited(request, _MAX_QUERY_BYTES))
        return json_response(await run_in_threadpool(run_funnel_persons, queries.rows, query))

    async def retention_route(request: Request) -> Response:
        """Retention: per start cohort, how many persons came back in each following period."""
        query = parse_retention_request(await read_limited(request, _MAX_QUERY_BYTES))
        return json_response(await run_in_threadpool(run_retention, queries.rows, query))

    async def catalog_events(request: Request) -> Response:
        """Event names of the last 30 days with counts and last seen."""
        return json_response(await run_in_threadpool(catalog.events))

    async def catalog_properties(request: Request) -> Response:
        """Property names, JSON types and example values of an event (or of persons)."""
        kind = request.query_params.get("type") or "event"
        if kind not in ("event", "person"):
            raise InsightError("type", "event or person")
        return json_response(await run_in_threadpool(
            catalog.properties, request.query_params.get("event"), "person" if kind == "person" else "event"))

    async def put_saved(request: Request) -> Response:
        """Save an insight (a new version of its key)."""
        insight = parse_saved_insight(await read_limited(request, _MAX_QUERY_BYTES))
        if insight.key != request.path_params["key"]:
            raise InsightError("key", "must match the URL")
        version = await run_in_threadpool(saved.save, insight)
        return json_response(SavedInsightAnswer(True, insight.key, version))

    async def get_saved(request: Request) -> Response:
        """The latest version of a saved insight."""
        return json_response(await run_in_threadpool(saved.get, request.path_params["key"]))

    async def list_saved(request: Request) -> Response:
        """Every saved insight's latest version."""
        return json_response(SavedInsightList(await run_in_threadpool(saved.list)))

    admin = Credential.ADMIN_SECRET
    busy = {429: None, 503: None}
    return [
        ApiRoute("/v1/insights/trends", ("POST",), trends_route, admin, body=TrendsQuery,
                 answers={200: TrendsResult, **busy}),
        ApiRoute("/v1/insights/funnel", ("POST",), funnel_route, admin, body=FunnelRequest,
                 answers={200: FunnelResult, **busy}),
        ApiRoute("/v1/insights/funnel/persons", ("POST",), funnel_persons_route, admin, body=FunnelPersonsRequest,
                 answers={200: FunnelPersons, **busy}),
        ApiRoute("/v1/insights/retention", ("POST",), retention_route, admin, body=RetentionRequest,
                 answers={200: RetentionResult, **busy}),
        ApiRoute("/v1/catalog/events", ("GET",), catalog_events, admin, answers={200: CatalogEvents, **busy}),
        ApiRoute("/v1/catalog/properties", ("GET",), catalog_properties, admin, query=CatalogPropertiesQuery,
                 answers={200: CatalogProperties, **busy}),
        ApiRoute("/v1/insights/saved", ("GET",), list_saved, admin, answers={200: SavedInsightList}),
        ApiRoute("/v1/insights/saved/{key}", ("GET",), get_saved, admin, answers={200: SavedInsight}),
        ApiRoute("/v1/insights/saved/{key}", ("PUT",), put_saved, admin, body=SavedInsight,
                 answers={200: SavedInsightAnswer}),
    ]

