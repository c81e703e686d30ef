"""Acknowledged means durable: crashes, restarts, store outages and shutdowns lose nothing."""

from __future__ import annotations

import asyncio
import signal
import struct
import threading
import time
import uuid

import httpx

from collector.dead_letter import DeadLetters
from collector.storage import connect
from collector.wal import WriteAheadLog
from collector.wal.records import HEADER_SIZE
from collector.wal.segments import segment_path
from collector.wire import decode_batch, received_now
from collector.writer import EventWriter, log_record
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


class _Sender:
    """Threads posting batches of unique events, remembering which ones were acknowledged."""

    def __init__(self, url: str, write_key: str, threads: int = 4, batch_size: int = 50) -> None:
        self.url = url
        self.write_key = write_key
        self.batch_size = batch_size
        self.acknowledged: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(threads)]

    def start(self) -> _Sender:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.acknowledged) >= count, f"only {len(self.acknowledged)} acknowledged"

    def _run(self, number: int) -> None:
        with httpx.Client(auth=(self.write_key, ""), timeout=10) as client:
            while not self._stop.is_set():
                ids = [f"t{number}-{uuid.uuid4().hex}" for _ in range(self.batch_size)]
                batch = [{"type": "track", "event": "Durable", "userId": f"user-{number}",
                          "messageId": message_id, "properties": {"n": index}}
                         for index, message_id in enumerate(ids)]
                try:
                    response = client.post(self.url + "/v1/batch", json={"batch": batch})
                except httpx.HTTPError:
                    return  # the collector went away: this batch was never acknowledged
                if response.status_code == 200:
                    with self._lock:
                        self.acknowledged.extend(ids)


def _post_until_refused(collector: CollectorProcess, prefix: str) -> tuple[list[str], httpx.Response | None]:
    """Post 100-event batches (~30 KB) until one is not acknowledged: the ids acknowledged, and that answer."""
    acknowledged: list[str] = []
    with httpx.Client(auth=(collector.write_key, ""), timeout=30) as client:
        for number in range(100):
            ids = [f"{prefix}-{number}-{n}" for n in range(100)]
            batch = [{"type": "track", "event": prefix, "userId": "u", "messageId": i,
                      "properties": {"padding": "x" * 200}} for i in ids]
            response = client.post(collector.url + "/v1/batch", json={"batch": batch})
            if response.status_code != 200:
                return acknowledged, response
            acknowledged += ids
    return acknowledged, None


def _assert_all_stored_once(api: AdminClient, acknowledged: list[str]) -> None:
    api.wait_until_stored()
    report = api.verify(acknowledged)
    assert report["missing"] == [], f"{len(report['missing'])} acknowledged events lost"
    assert report["duplicated"] == []
    assert report["extra_copies"] == 0  # nothing was resent, so nothing is stored twice


def test_kill_9_mid_load_loses_and_duplicates_nothing(fresh_collector: CollectorProcess) -> None:
    fresh_collector.start()
    sender = _Sender(fresh_collector.url, fresh_collector.write_key).start()
    sender.wait_for(5_000)
    fresh_collector.stop(signal.SIGKILL)
    sender.stop()
    acknowledged = list(sender.acknowledged)

    fresh_collector.start()
    api = AdminClient(fresh_collector.url, fresh_collector.admin_secret)
    _assert_all_stored_once(api, acknowledged)


def test_sigterm_drains_into_clickhouse_and_exits_cleanly(fresh_collector: CollectorProcess) -> None:
    fresh_collector.start()
    sender = _Sender(fresh_collector.url, fresh_collector.write_key).start()
    sender.wait_for(2_000)
    exit_code = fresh_collector.stop(signal.SIGTERM)
    sender.stop()
    assert exit_code == 0, fresh_collector.log()

    fresh_collector.start()
    api = AdminClient(fresh_collector.url, fresh_collector.admin_secret)
    assert api.status()["backlog_records"] == 0  # everything was inserted before exit
    _assert_all_stored_once(api, list(sender.acknowledged))


