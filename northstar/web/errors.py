"""The one exception → response table: domain errors raised anywhere under a route become
the same status and JSON body on every route (dashboard pages get an HTML page instead).

Routes raise; they do not catch domain errors themselves. Registered on the app as
Starlette `exception_handlers`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from experiments.definitions import DefinitionError
from experiments.evaluation import MetricGone
from experiments.metric_catalog import UnknownMetric
from experiments.metrics import MetricError
from experiments.service import UnknownExperiment
from northstar.web.bodies import PayloadTooLarge
from northstar.web.responses import error_response, field_error_response

__all__ = ["EXCEPTION_HANDLERS"]

ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


def _not_found(what: str) -> ExceptionHandler:
    async def not_found(request: Request, error: Exception) -> Response:
        if request.url.path.startswith("/dashboard/"):
            return _page_not_found(type(error).__name__, error.args[0])
        return error_response(404, f"no {what} {error.args[0]!r}")

    return not_found


async def _metric_gone(request: Request, error: Exception) -> Response:
    """An experiment's results need a metric that is no longer defined: a conflict, not a 404."""
    if request.url.path.startswith("/dashboard/"):
        return _page_not_found("UnknownMetric", error.args[0])
    return error_response(409, f"metrics: no metric {error.args[0]!r} is defined any more")


def _page_not_found(kind: str, key: object) -> Response:
    return HTMLResponse(f"<p>Not found: {kind} {escape(repr(key))}</p>", 404, {"Cache-Control": "no-store"})


async def _invalid_field(request: Request, error: Exception) -> Response:
    """A document with one invalid field (DefinitionError, MetricError), named for the client."""
    field: str = getattr(error, "field")
    return field_error_response(field, str(error))


async def _too_large(request: Request, error: Exception) -> Response:
    """Every route reads its body with a limit (`read_limited`); past it, a 413."""
    return error_response(413, str(error))


EXCEPTION_HANDLERS: dict[type[Exception], ExceptionHandler] = {
    UnknownExperiment: _not_found("experiment"),
    UnknownMetric: _not_found("metric"),
    MetricGone: _metric_gone,
    DefinitionError: _invalid_field,
    MetricError: _invalid_field,
    PayloadTooLarge: _too_large,
}
