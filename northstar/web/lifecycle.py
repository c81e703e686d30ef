"""Admin routes that move an experiment through its life: start, stop, new phase, history."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TypeVar

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.json_errors import UNREADABLE_JSON
from experiments.service import ExperimentService, Saved
from northstar.web.api_types import ExperimentHistory, HistoryVersion, PhaseRequest, SavedExperiment, StartRequest
from northstar.web.auth import ApiRoute, Credential, Handler
from northstar.web.bodies import read_limited
from northstar.web.responses import error_response, json_response

__all__ = ["lifecycle_routes", "saved_document", "saved_response"]

_MAX_OPTIONAL_BODY_BYTES = 4096
_Body = TypeVar("_Body", PhaseRequest, StartRequest)


def saved_document(saved: Saved) -> SavedExperiment:
    """What a save answers about one experiment: key, version, whether it changed, status, phase, salt."""
    definition = saved.definition
    return SavedExperiment(True, definition.key, saved.version, saved.changed, definition.status,
                           definition.phase, definition.assignment_salt)


def saved_response(saved: Saved) -> Response:
    """The answer to a save or lifecycle change (`SavedExperiment`)."""
    return json_response(saved_document(saved))


def lifecycle_routes(service: ExperimentService) -> list[ApiRoute]:
    """Start, stop, new phase and history of an experiment (admin secret)."""
    def change(operation: Callable[[str], Saved]) -> Handler:
        async def changed(request: Request) -> Response:
            return await _apply(operation, request.path_params["key"])

        return changed

    async def new_phase(request: Request) -> Response:
        phase = await _optional_body(request, PhaseRequest)
        if isinstance(phase, Response):
            return phase
        return await _apply(partial(service.new_phase, salt=phase.salt), request.path_params["key"])

    async def start(request: Request) -> Response:
        wanted = await _optional_body(request, StartRequest)
        if isinstance(wanted, Response):
            return wanted
        return await _apply(partial(service.start, phase_started_at=wanted.phase_started_at), request.path_params["key"])

    async def history(request: Request) -> Response:
        versions = await run_in_threadpool(service.history, request.path_params["key"])
        return json_response(ExperimentHistory(request.path_params["key"], [
            HistoryVersion(v.version, v.updated_at.isoformat(), v.definition) for v in versions]))

    admin = Credential.ADMIN_SECRET
    return [
        ApiRoute("/v1/experiments/{key}/start", ("POST",), start, admin, body=StartRequest,
                 answers={200: SavedExperiment}),
        ApiRoute("/v1/experiments/{key}/stop", ("POST",), change(service.stop), admin, answers={200: SavedExperiment}),
        ApiRoute("/v1/experiments/{key}/phases", ("POST",), new_phase, admin, body=PhaseRequest,
                 answers={200: SavedExperiment}),
        ApiRoute("/v1/experiments/{key}/history", ("GET",), history, admin, answers={200: ExperimentHistory}),
    ]


async def _optional_body(request: Request, type_: type[_Body]) -> _Body | Response:
    """The request's optional JSON body as `type_` (its defaults when empty), or a 400 naming the field."""
    body = await read_limited(request, _MAX_OPTIONAL_BODY_BYTES)
    try:
        return msgspec.json.decode(body, type=type_) if body.strip() else type_()
    except UNREADABLE_JSON as error:
        return error_response(400, f"body: {error}")


async def _apply(operation: Callable[[str], Saved], key: str) -> Response:
    saved = await run_in_threadpool(operation, key)
    return saved_response(saved)
