"""Routes for operators: liveness, readiness, Prometheus metrics and the ingestion status."""

from __future__ import annotations

import os
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.auth import require_secret
from collector.metrics import CONTENT_TYPE, CollectorMetrics
from collector.responses import json_response
from collector.settings import CollectorSettings
from collector.storage.clickhouse import Client, per_thread
from collector.writer import EventWriter

__all__ = ["operations_routes"]


def operations_routes(
    settings: CollectorSettings,
    writer: EventWriter,
    metrics: CollectorMetrics,
    connect: Callable[[], Client],
) -> list[Route]:
    client = per_thread(connect)

    async def health(request: Request) -> Response:
        """Liveness: the process answers."""
        return json_response({"status": "ok"})

    def clickhouse_problem() -> str | None:
        try:
            client().command("SELECT 1")
        except Exception as error:  # any failure means not ready; say which
            return f"ClickHouse unreachable: {error}"
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
        return json_response({"ready": not problems, "problems": problems}, status)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

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
                "dead_lettered": counters.dead_lettered,
            }
        )

    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
        Route("/v1/status", status, methods=["GET"]),
    ]
