"""The stored shape of one event: what validation produces, the log keeps and ClickHouse holds."""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

__all__ = ["StoredEvent", "EXPOSURE_EVENT", "MESSAGE_TYPES", "NO_TIME", "EMPTY_OBJECT"]

EXPOSURE_EVENT = "Experiment Viewed"
"""Segment's spec event for an experiment exposure, with experiment_id/variation_id properties."""

MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})

NO_TIME = datetime(1970, 1, 1, tzinfo=timezone.utc)
"""`sent_at` of an event whose client sent none."""

EMPTY_OBJECT = msgspec.Raw(b"{}")
"""The payload of an event that has none."""


class StoredEvent(msgspec.Struct, array_like=True, frozen=True):
    """One validated event, in `events` table column order.

    Built so that encoding it is one C-speed msgspec call ClickHouse can parse without
    this process touching the event again: timestamps are timezone-aware datetimes
    (encoded as RFC 3339), and the JSON payloads (properties, traits, context) are the
    client's own JSON object bytes, inlined as they came. `experiment_id`/`variation_id`
    are pulled out of exposure events so analysis never parses JSON for them.
    """

    message_id: str
    type: str
    event: str
    name: str
    user_id: str
    anonymous_id: str
    group_id: str
    previous_id: str
    timestamp: datetime
    original_timestamp: datetime
    sent_at: datetime
    received_at: datetime
    properties: msgspec.Raw
    traits: msgspec.Raw
    context: msgspec.Raw
    experiment_id: str
    variation_id: str
