"""`sdk.spool` on its own: records, checkpoints, rotation, budget, orphans, files being created."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sdk.spool import SUFFIX, Spool, SpoolFile, encode_record, spool_supported

pytestmark = pytest.mark.skipif(not spool_supported(), reason="the spool needs POSIX flock")


def messages(count: int, start: int = 0) -> list[bytes]:
    return [b'{"n":%d}' % n for n in range(start, start + count)]


def test_appended_records_are_read_in_order_from_memory_or_disk_and_checkpointed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    assert spool.append(messages(5)) == 5 and spool.waiting() == 5
    chunk = spool.read(3, 1 << 20)  # from memory
    assert chunk is not None and chunk.messages == messages(3)
    spool.checkpoint(chunk, 2)  # two resolved: a restart resends from the third
    spool.forget_after_fork()  # as if the process died: the lock goes with its descriptors
    restarted = Spool(tmp_path, max_bytes=1 << 20)
    restarted.open()
    assert restarted.claim_orphans() == 3
    again = restarted.read(10, 1 << 20)  # from the file
    assert again is not None and again.messages == messages(3)[2:] + messages(2, 3)
    restarted.checkpoint(again, len(again.messages))
    assert restarted.read(10, 1 << 20) is None and restarted.unresolved_bytes == 0
    restarted.close()
    assert list(tmp_path.iterdir()) == []  # fully resolved files are deleted


def test_the_budget_counts_unresolved_bytes_and_keeps_order(tmp_path: Path) -> None:
    record = len(encode_record(messages(1)[0]))
    spool = Spool(tmp_path, max_bytes=3 * record)
    spool.open()
    assert spool.append(messages(5)) == 3  # only what fits, oldest first
    assert spool.append(messages(1, 5)) == 0
    chunk = spool.read(10, 1 << 20)
    assert chunk is not None
    spool.checkpoint(chunk, len(chunk.messages))
    assert spool.append(messages(1, 5)) == 1  # resolved bytes free the budget


def test_a_fully_resolved_large_file_is_emptied(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=64 << 20)
    spool.open()
    big = [b'{"pad":"%s"}' % (b"x" * 30_000)] * 150  # ~4.5 MB
    assert spool.append(big) == 150
    while (chunk := spool.read(100, 1 << 20)) is not None:
        spool.checkpoint(chunk, len(chunk.messages))
    (own,) = tmp_path.glob(f"*{SUFFIX}")
    assert own.stat().st_size == 0
    assert spool.append(messages(2)) == 2
    chunk = spool.read(10, 1 << 20)
    assert chunk is not None and chunk.messages == messages(2) and chunk.ends[0] < 100


def test_a_live_processes_file_and_a_file_being_created_are_not_claimed(tmp_path: Path) -> None:
    owner = Spool(tmp_path, max_bytes=1 << 20)
    owner.open()
    owner.append(messages(3))
    creating = tmp_path / f".tmp-1-abc{SUFFIX}"
    creating.write_bytes(encode_record(b"{}"))
    other = Spool(tmp_path, max_bytes=1 << 20)
    other.open()
    assert other.claim_orphans() == 0  # the owner holds its lock (flock is per open file)
    assert creating.exists()
    owner.forget_after_fork()  # closing every descriptor releases the lock, as a dead process does
    assert other.claim_orphans() == 3
    chunk = other.read(10, 1 << 20)
    assert chunk is not None and chunk.messages == messages(3) and not chunk.file.own


def test_a_damaged_checkpoint_means_starting_over(tmp_path: Path) -> None:
    path = tmp_path / f"9-dead{SUFFIX}"
    path.write_bytes(b"".join(encode_record(m) for m in messages(4)))
    (tmp_path / f"9-dead{SUFFIX}.ack").write_bytes(os.urandom(12))
    claimed = SpoolFile.claim(path)
    assert claimed is not None and claimed.acked == 0 and claimed.count_records() == 4
    claimed.close()
