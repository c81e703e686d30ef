"""The `events` table: inserting validated events, and reading them back for operators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from collector.events import SegmentMessage
from collector.storage.clickhouse import Client

__all__ = [
    "EVENT_COLUMNS", "encode_rows", "insert_rows",
    "recent_events", "count_events", "stored_copies",
]

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
_row_encoder = msgspec.json.Encoder()


# How ClickHouse reads the rows: RFC 3339 timestamps, the payloads' JSON objects into String
# columns as their text, numeric ids as their digits, the write key (if a client sent one)
# skipped. One parser thread per insert: parallel parsing costs ~20% more CPU per row
# (measured), CPU the collector needs for requests. No cap on the months (partitions) one
# insert touches: the collector bounds them (`collector.event_time`: ≤ 122 for a chunk of
# ten-year backfills, above ClickHouse's default cap of 100), and a chunk refused for
# spanning too many would stall every event logged after it. The dedup token reaches
# `events` through the materialized view.
_INSERT_SETTINGS = {
    "date_time_input_format": "best_effort",
    "input_format_json_read_objects_as_strings": 1,
    "input_format_json_read_numbers_as_strings": 1,
    "input_format_skip_unknown_fields": 1,
    "input_format_parallel_parsing": 0,
    "max_partitions_per_insert_block": 0,
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


def encode_rows(messages: Sequence[SegmentMessage]) -> bytes:
    """Messages as comma-separated JSON objects, for `insert_rows`.

    One C-speed encode of the whole list (the outer brackets dropped): ClickHouse parses
    and derives the rows itself, so inserting them costs this process no per-event work.
    """
    return _row_encoder.encode(messages)[1:-1]


def insert_rows(
    client: Client,
    rows: bytes,
    deduplication_token: str | None = None,
    settings: Mapping[str, object] | None = None,
) -> None:
    """Insert rows made by `encode_rows` (joined with commas) in one call, through `events_input`."""
    insert_settings = {**_INSERT_SETTINGS, **(settings or {})}
    if deduplication_token:
        insert_settings["insert_deduplication_token"] = deduplication_token
    client.raw_insert("events_input", None, rows, settings=insert_settings, fmt="JSONEachRow")


_RECENT_EVENTS_SQL = """
SELECT message_id, type, event, name, user_id, anonymous_id, group_id, previous_id,
       toUnixTimestamp64Milli(timestamp) / 1000, toUnixTimestamp64Milli(original_timestamp) / 1000,
       toUnixTimestamp64Milli(sent_at) / 1000, toUnixTimestamp64Milli(received_at) / 1000,
       properties, traits, context, experiment_id, variation_id, client_timestamp
FROM events
WHERE ({event:String} = '' OR event = {event:String})
  AND ({type:String} = '' OR type = {type:String})
  AND ({user_id:String} = '' OR user_id = {user_id:String})
ORDER BY received_at DESC, message_id
LIMIT 1 BY message_id
LIMIT {limit:UInt32}
"""

_COUNT_EVENTS_SQL = """
SELECT uniqExact(message_id) FROM events
WHERE ({event:String} = '' OR event = {event:String})
  AND ({type:String} = '' OR type = {type:String})
  AND ({user_id:String} = '' OR user_id = {user_id:String})
"""


def recent_events(
    client: Client, *, event: str = "", type: str = "", user_id: str = "", limit: int = 100
) -> list[dict[str, object]]:
    """The latest stored events matching the filters (empty = any), each message id once.

    Timestamps are epoch seconds; payloads are the client's JSON text; `client_timestamp` is
    the client's own time (RFC 3339 text) of an event it dated outside the accepted window,
    else empty.
    """
    parameters = {"event": event, "type": type, "user_id": user_id, "limit": limit}
    rows = client.query(_RECENT_EVENTS_SQL, parameters=parameters).result_rows
    return [dict(zip((*EVENT_COLUMNS, "client_timestamp"), row)) for row in rows]


def count_events(client: Client, *, event: str = "", type: str = "", user_id: str = "") -> int:
    """Distinct message ids matching the filters: resent copies count once."""
    parameters = {"event": event, "type": type, "user_id": user_id}
    return int(client.query(_COUNT_EVENTS_SQL, parameters=parameters).result_rows[0][0])


_VERIFY_CHUNK = 10_000
_STORED_COPIES_SQL = """
SELECT message_id, count() FROM events __FINAL__
WHERE message_id IN {message_ids:Array(String)}
GROUP BY message_id
"""


def stored_copies(client: Client, message_ids: Sequence[str], *, collapsed: bool) -> dict[str, int]:
    """Rows per message id; absent ids are missing.

    `collapsed=True` counts as queries see them after ReplacingMergeTree collapsing (FINAL),
    so a client's resend of an identical event counts once; False counts physical rows.
    """
    sql = _STORED_COPIES_SQL.replace("__FINAL__", "FINAL" if collapsed else "")
    copies: dict[str, int] = {}
    # Past ~22k values the IN list stops using the primary key and the query slows 40-fold
    # (measured on chDB), so ask in chunks that stay on the fast plan.
    for start in range(0, len(message_ids), _VERIFY_CHUNK):
        chunk = list(message_ids[start:start + _VERIFY_CHUNK])
        copies.update((message_id, count) for message_id, count in
                      client.query(sql, parameters={"message_ids": chunk}).result_rows)
    return copies
