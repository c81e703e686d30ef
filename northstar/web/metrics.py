"""HTTP routes for the metric catalogue: `PUT/GET /v1/metrics/{key}`, `GET /v1/metrics` (admin secret)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from experiments.metric_catalog import MetricCatalog
from experiments.metrics import MetricDefinition, MetricError, parse_metric
from northstar.web.api_types import MetricList, SavedMetric
from northstar.web.auth import ApiRoute, Credential
from northstar.web.bodies import read_limited
from northstar.web.responses import json_response

__all__ = ["metric_routes"]

_MAX_METRIC_BYTES = 64 * 1024


def metric_routes(catalog: MetricCatalog) -> list[ApiRoute]:
    """List, read and save metric definitions (admin secret)."""
    async def list_metrics(request: Request) -> Response:
        metrics = await run_in_threadpool(catalog.list)
        return json_response(MetricList(metrics))

    async def get_metric(request: Request) -> Response:
        (metric,) = await run_in_threadpool(catalog.resolve, [request.path_params["key"]])
        return json_response(metric)

    async def put_metric(request: Request) -> Response:
        body = await read_limited(request, _MAX_METRIC_BYTES)
        metric = parse_metric(body)
        if metric.key != request.path_params["key"]:
            raise MetricError("key", "must match the URL")
        version = await run_in_threadpool(catalog.save, metric)
        return json_response(SavedMetric(True, metric.key, version))

    admin = Credential.ADMIN_SECRET
    return [
        ApiRoute("/v1/metrics", ("GET",), list_metrics, admin, answers={200: MetricList}),
        ApiRoute("/v1/metrics/{key}", ("GET",), get_metric, admin, answers={200: MetricDefinition}),
        ApiRoute("/v1/metrics/{key}", ("PUT",), put_metric, admin, body=MetricDefinition, answers={200: SavedMetric}),
    ]
