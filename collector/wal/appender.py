"""Writing records into segment files and flushing them: the log's only writer of segment bytes.

Not thread-safe on its own: `WriteAheadLog` calls `write`, `roll_over` and `take_sync_work`
under its lock, and `flush` from its single syncer thread.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import WalError
from .segments import Segment, segment_path
from .state import fsync_directory


@dataclass(frozen=True)
class SyncWork:
    """What one group commit must flush: sealed segments (closed afterwards) and the active one."""

    sealed_fds: list[int]
    active_fd: int
    directory_dirty: bool


class SegmentAppender:
    """Appends to the active segment, seals it when full, and hands out flush work."""

    def __init__(self, directory: Path, active: Segment, *, fsync: bool) -> None:
        existed = active.path.exists()
        self._directory = directory
        self._fsync = fsync
        self.active = active
        self._fd = os.open(active.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._sealed_fds: list[int] = []
        self._directory_dirty = not existed
        self.failure: OSError | None = None

    def write(self, header: bytes, payload: bytes) -> None:
        """Append one record; on error nothing of it remains (or `failure` is set)."""
        total = len(header) + len(payload)
        try:
            written = os.writev(self._fd, [header, payload])
            remainder = memoryview(header + payload)[written:] if written < total else b""
            while remainder:
                remainder = remainder[os.write(self._fd, remainder) :]
        except OSError as exc:
            self._discard_partial_write()
            raise WalError(f"cannot write to {self.active.path}: {exc}") from exc
        self.active.size += total

    def _discard_partial_write(self) -> None:
        try:
            os.ftruncate(self._fd, self.active.size)
        except OSError as exc:
            self.failure = exc

    def roll_over(self, first_lsn: int) -> Segment:
        """Seal the active segment and start a new one whose first record will be `first_lsn`."""
        segment = Segment(first_lsn, segment_path(self._directory, first_lsn), 0)
        fd = os.open(segment.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        if self._fsync:
            self._sealed_fds.append(self._fd)
        else:
            os.close(self._fd)
        self._fd, self.active, self._directory_dirty = fd, segment, True
        return segment

    def take_sync_work(self) -> SyncWork:
        """Everything written so far, to be made durable by one `flush`."""
        work = SyncWork(self._sealed_fds, self._fd, self._directory_dirty)
        self._sealed_fds, self._directory_dirty = [], False
        return work

    def flush(self, work: SyncWork) -> None:
        """fsync what `work` names; blocking, so run it off the event loop."""
        try:
            for fd in work.sealed_fds:
                os.fdatasync(fd)
            os.fdatasync(work.active_fd)
            if work.directory_dirty:
                fsync_directory(self._directory)
        finally:
            for fd in work.sealed_fds:
                os.close(fd)

    def close(self) -> None:
        """Flush (when fsync is on and no write failed) and close every file."""
        work = self.take_sync_work()
        try:
            if self._fsync and self.failure is None:
                self.flush(work)
                return
            for fd in work.sealed_fds:
                os.close(fd)
        finally:
            os.close(work.active_fd)
