"""Column-oriented inserts of validated events into the `events` table."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter

from collector.events import StoredEvent
from collector.storage.clickhouse import Client

__all__ = ["EVENT_COLUMNS", "insert_events"]

EVENT_COLUMNS: tuple[str, ...] = (
    "message_id",
    "type",
    "event",
    "name",
    "user_id",
    "anonymous_id",
    "group_id",
    "previous_id",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "received_at",
    "properties",
    "traits",
    "context",
    "experiment_id",
    "variation_id",
)
assert len(EVENT_COLUMNS) == len(StoredEvent.__struct_fields__)
_event_values = attrgetter(*StoredEvent.__struct_fields__)


def insert_events(
    client: Client, events: Sequence[StoredEvent], deduplication_token: str | None = None
) -> None:
    """Insert events in one column-oriented call.

    Timestamps go in as epoch-millisecond integers (a quarter cheaper than datetimes).
    The same `deduplication_token` makes ClickHouse drop a repeated insert of one chunk.
    """
    if not events:
        return
    columns = list(zip(*map(_event_values, events)))
    settings = {"insert_deduplication_token": deduplication_token} if deduplication_token else None
    client.insert(
        "events",
        columns,
        column_names=EVENT_COLUMNS,
        column_oriented=True,
        settings=settings,
    )
