"""HTTP routes for experiment management and results; every one needs the admin secret."""

from __future__ import annotations

from functools import partial

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.auth import Handler, require_secret
from collector.request_body import read_limited
from collector.responses import error_response, field_error_response, json_response
from experiments.definitions import DefinitionError, parse_definition
from experiments.evaluation import Evaluation
from experiments.lifecycle_routes import saved_response
from experiments.metric_catalog import UnknownMetric
from experiments.report import result_document
from experiments.service import ExperimentService, UnknownExperiment

__all__ = ["experiment_routes"]

_MAX_DEFINITION_BYTES = 256 * 1024


def experiment_routes(service: ExperimentService, admin_secret: str, evaluation: Evaluation) -> list[Route]:
    def guarded(handler: Handler) -> Handler:
        @require_secret(admin_secret)
        async def known_experiment(request: Request) -> Response:
            try:
                return await handler(request)
            except UnknownExperiment as error:
                return error_response(404, f"no experiment {error.args[0]!r}")

        return known_experiment

    async def list_experiments(request: Request) -> Response:
        definitions = await run_in_threadpool(service.list)
        return json_response({"experiments": [msgspec.to_builtins(d) for d in definitions]})

    async def get_experiment(request: Request) -> Response:
        definition = await run_in_threadpool(service.get, request.path_params["key"])
        return json_response(msgspec.to_builtins(definition))

    async def put_experiment(request: Request) -> Response:
        body = await read_limited(request, _MAX_DEFINITION_BYTES)
        new_phase = request.query_params.get("new_phase", "").lower() in ("1", "true")
        try:
            definition = parse_definition(body)
            if definition.key != request.path_params["key"]:
                raise DefinitionError("key", "must match the URL")
            await run_in_threadpool(evaluation.check_metrics, definition)
            saved = await run_in_threadpool(partial(service.save, definition, new_phase=new_phase))
        except DefinitionError as error:
            return field_error_response(error.field, str(error))
        return saved_response(saved)

    async def results(request: Request) -> Response:
        alpha_text = request.query_params.get("alpha")
        try:
            alpha = None if alpha_text is None else float(alpha_text)
        except ValueError:
            alpha = -1.0
        if alpha is not None and not 0.0 < alpha < 0.5:
            return error_response(400, "alpha: must be a number between 0 and 0.5")
        try:
            result = await run_in_threadpool(evaluation.result, request.path_params["key"], alpha)
        except UnknownMetric as error:
            return error_response(409, f"metrics: no metric {error.args[0]!r} is defined any more")
        return json_response(result_document(result))

    return [
        Route("/v1/experiments", guarded(list_experiments), methods=["GET"]),
        Route("/v1/experiments/{key}", guarded(get_experiment), methods=["GET"]),
        Route("/v1/experiments/{key}", guarded(put_experiment), methods=["PUT"]),
        Route("/v1/experiments/{key}/results", guarded(results), methods=["GET"]),
    ]
