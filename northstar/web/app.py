"""The one server process: ingestion, experiment management and results on one ClickHouse store."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator
from functools import partial

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect

from collector.dead_letter import DeadLetters
from collector.persons.derivation import DERIVE_INTERVAL_SECONDS, PersonDerivation
from collector.settings import CollectorSettings, redact_dsn
from collector.storage import connect
from collector.telemetry import CollectorMetrics
from collector.wal import WriteAheadLog
from collector.writer import EventWriter
from experiments.evaluation import Evaluation
from experiments.metric_catalog import MetricCatalog
from experiments.service import ExperimentService
from insights.catalog import EventCatalog
from insights.cohorts import Cohorts
from insights.limits import AnalyticalQueries
from insights.saved import SavedInsights
from insights.surveys import Surveys
from insights.targets import TargetStore
from northstar.web.auth import ApiRoute, Guards
from northstar.web.customer import customer_routes
from northstar.web.dashboard.customer_routes import customer_dashboard_routes
from northstar.web.dashboard.funnel_pages import funnel_dashboard_routes
from northstar.web.dashboard.pages import login_page
from northstar.web.dashboard.routes import dashboard_routes, person_dashboard_routes
from northstar.web.dashboard.security import DashboardSecurityHeaders
from northstar.web.errors import EXCEPTION_HANDLERS, AbortedRequests
from northstar.web.experiments import experiment_routes
from northstar.web.explorer import explorer_routes
from northstar.web.in_flight import RequestsInFlight
from northstar.web.ingestion import ingestion_routes
from northstar.web.insights import insight_routes
from northstar.web.lifecycle import lifecycle_routes
from northstar.web.metrics import metric_routes
from northstar.web.openapi import openapi_route
from northstar.web.operations import operations_routes
from northstar.web.persons import person_routes
from northstar.web.sdk import sdk_routes
from sdk.version import VERSION

__all__ = ["build_app"]

log = logging.getLogger("northstar.server")

_SCHEMA_WAIT_SECONDS = 5.0
_CATALOG_REFRESH_SECONDS = 300.0


def build_app(settings: CollectorSettings) -> Starlette:
    """Compose every route over one store; the writer creates the schema on start.

    `app.state.api_routes` lists every route with the credential it needs; `app.state.metrics`
    is the process's Prometheus metrics. Past `settings.max_concurrent_requests` requests in
    flight, a 503 (`RequestsInFlight`).
    """
    connect_store = partial(connect, settings.clickhouse_dsn)
    wal = WriteAheadLog.open(
        settings.wal_dir, max_backlog_bytes=settings.wal_max_backlog_bytes, fsync=settings.fsync
    )
    metrics = CollectorMetrics()
    writer = EventWriter(
        wal,
        connect_store,
        flush_interval_seconds=settings.flush_interval_seconds,
        flush_max_bytes=settings.flush_max_bytes,
        dead_letters=DeadLetters(settings.dead_letter_dir),
        on_insert=metrics.observe_insert,
        cluster=settings.cluster,
    )
    metrics.watch_writer(writer.counters)
    persons = PersonDerivation(connect_store, settings.cluster)
    metrics.watch_persons(lambda: persons.last)
    aborted = AbortedRequests(metrics.requests_aborted)
    experiments = ExperimentService(connect_store)
    evaluation = Evaluation(connect_store, experiments, MetricCatalog(connect_store))
    guards = Guards(settings, refusal_page=login_page)
    queries = AnalyticalQueries(connect_store, settings.analytics, before_query=persons.refresh)
    catalog = EventCatalog(queries.rows)
    saved_insights = SavedInsights(connect_store)
    cohorts = Cohorts(connect_store, queries.rows)
    surveys, targets = Surveys(connect_store), TargetStore(connect_store)
    stop_catalog = threading.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        if await run_in_threadpool(writer.wait_for_schema, _SCHEMA_WAIT_SECONDS):
            log.info("collector ready on %s (store %s)", settings.data_dir, redact_dsn(settings.clickhouse_dsn))
        else:
            log.warning("ClickHouse (%s) not reachable yet; accepting events into the log meanwhile",
                        redact_dsn(settings.clickhouse_dsn))
        # What startup built lives as long as the process: keep it out of the collector's
        # sight, so full collections stay short (measured under load: 35 → 6 ms each).
        gc.freeze()
        deriving = asyncio.create_task(_derive_persons_forever(persons))
        catalog.refresh_every(_CATALOG_REFRESH_SECONDS, stop_catalog)
        yield
        stop_catalog.set()
        deriving.cancel()
        writer.stop()

    api_routes: list[ApiRoute] = [
        *ingestion_routes(settings, writer, metrics),  # first: Starlette tries routes in order
        *operations_routes(settings, writer, metrics, connect_store),
        *explorer_routes(connect_store),
        *experiment_routes(experiments, evaluation, persons),
        *person_routes(persons, connect_store, settings.cluster),
        *metric_routes(evaluation.catalog),
        *insight_routes(queries, catalog, saved_insights, cohorts.members_sql),
        *customer_routes(queries, cohorts, surveys, targets),
        *customer_dashboard_routes(queries.rows, cohorts, surveys, targets),
        *dashboard_routes(evaluation, guards.dashboard, queries, catalog, saved_insights),
        *person_dashboard_routes(persons, connect_store),
        *funnel_dashboard_routes(queries),
        *lifecycle_routes(experiments),
        *sdk_routes(experiments, writer.accept),
    ]
    api_routes.append(openapi_route(api_routes, VERSION))
    app = Starlette(
        routes=[guards.route(route) for route in api_routes],
        lifespan=lifespan,
        exception_handlers={**EXCEPTION_HANDLERS, ClientDisconnect: aborted.answer},
        middleware=[Middleware(RequestsInFlight, limit=settings.max_concurrent_requests,
                               on_refused=metrics.requests_refused.labels("overloaded").inc)],
    )
    app.add_middleware(DashboardSecurityHeaders)
    app.state.api_routes = tuple(api_routes)
    app.state.metrics = metrics
    return app


async def _derive_persons_forever(persons: PersonDerivation) -> None:
    """The background task: derive persons whenever the stored links changed (any collector
    sharing the store may have written them)."""
    while True:
        await run_in_threadpool(persons.refresh)
        await asyncio.sleep(DERIVE_INTERVAL_SECONDS)
