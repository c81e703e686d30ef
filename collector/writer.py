"""Moves accepted events into ClickHouse in large batched inserts from one background thread.

Requests hand events over and return at once; the writer inserts when `flush_max_rows`
are waiting or `flush_interval_seconds` has passed, so ClickHouse sees a few big inserts
instead of one per request. A failed insert keeps its events and is retried with backoff.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from collector.events import StoredEvent
from collector.storage import insert_events
from collector.storage.clickhouse import Client

__all__ = ["EventWriter", "WriterCounters"]

log = logging.getLogger("northstar.collector.writer")

_MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class WriterCounters:
    accepted: int
    stored: int
    inserts: int
    insert_failures: int

    @property
    def backlog(self) -> int:
        return self.accepted - self.stored


class EventWriter:
    """Buffers events and inserts them from a dedicated thread (which owns its client)."""

    def __init__(
        self,
        connect: Callable[[], Client],
        *,
        flush_interval_seconds: float,
        flush_max_rows: int,
    ) -> None:
        self._connect = connect
        self._flush_interval = flush_interval_seconds
        self._flush_max_rows = flush_max_rows
        self._buffer: list[StoredEvent] = []
        self._condition = threading.Condition()
        self._stopping = False
        self._flush_requested = False
        self._accepted = 0
        self._stored = 0
        self._inserts = 0
        self._insert_failures = 0
        self._thread = threading.Thread(target=self._run, name="northstar-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def accept(self, events: Sequence[StoredEvent]) -> None:
        """Queue events for insertion; never blocks on ClickHouse."""
        with self._condition:
            self._buffer.extend(events)
            self._accepted += len(events)
            if len(self._buffer) >= self._flush_max_rows:
                self._condition.notify()

    def counters(self) -> WriterCounters:
        with self._condition:
            return WriterCounters(
                self._accepted, self._stored, self._inserts, self._insert_failures
            )

    def wait_until_stored(self, timeout: float) -> bool:
        """Block until everything accepted so far is in ClickHouse; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            target = self._accepted
            self._flush_requested = True
            self._condition.notify_all()
            while self._stored < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(remaining)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Insert what is buffered, then stop the thread."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        self._thread.join(timeout)

    def _wait_for_work(self) -> None:
        """Wait (holding the condition) for a full chunk, a flush request or the interval."""
        deadline = time.monotonic() + self._flush_interval
        while (
            len(self._buffer) < self._flush_max_rows
            and not self._stopping
            and not self._flush_requested
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._condition.wait(remaining)
        self._flush_requested = False

    def _run(self) -> None:
        client = self._connect()
        backoff = 0.1
        while True:
            with self._condition:
                self._wait_for_work()
                chunk = self._buffer[: self._flush_max_rows]
                if not chunk and self._stopping:
                    return
            if not chunk:
                continue
            try:
                insert_events(client, chunk)
            except Exception:
                log.exception("insert of %d events failed; retrying in %.1fs", len(chunk), backoff)
                with self._condition:
                    self._insert_failures += 1
                time.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)
                continue
            backoff = 0.1
            with self._condition:
                del self._buffer[: len(chunk)]
                self._stored += len(chunk)
                self._inserts += 1
                self._condition.notify_all()
