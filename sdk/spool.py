"""The opt-in disk spool (`Client(spool_dir=...)`): messages survive a crash of the app process.

Layout: each process appends to a file of its own, ``<pid>-<token>.spool``, holding an
exclusive `flock` on it for as long as it lives, so no two processes ever write one file and
a file nobody holds belongs to a dead process (kill -9 and OOM included: the kernel drops the
lock). Beside it, ``<name>.ack`` holds the checkpoint: the offset up to which every record
was resolved (sent, or dropped for good). A record is one line::

    <crc32 of the message, 8 hex digits> <the message's wire JSON, messageId and timestamp included>\\n

The JSON is the exact message that gets sent, so a resend after a crash carries the original
messageId and timestamp and the collector's dedup makes it harmless. Reading stops at the
checkpoint's end of good records: a record whose CRC does not match, or a torn last line, is
skipped and counted (``spool_damaged``), the rest of the file is still read.

Nothing here fsyncs: a killed process loses nothing it wrote (the kernel has it); a machine
crash or power loss can lose what the kernel had not yet written to the disk.
"""

from __future__ import annotations

import os
import secrets
import struct
import threading
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import logger

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".spool"
ACK_SUFFIX = ".ack"
_TMP_PREFIX = ".tmp-"
_CHECKPOINT = struct.Struct("!QI")  # offset, crc32 of the packed offset
_READ_CHUNK = 1 << 20
_ROTATE_BYTES = 4 << 20  # a fully resolved own file is truncated once it is this large
_TAIL_BYTES = 2 << 20


def spool_supported() -> bool:
    return fcntl is not None


def encode_record(message: bytes) -> bytes:
    return b"%08x %b\n" % (zlib.crc32(message), message)


@dataclass(frozen=True)
class Chunk:
    """Records read from one spool file, up to `end`; `damaged` lines were skipped."""

    file: SpoolFile
    messages: list[bytes]
    ends: list[int]
    """The offset just after each message."""
    damaged: int
    end: int

    def offset_after(self, count: int) -> int:
        """Where the spool is resolved once the first `count` messages are."""
        return self.end if count >= len(self.messages) else self.ends[count - 1] if count else self.file.acked


