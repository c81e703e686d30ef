"""A chDB store for engine tests: events loaded by one columnar insert, the table emptied between cases."""

from __future__ import annotations

import datetime as dt
import json

from collector.persons.derivation import derive_persons
from collector.storage.clickhouse import Client
from collector.storage.events import EVENT_COLUMNS
from insights_reference import RefEvent

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def load(store: Client, events: list[RefEvent], aliases: tuple[tuple[str, str], ...] = ()) -> None:
    """Replace every stored event with `events` (and Segment alias messages previous_id -> user_id),
    then derive persons from the aliases (what ingestion's `events_input` view and the server's
    derivation task do; rows inserted straight into `events` bypass the view)."""
    store.command("TRUNCATE TABLE events")
    store.command("TRUNCATE TABLE identity_links")
    rows = []
    for n, e in enumerate(events):
        at = EPOCH + dt.timedelta(milliseconds=e.t)
        properties = json.dumps({} if e.plan is None else {"plan": e.plan})
        rows.append([f"m{n}", "track", e.name, "", e.person, "", "", "", at, at, at, at, properties, "{}", "{}", "", ""])
    for n, (previous, user) in enumerate(aliases):
        at = EPOCH
        rows.append([f"a{n}", "alias", "", "", user, "", "", previous, at, at, at, at, "{}", "{}", "{}", "", ""])
    if rows:
        store.insert("events", rows, column_names=EVENT_COLUMNS)
    if aliases:
        store.insert("identity_links", [[f"a{n}", "alias", EPOCH, user, previous] for n, (previous, user) in enumerate(aliases)],
                     column_names=["message_id", "kind", "timestamp", "user_id", "other_id"])
    derive_persons(store)