def test_events_acknowledged_while_clickhouse_is_down_arrive_when_it_returns(
    fresh_collector: CollectorProcess,
) -> None:
    unreachable = ("--clickhouse-dsn", "http://127.0.0.1:9/")
    down = CollectorProcess(fresh_collector.data_dir, port=fresh_collector.port, extra_args=unreachable)
    down.start()
    api = AdminClient(down.url, down.admin_secret)
    ids = [f"outage-{n}" for n in range(300)]
    batch = [{"type": "track", "event": "Outage", "userId": "u", "messageId": i} for i in ids]
    response = httpx.post(down.url + "/v1/batch", json={"batch": batch}, auth=(down.write_key, ""))
    assert response.status_code == 200 and response.json()["accepted"] == 300

    ready = httpx.get(down.url + "/ready")
    assert ready.status_code == 503 and "ClickHouse unreachable" in ready.json()["problems"][0]
    assert api.status()["backlog_records"] == 1
    assert down.stop(signal.SIGTERM) == 0

    fresh_collector.start()  # same data directory, the embedded store is back
    api = AdminClient(fresh_collector.url, fresh_collector.admin_secret)
    assert httpx.get(fresh_collector.url + "/ready").status_code == 200
    _assert_all_stored_once(api, ids)


def test_past_the_log_budget_the_collector_answers_503_and_keeps_what_it_acknowledged(
    fresh_collector: CollectorProcess,
) -> None:
    outage = ("--clickhouse-dsn", "http://127.0.0.1:9/", "--log-budget-mb", "1")
    down = CollectorProcess(fresh_collector.data_dir, port=fresh_collector.port, extra_args=outage)
    down.start()
    acknowledged, refused = _post_until_refused(down, "budget")
    assert refused is not None, "1 MB of log budget never filled"
    assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
    assert "budget" in refused.json()["error"]
    assert 'northstar_requests_refused_total{reason="backpressure"} 1.0' in httpx.get(down.url + "/metrics").text
    assert down.stop(signal.SIGTERM) == 0

    fresh_collector.start()
    _assert_all_stored_once(AdminClient(fresh_collector.url, fresh_collector.admin_secret), acknowledged)


def test_a_disk_that_refuses_writes_gets_503_and_loses_nothing_acknowledged(
    fresh_collector: CollectorProcess,
) -> None:
    """Files capped at 1 MB stand in for a full disk: the log's write fails, the client is told to retry."""
    outage = ("--clickhouse-dsn", "http://127.0.0.1:9/")
    full = CollectorProcess(fresh_collector.data_dir, port=fresh_collector.port, extra_args=outage,
                            max_file_bytes=1 << 20)
    full.start()
    acknowledged, refused = _post_until_refused(full, "disk")
    assert refused is not None, "the 1 MB file cap never stopped the log"
    assert refused.status_code == 503 and refused.headers["Retry-After"].isdigit()
    assert "cannot write its log" in refused.json()["error"]
    assert httpx.get(full.url + "/health").status_code == 200
    assert any("log writes failing" in problem for problem in httpx.get(full.url + "/ready").json()["problems"])
    assert 'northstar_requests_refused_total{reason="log_unavailable"} 1.0' in httpx.get(full.url + "/metrics").text
    assert full.stop(signal.SIGTERM) == 0

    fresh_collector.start()
    _assert_all_stored_once(AdminClient(fresh_collector.url, fresh_collector.admin_secret), acknowledged)


def test_metrics_count_what_happened(fresh_collector: CollectorProcess) -> None:
    fresh_collector.start()
    auth = (fresh_collector.write_key, "")
    batch = [{"type": "track", "event": "Counted", "userId": "u"}, {"type": "track", "userId": "u"}]
    httpx.post(fresh_collector.url + "/v1/batch", json={"batch": batch}, auth=auth)
    httpx.post(fresh_collector.url + "/v1/batch", json={"batch": batch}, auth=("wrong", ""))
    AdminClient(fresh_collector.url, fresh_collector.admin_secret).wait_until_stored()

    text = httpx.get(fresh_collector.url + "/metrics").text
    assert "northstar_events_accepted_total 1.0" in text
    assert "northstar_events_stored_total 1.0" in text
    assert 'northstar_events_rejected_total{reason="invalid"} 1.0' in text
    assert 'northstar_requests_refused_total{reason="unauthorized"} 1.0' in text
    assert 'northstar_request_seconds_count{api="segment"} 2.0' in text
    assert "northstar_insert_rows_count 1.0" in text
    assert "northstar_log_backlog_records 0.0" in text
    assert "northstar_log_fsyncs_total 1.0" in text


