"""The one server process: ingestion, experiment management and results on one ClickHouse store."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.auth import require_secret
from collector.explorer import explorer_routes
from collector.ingestion import ingestion_routes
from collector.responses import json_response
from collector.settings import CollectorSettings
from collector.storage import connect, migrate
from collector.wal import WriteAheadLog
from collector.writer import EventWriter
from experiments.routes import experiment_routes
from experiments.service import ExperimentService

__all__ = ["build_app"]

log = logging.getLogger("northstar.server")


def build_app(settings: CollectorSettings) -> Starlette:
    """Create the schema if needed and compose every route over one store."""
    connect_store = partial(connect, settings.clickhouse_dsn)
    migrate(connect_store())
    wal = WriteAheadLog.open(
        settings.wal_dir, max_backlog_bytes=settings.wal_max_backlog_bytes, fsync=settings.fsync
    )
    writer = EventWriter(
        wal,
        connect_store,
        flush_interval_seconds=settings.flush_interval_seconds,
        flush_max_bytes=settings.flush_max_bytes,
    )
    experiments = ExperimentService(connect_store)

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    @require_secret(settings.admin_secret)
    async def status(request: Request) -> Response:
        counters = writer.counters()
        return json_response(
            {
                "accepted": counters.accepted,
                "stored": counters.stored,
                "backlog_records": counters.backlog_records,
                "backlog_bytes": counters.backlog_bytes,
                "inserts": counters.inserts,
                "insert_failures": counters.insert_failures,
            }
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        writer.start()
        log.info("collector ready on %s (store %s)", settings.data_dir, settings.clickhouse_dsn)
        yield
        writer.stop()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/status", status, methods=["GET"]),
        *ingestion_routes(settings, writer),
        *explorer_routes(connect_store, settings.admin_secret),
        *experiment_routes(experiments, settings.admin_secret),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