class SpoolFile:
    """One locked spool file and its checkpoint. Appends and reads are positional, so one
    thread may append while another reads and checkpoints."""

    def __init__(self, path: Path, fd: int, own: bool) -> None:
        self.path = path
        self.own = own
        self._fd = fd
        self._ack_path = path.with_name(path.name + ACK_SUFFIX)
        self._ack_fd = os.open(self._ack_path, os.O_RDWR | os.O_CREAT, 0o600)
        self.end = os.fstat(fd).st_size
        self.acked = min(self._read_checkpoint(), self.end)
        self.read_upto = self.acked  # records before it were handed out for sending
        self._window: tuple[int, bytes] = (0, b"")  # (file offset, bytes read there)

    @classmethod
    def create(cls, directory: Path) -> SpoolFile:
        """A new file of this process, locked before it gets the name other processes look for."""
        name = f"{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        tmp = directory / f"{_TMP_PREFIX}{name}"
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        spool_file = cls(directory / name, fd, own=True)
        spool_file._write_checkpoint(0)
        os.rename(tmp, directory / name)
        return spool_file

    @classmethod
    def claim(cls, path: Path) -> SpoolFile | None:
        """The file of a dead process, locked for this one; None if its owner lives or it is gone."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(path).st_ino:  # deleted and replaced meanwhile
                raise FileNotFoundError(path)
            return cls(path, fd, own=False)
        except OSError:
            os.close(fd)
            return None

    @property
    def unresolved_bytes(self) -> int:
        return self.end - self.acked

    def append(self, records: bytes) -> None:
        """Write whole records; on a failure (disk full) none of them stays in the file."""
        view = memoryview(records)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        except OSError:
            try:
                os.ftruncate(self._fd, self.end)  # a partial record would swallow the next one
            except OSError:
                pass
            raise
        self.end += len(records)

    def read(self, max_count: int, max_bytes: int) -> Chunk:
        """Up to `max_count` messages (about `max_bytes`) after what was already handed out,
        from a read-ahead window of up to `_READ_CHUNK` bytes (one `pread` serves many batches)."""
        messages: list[bytes] = []
        ends: list[int] = []
        damaged = 0
        offset, end, size = self.read_upto, self.end, 0
        while offset < end and len(messages) < max_count and size < max_bytes:
            window_start, window = self._window
            if not window_start <= offset < window_start + len(window):
                window_start, window = self._window = offset, os.pread(self._fd, min(_READ_CHUNK, end - offset), offset)
                if not window:
                    break
            position = offset - window_start
            newline = window.find(b"\n", position)
            if newline < 0:
                if window_start + len(window) >= end:  # no newline up to the end: a torn last write
                    if not self.own:  # (only a dead process leaves one)
                        damaged += 1
                        offset = end
                    break
                if position == 0 and len(window) == _READ_CHUNK:  # garbage, part of a line ending later
                    offset += len(window)
                else:  # the line goes on past the window: read from its start
                    self._window = (0, b"")
                continue
            line = window[position:newline]
            offset = window_start + newline + 1
            message = line[9:]
            if len(line) > 9 and line[8:9] == b" " and _crc_matches(line[:8], message):
                messages.append(message)
                ends.append(offset)
                size += len(message) + 1
            else:
                damaged += 1
        self.read_upto = offset
        return Chunk(self, messages, ends, damaged, offset)

    def count_records(self) -> int:
        """Records after the checkpoint, damaged ones included (as `read` counts them)."""
        count, offset, last = 0, self.acked, b"\n"
        while offset < self.end:
            data = os.pread(self._fd, min(_READ_CHUNK, self.end - offset), offset)
            if not data:
                break
            count += data.count(b"\n")
            offset += len(data)
            last = data[-1:]
        return count + (last != b"\n")

    def checkpoint(self, offset: int) -> None:
        """Everything before `offset` is resolved; an own file fully resolved and large is emptied."""
        self.acked = offset
        if self.own and offset == self.end and offset >= _ROTATE_BYTES:
            self._write_checkpoint(0)  # a crash right here resends resolved records: harmless
            os.ftruncate(self._fd, 0)
            self.end = self.acked = self.read_upto = 0
            self._window = (0, b"")
        else:
            self._write_checkpoint(offset)

    def remove(self) -> None:
        """Delete the file (while still holding its lock) and its checkpoint."""
        for path in (self.path, self._ack_path):
            try:
                path.unlink()
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        """Close the descriptors; the lock goes with the last one (a forked child's copy keeps it)."""
        for fd in (self._fd, self._ack_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def _read_checkpoint(self) -> int:
        data = os.pread(self._ack_fd, _CHECKPOINT.size, 0)
        if len(data) == _CHECKPOINT.size:
            offset, crc = _CHECKPOINT.unpack(data)
            if zlib.crc32(data[:8]) == crc:
                return int(offset)
        return 0  # missing or damaged: resend from the start (the collector dedups)

    def _write_checkpoint(self, offset: int) -> None:
        packed = struct.pack("!Q", offset)
        os.pwrite(self._ack_fd, packed + struct.pack("!I", zlib.crc32(packed)), 0)


def _crc_matches(hex_digits: bytes, message: bytes) -> bool:
    try:
        return int(hex_digits, 16) == zlib.crc32(message)
    except ValueError:
        return False


class Spool:
    """A process's view of a spool directory: its own file plus the orphans it claimed.

    `append` is called by one thread (the spooler), `read`/`checkpoint` by another (the
    sender); the orphans are read first, oldest first. `max_bytes` bounds the unresolved
    bytes of all of them together.
    """

    def __init__(self, directory: str | os.PathLike[str], max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._own: SpoolFile | None = None
        self._orphans: list[SpoolFile] = []
        self._unread = 0  # messages appended to the own file and not yet handed out
        # The own file's latest records, (start, end, message), so a sender that keeps up
        # reads them from memory instead of the file: at most _TAIL_BYTES of messages.
        self._tail: deque[tuple[int, int, bytes]] = deque()
        self._tail_bytes = 0

    def open(self) -> None:
        """Create this process's file (raises OSError when the directory is unusable)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own = SpoolFile.create(self.directory)

    def claim_orphans(self) -> int:
        """Claim spool files nobody holds; returns how many records they hold (damage included)."""
        found = 0
        held = {f.path for f in self._orphans} | ({self._own.path} if self._own else set())
        for path in sorted(self.directory.glob(f"*{SUFFIX}"), key=_mtime):
            if path in held or path.name.startswith(_TMP_PREFIX):  # a file being created: not ours to take
                continue
            orphan = SpoolFile.claim(path)
            if orphan is None:
                continue
            records = orphan.count_records()
            if records == 0:
                orphan.remove()
                continue
            logger.warning("northstar: sending %d message(s) left in %s by an earlier process", records, path)
            found += records
            with self._lock:
                self._orphans.append(orphan)
        return found

    @property
    def unresolved_bytes(self) -> int:
        files = list(self._orphans) + ([self._own] if self._own else [])
        return sum(f.unresolved_bytes for f in files)

    def append(self, messages: Sequence[bytes]) -> int:
        """Write the messages that fit in the budget, in order; returns how many were written."""
        records = [encode_record(m) for m in messages]
        room = self.max_bytes - self.unresolved_bytes
        kept, size = 0, 0
        for record in records:
            if size + len(record) > room:
                break
            size += len(record)
            kept += 1
        if kept:
            with self._lock:
                own = self._own
                if own is None:
                    return 0
                offset = own.end
                own.append(b"".join(records[:kept]))
                tail = self._tail
                for message, record in zip(messages[:kept], records):
                    tail.append((offset, offset + len(record), message))
                    offset += len(record)
                    self._tail_bytes += len(message)
                while self._tail_bytes > _TAIL_BYTES:
                    self._tail_bytes -= len(tail.popleft()[2])
                self._unread += kept
                self._arrived.notify()
        return kept

    def notify(self) -> None:
        with self._lock:
            self._arrived.notify()

    def wait(self, timeout: float) -> None:
        """Wait up to `timeout` for an append or a `notify`."""
        with self._lock:
            self._arrived.wait(timeout)

    def waiting(self) -> int:
        """Messages waiting to be handed out: the own file's count, or "plenty" (1 << 30) while
        an orphan has unread records, which are sent without waiting for more."""
        return 1 << 30 if any(o.read_upto < o.end for o in self._orphans) else self._unread

    def read(self, max_count: int, max_bytes: int) -> Chunk | None:
        """The next records to send, from one file (orphans first); None when nothing is waiting."""
        for orphan in list(self._orphans):
            chunk = orphan.read(max_count, max_bytes)
            if chunk.messages or chunk.damaged:
                return chunk
            if orphan.acked >= orphan.end:
                with self._lock:
                    self._orphans.remove(orphan)
                orphan.remove()
        if self._own is None:
            return None
        with self._lock:  # `end` and the tail move under the appender's lock
            own = self._own
            if own.read_upto >= own.end:
                return None
            tail = self._read_tail(own, max_count, max_bytes)
        chunk = own.read(max_count, max_bytes) if tail is None else tail
        with self._lock:
            self._unread -= len(chunk.messages)
        return chunk if chunk.messages or chunk.damaged else None

    def _read_tail(self, own: SpoolFile, max_count: int, max_bytes: int) -> Chunk | None:
        """The next records from memory, if the tail holds them (call holding the lock)."""
        tail = self._tail
        while tail and tail[0][1] <= own.read_upto:
            self._tail_bytes -= len(tail.popleft()[2])
        if not tail or tail[0][0] != own.read_upto:
            return None
        messages: list[bytes] = []
        ends: list[int] = []
        size = 0
        while tail and len(messages) < max_count and size < max_bytes:
            _, end, message = tail.popleft()
            self._tail_bytes -= len(message)
            messages.append(message)
            ends.append(end)
            size += len(message) + 1
        own.read_upto = ends[-1]
        return Chunk(own, messages, ends, 0, ends[-1])

    def checkpoint(self, chunk: Chunk, count: int) -> None:
        """The first `count` messages of `chunk` (and damage before them) are resolved for good."""
        offset = chunk.offset_after(count)
        with self._lock:
            chunk.file.checkpoint(offset)
            if chunk.file.own and chunk.file.end == 0:  # emptied: offsets start again at 0
                self._tail.clear()
                self._tail_bytes = 0
            if not chunk.file.own and offset >= chunk.file.end:
                self._orphans.remove(chunk.file)
                chunk.file.remove()

    def close(self) -> None:
        """Release every file; an own file fully resolved is deleted, else left for the next process."""
        with self._lock:
            files, self._orphans = list(self._orphans), []
            own, self._own = self._own, None
        for spool_file in files:
            spool_file.close()
        if own is not None:
            if own.acked >= own.end:
                own.remove()
            else:
                own.close()

    def forget_after_fork(self) -> None:
        """In a forked child: close the inherited descriptors; the parent keeps its locks."""
        for spool_file in list(self._orphans) + ([self._own] if self._own else []):
            spool_file.close()
        self._orphans, self._own = [], None


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