def test_secrets_that_look_like_flags_still_work(tmp_path) -> None:
    """Generated keys (secrets.token_urlsafe) may start with '-'."""
    secret = "-secret-of-sixteen-characters"
    with CollectorProcess(tmp_path / "c", write_key="-key", admin_secret=secret, sdk_key="-sdk-key-of-16-chars") as collector:
        batch = {"batch": [{"type": "track", "event": "Dash", "userId": "u"}]}
        response = httpx.post(collector.url + "/v1/batch", json=batch, auth=("-key", ""))
        assert response.status_code == 200
        assert AdminClient(collector.url, secret).status()["accepted"] == 1
        assert httpx.get(collector.url + "/v1/sdk/definitions", auth=("-sdk-key-of-16-chars", "")).status_code == 200


def test_a_logged_record_clickhouse_refuses_is_kept_aside_and_the_rest_flows(
    fresh_collector: CollectorProcess,
) -> None:
    """A record ClickHouse cannot parse must not block everything behind it."""
    fresh_collector.start()
    api = AdminClient(fresh_collector.url, fresh_collector.admin_secret)
    before = [f"before-{n}" for n in range(20)]
    batch = [{"type": "track", "event": "Flow", "userId": "u", "messageId": i} for i in before]
    assert httpx.post(fresh_collector.url + "/v1/batch", json={"batch": batch},
                      auth=(fresh_collector.write_key, "")).status_code == 200
    api.wait_until_stored()
    assert fresh_collector.stop(signal.SIGTERM) == 0

    # One chunk holding a record ClickHouse refuses and a good one.
    current = decode_batch(b'{"batch":[{"type":"track","event":"Flow","userId":"u","messageId":"current"}]}',
                           received_now(), 32_000).accepted
    wal = WriteAheadLog.open(fresh_collector.data_dir / "wal")

    async def plant() -> None:
        for payload in (struct.pack("<I", 2) + b'["not","a","row"],["x"]', log_record(current)):
            await wal.wait_durable(wal.write(payload))

    asyncio.run(plant())
    wal.close()

    fresh_collector.start()
    after = [f"after-{n}" for n in range(20)]
    batch = [{"type": "track", "event": "Flow", "userId": "u", "messageId": i} for i in after]
    assert httpx.post(fresh_collector.url + "/v1/batch", json={"batch": batch},
                      auth=(fresh_collector.write_key, "")).status_code == 200
    status = api.wait_until_stored()
    assert status["dead_lettered"] == 2
    _assert_all_stored_once(api, [*before, "current", *after])
    (kept,) = (fresh_collector.data_dir / "dead-letter").iterdir()
    reason, rows = kept.read_bytes().split(b"\n", 1)
    assert reason.startswith(b"# ") and b"Code: 27" in reason
    assert rows == b'["not","a","row"],["x"]'
    assert "northstar_events_dead_lettered_total 2.0" in httpx.get(fresh_collector.url + "/metrics").text


def test_a_record_damaged_after_it_was_logged_is_reported_and_the_writer_keeps_running(tmp_path) -> None:
    """Damage the disk does after a record was written stops inserts behind it (nothing is
    skipped silently); the writer thread survives, retries, and says why."""
    wal = WriteAheadLog.open(tmp_path / "wal")
    good = decode_batch(b'{"batch":[{"type":"track","event":"Rot","userId":"u","messageId":"rot"}]}',
                        received_now(), 32_000).accepted
    asyncio.run(wal.wait_durable(wal.write(log_record(good))))
    with open(segment_path(tmp_path / "wal", 1), "r+b") as segment:  # flip a payload byte
        segment.seek(HEADER_SIZE + 8)
        byte = segment.read(1)
        segment.seek(HEADER_SIZE + 8)
        segment.write(bytes([byte[0] ^ 0xFF]))
    store = connect(f"chdb://{tmp_path / 'clickhouse'}")
    writer = EventWriter(wal, lambda: store, flush_interval_seconds=0.05, flush_max_bytes=1 << 20,
                         dead_letters=DeadLetters(tmp_path / "dead-letter"))
    writer.start()
    try:
        deadline = time.monotonic() + 30
        while writer.log_problem() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "checksum mismatch" in (writer.log_problem() or "")
        time.sleep(0.5)  # past a retry: still reported, still not inserted
        assert "checksum mismatch" in (writer.log_problem() or "")
        assert writer.counters().stored == 0
    finally:
        writer.stop(drain_timeout=5)
        store.close()
