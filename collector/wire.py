"""Decoding and validating Segment HTTP Tracking API payloads into log-ready messages.

A batch of well-formed events is decoded in one msgspec call; otherwise each event on its
own, so one malformed event is rejected with its index and reason while the rest of the
batch is kept. Validation happens here, before the request is answered; what is derived
from a valid message (defaults, clock-skew correction, exposure ids) ClickHouse does when
the message is inserted (schema migration 3), so the event loop spends no time on it.
"""

from __future__ import annotations

import hashlib
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal, TypeVar

import msgspec

from collector.event_time import LIVE_WINDOW, EventTimeWindow, as_utc, client_time_bounds
from collector.events import EMPTY_OBJECT, EXPOSURE_EVENT, MESSAGE_TYPES, SegmentMessage
from collector.json_errors import UNREADABLE_JSON

__all__ = [
    "Rejection",
    "DecodedBatch",
    "InvalidPayload",
    "EventError",
    "EventBytes",
    "complete_message",
    "decode_batch",
    "decode_single",
    "check_event_size",
    "Arrival",
    "received_now",
    "decode_body",
]


class InvalidPayload(ValueError):
    """The request body as a whole is unusable (not JSON, not an object, no batch)."""


RejectionCode = Literal["too_large", "malformed", "invalid"]


@dataclass(frozen=True)
class Rejection:
    """Why the event at `index` of a batch was not stored; `code` is for metrics."""

    index: int
    reason: str
    code: RejectionCode


@dataclass(frozen=True)
class DecodedBatch:
    """A decoded body: the events to store, the ones refused by index, and the body's write key if it had one."""

    write_key: str | None
    accepted: list[SegmentMessage]
    rejected: list[Rejection]


EventBytes = bytes | msgspec.Raw
"""One event's wire bytes: a `Raw` slice of its batch is used in place, never copied."""


class _SegmentBatch(msgspec.Struct, rename="camel"):
    batch: list[msgspec.Raw]
    sent_at: datetime | None = None
    write_key: str | None = None
    context: msgspec.Raw = msgspec.Raw(b"")


class _WellFormedBatch(msgspec.Struct):
    batch: list[SegmentMessage]


class _Exposure(msgspec.Struct):
    experiment_id: str | int
    variation_id: str | int


class EventError(ValueError):
    """One event cannot be stored; the rest of its batch is unaffected."""

    def __init__(self, reason: str, code: RejectionCode = "invalid") -> None:
        super().__init__(reason)
        self.code: RejectionCode = code


_batch_decoder = msgspec.json.Decoder(_SegmentBatch)
_message_decoder = msgspec.json.Decoder(SegmentMessage)
_messages_decoder = msgspec.json.Decoder(_WellFormedBatch)
_exposure_decoder = msgspec.json.Decoder(_Exposure)
_NULL = msgspec.Raw(b"null")
_OPEN_BRACE = (ord("{"),)
_first_byte = struct.Struct("B").unpack_from  # 2x cheaper than memoryview(raw)[0]


@dataclass(frozen=True, slots=True)
class Arrival:
    """What every event of one request shares: when it arrived, and what its body showed.

    Made once per request, so per-event work stays small. `sent_at` is the body's own
    `sentAt` (None when absent), which ClickHouse uses to correct the device's clock skew;
    `utf8_checked` is True when the whole body is known to be valid UTF-8, so the JSON
    payloads kept as raw bytes need no check of their own. `earliest`/`latest` bound the
    time of an event whose `sentAt` is the body's, for the route's `window`.
    """

    received_at: datetime
    sent_at: datetime | None = None
    utf8_checked: bool = True
    window: EventTimeWindow = LIVE_WINDOW
    earliest: datetime = datetime.min
    latest: datetime = datetime.max

    @classmethod
    def of(cls, received_at: datetime, sent_at: datetime | None, body: bytes | msgspec.Raw = b"",
           window: EventTimeWindow = LIVE_WINDOW) -> Arrival:
        """The arrival of a body the client stamped with `sent_at` (None when it did not)."""
        earliest, latest = client_time_bounds(window, received_at, sent_at)
        return cls(received_at, sent_at, _is_utf8(body), window, earliest, latest)


def received_now() -> datetime:
    """The server's clock, as stamped on events it receives."""
    return datetime.now(timezone.utc)


# A \uD800-\uDFFF escape that is not half of a pair, and not itself escaped ("\\ud800" is text).
_SURROGATE_ESCAPE = re.compile(
    rb"(?<!\\)((?:\\\\)*)(\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[dD][89a-fA-F][0-9a-fA-F]{2})"
)
_REPLACEMENT_ESCAPE = rb"\ufffd"


