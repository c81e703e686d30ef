"""Routes for operators: liveness, readiness, Prometheus metrics and the ingestion status."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.settings import CollectorSettings
from collector.storage.clickhouse import Client, per_thread
from collector.telemetry import CONTENT_TYPE, CollectorMetrics
from collector.writer import EventWriter
from northstar.web.api_types import Health, IngestionStatus, Readiness
from northstar.web.auth import ApiRoute, Credential
from northstar.web.responses import json_response

__all__ = ["operations_routes"]

log = logging.getLogger("northstar.server")

_PROBLEM_LOG_SECONDS = 60.0


def operations_routes(
    settings: CollectorSettings,
    writer: EventWriter,
    metrics: CollectorMetrics,
    connect: Callable[[], Client],
) -> list[ApiRoute]:
    """Liveness, readiness and Prometheus metrics (public), the ingestion counters (admin secret)."""
    client = per_thread(connect)
    password = urlsplit(settings.clickhouse_dsn).password
    last_logged = [-math.inf]

    async def health(request: Request) -> Response:
        """Liveness: the process answers."""
        return json_response(Health("ok"))

    def clickhouse_problem() -> str | None:
        """The failure's kind only: /ready is unauthenticated, and the error text names the
        server's host and port. The whole error goes to the log, once a minute at most."""
        try:
            client().command("SELECT 1")
        except Exception as error:  # any failure means not ready; say which kind
            if time.monotonic() - last_logged[0] >= _PROBLEM_LOG_SECONDS:
                last_logged[0] = time.monotonic()
                detail = str(error).replace(password, "***") if password else str(error)
                log.warning("readiness: ClickHouse unreachable: %s", detail)
            return f"ClickHouse unreachable ({type(error).__name__}; the collector's log has the details)"
        return None

    async def ready(request: Request) -> Response:
        """Readiness: ClickHouse answers, the log directory is writable and under budget."""
        problems = [problem for problem in [await run_in_threadpool(clickhouse_problem)] if problem]
        if not os.access(settings.wal_dir, os.W_OK):
            problems.append(f"log directory {settings.wal_dir} is not writable")
        if log_problem := writer.log_problem():
            problems.append(log_problem)
        if writer.counters().backlog_bytes >= settings.wal_max_backlog_bytes:
            problems.append("log backlog is over its disk budget")
        status = 503 if problems else 200
        return json_response(Readiness(not problems, problems), status)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def status(request: Request) -> Response:
        counters = writer.counters()
        return json_response(IngestionStatus(
            counters.accepted, counters.stored, counters.backlog_records, counters.backlog_bytes,
            counters.inserts, counters.insert_failures, counters.dead_lettered))

    return [
        ApiRoute("/health", ("GET",), health, Credential.PUBLIC, answers={200: Health}),
        ApiRoute("/ready", ("GET",), ready, Credential.PUBLIC, answers={200: Readiness, 503: Readiness}),
        ApiRoute("/metrics", ("GET",), prometheus, Credential.PUBLIC, answers={200: str}, media_type=CONTENT_TYPE),
        ApiRoute("/v1/status", ("GET",), status, Credential.ADMIN_SECRET, answers={200: IngestionStatus}),
    ]
