"""The shape of one event as validated and logged: a Segment message, plus when it arrived."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from sdk.wire import EXPOSURE_EVENT, MAX_ID_LENGTH, MAX_NAME_LENGTH, MESSAGE_KINDS

__all__ = ["SegmentMessage", "EXPOSURE_EVENT", "MESSAGE_TYPES", "EMPTY_OBJECT", "UnitId"]

MESSAGE_TYPES = frozenset(MESSAGE_KINDS)

EMPTY_OBJECT = msgspec.Raw(b"{}")
"""The payload of an event that has none."""

_Id = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)]
_Name = Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH)]
UnitId = _Id
"""A user or anonymous id given on its own (not in a message): no longer than ingestion
accepts in `userId`/`anonymousId`, so what a route logs under it ingestion would take too."""


class SegmentMessage(msgspec.Struct, rename="camel", omit_defaults=True):
    """One message of the Segment spec, as decoded and as logged; other wire formats are
    mapped onto it.

    Lengths are checked while decoding, so an oversized id fails with its JSON path.
    Logged as JSON with absent fields left out, which ClickHouse turns into an `events` row
    (schema migration 3). `received_at` and `client_timestamp` are set by the collector,
    whatever the client sent there; payloads are the client's own JSON object bytes.
    """

    type: str | None = None
    event: _Name | None = None
    name: _Name | None = None
    user_id: _Id | int | None = None
    anonymous_id: _Id | int | None = None
    group_id: _Id | int | None = None
    previous_id: _Id | int | None = None
    message_id: _Id | None = None
    timestamp: datetime | None = None
    original_timestamp: datetime | None = None
    sent_at: datetime | None = None
    properties: msgspec.Raw = EMPTY_OBJECT
    traits: msgspec.Raw = EMPTY_OBJECT
    context: msgspec.Raw = EMPTY_OBJECT
    write_key: str | None = None
    received_at: datetime | None = None
    client_timestamp: datetime | None = None
    """Set by the collector only: the client's time of an event dated outside the window
    (`collector.event_time`), which is then stored at its receive time."""
    unidentified_user_id: bool = False
    """Set by the collector only: `user_id` is a PostHog distinct id of an ordinary capture,
    which may be anonymous, so it does not make that id identified (`collector.persons`)."""
