"""Migration 5 on a store that already holds events: links and identified ids are backfilled
from `events`, so persons derive as if the views had seen every message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collector.persons.derivation import derive_persons
from collector.persons.resolution import person_id
from collector.storage import connect, encode_rows, insert_rows, migrate, schema
from collector.wire import decode_batch, received_now
from tests.reference.persons import resolve

MESSAGES = [
    {"type": "track", "event": "Viewed", "anonymousId": "anon-1", "messageId": "b1"},
    {"type": "identify", "userId": "user-1", "anonymousId": "anon-1", "messageId": "b2"},
    {"type": "alias", "userId": "user-2", "previousId": "anon-2", "messageId": "b3"},
    {"type": "identify", "userId": "user-3", "anonymousId": "anon-1", "messageId": "b4"},  # refused
]


def test_backfill_derives_the_persons_of_events_stored_before_the_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = connect(f"chdb://{tmp_path}/store")
    with monkeypatch.context() as before_persons:
        before_persons.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:4])
        assert migrate(client) == [1, 2, 3, 4]
    batch = decode_batch(json.dumps({"batch": MESSAGES}).encode(), received_now(), 32_000)
    insert_rows(client, encode_rows(batch.accepted))

    assert migrate(client) == [5]
    derived = derive_persons(client)

    assert (derived.links, derived.refusals) == (3, 1)
    stored = client.query("SELECT message_id, toString(timestamp) FROM events").result_rows
    times = dict(stored)
    expected = resolve([{**m, "timestamp": times[m["messageId"]].replace(" ", "T") + "+00:00"} for m in MESSAGES])
    for distinct_id, expected_person in expected.items():
        got = client.query(f"SELECT {person_id('{id:String}')}", parameters={"id": distinct_id}).result_rows[0][0]
        assert got == expected_person, distinct_id
    client.close()
