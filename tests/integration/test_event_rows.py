"""The rows the log keeps, as ClickHouse parses them: exact instants, payload text byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from collector.storage.events import encode_rows, insert_rows
from collector.wire import decode_batch

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


def test_rows_logged_by_earlier_versions_still_insert(client: Client) -> None:
    """Logs written before timestamps became RFC 3339 text replay after an upgrade."""
    earlier = (b'["old","track","E","","legacy","","","",1772366400.25,1772366400.25,0,1772366405.678,'
               b'"{\\"a\\":1}","{}","{}","",""]')
    insert_rows(client, earlier)

    ((_, timestamp, original, sent_at, received_at, properties, *_),) = client.query(
        _READ_BACK, parameters={"user": "legacy"}).result_rows
    assert (timestamp, original, sent_at, received_at) == (_ms(INSTANT), _ms(INSTANT), 0, _ms(RECEIVED))
    assert properties == '{"a":1}'
