"""Routes SDKs call: the running definitions (SDK key), and assignment (write key) for browsers and other clients.

`GET /v1/sdk/definitions` needs a server-side SDK key: it answers the current
`experiments.sdk_documents` snapshot (targeting rules, QA overrides, every variant's payload)
with its strong ETag, and 304 to a matching `If-None-Match`. `POST /v1/assign` takes the
public write key (or an SDK key) and answers, per experiment, only what the SDK's own
evaluation (`sdk.experiments`) gives the one unit asked about: its variant, that variant's
payload, whether it is in the experiment, and why. Experiments that are not running answer
as unknown, as they do to an SDK (its definitions hold running ones only), so drafts are not
disclosed. With `"log_exposures": true` it also logs the `Experiment Viewed` events a client
would send (`exposure_message`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.events import SegmentMessage
from collector.json_errors import UNREADABLE_JSON
from collector.wal import WalError
from experiments.sdk_documents import SdkSnapshot, SdkSnapshots, exposure_message
from experiments.service import ExperimentService
from northstar.web.api_types import AssignAnswer, AssignRequest, SdkDefinitions
from northstar.web.auth import ApiRoute, Credential
from northstar.web.bodies import read_limited
from northstar.web.responses import error_response, field_error_response, json_response
from sdk.experiments import unknown
from sdk.targeting import MAX_REGEX_SUBJECT

__all__ = ["sdk_routes", "AssignRequest"]

_MAX_ASSIGN_BYTES = 64 * 1024


LogEvents = Callable[[list[SegmentMessage]], Awaitable[None]]


def sdk_routes(service: ExperimentService, log_events: LogEvents) -> list[ApiRoute]:
    """`log_events` makes events durable the way ingestion does (it may raise WalError)."""
    snapshots = SdkSnapshots(service)

    async def definitions(request: Request) -> Response:
        published = await run_in_threadpool(snapshots.current)
        headers = {"ETag": published.etag, "Cache-Control": "no-cache"}
        if _etags(request.headers.get("if-none-match", "")) & {published.etag, "*"}:
            return Response(status_code=304, headers=headers)
        return Response(published.body, headers=headers, media_type="application/json")

    async def assign(request: Request) -> Response:
        body = await read_limited(request, _MAX_ASSIGN_BYTES)
        try:
            wanted = msgspec.json.decode(body, type=AssignRequest)
        except UNREADABLE_JSON as error:
            return error_response(400, str(error))
        if wanted.unit_id is None and wanted.anonymous_id is None:
            return field_error_response("unit_id", "unit_id: required (or anonymous_id)")
        for name, value in wanted.attributes.items():
            if type(value) is str and len(value) > MAX_REGEX_SUBJECT:
                return field_error_response(f"attributes.{name}",
                                            f"attributes.{name}: at most {MAX_REGEX_SUBJECT} characters")
        published = await run_in_threadpool(snapshots.current)
        # Off the event loop: targeting is bounded (sdk.targeting.check_pattern), but many
        # experiments add up, and a thread lets the loop run between them.
        assignments, exposures = await run_in_threadpool(_evaluate, published, wanted)
        document: dict[str, Any] = {"unit_id": wanted.unit_id or "", "assignments": assignments}
        if wanted.log_exposures:
            try:
                await log_events(exposures)
                document["exposures_logged"] = len(exposures)
            except WalError:  # over budget, or the disk refused the write
                document["exposures_logged"] = 0  # the assignment still stands; log them yourself
        return json_response(document)

    return [
        ApiRoute("/v1/sdk/definitions", ("GET",), definitions, Credential.SDK_KEY,
                 answers={200: SdkDefinitions, 304: None, 403: None}),
        ApiRoute("/v1/assign", ("POST",), assign, Credential.WRITE_KEY, body=AssignRequest, answers={200: AssignAnswer}),
    ]


def _evaluate(published: SdkSnapshot, wanted: AssignRequest) -> tuple[dict[str, Any], list[SegmentMessage]]:
    """Each wanted experiment's assignment document, and the exposures to log for those assigned."""
    keys = published.running if wanted.experiments is None else wanted.experiments
    assignments, exposures = {}, []
    for key in keys:
        experiment = published.compiled.get(key) if key in published.running else None
        assignment = unknown(key) if experiment is None else experiment.evaluate(
            wanted.unit_id, wanted.attributes, wanted.anonymous_id)
        assignments[key] = {
            "variant": assignment.variant, "payload": assignment.payload,
            "in_experiment": assignment.in_experiment, "reason": assignment.reason,
        }
        if experiment is not None and assignment.reason == "assigned":
            exposures.append(exposure_message(experiment, wanted.unit_id or "", assignment.variant, wanted.anonymous_id))
    return assignments, exposures


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as RFC 9110 says for 304)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
