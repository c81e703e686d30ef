"""Property: whatever interleaving of appends, chunk reads, checkpoints and reopens happens,
the writer receives every record exactly once, in order, in chunks that never change."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.wal import Chunk, Record, WriteAheadLog

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, 300)),
        st.tuples(st.just("take"), st.integers(1, 6), st.integers(0, 700)),
        st.just(("checkpoint",)),
        st.just(("reopen",)),
        st.just(("crash",)),
    ),
    max_size=40,
)


@dataclass
class Model:
    """What the log must hold: un-checkpointed records, and the chunk handed out, if any."""

    pending: list[Record] = field(default_factory=list)
    handed_out: Chunk | None = None
    next_lsn: int = 1
    delivered: list[Record] = field(default_factory=list)

    def expected_chunk(self, max_records: int, max_bytes: int) -> list[Record]:
        chunk: list[Record] = []
        for record in self.pending[:max_records]:
            size = sum(len(r.payload) for r in chunk) + len(record.payload)
            if chunk and size > max_bytes:
                break
            chunk.append(record)
        return chunk


class Harness:
    def __init__(self, directory: Path, segment_max_bytes: int) -> None:
        self.directory = directory
        self.segment_max_bytes = segment_max_bytes
        self.loop = asyncio.new_event_loop()
        self.wal = self.open()
        self.model = Model()

    def open(self) -> WriteAheadLog:
        return WriteAheadLog.open(self.directory, segment_max_bytes=self.segment_max_bytes, fsync=False)

    def append(self, size: int) -> None:
        payload = bytes([self.model.next_lsn % 251]) * size
        lsn = self.wal.write(payload)
        self.loop.run_until_complete(self.wal.wait_durable(lsn))
        assert lsn == self.model.next_lsn
        self.model.pending.append(Record(self.model.next_lsn, payload))
        self.model.next_lsn += 1

    def take(self, max_records: int, max_bytes: int) -> None:
        chunk = self.wal.read_pending(max_records=max_records, max_bytes=max_bytes)
        if self.model.handed_out is not None:
            assert chunk == self.model.handed_out
        elif not self.model.pending:
            assert chunk is None
        else:
            assert chunk is not None
            assert list(chunk.records) == self.model.expected_chunk(max_records, max_bytes)
            assert (chunk.first_lsn, chunk.last_lsn) == (chunk.records[0].lsn, chunk.records[-1].lsn)
            self.model.handed_out = chunk

    def checkpoint(self) -> None:
        chunk = self.model.handed_out
        if chunk is None:
            return
        self.wal.checkpoint(chunk.last_lsn)
        self.model.delivered += chunk.records
        del self.model.pending[: len(chunk.records)]
        self.model.handed_out = None

    def reopen(self) -> None:
        self.wal.close()
        self.wal = self.open()

    def crash(self) -> None:
        """Reopen from a copy of the directory taken while the log is open, as after SIGKILL."""
        survivor = self.directory.with_name(self.directory.name + "+")
        shutil.copytree(self.directory, survivor)
        self.wal.close()
        self.directory = survivor
        self.wal = self.open()

    def check_counters(self) -> None:
        assert self.wal.backlog_records == len(self.model.pending)
        assert self.wal.backlog_bytes == sum(20 + len(r.payload) for r in self.model.pending)
        assert self.wal.last_lsn == self.model.next_lsn - 1
        assert self.wal.checkpointed_lsn == (self.model.delivered[-1].lsn if self.model.delivered else 0)

    def drain(self) -> list[Record]:
        while self.model.pending:
            self.take(max_records=1 << 30, max_bytes=1 << 40)
            self.checkpoint()
        assert self.wal.read_pending(max_records=1, max_bytes=1) is None
        return self.model.delivered

    def close(self) -> None:
        self.wal.close()
        self.loop.close()


@settings(max_examples=150, deadline=None)
@given(ops=operations, segment_max_bytes=st.integers(50, 2000))
def test_writer_receives_every_record_once_in_order_in_stable_chunks(
    ops: list[tuple[str, ...]], segment_max_bytes: int
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        harness = Harness(Path(directory) / "wal", segment_max_bytes)
        try:
            for name, *arguments in ops:
                getattr(harness, name)(*arguments)
                harness.check_counters()
            appended = list(harness.model.delivered) + list(harness.model.pending)
            assert harness.drain() == appended
            assert [r.lsn for r in appended] == list(range(1, len(appended) + 1))
        finally:
            harness.close()
