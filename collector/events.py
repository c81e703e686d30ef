"""The stored shape of one event: what validation produces, the log keeps and ClickHouse holds."""

from __future__ import annotations

import msgspec

__all__ = ["StoredEvent", "EXPOSURE_EVENT", "MESSAGE_TYPES"]

EXPOSURE_EVENT = "Experiment Viewed"
"""Segment's spec event for an experiment exposure, with experiment_id/variation_id properties."""

MESSAGE_TYPES = frozenset({"track", "identify", "page", "screen", "group", "alias"})


class StoredEvent(msgspec.Struct, array_like=True, frozen=True):
    """One validated event, in `events` table column order.

    Timestamps are epoch seconds (UTC) with millisecond precision, as floats: encoded as
    JSON they are numbers like 1795696431.266 that ClickHouse parses exactly into
    DateTime64(3). `sent_at` is 0 when the client sent none.
    JSON payloads (properties, traits, context) are kept as the client's JSON text;
    `experiment_id`/`variation_id` are pulled out of exposure events so analysis never
    parses JSON for them.
    """

    message_id: str
    type: str
    event: str
    name: str
    user_id: str
    anonymous_id: str
    group_id: str
    previous_id: str
    timestamp: float
    original_timestamp: float
    sent_at: float
    received_at: float
    properties: str
    traits: str
    context: str
    experiment_id: str
    variation_id: str