def _replace_lone_surrogate(match: re.Match[bytes]) -> bytes:
    escape = match[2]
    return match[1] + (escape if len(escape) == 12 else _REPLACEMENT_ESCAPE)


_Decoded = TypeVar("_Decoded")


def decode_body(decoder: msgspec.json.Decoder[_Decoded], body: bytes) -> tuple[_Decoded, bytes]:
    """`decoder.decode(body)` and the body decoded, which may differ from `body` in one way:
    lone UTF-16 surrogate escapes replaced by U+FFFD's.

    JavaScript strings may hold half of a surrogate pair (an emoji cut by slicing), which
    `JSON.stringify` writes as `"\ud800"`; msgspec refuses it, and with it the whole body.
    A browser encoding that string to UTF-8 (`TextEncoder`) writes U+FFFD instead, so that
    is what the event keeps. `\ud800` and `\ufffd` are both six bytes: every offset in the
    body stays where it was. Tried only once the body failed to decode, so well-formed
    bodies cost nothing more. Raises what `decoder.decode` raises.
    """
    try:
        return decoder.decode(body), body
    except UNREADABLE_JSON:
        repaired = _SURROGATE_ESCAPE.sub(_replace_lone_surrogate, body)
        if repaired == body:
            raise
    return decoder.decode(repaired), repaired


def decode_batch(body: bytes, received_at: datetime, max_event_bytes: int,
                 window: EventTimeWindow = LIVE_WINDOW) -> DecodedBatch:
    """Decode a `/v1/batch` body; raises InvalidPayload when the body itself is unusable.

    `window` bounds the event times stored as sent (`collector.event_time`)."""
    try:
        envelope, body = decode_body(_batch_decoder, body)
    except UNREADABLE_JSON as error:
        raise InvalidPayload(f"body is not a valid batch: {error}") from None
    arrival = Arrival.of(received_at, envelope.sent_at, body, window)
    raws = envelope.batch
    messages = _decode_well_formed(body, raws, max_event_bytes)
    accepted: list[SegmentMessage] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(raws):
        try:
            message = _decode_message(raw, max_event_bytes) if messages is None else messages[index]
            accepted.append(complete_message(message, raw, None, arrival))
        except EventError as error:
            rejected.append(Rejection(index, str(error), error.code))
    return DecodedBatch(envelope.write_key, accepted, rejected)


def _decode_well_formed(body: bytes, raws: list[msgspec.Raw], max_event_bytes: int) -> list[SegmentMessage] | None:
    """Every message of the batch in one C call, or None if any is too large or malformed.

    The common case; on None each event is decoded on its own to find which ones fail, and why.
    """
    if max(map(len, raws), default=0) > max_event_bytes:
        return None
    try:
        return _messages_decoder.decode(body).batch
    except UNREADABLE_JSON:
        return None


def decode_single(
    body: bytes, message_type: str, received_at: datetime, max_event_bytes: int,
    window: EventTimeWindow = LIVE_WINDOW,
) -> DecodedBatch:
    """Decode a single-event body (`/v1/track`, `/v1/identify`, …) as a batch of one."""
    try:
        message, body = decode_body(_message_decoder, body)
    except UNREADABLE_JSON as error:
        raise InvalidPayload(f"body is not a valid {message_type} message: {error}") from None
    write_key = message.write_key
    try:
        check_event_size(body, max_event_bytes)
        event = complete_message(message, body, message_type, Arrival.of(received_at, None, body, window))
    except EventError as error:
        return DecodedBatch(write_key, [], [Rejection(0, str(error), error.code)])
    return DecodedBatch(write_key, [event], [])


def check_event_size(raw: EventBytes, max_event_bytes: int) -> None:
    """EventError ("too_large") for an event over the per-event limit."""
    if len(raw) > max_event_bytes:
        raise EventError(f"event is {len(raw)} bytes; the limit is {max_event_bytes}", "too_large")


def _decode_message(raw: EventBytes, max_event_bytes: int) -> SegmentMessage:
    check_event_size(raw, max_event_bytes)
    try:
        return _message_decoder.decode(raw)
    except UNREADABLE_JSON as error:
        raise EventError(str(error), "malformed") from None


