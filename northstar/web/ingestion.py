"""Ingestion routes: the Segment HTTP Tracking API, and PostHog's capture endpoints."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from collector.events import SegmentMessage
from collector.posthog import decode_capture
from collector.settings import CollectorSettings
from collector.telemetry import CollectorMetrics
from collector.wal import RecordTooLarge, WalError, WalFull
from collector.wire import (
    DecodedBatch,
    InvalidPayload,
    decode_batch,
    decode_single,
    received_now,
)
from collector.writer import EventWriter
from northstar.web.api_types import ErrorBody, IngestionAnswer, IngestionQuery, SegmentBatch
from northstar.web.auth import ApiRoute, Credential, Handler, basic_auth_username
from northstar.web.bodies import PayloadTooLarge, UnreadableBody, read_body
from northstar.web.responses import error_response, json_response
from sdk.wire import MESSAGE_KINDS

__all__ = ["ingestion_routes"]

log = logging.getLogger("northstar.collector.ingestion")

_RETRY_AFTER = "5"

Decoder = Callable[[bytes, datetime], DecodedBatch]


def ingestion_routes(
    settings: CollectorSettings, writer: EventWriter, metrics: CollectorMetrics
) -> list[ApiRoute]:
    """Routes that accept events; every event is validated and handed to `writer`."""
    limits = settings.limits

    def endpoint(decode: Decoder, api: str) -> Handler:
        latency = metrics.request_seconds.labels(api)

        async def receive(request: Request) -> Response:
            started = time.perf_counter()
            response = await _receive(request)
            latency.observe(time.perf_counter() - started)
            return response

        def refuse(status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> Response:
            metrics.requests_refused.labels(reason).inc()
            return error_response(status, message, headers)

        async def _receive(request: Request) -> Response:
            received_at = received_now()
            header_key = basic_auth_username(request)
            if header_key is not None and header_key not in settings.write_keys:
                return refuse(401, "unauthorized", "unknown write key")
            try:
                body = await read_body(request, limits, _encoding_in_query(request) if api == "posthog" else None)
                decoded = decode(body, received_at)
            except PayloadTooLarge as error:
                return refuse(413, "too_large", str(error))
            except (UnreadableBody, InvalidPayload) as error:
                return refuse(400, "malformed", str(error))
            write_key = header_key or decoded.write_key
            if write_key is None or write_key not in settings.write_keys:
                return refuse(401, "unauthorized", "missing or unknown write key")
            accepted, rejections = len(decoded.accepted), decoded.rejected
            try:
                lsn = writer.log(decoded.accepted)
                del body, decoded  # not held while waiting for the fsync: see EventWriter.log
                await writer.durable(lsn)
            except RecordTooLarge as error:  # fits no budget however long the client waits
                return refuse(413, "too_large", f"batch too large for the collector's log ({error}); "
                                                "send fewer events per batch")
            except WalFull:
                return refuse(503, "backpressure", "backlog over its disk budget; retry later",
                              {"Retry-After": _RETRY_AFTER})
            except WalError as error:  # the disk refused a write or an fsync: nothing acknowledged
                log.error("cannot log %d events: %s", accepted, error)
                return refuse(503, "log_unavailable", "the collector cannot write its log; retry later",
                              {"Retry-After": _RETRY_AFTER})
            for rejection in rejections:
                metrics.events_rejected.labels(rejection.code).inc()
            rejected = [{"index": r.index, "reason": r.reason} for r in rejections]
            status = 400 if rejected and not accepted else 200
            return json_response(
                {"success": status == 200, "accepted": accepted, "rejected": rejected},
                status,
            )

        return receive

    live = settings.live_window

    def batch(body: bytes, received_at: datetime) -> DecodedBatch:
        return decode_batch(body, received_at, limits.max_event_bytes, live)

    def backfill(body: bytes, received_at: datetime) -> DecodedBatch:
        return decode_batch(body, received_at, limits.max_event_bytes, settings.import_window)

    def single(message_type: str) -> Decoder:
        return lambda body, received_at: decode_single(body, message_type, received_at, limits.max_event_bytes, live)

    def posthog(body: bytes, received_at: datetime) -> DecodedBatch:
        return decode_capture(body, received_at, limits.max_event_bytes, live)

    credential = Credential.EVENT_WRITE_KEY
    # 400: the body is unusable (ErrorBody) or every event was rejected (IngestionAnswer).
    answers = {200: IngestionAnswer, 400: (IngestionAnswer, ErrorBody), 503: ErrorBody}
    routes = [
        ApiRoute("/v1/batch", ("POST",), endpoint(batch, "segment"), credential, body=SegmentBatch, answers=answers),
        ApiRoute("/v1/import", ("POST",), endpoint(backfill, "segment"), credential, body=SegmentBatch,
                 answers=answers),
    ]
    routes += [
        ApiRoute(path, ("POST",), endpoint(posthog, "posthog"), credential, body=Any, query=IngestionQuery,
                 answers=answers)
        for path in ("/batch/", "/capture/", "/e/", "/i/v0/e/")
    ]
    routes += [
        ApiRoute(f"/v1/{message_type}", ("POST",), endpoint(single(message_type), "segment"), credential,
                 body=SegmentMessage, answers=answers)
        for message_type in MESSAGE_KINDS
    ]
    return routes


def _encoding_in_query(request: Request) -> str | None:
    """posthog-js signals a gzip body with `?compression=gzip-js` instead of a header."""
    return "gzip" if request.query_params.get("compression", "").startswith("gzip") else None
