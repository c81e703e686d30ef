"""Collector throughput against the raw ClickHouse insert ceiling, measured in one run.

Run: python -m loadtests.bench_collector [--seconds 15] [--connections 16]

(a) Ceiling: rows/s that a bare clickhouse-connect insert reaches into the same chDB
    `events` table, with pre-built columns of the same events, 50,000 rows per insert.
(b) Collector: a real `python -m northstar serve` (fsync on) fed by separate load
    processes posting gzip'd 100-event batches over keep-alive HTTP; acknowledged
    events/s, p50/p99 acknowledgement latency, and the end-to-end rate until every
    acknowledged event is in ClickHouse.
Prints a markdown table and the ratio b/a (goal ≥ 0.5).
(c) Persons: the collector's insert with and without the views that capture identity links
    (migration 5), alternating on one store; the ratio is their insert-time cost.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from collector.storage import connect, migrate
from collector.storage.events import EVENT_COLUMNS, encode_rows, insert_rows
from collector.wire import decode_batch, received_now
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

_EVENTS_PER_BATCH = 100
_CEILING_ROWS_PER_INSERT = 50_000


def make_batch(seed: int) -> bytes:
    """One SDK-shaped batch of 100 track events with a few hundred bytes of properties each."""
    now = time.time()
    batch = [
        {
            "type": "track",
            "event": ("Product Viewed", "Product Added", "Checkout Started")[n % 3],
            "userId": f"user-{seed}-{n % 17}",
            "messageId": str(uuid.uuid4()),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".123Z",
            "properties": {"product_id": f"sku-{seed}-{n}", "price": 19.99 + n, "currency": "USD",
                           "category": "Outdoor", "name": "Trail Runner 2", "quantity": 1 + n % 3},
            "context": {"library": {"name": "northstar-python", "version": "0.1.0"},
                        "ip": "203.0.113.7", "userAgent": "Mozilla/5.0 (X11; Linux x86_64)"},
        }
        for n in range(_EVENTS_PER_BATCH)
    ]
    return json.dumps({"batch": batch, "sentAt": batch[0]["timestamp"]}).encode()


@dataclass(frozen=True)
class LoadResult:
    """Events acknowledged by one load run, over how long, and each request's latency."""

    events: int
    seconds: float
    latencies_ms: list[float]