def complete_message(
    message: SegmentMessage, raw: EventBytes, forced_type: str | None, arrival: Arrival
) -> SegmentMessage:
    """Validate one decoded message and complete it for the log, in place; raises EventError.

    `raw` is the event's wire bytes, from which a missing message id is derived. This runs
    for every event the collector takes: it checks what a client can get wrong and sets
    only what ClickHouse cannot know (arrival, the body's `sentAt`, the message type of a
    single-event path); everything else is derived when ClickHouse inserts the message.
    """
    if forced_type is not None:
        message.type = forced_type
    message_type = message.type
    if message_type not in MESSAGE_TYPES:
        raise EventError(f"type must be one of {sorted(MESSAGE_TYPES)}, got {message_type!r}")
    if _absent(message.user_id) and _absent(message.anonymous_id):
        raise EventError("userId or anonymousId is required")
    if message_type == "track":
        if not message.event:
            raise EventError("event is required")
        if message.event == EXPOSURE_EVENT:
            _check_exposure(message.properties)
    elif message.event is not None:
        message.event = None  # only track events have a name in `event`
    if message_type == "group" and _absent(message.group_id):
        raise EventError("groupId is required for group")
    if message_type == "alias" and _absent(message.previous_id):
        raise EventError("previousId is required for alias")
    _check_payloads(message, arrival.utf8_checked)
    if message.message_id is None:
        message.message_id = _derived_message_id(raw)
    if message.sent_at is None:
        message.sent_at = arrival.sent_at
    if message.write_key is not None:
        message.write_key = None  # not stored
    if message.client_timestamp is not None:
        message.client_timestamp = None  # the collector's to set
    if message.unidentified_user_id:
        message.unidentified_user_id = False  # the collector's to set
    message.received_at = arrival.received_at
    client_time = message.timestamp if message.timestamp is not None else message.original_timestamp
    if client_time is not None:
        try:  # the common case: a zoned time, the body's sentAt, inside the window
            inside = message.sent_at is arrival.sent_at and arrival.earliest <= client_time <= arrival.latest
        except TypeError:  # no zone
            inside = False
        if not inside:
            _bound_client_time(message, client_time, arrival)
    return message


def _bound_client_time(message: SegmentMessage, client_time: datetime, arrival: Arrival) -> None:
    """Store an event dated outside the route's window at its receive time, keeping the
    client's time, or raise EventError where the window refuses it (`/v1/import`)."""
    earliest, latest = client_time_bounds(arrival.window, arrival.received_at, message.sent_at)
    if earliest <= as_utc(client_time) <= latest:
        return
    if arrival.window.outside == "reject":
        raise EventError(f"timestamp {client_time.isoformat()} is outside this route's window: "
                         f"{arrival.window.describe()}")
    message.client_timestamp = client_time
    message.timestamp = message.original_timestamp = None


def _absent(identifier: str | int | None) -> bool:
    return identifier is None or identifier == ""


def _check_payloads(message: SegmentMessage, utf8_checked: bool) -> None:
    """Each payload must be a JSON object; absent or null is the empty object.

    The common case (three objects in a UTF-8 body) is settled in one expression.
    """
    properties, traits, context = message.properties, message.traits, message.context
    if (utf8_checked and properties and traits and context and _first_byte(properties) == _OPEN_BRACE
            and _first_byte(traits) == _OPEN_BRACE and _first_byte(context) == _OPEN_BRACE):
        return
    message.properties = _json_object(properties, "properties", utf8_checked)
    message.traits = _json_object(traits, "traits", utf8_checked)
    message.context = _json_object(context, "context", utf8_checked)


def _is_utf8(body: bytes | msgspec.Raw) -> bool:
    if isinstance(body, bytes) and body.isascii():
        return True
    try:
        str(body, "utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _json_object(raw: msgspec.Raw, field: str, utf8_checked: bool) -> msgspec.Raw:
    """The client's JSON object, as its bytes; absent or null is the empty object.

    msgspec has checked it is well-formed JSON, but not what kind of value it is, nor
    (inside a raw value) that its strings are valid UTF-8 unless the whole body was.
    """
    if not raw:
        return EMPTY_OBJECT
    if _first_byte(raw) != _OPEN_BRACE:
        if raw == _NULL:
            return EMPTY_OBJECT
        raise EventError(f"{field} must be a JSON object")
    if not utf8_checked and not _is_utf8(raw):
        raise EventError(f"{field} is not valid UTF-8", "malformed")
    return raw


def _derived_message_id(raw: EventBytes) -> str:
    """An id derived from the event's bytes, so a resent event without one still dedups."""
    return "auto-" + hashlib.sha256(raw).hexdigest()[:32]


def _check_exposure(properties: msgspec.Raw) -> None:
    """An exposure must name its experiment and variation (ClickHouse copies them to columns)."""
    try:
        _exposure_decoder.decode(properties)
    except UNREADABLE_JSON as error:
        raise EventError(f"{EXPOSURE_EVENT} needs experiment_id and variation_id: {error}") from None
