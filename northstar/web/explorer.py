"""Read-only event explorer for operators and load tests: what did the store actually keep?"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.json_errors import UNREADABLE_JSON
from collector.storage.clickhouse import Client, per_thread
from collector.storage.events import count_events, recent_events, stored_copies
from northstar.web.api_types import EventsQuery, StoredEvents, VerifyAnswer, VerifyRequest
from northstar.web.auth import ApiRoute, Credential
from northstar.web.bodies import read_limited
from northstar.web.responses import error_response, json_response

__all__ = ["explorer_routes"]

_MAX_LIMIT = 1000
_MAX_VERIFY_IDS = 100_000
_MAX_VERIFY_BYTES = 16 << 20  # room for the most ids, each up to 128 bytes


def explorer_routes(connect: Callable[[], Client]) -> list[ApiRoute]:
    """`GET /v1/events?event=&type=&user_id=&limit=`: latest matching events and their total."""
    client = per_thread(connect)

    def query(filters: dict[str, str], limit: int) -> dict[str, object]:
        events = recent_events(client(), **filters, limit=limit)
        return {
            "total": count_events(client(), **filters),
            "events": events,
        }

    async def events(request: Request) -> Response:
        params = request.query_params
        limit = _limit(params.get("limit", "100"))
        if limit is None:
            return error_response(400, f"limit: must be an integer from 0 to {_MAX_LIMIT}")
        filters = {name: params.get(name, "") for name in ("event", "type", "user_id")}
        document = await run_in_threadpool(query, filters, limit)
        return json_response(document)

    async def verify(request: Request) -> Response:
        try:
            message_ids = msgspec.json.decode(await read_limited(request, _MAX_VERIFY_BYTES), type=VerifyRequest).message_ids
        except UNREADABLE_JSON as error:
            return error_response(400, f"expected {{\"message_ids\": [...]}}: {error}")
        if len(message_ids) > _MAX_VERIFY_IDS:
            return error_response(413, f"at most {_MAX_VERIFY_IDS} message ids per request")
        counted = await run_in_threadpool(lambda: stored_copies(client(), message_ids, collapsed=True))
        physical = await run_in_threadpool(lambda: stored_copies(client(), message_ids, collapsed=False))
        return json_response(VerifyAnswer(
            checked=len(set(message_ids)),
            missing=sorted(set(message_ids) - counted.keys()),
            duplicated=sorted(key for key, count in counted.items() if count > 1),
            extra_copies=sum(count - 1 for count in physical.values()),
        ))

    return [
        ApiRoute("/v1/events", ("GET",), events, Credential.ADMIN_SECRET, query=EventsQuery,
                 answers={200: StoredEvents}),
        ApiRoute("/v1/events/verify", ("POST",), verify, Credential.ADMIN_SECRET, body=VerifyRequest,
                 answers={200: VerifyAnswer}),
    ]


def _limit(text: str) -> int | None:
    """The `limit` parameter, or None unless it is ASCII digits from 0 to `_MAX_LIMIT`.

    `str.isdigit` alone also accepts digits `int` refuses ("²"), and very long digit strings.
    """
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(_MAX_LIMIT))):
        return None
    limit = int(text)
    return limit if limit <= _MAX_LIMIT else None
