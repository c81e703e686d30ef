"""What ClickHouse stores from a logged message: exact instants, payload text byte for byte,
defaults, clock-skew correction and exposure ids (schema migration 3), and rows logged by
earlier versions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from collector.storage.events import encode_rows, insert_rows
from collector.wire import decode_batch, decode_single

RECEIVED = datetime(2026, 3, 1, 12, 0, 5, 678000, tzinfo=timezone.utc)
INSTANT = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
PROPERTIES = '{ "name" : "Zoë ☕", "quote": "a\\"b\\u00e9\\n", "nested": {"list": [1, 2.5e3, null, true]} }'

_READ_BACK = """
SELECT message_id, toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(original_timestamp),
       toUnixTimestamp64Milli(sent_at), toUnixTimestamp64Milli(received_at), properties, traits, context
FROM events WHERE user_id = {user:String} ORDER BY message_id
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    store = connect(f"chdb://{Path(tmp_path_factory.mktemp('chdb'))}")
    migrate(store)
    yield store
    store.close()


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def test_timestamps_in_any_zone_are_stored_as_the_same_instant_and_payloads_verbatim(client: Client) -> None:
    forms = {"utc": "2026-03-01T12:00:00.250Z", "offset": "2026-03-01T14:00:00.250+02:00",
             "naive": "2026-03-01T12:00:00.250", "micro": "2026-03-01T12:00:00.250999Z"}
    events = ",".join(
        f'{{"type":"track","event":"Zoned","userId":"zones","messageId":"{name}","timestamp":"{form}",'
        f'"properties":{PROPERTIES},"context":{{"ip":"203.0.113.7"}}}}'
        for name, form in forms.items()
    )
    body = f'{{"sentAt":"2026-03-01T12:00:05Z","batch":[{events}]}}'.encode()
    decoded = decode_batch(body, RECEIVED, 32_000)
    assert decoded.rejected == []

    insert_rows(client, encode_rows(decoded.accepted))

    rows = client.query(_READ_BACK, parameters={"user": "zones"}).result_rows
    assert [row[0] for row in rows] == sorted(forms)
    for _, timestamp, original, sent_at, received_at, properties, traits, context in rows:
        assert timestamp == original == _ms(INSTANT)  # 0.6 s of skew is transit, not corrected
        assert (sent_at, received_at) == (_ms(datetime(2026, 3, 1, 12, 0, 5, tzinfo=timezone.utc)), _ms(RECEIVED))
        assert (properties, traits, context) == (PROPERTIES, "{}", '{"ip":"203.0.113.7"}')


def test_corrected_skew_lands_in_timestamp_and_the_device_time_in_original(client: Client) -> None:
    device_now = RECEIVED + timedelta(hours=3)
    body = (f'{{"sentAt":"{device_now.isoformat()}","batch":[{{"type":"track","event":"E","userId":"skew",'
            f'"messageId":"s","timestamp":"{(device_now - timedelta(minutes=10)).isoformat()}"}}]}}').encode()
    insert_rows(client, encode_rows(decode_batch(body, RECEIVED, 32_000).accepted))

    ((_, timestamp, original, *_),) = client.query(_READ_BACK, parameters={"user": "skew"}).result_rows
    assert timestamp == _ms(RECEIVED - timedelta(minutes=10))
    assert original == _ms(device_now - timedelta(minutes=10))


_COLUMNS = """
SELECT message_id, type, event, name, user_id, anonymous_id, group_id, previous_id,
       toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(original_timestamp),
       toUnixTimestamp64Milli(sent_at), toUnixTimestamp64Milli(received_at),
       properties, traits, context, experiment_id, variation_id
FROM events WHERE message_id IN {ids:Array(String)} ORDER BY message_id
"""
_NAMES = ("message_id", "type", "event", "name", "user_id", "anonymous_id", "group_id", "previous_id",
          "timestamp", "original_timestamp", "sent_at", "received_at", "properties", "traits", "context",
          "experiment_id", "variation_id")


def _stored(client: Client, *events: dict, sent_at: datetime | None = None) -> list[dict]:
    """Decode a batch of `events` received at RECEIVED, insert it, and read its rows back."""
    envelope = {"batch": list(events)} | ({"sentAt": sent_at.isoformat()} if sent_at else {})
    decoded = decode_batch(msgspec.json.encode(envelope), RECEIVED, 32_000)
    assert decoded.rejected == []
    insert_rows(client, encode_rows(decoded.accepted))
    ids = [message.message_id for message in decoded.accepted]
    return [dict(zip(_NAMES, row)) for row in client.query(_COLUMNS, parameters={"ids": ids}).result_rows]


