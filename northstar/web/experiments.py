"""HTTP routes for experiment management and results; every one needs the admin secret."""

from __future__ import annotations

from functools import partial

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.json_errors import UNREADABLE_JSON
from collector.persons.derivation import PersonDerivation
from experiments.definitions import DefinitionError, ExperimentDefinition, parse_definition
from experiments.evaluation import Evaluation
from experiments.result_document import ResultDocument, result_document
from experiments.service import ExperimentService, entry
from northstar.web.api_types import (
    AppliedExperiments,
    ApplyRequest,
    ExperimentList,
    PutExperimentQuery,
    ResultsQuery,
    SavedExperiment,
)
from northstar.web.auth import ApiRoute, Credential
from northstar.web.bodies import read_limited
from northstar.web.lifecycle import saved_document, saved_response
from northstar.web.responses import error_response, json_response

__all__ = ["experiment_routes"]

_MAX_DEFINITION_BYTES = 256 * 1024
_MAX_APPLY_BYTES = 4 << 20
_MAX_APPLY_EXPERIMENTS = 1_000


def experiment_routes(service: ExperimentService, evaluation: Evaluation, persons: PersonDerivation) -> list[ApiRoute]:
    """List, read, save and analyse experiments (admin secret); domain errors map in `northstar.web.errors`.

    Results first bring persons up to date with the stored links (`PersonDerivation.refresh`)."""
    async def list_experiments(request: Request) -> Response:
        definitions = await run_in_threadpool(service.list)
        return json_response(ExperimentList(definitions))

    async def get_experiment(request: Request) -> Response:
        definition = await run_in_threadpool(service.get, request.path_params["key"])
        return json_response(definition)

    async def put_experiment(request: Request) -> Response:
        body = await read_limited(request, _MAX_DEFINITION_BYTES)
        new_phase = request.query_params.get("new_phase", "").lower() in ("1", "true")
        definition = parse_definition(body)
        if definition.key != request.path_params["key"]:
            raise DefinitionError("key", "must match the URL")
        await run_in_threadpool(evaluation.check_metrics, definition)
        saved = await run_in_threadpool(partial(service.save, definition, new_phase=new_phase))
        return saved_response(saved)

    async def apply_experiments(request: Request) -> Response:
        """Every definition checked (fields, metrics, lifecycle, layers) before any is stored."""
        try:
            entries = msgspec.json.decode(await read_limited(request, _MAX_APPLY_BYTES), type=ApplyRequest).experiments
        except UNREADABLE_JSON as error:
            return error_response(400, str(error))
        if len(entries) > _MAX_APPLY_EXPERIMENTS:
            return error_response(400, f"experiments: at most {_MAX_APPLY_EXPERIMENTS} per request")
        definitions = []
        for index, raw in enumerate(entries):
            with entry(index):
                definitions.append(parse_definition(raw))
                await run_in_threadpool(evaluation.check_metrics, definitions[-1])
        keys = [definition.key for definition in definitions]
        if len(set(keys)) != len(keys):
            raise DefinitionError("experiments", "each key at most once")
        saved = await run_in_threadpool(service.save_all, definitions)
        return json_response(AppliedExperiments(True, [saved_document(one) for one in saved]))

    async def results(request: Request) -> Response:
        alpha_text = request.query_params.get("alpha")
        try:
            alpha = None if alpha_text is None else float(alpha_text)
        except ValueError:
            alpha = -1.0
        if alpha is not None and not 0.0 < alpha < 0.5:
            return error_response(400, "alpha: must be a number between 0 and 0.5")
        await run_in_threadpool(persons.refresh)
        result = await run_in_threadpool(evaluation.result, request.path_params["key"], alpha)
        return json_response(result_document(result))

    admin = Credential.ADMIN_SECRET
    return [
        ApiRoute("/v1/experiments", ("GET",), list_experiments, admin, answers={200: ExperimentList}),
        ApiRoute("/v1/experiments", ("PUT",), apply_experiments, admin, body=ApplyRequest,
                 answers={200: AppliedExperiments}),
        ApiRoute("/v1/experiments/{key}", ("GET",), get_experiment, admin, answers={200: ExperimentDefinition}),
        ApiRoute("/v1/experiments/{key}", ("PUT",), put_experiment, admin, body=ExperimentDefinition,
                 query=PutExperimentQuery, answers={200: SavedExperiment}),
        ApiRoute("/v1/experiments/{key}/results", ("GET",), results, admin, query=ResultsQuery,
                 answers={200: ResultDocument, 409: None}),
    ]
