"""Loading Segment-shaped messages straight into the events table (by SQL, for speed), for insight tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

from collector.events import SegmentMessage
from collector.persons.derivation import derive_persons
from collector.storage.clickhouse import Client
from collector.storage.events import EVENT_COLUMNS, encode_rows, insert_rows

_DERIVED_TABLES = ("events", "identity_links", "identified_ids", "person_overrides")


def event_row(message: dict[str, Any]) -> list[Any]:
    """The `events` row the collector would store for `message` (its time taken as sent)."""
    at = message["timestamp"]
    return [message["messageId"], message["type"], message.get("event", ""), message.get("name", ""), message.get("userId", ""),
            message.get("anonymousId", ""), "", "", at, at, at, at, json.dumps(message.get("properties", {})),
            json.dumps(message.get("traits", {})), "{}", "", ""]


def load(client: Client, messages: list[dict[str, Any]], *, replace: bool = True) -> None:
    """Insert `messages` as events rows (after emptying the table when `replace`)."""
    if replace:
        client.command("TRUNCATE TABLE events")
    if messages:
        client.insert("events", [event_row(m) for m in messages], column_names=EVENT_COLUMNS)


def ingest(client: Client, messages: list[dict[str, Any]]) -> None:
    """Replace the store's events with `messages` inserted the way the collector inserts them
    (through `events_input`, so the identity views see them), then derive persons."""
    for table in _DERIVED_TABLES:
        client.command(f"TRUNCATE TABLE {table}")
    if messages:
        wire = [msgspec.json.decode(msgspec.json.encode({**m, "receivedAt": m["timestamp"]}), type=SegmentMessage)
                for m in messages]
        insert_rows(client, encode_rows(wire))
    derive_persons(client)


def rows_of(client: Client) -> Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]:
    """The `rows` function an engine takes, over `client` (no analytical limits)."""
    def rows(sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        return list(client.query(sql, parameters=parameters).result_rows)
    return rows