def _load_worker(port: int, write_key: str, seconds: float, connections: int, seed: int, out, start) -> None:
    """Post pre-built requests over keep-alive sockets from `connections` threads, for
    `seconds` from when every load process is ready (`start`, a barrier).

    Raw sockets and a minimal response parser instead of http.client (~150 µs of CPU a
    request, most of it header parsing): the load generator shares the machine with the
    collector, so every microsecond it spends is taken from the system under test.
    """
    import base64
    import socket
    import threading

    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    requests = []
    for n in range(50):
        body = gzip.compress(make_batch(seed * 1000 + n))
        head = (f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Encoding: gzip\r\nAuthorization: {auth}\r\nContent-Length: {len(body)}\r\n\r\n")
        requests.append(head.encode() + body)
    start.wait()
    deadline = time.perf_counter() + seconds
    acknowledged = [0]
    latencies: list[float] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            connection.sendall(requests[(number + sent) % len(requests)])
            status = _read_response_status(connection)
            elapsed = (time.perf_counter() - started) * 1000
            sent += 1
            if status == 200:
                with lock:
                    acknowledged[0] += _EVENTS_PER_BATCH
                    latencies.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((acknowledged[0], latencies))


def _read_response_status(connection) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; return its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError("the collector closed the connection")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
    while len(body) < length:
        body += connection.recv(65536)
    return int(head[9:12])


def measure_ceiling(rows: int) -> float:
    """Rows/s of bare column-oriented inserts of the same events into chDB."""
    with tempfile.TemporaryDirectory() as directory:
        client = connect(f"chdb://{directory}/ch")
        migrate(client)
        columns = _prebuilt_columns(client)
        chunks = max(1, rows // _CEILING_ROWS_PER_INSERT)
        started = time.perf_counter()
        for _ in range(chunks):
            client.insert("events", columns, column_names=EVENT_COLUMNS, column_oriented=True)
        return chunks * _CEILING_ROWS_PER_INSERT / (time.perf_counter() - started)


def _prebuilt_columns(client) -> list[list]:
    """The benchmark's events as `events` columns, exactly as the collector stores them (they
    go in through its insert once, are read back in the order they were sent, and the table
    emptied: sorted input would flatter the ceiling); timestamps as epoch-ms integers, the
    fastest input."""
    seed = 0
    while seed * _EVENTS_PER_BATCH < _CEILING_ROWS_PER_INSERT:
        insert_rows(client, encode_rows(decode_batch(make_batch(seed), received_now(), 32_000).accepted))
        seed += 1
    timestamps = {"timestamp", "original_timestamp", "sent_at", "received_at"}
    selected = ", ".join(f"toUnixTimestamp64Milli({name})" if name in timestamps else name for name in EVENT_COLUMNS)
    sent_order = "arrayMap(x -> toUInt32OrZero(x), splitByChar('-', JSONExtractString(properties, 'product_id'))) AS sku"
    query = f"SELECT {selected}, {sent_order} FROM events ORDER BY sku[2], sku[3]"  # sku-<seed>-<n>
    columns = [list(column) for column in client.query(query).result_columns[:len(EVENT_COLUMNS)]]
    client.command("TRUNCATE TABLE events")
    return columns


_PERSON_VIEWS = ("identity_links_from_input", "identified_ids_from_input")


def measure_person_views(rounds: int = 8, batches: int = 500) -> tuple[float, float]:
    """Rows per CPU second (median over rounds; chDB's threads are this process's, and CPU time
    varies less than wall time on a shared machine) of the collector's own insert (`insert_rows`
    into `events_input`) with the persons views (migration 5) and without them, alternating on
    one store: their insert-time cost."""
    with tempfile.TemporaryDirectory() as directory:
        client = connect(f"chdb://{directory}/ch")
        migrate(client)
        views = {name: client.query(f"SELECT create_table_query FROM system.tables WHERE name = '{name}'")
                 .result_rows[0][0].replace("CREATE MATERIALIZED VIEW", "CREATE MATERIALIZED VIEW IF NOT EXISTS", 1)
                 for name in _PERSON_VIEWS}
        body = b",".join(encode_rows(decode_batch(make_batch(seed), received_now(), 32_000).accepted)
                         for seed in range(batches))
        warm_up = encode_rows(decode_batch(make_batch(batches), received_now(), 32_000).accepted)
        seconds: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for with_views in (True, False):
                for name, create in views.items():
                    client.command(create if with_views else f"DROP VIEW IF EXISTS {name}")
                insert_rows(client, warm_up)  # the first insert after a view changed is slower (measured)
                started = time.process_time()
                insert_rows(client, body)
                seconds[with_views].append(time.process_time() - started)
        client.close()
        rows = batches * _EVENTS_PER_BATCH
        return rows / statistics.median(seconds[True]), rows / statistics.median(seconds[False])


def measure_collector(seconds: float, connections: int, processes: int, fsync: bool) -> tuple[LoadResult, float]:
    """Acknowledged load over `seconds`, and events/s until all of it was in ClickHouse."""
    with tempfile.TemporaryDirectory() as directory:
        extra = () if fsync else ("--no-fsync",)
        with CollectorProcess(Path(directory), extra_args=extra) as collector:
            api = AdminClient(collector.url, collector.admin_secret)
            queue: multiprocessing.Queue = multiprocessing.Queue()
            start = multiprocessing.Barrier(processes + 1)
            workers = [
                multiprocessing.Process(
                    target=_load_worker,
                    args=(collector.port, collector.write_key, seconds, connections, n, queue, start),
                )
                for n in range(processes)
            ]
            for worker in workers:
                worker.start()
            start.wait()  # the clock starts with the load, not with building its requests
            started = time.perf_counter()
            results = [queue.get(timeout=seconds + 120) for _ in workers]
            load_seconds = time.perf_counter() - started
            for worker in workers:
                worker.join()
            api.wait_until_stored(timeout=300)
            end_to_end = time.perf_counter() - started
    events = sum(count for count, _ in results)
    latencies = [latency for _, batch in results for latency in batch]
    return LoadResult(events, load_seconds, latencies), events / end_to_end


def _percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100)[int(share * 100) - 1] if len(values) > 1 else float("nan")


def main(argv: list[str] | None = None) -> None:
    """Print the collector's end-to-end events/s against a bare chDB insert measured before and after it."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="load duration (default 15)")
    parser.add_argument("--connections", type=int, default=16, help="connections per load process")
    parser.add_argument("--processes", type=int, default=2, help="load processes (default 2)")
    parser.add_argument("--ceiling-rows", type=int, default=1_000_000, help="rows for the ceiling run")
    parser.add_argument("--view-batches", type=int, default=500,
                        help="100-event batches per insert when timing the persons views (default 500)")
    args = parser.parse_args(argv)

    # The ceiling is measured before and after the collector runs, and their mean is the
    # baseline: the machine is shared, and its speed drifts over the minute this takes.
    ceiling_before = measure_ceiling(args.ceiling_rows)
    runs = [(fsync, *measure_collector(args.seconds, args.connections, args.processes, fsync)) for fsync in (True, False)]
    ceiling_after = measure_ceiling(args.ceiling_rows)
    ceiling = (ceiling_before + ceiling_after) / 2
    rows = [(f"raw chDB insert (ceiling; before {ceiling_before:,.0f}, after {ceiling_after:,.0f})",
             f"{ceiling:,.0f}", "", "", "", "1.00")]
    for fsync, load, end_to_end in runs:
        rows.append((
            f"collector, fsync {'on' if fsync else 'off'}",
            f"{load.events / load.seconds:,.0f}",
            f"{end_to_end:,.0f}",
            f"{_percentile(load.latencies_ms, 0.50):.1f}",
            f"{_percentile(load.latencies_ms, 0.99):.1f}",
            f"{end_to_end / ceiling:.2f}",
        ))
    print("| path | acknowledged events/s | end-to-end events/s | ack p50 ms | ack p99 ms | end-to-end / ceiling |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    with_views, without_views = measure_person_views(batches=args.view_batches)
    print(f"\ncollector insert into events_input: {with_views:,.0f} rows/s with the persons views, "
          f"{without_views:,.0f} without (per CPU second, same run): ratio {with_views / without_views:.2f}")


if __name__ == "__main__":
    main()
