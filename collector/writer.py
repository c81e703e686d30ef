"""From the write-ahead log into ClickHouse: large batched inserts from one background thread.

The thread first creates or migrates the schema, retrying while ClickHouse is unreachable;
requests are acknowledged from the log meanwhile, so an outage only grows the backlog.

Requests append their validated events to the log, as a count and `encode_rows` rows, and
are acknowledged once it is fsync'd. This thread cuts the log into chunks of up to `flush_max_bytes` (waiting at most
`flush_interval_seconds` for a chunk to fill), inserts each chunk with its log-derived dedup
token, and checkpoints it. A failed insert is retried, with the same token, until it lands;
after a crash the same chunk is replayed, so ClickHouse keeps it once.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from collector.dead_letter import DeadLetters, is_refused_data
from collector.events import SegmentMessage
from collector.storage import migrate
from collector.storage.clickhouse import Client
from collector.storage.cluster import CLUSTER_INSERT_SETTINGS
from collector.storage.events import encode_rows, insert_rows
from collector.wal import Chunk, WalClosed, WalError, WriteAheadLog

__all__ = ["EventWriter", "WriterCounters", "log_record"]

log = logging.getLogger("northstar.collector.writer")

_MAX_BACKOFF_SECONDS = 5.0
_MAX_CHUNK_RECORDS = 100_000
_COUNT = struct.Struct("<I")


@dataclass(frozen=True)
class WriterCounters:
    """Events acknowledged and stored by this process; the backlog is what the log holds."""

    accepted: int
    stored: int
    inserts: int
    insert_failures: int
    dead_lettered: int
    backlog_records: int
    backlog_bytes: int
    log_fsyncs: int


class EventWriter:
    """Owns the path log → ClickHouse; `accept` is called from the event loop."""

    def __init__(
        self,
        wal: WriteAheadLog,
        connect: Callable[[], Client],
        *,
        flush_interval_seconds: float,
        flush_max_bytes: int,
        dead_letters: DeadLetters,
        on_insert: Callable[[int, float], None] = lambda rows, seconds: None,
        cluster: str | None = None,
    ) -> None:
        """`on_insert(rows, seconds)` is called after each successful insert (for metrics);
        `cluster` names the ClickHouse cluster in cluster mode."""
        self._wal = wal
        self._dead_letters = dead_letters
        self._cluster = cluster
        self._insert_settings = CLUSTER_INSERT_SETTINGS if cluster else {}
        self._on_insert = on_insert
        self._connect = connect
        self._flush_interval = flush_interval_seconds
        self._flush_max_bytes = flush_max_bytes
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._schema_ready = threading.Event()
        self._accepted = 0
        self._stored = 0
        self._inserts = 0
        self._insert_failures = 0
        self._dead_lettered = 0
        self._read_problem: str | None = None
        self._thread = threading.Thread(target=self._run, name="northstar-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread: schema first, then log chunks into ClickHouse until `stop`."""
        self._thread.start()

    async def accept(self, events: Sequence[SegmentMessage]) -> None:
        """Log events durably; returns once they survive a crash. Raises WalError (WalFull when
        over budget)."""
        await self.durable(self.log(events))

    def log(self, events: Sequence[SegmentMessage]) -> int:
        """Write events to the log now; returns the LSN to pass to `durable`. Raises WalError.

        Apart from `accept` so a request can let go of its body and decoded events while it
        waits the milliseconds of a group fsync: at a thousand requests a second, holding
        them keeps megabytes of memory live and cache-cold (measured: about 10% of throughput).
        """
        if not events:
            return 0
        lsn = self._wal.write(log_record(events))
        with self._lock:
            self._accepted += len(events)
        return lsn

    async def durable(self, lsn: int) -> None:
        """Returns once the log record `lsn`, and every one before it, survives a crash."""
        await self._wal.wait_durable(lsn)

    def log_problem(self) -> str | None:
        """Why the log cannot take events, or cannot be read back into ClickHouse, right now."""
        return self._wal.problem or self._read_problem

    def wait_for_schema(self, timeout: float) -> bool:
        """True once the schema is migrated; False if ClickHouse did not answer in time."""
        return self._schema_ready.wait(timeout)

    def counters(self) -> WriterCounters:
        """A consistent snapshot of the counters (one lock), safe from any thread."""
        with self._lock:
            return WriterCounters(
                self._accepted,
                self._stored,
                self._inserts,
                self._insert_failures,
                self._dead_lettered,
                self._wal.backlog_records,
                self._wal.backlog_bytes,
                self._wal.fsync_count,
            )

    def stop(self, drain_timeout: float = 30.0) -> None:
        """Insert what is logged (for at most `drain_timeout`), then stop and close the log.

        Whatever is left stays in the log and is inserted on the next start.
        """
        self._stopping.set()
        self._thread.join(drain_timeout)
        self._wal.close()
        self._thread.join()

    def _run(self) -> None:
        client = self._connect_and_migrate()
        backoff = 0.1
        while client is not None:
            self._wait_for_full_chunk()
            try:
                chunk = self._wal.read_pending(
                    max_records=_MAX_CHUNK_RECORDS,
                    max_bytes=self._flush_max_bytes,
                    timeout=self._flush_interval,
                )
            except WalClosed:
                return
            except (WalError, OSError) as error:
                # Damaged on disk since it was written, or an I/O error: nothing is skipped.
                # Retried, and reported by /ready; a restart salvages around damage, as at open.
                self._read_problem = f"log reads failing: {error}"
                log.error("cannot read the log (%s); retrying in %.1fs", error, backoff)
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            self._read_problem, backoff = None, 0.1
            if chunk is None:
                if self._stopping.is_set():
                    return
                continue
            if not self._insert_until_stored(client, chunk):
                return

    def _connect_and_migrate(self) -> Client | None:
        """A migrated client, retrying with backoff; None if stopped first."""
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                client = self._connect()
                migrate(client, self._cluster)
            except Exception as error:
                log.warning("ClickHouse not ready (%s); retrying in %.1fs", error, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            self._schema_ready.set()
            return client
        return None

    def _wait_for_full_chunk(self) -> None:
        """Let small requests accumulate into one insert, up to the flush interval."""
        deadline = time.monotonic() + self._flush_interval
        while (
            self._wal.backlog_bytes < self._flush_max_bytes
            and not self._stopping.is_set()
            and time.monotonic() < deadline
        ):
            time.sleep(0.005)

    def _insert_until_stored(self, client: Client, chunk: Chunk) -> bool:
        """Insert and checkpoint `chunk`; False once the log closed.

        Problems reaching ClickHouse are retried with backoff, with the chunk's dedup token.
        If ClickHouse refuses the data itself, each record is inserted on its own and the
        refused ones go to the dead-letter directory, so the log moves on.
        """
        records = [(chunk.dedup_token, chunk.records)]
        stored = 0
        while records:
            token, batch = records.pop()
            rows = b",".join(memoryview(record.payload)[_COUNT.size:] for record in batch)
            events = sum(_COUNT.unpack_from(record.payload)[0] for record in batch)
            outcome = self._insert_retrying(client, rows, token, events)
            if outcome is None:
                return False
            if outcome is True:
                stored += events
            elif len(batch) > 1:
                records += [(f"{token}-{record.lsn}", (record,)) for record in batch]
            else:
                path = self._dead_letters.keep(token, rows, outcome)
                log.error("ClickHouse refused %d logged events; kept in %s: %s", events, path, outcome)
                with self._lock:
                    self._dead_lettered += events
        try:
            self._wal.checkpoint(chunk.last_lsn)
        except WalClosed:
            return False
        with self._lock:
            self._stored += stored
            self._inserts += 1
        return True

    def _insert_retrying(
        self, client: Client, rows: bytes, token: str, events: int
    ) -> Literal[True] | str | None:
        """True once inserted, the reason if ClickHouse refuses the data, None if stopped."""
        backoff = 0.1
        while True:
            started = time.perf_counter()
            try:
                insert_rows(client, rows, token, self._insert_settings)
            except Exception as error:
                if is_refused_data(error):
                    return str(error)
                log.exception("insert of %d events failed; retrying in %.1fs", events, backoff)
                with self._lock:
                    self._insert_failures += 1
                if self._stopping.wait(backoff):
                    return None
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            self._on_insert(events, time.perf_counter() - started)
            return True


def log_record(events: Sequence[SegmentMessage]) -> bytes:
    """The log record payload of `events`: their count and `encode_rows` rows."""
    return _COUNT.pack(len(events)) + encode_rows(events)
