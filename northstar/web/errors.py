"""The one exception → response table: domain errors raised anywhere under a route become
the same status and JSON body on every route (dashboard pages get an HTML page instead).

Routes raise; they do not catch domain errors themselves. Registered on the app as
Starlette `exception_handlers`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from collector.persons.store import UnknownPerson
from experiments.definitions import DefinitionError
from experiments.evaluation import MetricGone
from experiments.metric_catalog import UnknownMetric
from experiments.metrics import MetricError
from experiments.service import UnknownExperiment
from insights.cohorts import UnknownCohort
from insights.limits import QueryBusy, QueryLimitExceeded, QueryRefused
from insights.query import InsightError
from insights.saved import UnknownInsight
from insights.surveys import UnknownSurvey
from northstar.web.bodies import PayloadTooLarge
from northstar.web.dashboard.pages import not_found_page
from northstar.web.responses import error_response, field_error_response

__all__ = ["EXCEPTION_HANDLERS", "AbortedRequests"]

log = logging.getLogger("northstar.server")

_ABORT_LOG_SECONDS = 60.0

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


def _not_found(what: str) -> ExceptionHandler:
    async def not_found(request: Request, error: Exception) -> Response:
        if request.url.path.startswith("/dashboard/"):
            return _page_not_found(what, error.args[0])
        return error_response(404, f"no {what} {error.args[0]!r}")

    return not_found


async def _metric_gone(request: Request, error: Exception) -> Response:
    """An experiment's results need a metric that is no longer defined: a conflict, not a 404."""
    if request.url.path.startswith("/dashboard/"):
        return _page_not_found("metric", error.args[0])
    return error_response(409, f"metrics: no metric {error.args[0]!r} is defined any more")


def _page_not_found(kind: str, key: object) -> Response:
    """The dashboard's 404 page, rendered (and escaped) like every dashboard page."""
    return HTMLResponse(not_found_page(kind, str(key)), 404, {"Cache-Control": "no-store"})


async def _invalid_field(request: Request, error: Exception) -> Response:
    """A document with one invalid field (DefinitionError, MetricError), named for the client."""
    field: str = getattr(error, "field")
    return field_error_response(field, str(error))


async def _query_busy(request: Request, error: Exception) -> Response:
    """Every analytical slot is taken: try again shortly (ingestion is never queued behind insights)."""
    retry_after: int = getattr(error, "retry_after")
    return error_response(429, str(error), {"Retry-After": str(retry_after)})


async def _query_cut_off(request: Request, error: Exception) -> Response:
    """ClickHouse stopped the query at its time or memory limit (`AnalyticsLimits`)."""
    retry_after: int = getattr(error, "retry_after")
    return error_response(503, str(error), {"Retry-After": str(retry_after)})


async def _query_refused(request: Request, error: Exception) -> Response:
    return field_error_response("filters", str(error))


async def _too_large(request: Request, error: Exception) -> Response:
    """Every route reads its body with a limit (`read_limited`); past it, a 413."""
    return error_response(413, str(error))


EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    UnknownExperiment: _not_found("experiment"),
    UnknownMetric: _not_found("metric"),
    UnknownPerson: _not_found("person"),
    MetricGone: _metric_gone,
    DefinitionError: _invalid_field,
    MetricError: _invalid_field,
    InsightError: _invalid_field,
    UnknownInsight: _not_found("saved insight"),
    UnknownCohort: _not_found("cohort"),
    UnknownSurvey: _not_found("survey"),
    QueryBusy: _query_busy,
    QueryLimitExceeded: _query_cut_off,
    QueryRefused: _query_refused,
    PayloadTooLarge: _too_large,
}


class AbortedRequests:
    """Clients that went away mid-request (an SDK's timeout, a closed tab, a killed process).

    Nothing the server did wrong, and nothing was acknowledged: counted in
    `northstar_requests_aborted_total` and reported in one line at most every
    `_ABORT_LOG_SECONDS`. A traceback each (what Starlette logs by default) buried the log:
    1,023 disconnects wrote 47k lines and stalled the server 3.5 s.
    """

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._reported_at = -math.inf
        self._since_report = 0

    async def answer(self, request: Request, error: Exception) -> Response:
        self._counter.inc()
        self._since_report += 1
        now = time.monotonic()
        if now - self._reported_at >= _ABORT_LOG_SECONDS:
            log.warning("%d request(s) aborted by their client mid-request since the last such line "
                        "(this one: %s %s); counted in northstar_requests_aborted_total, one line per %.0fs at most",
                        self._since_report, request.method, request.url.path, _ABORT_LOG_SECONDS)
            self._reported_at, self._since_report = now, 0
        return error_response(400, "client disconnected before the request was complete")
