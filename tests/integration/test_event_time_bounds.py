"""Client clocks cannot explode the partitions: the attack of issue 13 (batches dated over
years 1–700) against a real collector, and what the live and import routes store."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from collector.storage import connect, migrate
from collector.storage.events import encode_rows, insert_rows
from collector.storage.schema import MIGRATIONS
from collector.wire import decode_batch
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

_PARTS = "SELECT uniqExact(partition), count() FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active"


def _post(collector: CollectorProcess, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(collector.url + path, content=gzip.compress(json.dumps(body).encode()),
                      headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                      auth=(collector.write_key, ""), timeout=60)


def _spanning_years_1_to_700(user: str, count: int) -> list[dict[str, object]]:
    months = 700 * 12
    return [{"type": "track", "event": "Attack", "userId": user, "messageId": f"{user}-{n}",
             "properties": {"n": n},
             "timestamp": f"{1 + (n * months // count) // 12:04d}-{1 + (n * months // count) % 12:02d}-15T00:00:00Z"}
            for n in range(count)]


def test_timestamps_over_centuries_create_no_partitions_and_delay_nothing(tmp_path: Path) -> None:
    collector = CollectorProcess(tmp_path / "collector")
    with collector:
        api = AdminClient(collector.url, collector.admin_secret)
        attacker = f"attacker-{uuid.uuid4().hex[:8]}"
        for batch in range(2):  # 2 x 2,100 events: before the fix, 4,200 monthly partitions
            events = _spanning_years_1_to_700(f"{attacker}-{batch}", 2_100)
            assert _post(collector, "/v1/batch", {"batch": events}).json()["accepted"] == 2_100
        sent = time.monotonic()
        assert _post(collector, "/v1/batch", {"batch": [
            {"type": "track", "event": "Normal", "userId": "after-attack", "messageId": "normal-1"}]}).status_code == 200
        while api.events(user_id="after-attack")["total"] == 0 and time.monotonic() - sent < 10:
            time.sleep(0.05)
        latency = time.monotonic() - sent
        assert api.events(user_id="after-attack")["total"] == 1, f"not stored {latency:.1f}s after it was sent"
        stored = api.events(user_id=f"{attacker}-0", limit=1)["events"][0]
        assert stored["client_timestamp"].startswith(("0", "1", "2")) and len(stored["client_timestamp"]) >= 19
        assert abs(stored["timestamp"] - stored["received_at"]) < 1
        api.wait_until_stored()
    store = connect(f"chdb://{(tmp_path / 'collector' / 'clickhouse').resolve()}")
    try:
        ((partitions, parts),) = store.query(_PARTS).result_rows
    finally:
        store.close()
    assert partitions <= 2  # this month, and the next if the test ran across midnight of the 1st
    assert parts <= 10


def test_import_stores_years_old_events_as_dated_and_refuses_others_by_index(
    collector: CollectorProcess, api: AdminClient
) -> None:
    user = f"backfill-{uuid.uuid4().hex[:8]}"
    three_years_ago = datetime.now(timezone.utc) - timedelta(days=3 * 365)
    events = [
        {"type": "track", "event": "Backfilled", "userId": user, "messageId": f"{user}-old",
         "timestamp": three_years_ago.isoformat()},
        {"type": "track", "event": "Backfilled", "userId": user, "messageId": f"{user}-ancient",
         "timestamp": "0042-01-01T00:00:00Z"},
    ]
    response = _post(collector, "/v1/import", {"batch": events})

    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    [rejection] = response.json()["rejected"]
    assert rejection["index"] == 1 and "0042-01-01" in rejection["reason"] and "window" in rejection["reason"]
    api.wait_until_stored()
    [stored] = api.events(user_id=user)["events"]
    assert round(stored["timestamp"]) == round(three_years_ago.timestamp())
    assert stored["client_timestamp"] == ""
    # The same events on the live route: the old one too is stored at its receive time.
    live = _post(collector, "/v1/batch", {"batch": [dict(event, userId=f"{user}-live") for event in events]})
    assert live.json()["accepted"] == 2


def test_the_view_stores_an_event_without_a_time_at_receipt_whatever_its_sent_at(tmp_path: Path) -> None:
    received = datetime(2026, 3, 1, 12, 0, 5, tzinfo=timezone.utc)
    store = connect(f"chdb://{tmp_path / 'chdb'}")
    try:
        migrate(store)
        for statement in MIGRATIONS[-1].statements:  # every statement may run twice (a crash mid-migration)
            store.command(statement)
        body = json.dumps({"sentAt": (received + timedelta(hours=3)).isoformat(), "batch": [
            {"type": "track", "event": "E", "userId": "no-time", "messageId": "no-time"},
            {"type": "track", "event": "E", "userId": "no-time", "messageId": "ancient",
             "timestamp": "0042-01-01T00:00:00Z"}]}).encode()
        insert_rows(store, encode_rows(decode_batch(body, received, 32_000).accepted))
        rows = store.query("SELECT message_id, toUnixTimestamp64Milli(timestamp), toUnixTimestamp64Milli(original_timestamp),"
                           " client_timestamp FROM events ORDER BY message_id").result_rows
    finally:
        store.close()
    at_receipt = round(received.timestamp() * 1000)
    assert rows == [("ancient", at_receipt, at_receipt, "0042-01-01T00:00:00Z"), ("no-time", at_receipt, at_receipt, "")]
