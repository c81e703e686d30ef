"""PostHog capture payloads (`/batch/`, `/capture/`, `/e/`, `/i/v0/e/`) mapped onto Segment messages.

So the real posthog libraries send to Northstar unchanged: `api_key` is the write key,
`distinct_id` the user id, `uuid` the message id; `$`-prefixed properties are kept as sent.
PostHog's special events become the matching Segment types ($identify → identify, …).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from collector.event_time import LIVE_WINDOW, EventTimeWindow
from collector.events import SegmentMessage
from collector.json_errors import UNREADABLE_JSON
from collector.wire import (
    Arrival,
    DecodedBatch,
    EventBytes,
    EventError,
    InvalidPayload,
    Rejection,
    check_event_size,
    complete_message,
    decode_body,
)

__all__ = ["decode_capture"]

_EMPTY = msgspec.Raw(b"")


class _Envelope(msgspec.Struct):
    batch: list[msgspec.Raw] | None = None
    api_key: str | None = None
    sent_at: datetime | None = None


class _Event(msgspec.Struct):
    event: str | None = None
    distinct_id: str | int | None = None
    properties: msgspec.Raw = _EMPTY
    timestamp: datetime | None = None
    uuid: str | None = None
    api_key: str | None = None
    set: msgspec.Raw = msgspec.field(name="$set", default=_EMPTY)


class _Special(msgspec.Struct):
    """The properties PostHog gives a meaning to; everything else stays opaque JSON."""

    distinct_id: str | int | None = None
    token: str | None = None
    set: msgspec.Raw = msgspec.field(name="$set", default=_EMPTY)
    anon_distinct_id: str | int | None = msgspec.field(name="$anon_distinct_id", default=None)
    current_url: str | None = msgspec.field(name="$current_url", default=None)
    screen_name: str | None = msgspec.field(name="$screen_name", default=None)
    group_key: str | int | None = msgspec.field(name="$group_key", default=None)
    group_set: msgspec.Raw = msgspec.field(name="$group_set", default=_EMPTY)
    alias: str | int | None = None


_body_decoder = msgspec.json.Decoder(list[msgspec.Raw] | _Envelope)
_event_decoder = msgspec.json.Decoder(_Event)
_special_decoder = msgspec.json.Decoder(_Special)


def decode_capture(body: bytes, received_at: datetime, max_event_bytes: int,
                   window: EventTimeWindow = LIVE_WINDOW) -> DecodedBatch:
    """Decode a PostHog body: a batch envelope, a list of events, or a single event."""
    try:
        decoded, body = decode_body(_body_decoder, body)
    except UNREADABLE_JSON as error:
        raise InvalidPayload(f"body is not a valid PostHog payload: {error}") from None
    raws: list[msgspec.Raw] | list[bytes]
    if isinstance(decoded, list):
        raws, api_key, sent_at = decoded, None, None
    else:
        raws = [body] if decoded.batch is None else decoded.batch
        api_key, sent_at = decoded.api_key, decoded.sent_at
    arrival = Arrival.of(received_at, sent_at, body, window)
    accepted: list[SegmentMessage] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raws):
        try:
            event, event_key = _decode_event(raw, arrival, max_event_bytes)
        except EventError as error:
            rejected.append(Rejection(index, str(error), error.code))
            continue
        accepted.append(event)
        api_key = api_key or event_key
    return DecodedBatch(api_key, accepted, rejected)


def _decode_event(raw: EventBytes, arrival: Arrival, max_event_bytes: int) -> tuple[SegmentMessage, str | None]:
    check_event_size(raw, max_event_bytes)
    try:
        event = _event_decoder.decode(raw)
        special = _special_decoder.decode(event.properties) if event.properties else _Special()
    except UNREADABLE_JSON as error:
        raise EventError(str(error), "malformed") from None
    if not event.event:
        raise EventError("event is required")
    distinct_id = event.distinct_id if event.distinct_id is not None else special.distinct_id
    if distinct_id is None:
        raise EventError("distinct_id is required")
    message = complete_message(_segment_message(event, special, distinct_id), raw, None, arrival)
    # Only $identify names an identified person; other captures' distinct ids may be anonymous.
    message.unidentified_user_id = event.event != "$identify"
    return message, event.api_key or special.token


def _segment_message(event: _Event, special: _Special, distinct_id: str | int | None) -> SegmentMessage:
    common: dict[str, Any] = {"message_id": event.uuid, "timestamp": event.timestamp, "properties": event.properties}
    name = event.event
    if name in ("$identify", "$set"):
        # Person properties travel in properties.$set, or at the top level for `set()`.
        traits = event.set or special.set
        return SegmentMessage(type="identify", user_id=distinct_id, anonymous_id=special.anon_distinct_id,
                              traits=traits, **common)
    if name == "$pageview":
        return SegmentMessage(type="page", user_id=distinct_id, name=special.current_url, **common)
    if name == "$screen":
        return SegmentMessage(type="screen", user_id=distinct_id, name=special.screen_name, **common)
    if name == "$groupidentify":
        return SegmentMessage(type="group", user_id=distinct_id, group_id=special.group_key,
                              traits=special.group_set, **common)
    if name == "$create_alias":
        return SegmentMessage(type="alias", user_id=special.alias, previous_id=distinct_id, **common)
    if name == "$merge_dangerously":  # a track event whose `alias` merges even identified persons
        return SegmentMessage(type="track", event=name, user_id=distinct_id, previous_id=special.alias, **common)
    return SegmentMessage(type="track", event=name, user_id=distinct_id, **common)
