"""Routes SDKs call with the write key: the running definitions, and assignment for non-Python clients.

`GET /v1/sdk/definitions` answers `{"experiments": [sdk_document, ...]}` (running ones only)
with a strong ETag over the exact body, and 304 to a matching `If-None-Match`.
`POST /v1/assign` evaluates with the SDK's own code (`sdk.experiments`), so its answers are
the SDK's; with `"log_exposures": true` it also logs the `Experiment Viewed` events a client
would send, with message ids derived from (experiment, salt, unit, variant) so repeated calls
count once. Both read a snapshot rebuilt when this process changed a definition, or after
`_MAX_AGE_SECONDS` (other collectors may share the store).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from collector.auth import basic_auth_username
from collector.events import EXPOSURE_EVENT, SegmentMessage, UnitId
from collector.json_errors import UNREADABLE_JSON
from collector.request_body import read_limited
from collector.responses import error_response, json_response
from collector.wal import WalError
from collector.wire import received_now
from experiments.assignment import compile_definition, sdk_document
from experiments.definitions import ExperimentDefinition
from experiments.service import ExperimentService
from sdk.experiments import Experiment, InvalidDefinition, unknown

__all__ = ["sdk_routes", "AssignRequest"]

log = logging.getLogger("northstar.experiments")

_MAX_AGE_SECONDS = 5.0
_MAX_ASSIGN_BYTES = 64 * 1024
_ASSIGN_CONTEXT = msgspec.Raw(b'{"library":{"name":"northstar-assign"}}')


class AssignRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`experiments` None: every running experiment."""

    unit_id: UnitId
    attributes: dict[str, Any] = {}
    experiments: list[str] | None = None
    log_exposures: bool = False


LogEvents = Callable[[list[SegmentMessage]], Awaitable[None]]


@dataclass(frozen=True)
class _Snapshot:
    revision: int
    built_at: float
    body: bytes
    etag: str
    compiled: Mapping[str, Experiment]
    running: tuple[str, ...]


def sdk_routes(service: ExperimentService, write_keys: frozenset[str], log_events: LogEvents) -> list[Route]:
    """`log_events` makes events durable the way ingestion does (it may raise WalError)."""
    current: list[_Snapshot] = []  # the latest snapshot, replaced whole

    def snapshot() -> _Snapshot:
        if current and current[0].revision == service.revision and time.monotonic() - current[0].built_at < _MAX_AGE_SECONDS:
            return current[0]
        revision = service.revision
        built = _build(service.list(), revision)
        current[:] = [built]
        return built

    async def definitions(request: Request) -> Response:
        if basic_auth_username(request) not in write_keys:
            return error_response(401, "missing or unknown write key (HTTP Basic username)")
        published = await run_in_threadpool(snapshot)
        headers = {"ETag": published.etag, "Cache-Control": "no-cache"}
        if _etags(request.headers.get("if-none-match", "")) & {published.etag, "*"}:
            return Response(status_code=304, headers=headers)
        return Response(published.body, headers=headers, media_type="application/json")

    async def assign(request: Request) -> Response:
        if basic_auth_username(request) not in write_keys:
            return error_response(401, "missing or unknown write key (HTTP Basic username)")
        body = await read_limited(request, _MAX_ASSIGN_BYTES)
        try:
            wanted = msgspec.json.decode(body, type=AssignRequest)
        except UNREADABLE_JSON as error:
            return error_response(400, str(error))
        published = await run_in_threadpool(snapshot)
        keys = published.running if wanted.experiments is None else wanted.experiments
        assignments, exposures = {}, []
        for key in keys:
            experiment = published.compiled.get(key)
            assignment = unknown(key) if experiment is None else experiment.evaluate(wanted.unit_id, wanted.attributes)
            assignments[key] = {
                "variant": assignment.variant, "payload": assignment.payload,
                "in_experiment": assignment.in_experiment, "reason": assignment.reason,
            }
            if experiment is not None and assignment.reason == "assigned":
                exposures.append(_exposure(experiment, wanted.unit_id, assignment.variant))
        document: dict[str, Any] = {"unit_id": wanted.unit_id, "assignments": assignments}
        if wanted.log_exposures:
            try:
                await log_events(exposures)
                document["exposures_logged"] = len(exposures)
            except WalError:  # over budget, or the disk refused the write
                document["exposures_logged"] = 0  # the assignment still stands; log them yourself
        return json_response(document)

    return [
        Route("/v1/sdk/definitions", definitions, methods=["GET"]),
        Route("/v1/assign", assign, methods=["POST"]),
    ]


def _build(definitions: list[ExperimentDefinition], revision: int) -> _Snapshot:
    compiled: dict[str, Experiment] = {}
    for definition in definitions:
        try:
            compiled[definition.key] = compile_definition(definition)
        except InvalidDefinition as error:  # stored before a rule existed: not served
            log.warning("experiment %r is not served to SDKs: %s", definition.key, error)
    running = [d for d in definitions if d.status == "running" and d.key in compiled]
    body = msgspec.json.encode({"experiments": [sdk_document(d) for d in running]})
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    return _Snapshot(revision, time.monotonic(), body, etag, compiled, tuple(d.key for d in running))


def _exposure(experiment: Experiment, unit_id: str, variant: str | None) -> SegmentMessage:
    """The `Experiment Viewed` event an SDK logs on first exposure, with a stable message id."""
    identity = "\x1f".join([experiment.key, experiment.salt, unit_id, str(variant)])
    now = received_now()
    anonymous = experiment.unit == "anonymous_id"
    return SegmentMessage(
        type="track",
        event=EXPOSURE_EVENT,
        user_id=None if anonymous else unit_id,
        anonymous_id=unit_id if anonymous else None,
        message_id="exposure-" + hashlib.sha256(identity.encode()).hexdigest()[:32],
        timestamp=now,
        properties=msgspec.Raw(msgspec.json.encode({"experiment_id": experiment.key, "variation_id": variant})),
        context=_ASSIGN_CONTEXT,
        received_at=now,
    )


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as RFC 9110 says for 304)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