def test_exposure_properties_fill_typed_columns_and_numeric_ids_are_text(client: Client) -> None:
    (row,) = _stored(client, {"type": "track", "event": "Experiment Viewed", "userId": 7, "messageId": "x1",
                              "properties": {"experiment_id": "exp", "variation_id": 2, "extra": True}})
    assert (row["user_id"], row["experiment_id"], row["variation_id"]) == ("7", "exp", "2")
    (other,) = _stored(client, {"type": "track", "event": "Other", "userId": "u", "messageId": "x2",
                                "properties": {"experiment_id": "exp", "variation_id": "a"}})
    assert (other["experiment_id"], other["variation_id"]) == ("", "")


def test_absent_fields_get_their_defaults(client: Client) -> None:
    (row,) = _stored(client, {"type": "identify", "anonymousId": "anon", "messageId": "d1"})
    assert (row["type"], row["event"], row["name"], row["user_id"], row["anonymous_id"]) == (
        "identify", "", "", "", "anon")
    assert (row["group_id"], row["previous_id"], row["properties"], row["traits"], row["context"]) == (
        "", "", "{}", "{}", "{}")
    # No client timestamp means when it arrived; no sentAt is the epoch.
    assert (row["timestamp"], row["original_timestamp"], row["sent_at"]) == (_ms(RECEIVED), _ms(RECEIVED), 0)


def test_naive_timestamps_are_utc_and_original_timestamp_stands_in(client: Client) -> None:
    naive, original = _stored(
        client,
        {"type": "track", "event": "E", "userId": "u", "messageId": "n1", "timestamp": "2026-03-01T12:00:00.250"},
        {"type": "track", "event": "E", "userId": "u", "messageId": "n2",
         "originalTimestamp": "2026-03-01T12:00:00.250Z"},
    )
    assert naive["timestamp"] == naive["original_timestamp"] == _ms(INSTANT)
    assert original["timestamp"] == original["original_timestamp"] == _ms(INSTANT)


@pytest.mark.parametrize(("device_ahead_ms", "shifted"), [(0, False), (2_000, False), (-9_000, False),
                                                          (10_001, True), (-3_600_000, True)])
def test_only_real_clock_skew_is_corrected(client: Client, device_ahead_ms: int, shifted: bool) -> None:
    sent_at = RECEIVED + timedelta(milliseconds=device_ahead_ms)
    happened = sent_at - timedelta(minutes=1)
    (row,) = _stored(client, {"type": "track", "event": "E", "userId": "u", "messageId": f"skew{device_ahead_ms}",
                              "timestamp": happened.isoformat()}, sent_at=sent_at)
    assert row["original_timestamp"] == _ms(happened)
    assert row["timestamp"] == _ms(RECEIVED - timedelta(minutes=1) if shifted else happened)


def test_an_events_own_sent_at_corrects_it_alone(client: Client) -> None:
    ahead = (RECEIVED + timedelta(hours=1)).isoformat()  # this device's clock is an hour fast
    corrected, kept = _stored(
        client,
        {"type": "track", "event": "E", "userId": "u", "messageId": "own1", "timestamp": ahead, "sentAt": ahead},
        {"type": "track", "event": "E", "userId": "u", "messageId": "own2",
         "timestamp": (RECEIVED - timedelta(seconds=5)).isoformat()},
    )
    assert (corrected["timestamp"], corrected["sent_at"]) == (_ms(RECEIVED), _ms(RECEIVED + timedelta(hours=1)))
    assert (kept["timestamp"], kept["sent_at"]) == (_ms(RECEIVED - timedelta(seconds=5)), 0)


def test_single_event_paths_store_their_type(client: Client) -> None:
    body = b'{"userId":"single","messageId":"s1","event":"Ignored","traits":{"a":1}}'
    insert_rows(client, encode_rows(decode_single(body, "identify", RECEIVED, 32_000).accepted))
    (row,) = [dict(zip(_NAMES, r)) for r in client.query(_COLUMNS, parameters={"ids": ["s1"]}).result_rows]
    assert (row["type"], row["event"], row["traits"]) == ("identify", "", '{"a":1}')
