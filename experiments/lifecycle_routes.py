"""Admin routes that move an experiment through its life: start, stop, new phase, history."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.auth import Handler, require_secret
from collector.json_errors import UNREADABLE_JSON
from collector.request_body import read_limited
from collector.responses import error_response, field_error_response, json_response
from experiments.definitions import DefinitionError
from experiments.service import ExperimentService, Saved, UnknownExperiment

__all__ = ["lifecycle_routes", "saved_response"]

_MAX_PHASE_BYTES = 4096


class PhaseRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of `POST /v1/experiments/{key}/phases` (optional): the new phase's salt."""

    salt: str | None = None


def saved_response(saved: Saved) -> Response:
    definition = saved.definition
    return json_response({
        "success": True, "key": definition.key, "version": saved.version, "changed": saved.changed,
        "status": definition.status, "phase": definition.phase, "salt": definition.assignment_salt,
    })


def lifecycle_routes(service: ExperimentService, admin_secret: str) -> list[Route]:
    def change(operation: Callable[[str], Saved]) -> Handler:
        @require_secret(admin_secret)
        async def changed(request: Request) -> Response:
            return await _apply(operation, request.path_params["key"])

        return changed

    @require_secret(admin_secret)
    async def new_phase(request: Request) -> Response:
        body = await read_limited(request, _MAX_PHASE_BYTES)
        try:
            phase = msgspec.json.decode(body, type=PhaseRequest) if body.strip() else PhaseRequest()
        except UNREADABLE_JSON as error:
            return error_response(400, f"body: {error}")
        return await _apply(partial(service.new_phase, salt=phase.salt), request.path_params["key"])

    @require_secret(admin_secret)
    async def history(request: Request) -> Response:
        try:
            versions = await run_in_threadpool(service.history, request.path_params["key"])
        except UnknownExperiment as error:
            return error_response(404, f"no experiment {error.args[0]!r}")
        return json_response({
            "key": request.path_params["key"],
            "versions": [
                {"version": v.version, "updated_at": v.updated_at.isoformat(),
                 "definition": msgspec.to_builtins(v.definition)}
                for v in versions
            ],
        })

    return [
        Route("/v1/experiments/{key}/start", change(service.start), methods=["POST"]),
        Route("/v1/experiments/{key}/stop", change(service.stop), methods=["POST"]),
        Route("/v1/experiments/{key}/phases", new_phase, methods=["POST"]),
        Route("/v1/experiments/{key}/history", history, methods=["GET"]),
    ]


async def _apply(operation: Callable[[str], Saved], key: str) -> Response:
    try:
        saved = await run_in_threadpool(operation, key)
    except UnknownExperiment as error:
        return error_response(404, f"no experiment {error.args[0]!r}")
    except DefinitionError as error:
        return field_error_response(error.field, str(error))
    return saved_response(saved)
