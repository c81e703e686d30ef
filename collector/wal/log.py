"""The write-ahead log: acknowledged event batches survive crashes until ClickHouse has them.

Producers (the HTTP handlers, one asyncio loop) `write`, then await `wait_durable`; one
consumer (the ClickHouse writer thread) takes chunks with `read_pending`, inserts them with
`chunk.dedup_token`, then calls `checkpoint(chunk.last_lsn)`. A chunk handed out stays the same chunk, across retries and
restarts, until it is checkpointed; so its dedup token is the same on every insert attempt.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType

from .appender import SegmentAppender
from .errors import RecordTooLarge, WalClosed, WalError, WalFull
from .records import MAX_PAYLOAD_BYTES, Record, encode_header, record_size
from .recovery import Recovered, recover
from .segments import (
    Batch,
    Position,
    Segment,
    count_checkpointed,
    list_segments,
    read_batch,
    segment_path,
)
from .state import ClaimedChunk, WalState, load_state, store_state

logger = logging.getLogger("northstar.collector.wal")

_LOCK_FILE = "LOCK"
_UNLIMITED = 1 << 62


@dataclass(frozen=True)
class Chunk:
    """Consecutive records handed to the writer, to be inserted as one deduplicated unit.

    `first_lsn`/`last_lsn` bound the chunk (records may have a gap only after on-disk damage).
    `disk_bytes` is what checkpointing it frees from the backlog.
    """

    wal_id: str
    first_lsn: int
    last_lsn: int
    records: tuple[Record, ...]
    disk_bytes: int

    @property
    def dedup_token(self) -> str:
        """ClickHouse `insert_deduplication_token`: identical on every replay of this chunk."""
        return f"wal-{self.wal_id}-{self.first_lsn}-{self.last_lsn}"


@dataclass(frozen=True)
class _Settings:
    segment_max_bytes: int
    max_backlog_bytes: int
    fsync: bool


def _lock_directory(directory: Path) -> int:
    """Hold an exclusive lock on `directory` for this process; WalError if another holds it."""
    fd = os.open(directory / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise WalError(f"{directory} is already open in another WriteAheadLog") from None
    return fd


def _load_or_create_state(directory: Path, *, fsync: bool) -> WalState:
    state = load_state(directory)
    if state is not None:
        return state
    if list_segments(directory):
        logger.error("WAL %s: segments without a state file; replaying all of them", directory)
    state = WalState.fresh()
    store_state(directory, state, fsync=fsync)
    return state


class WriteAheadLog:
    """Durable, bounded, segment-based log of opaque payloads (encoded event batches).

    Thread-safety: `write` and `wait_durable` are called from one asyncio event loop; `read_pending` and
    `checkpoint` from any thread (they serialise on a consumer lock); properties anywhere.
    Durability: with `fsync=True`, `wait_durable` returns only after an fsync covering its record;
    concurrent appends share fsyncs (group commit), which run in a dedicated thread so the
    event loop never blocks on the disk. `checkpoint` is durable when it returns.
    """

    def __init__(
        self,
        directory: Path,
        settings: _Settings,
        lock_fd: int,
        state: WalState,
        recovered: Recovered,
    ) -> None:
        """Use `WriteAheadLog.open`."""
        self._directory = directory
        self._settings = settings
        self._lock_fd = lock_fd
        self._state = state
        # LSNs acknowledged and then destroyed on disk are not handed out again.
        self._last_lsn = max(recovered.last_lsn, state.checkpointed_lsn, _claimed_last(state), state.acknowledged_lsn)
        segments = recovered.segments or [
            Segment(self._last_lsn + 1, segment_path(directory, self._last_lsn + 1), 0)
        ]
        self._appender = SegmentAppender(directory, segments[-1], fsync=settings.fsync)
        self._segments = segments
        self._cursor = recovered.cursor or Position(segments[-1].first_lsn, segments[-1].size)
        self._backlog_records = recovered.backlog_records
        self._backlog_bytes = recovered.backlog_bytes
        self._durable_lsn = self._last_lsn
        self._claimed: Chunk | None = None
        self._lock = threading.Lock()
        self._records_available = threading.Condition(self._lock)
        self._consumer_lock = threading.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._syncer = ThreadPoolExecutor(1, "wal-fsync") if settings.fsync else None
        self._fsync_count = 0
        self._write_error: str | None = None
        self._closed = False

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        segment_max_bytes: int = 64 << 20,
        max_backlog_bytes: int = 2 << 30,
        fsync: bool = True,
    ) -> WriteAheadLog:
        """Open (creating if needed) the log in `directory` and recover it after any crash.

        Torn tails are truncated and damaged records dropped, as `recovery` documents. A
        chunk that was handed out but not checkpointed before the crash is handed out again,
        identical, by the next `read_pending`. One process may hold a directory at a time.
        `fsync=False` keeps every ordering guarantee but not durability (tests, benchmarks).
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = _lock_directory(directory)
        try:
            state = _load_or_create_state(directory, fsync=fsync)
            recovered = recover(directory, state.checkpointed_lsn, state.acknowledged_lsn, fsync=fsync)
            settings = _Settings(segment_max_bytes, max_backlog_bytes, fsync)
            log = cls(directory, settings, lock_fd, state, recovered)
        except BaseException:
            os.close(lock_fd)
            raise
        try:
            log._resume_claim()
        except BaseException:
            log.close()
            raise
        return log

    # --- producer side -------------------------------------------------------------------

    def write(self, payload: bytes) -> int:
        """Write `payload` to the log now and return its LSN; durable once `wait_durable(lsn)` returns.

        Raises WalFull (nothing written) when the backlog would exceed `max_backlog_bytes`,
        WalClosed after `close` or an fsync failure, RecordTooLarge (a ValueError) for a payload
        no record may hold: over the record limit, or over the whole budget.
        A caller cancelled before `wait_durable` returns may still see its record logged
        and delivered: it just was not acknowledged.
        """
        size = record_size(len(payload))
        if len(payload) > MAX_PAYLOAD_BYTES or size > self._settings.max_backlog_bytes:
            limit = min(MAX_PAYLOAD_BYTES, self._settings.max_backlog_bytes - (size - len(payload)))
            raise RecordTooLarge(f"its log record of {len(payload)} bytes is over the log's limit of {limit} bytes")
        with self._lock:
            self._ensure_appendable()
            if self._backlog_bytes + size > self._settings.max_backlog_bytes:
                raise WalFull(
                    f"WAL backlog {self._backlog_bytes} B + {size} B exceeds "
                    f"{self._settings.max_backlog_bytes} B; ClickHouse writes are behind"
                )
            if self._appender.active.size >= self._settings.segment_max_bytes:
                self._segments.append(self._appender.roll_over(self._last_lsn + 1))
            lsn = self._last_lsn + 1
            try:
                self._appender.write(encode_header(lsn, payload), payload)
            except WalError as error:
                self._write_error = str(error)
                raise
            self._write_error = None
            self._last_lsn = lsn
            self._backlog_records += 1
            self._backlog_bytes += size
            if not self._settings.fsync:
                self._advance_durable(lsn)
        return lsn

    async def wait_durable(self, lsn: int) -> None:
        """Return once every record up to `lsn` is durable (fsync'd unless fsync=False).

        Waits for a group fsync that started after `lsn` was written; one runs at a time
        and covers every record written before it.
        """
        while self._durable_lsn < lsn:
            if self._sync_task is None:
                self._sync_task = asyncio.get_running_loop().create_task(self._sync_round())
            await asyncio.shield(self._sync_task)

    async def _sync_round(self) -> None:
        try:
            with self._lock:
                self._ensure_appendable()
                target_lsn, work = self._last_lsn, self._appender.take_sync_work()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._syncer, self._appender.flush, work)
            with self._lock:
                self._fsync_count += 1
                self._advance_durable(target_lsn)
        except OSError as exc:
            self._appender.failure = exc
            raise WalClosed(f"WAL fsync failed, refusing further appends: {exc}") from exc
        finally:
            self._sync_task = None

    def _advance_durable(self, lsn: int) -> None:
        """Publish records up to `lsn` to the consumer (caller holds the lock)."""
        self._durable_lsn = lsn
        self._records_available.notify_all()

    def _ensure_appendable(self) -> None:
        if self._closed:
            raise WalClosed("WAL is closed")
        if self._appender.failure is not None:
            raise WalClosed(f"WAL unusable after an I/O failure: {self._appender.failure}")

    # --- consumer side -------------------------------------------------------------------

    def read_pending(
        self, *, max_records: int, max_bytes: int, timeout: float = 0.0
    ) -> Chunk | None:
        """The chunk the writer must insert next, or None if nothing is pending.

        If a chunk was handed out and not checkpointed (insert failed, or process restarted),
        that same chunk is returned again, whatever the limits. Otherwise a new chunk of
        durable records after it is cut (≤ `max_records`, payloads ≤ `max_bytes` but at least
        one record), and its bounds are made durable before it is returned, so a restart
        replays exactly it. Waits up to `timeout` seconds for a record to arrive. Thread-safe.
        """
        with self._consumer_lock:
            if self._claimed is not None:
                return self._claimed
            segments, durable_lsn = self._wait_for_records(timeout)
            if durable_lsn <= self._state.checkpointed_lsn:
                return None
            batch = read_batch(
                segments, self._cursor, last_lsn=durable_lsn,
                max_records=max_records, max_bytes=max_bytes,
            )
            if not batch.records:
                return None
            claim = ClaimedChunk(batch.records[0].lsn, batch.records[-1].lsn)
            self._persist(self._state.with_claim(claim))
            return self._hand_out(claim, batch)

    def _hand_out(self, claim: ClaimedChunk, batch: Batch) -> Chunk:
        """Make `batch` the chunk handed out under `claim` (its bounds are already stored)."""
        self._claimed = Chunk(
            self.wal_id, claim.first_lsn, claim.last_lsn, tuple(batch.records), batch.disk_bytes
        )
        self._cursor = batch.end
        return self._claimed

    def _wait_for_records(self, timeout: float) -> tuple[list[Segment], int]:
        """A snapshot of the segments from the cursor on, and the durable LSN."""
        with self._lock:
            if self._closed:
                raise WalClosed("WAL is closed")
            self._records_available.wait_for(
                lambda: self._closed or self._durable_lsn > self._state.checkpointed_lsn, timeout
            )
            if self._closed:
                raise WalClosed("WAL is closed")
            start = self._cursor.segment_lsn
            live = [replace(segment) for segment in self._segments if segment.first_lsn >= start]
            return live, self._durable_lsn

    def checkpoint(self, lsn: int) -> None:
        """Record that the chunk ending at `lsn` is in ClickHouse; durable on return.

        `lsn` must be the `last_lsn` of the chunk handed out (checkpointing the current
        checkpoint again is a no-op); ValueError otherwise, WalClosed after `close`. Deletes
        segments whose records are all checkpointed, freeing backlog budget. Thread-safe.
        """
        with self._consumer_lock:
            if self._closed:
                raise WalClosed("WAL is closed; stop the writer before closing the log")
            if lsn == self._state.checkpointed_lsn:
                return
            chunk = self._claimed
            if chunk is None or lsn != chunk.last_lsn:
                expected = chunk.last_lsn if chunk else "none handed out"
                raise ValueError(
                    f"checkpoint({lsn}) must end the chunk handed out (last LSN: {expected})"
                )
            self._persist(self._state.with_checkpoint(lsn))
            self._claimed = None
            with self._lock:
                self._backlog_records -= len(chunk.records)
                self._backlog_bytes -= chunk.disk_bytes
                obsolete = count_checkpointed(self._segments, lsn)
                deleted, self._segments = self._segments[:obsolete], self._segments[obsolete:]
            for segment in deleted:
                segment.path.unlink()

    def _persist(self, state: WalState) -> None:
        """Store `state`, with what is acknowledged by now: free, as the writer stores its
        claims and checkpoints anyway (every flush interval under load)."""
        state = state.with_acknowledged(self._durable_lsn)
        store_state(self._directory, state, fsync=self._settings.fsync)
        self._state = state

    def _resume_claim(self) -> None:
        """Rebuild the chunk that was handed out before a restart, so it is replayed as is."""
        claim = self._state.claimed
        if claim is None:
            return
        batch = read_batch(
            self._segments, self._cursor, last_lsn=claim.last_lsn,
            max_records=_UNLIMITED, max_bytes=_UNLIMITED,
        )
        if batch.records:
            self._hand_out(claim, batch)
            return
        logger.error("WAL %s: all records of chunk %s were lost; skipped", self._directory, claim)
        self._persist(self._state.with_checkpoint(claim.last_lsn))

    # --- observation and lifecycle -------------------------------------------------------

    @property
    def wal_id(self) -> str:
        """Random identity of this log directory, part of every dedup token."""
        return self._state.wal_id

    @property
    def last_lsn(self) -> int:
        """LSN of the newest record written (possibly not yet durable)."""
        return self._last_lsn

    @property
    def durable_lsn(self) -> int:
        """Every record up to this LSN is durable and visible to `read_pending`."""
        return self._durable_lsn

    @property
    def checkpointed_lsn(self) -> int:
        """Every record up to this LSN is in ClickHouse and may be deleted."""
        return self._state.checkpointed_lsn

    @property
    def backlog_records(self) -> int:
        """Records logged and not yet checkpointed."""
        return self._backlog_records

    @property
    def backlog_bytes(self) -> int:
        """On-disk bytes of records not yet checkpointed; bounded by `max_backlog_bytes`."""
        return self._backlog_bytes

    @property
    def problem(self) -> str | None:
        """Why appends fail right now (a failed write, or an fsync failure that closed the log)."""
        if self._appender.failure is not None:
            return f"log unusable after an I/O failure: {self._appender.failure}"
        return self._write_error and f"log writes failing: {self._write_error}"

    @property
    def fsync_count(self) -> int:
        """Group-commit flushes done so far (each covers every append written before it)."""
        return self._fsync_count

    def close(self) -> None:
        """Flush and release the log; later appends and reads raise WalClosed. Idempotent.

        Call it once appends have stopped (e.g. on server shutdown); the consumer thread
        blocked in `read_pending` wakes up with WalClosed.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._records_available.notify_all()
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
        try:
            self._appender.close()
            self._record_acknowledged()
        finally:
            os.close(self._lock_fd)

    def _record_acknowledged(self) -> None:
        """Store what was acknowledged, so damage to the last records is not taken for a torn
        write at the next open (recovery)."""
        try:
            with self._consumer_lock:  # the writer thread may be storing a checkpoint
                if self._durable_lsn > self._state.acknowledged_lsn:
                    self._persist(self._state)
        except OSError as error:
            logger.warning("WAL %s: cannot record what was acknowledged at close: %s", self._directory, error)

    def __enter__(self) -> WriteAheadLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _claimed_last(state: WalState) -> int:
    return state.claimed.last_lsn if state.claimed else 0
