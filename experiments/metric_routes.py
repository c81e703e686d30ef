"""HTTP routes for the metric catalogue: `PUT/GET /v1/metrics/{key}`, `GET /v1/metrics` (admin secret)."""

from __future__ import annotations

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.auth import require_secret
from collector.request_body import read_limited
from collector.responses import error_response, field_error_response, json_response
from experiments.metric_catalog import MetricCatalog, UnknownMetric
from experiments.metrics import MetricError, parse_metric

__all__ = ["metric_routes"]

_MAX_METRIC_BYTES = 64 * 1024


def metric_routes(catalog: MetricCatalog, admin_secret: str) -> list[Route]:
    @require_secret(admin_secret)
    async def list_metrics(request: Request) -> Response:
        metrics = await run_in_threadpool(catalog.list)
        return json_response({"metrics": [msgspec.to_builtins(metric) for metric in metrics]})

    @require_secret(admin_secret)
    async def get_metric(request: Request) -> Response:
        try:
            (metric,) = await run_in_threadpool(catalog.resolve, [request.path_params["key"]])
        except UnknownMetric as error:
            return error_response(404, f"no metric {error.args[0]!r}")
        return json_response(msgspec.to_builtins(metric))

    @require_secret(admin_secret)
    async def put_metric(request: Request) -> Response:
        body = await read_limited(request, _MAX_METRIC_BYTES)
        try:
            metric = parse_metric(body)
            if metric.key != request.path_params["key"]:
                raise MetricError("key", "must match the URL")
        except MetricError as error:
            return field_error_response(error.field, str(error))
        version = await run_in_threadpool(catalog.save, metric)
        return json_response({"success": True, "key": metric.key, "version": version})

    return [
        Route("/v1/metrics", list_metrics, methods=["GET"]),
        Route("/v1/metrics/{key}", get_metric, methods=["GET"]),
        Route("/v1/metrics/{key}", put_metric, methods=["PUT"]),
    ]
