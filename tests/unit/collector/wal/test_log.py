"""Write-ahead log: round trips, chunk replay contract, budget, group commit, crash recovery."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from collector.wal import Chunk, Record, WalClosed, WalError, WalFull, WriteAheadLog
from collector.wal.records import encode_header

REPO_ROOT = Path(__file__).resolve().parents[4]
HEADER_BYTES = 20


async def append(wal: WriteAheadLog, payload: bytes) -> int:
    """Log `payload` as a request handler does: `write`, then wait until it is durable."""
    lsn = wal.write(payload)
    await wal.wait_durable(lsn)
    return lsn


def append_all(wal: WriteAheadLog, payloads: list[bytes]) -> list[int]:
    """Append concurrently, as request handlers do; LSNs in the order of `payloads`."""

    async def gather() -> list[int]:
        return list(await asyncio.gather(*(append(wal, payload) for payload in payloads)))

    return asyncio.run(gather())


def everything_pending(wal: WriteAheadLog) -> list[Record]:
    chunk = wal.read_pending(max_records=1 << 30, max_bytes=1 << 40)
    return list(chunk.records) if chunk else []


def payloads(count: int, start: int = 0) -> list[bytes]:
    return [f"batch-{i}:".encode() * (1 + i % 7) for i in range(start, start + count)]


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.wal"))


# --- round trips -----------------------------------------------------------------------


def test_appended_records_come_back_in_order_with_increasing_lsns(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, fsync=False) as wal:
        sent = payloads(50)
        lsns = append_all(wal, sent)
        assert lsns == list(range(1, 51))
        assert everything_pending(wal) == [Record(lsn, p) for lsn, p in zip(lsns, sent)]
        assert (wal.last_lsn, wal.durable_lsn, wal.backlog_records) == (50, 50, 50)
        assert wal.backlog_bytes == sum(HEADER_BYTES + len(p) for p in sent)


def test_reopen_keeps_pending_records_and_continues_lsns(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path) as wal:
        append_all(wal, payloads(10))
    with WriteAheadLog.open(tmp_path) as wal:
        assert [r.payload for r in everything_pending(wal)] == payloads(10)
        assert append_all(wal, [b"next"]) == [11]


def test_checkpoint_frees_backlog_and_deletes_fully_checkpointed_segments(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_max_bytes=200, fsync=False) as wal:
        append_all(wal, payloads(40))
        assert len(segment_files(tmp_path)) > 3
        chunk = wal.read_pending(max_records=30, max_bytes=1 << 20)
        assert chunk is not None and (chunk.first_lsn, chunk.last_lsn) == (1, 30)
        wal.checkpoint(chunk.last_lsn)
        assert (wal.checkpointed_lsn, wal.backlog_records) == (30, 10)
        first_kept = int(segment_files(tmp_path)[0].stem)
        assert first_kept <= 31 and first_kept > 20
        assert [r.lsn for r in everything_pending(wal)] == list(range(31, 41))


def test_segments_roll_over_and_are_named_by_their_first_lsn(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, segment_max_bytes=100, fsync=False) as wal:
        append_all(wal, [b"x" * 40] * 9)
    assert [int(p.stem) for p in segment_files(tmp_path)] == [1, 3, 5, 7, 9]
    with WriteAheadLog.open(tmp_path, segment_max_bytes=100, fsync=False) as wal:
        assert [r.lsn for r in everything_pending(wal)] == list(range(1, 10))


def test_chunk_limits_return_at_least_one_record(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, fsync=False) as wal:
        append_all(wal, [b"a" * 100, b"b" * 100, b"c" * 100])
        chunk = wal.read_pending(max_records=10, max_bytes=50)
        assert chunk is not None and [r.lsn for r in chunk.records] == [1]
        wal.checkpoint(1)
        chunk = wal.read_pending(max_records=10, max_bytes=200)
        assert chunk is not None and [r.lsn for r in chunk.records] == [2, 3]


def test_nothing_pending_returns_none(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, fsync=False) as wal:
        assert wal.read_pending(max_records=10, max_bytes=10) is None


def test_blocked_reader_wakes_up_on_append(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path) as wal:
        received: list[Chunk | None] = []
        reader = threading.Thread(
            target=lambda: received.append(wal.read_pending(max_records=5, max_bytes=99, timeout=60))
        )
        reader.start()
        append_all(wal, [b"wake up"])
        reader.join()
        assert received[0] is not None and received[0].records == (Record(1, b"wake up"),)


# --- chunk replay contract -------------------------------------------------------------


def test_unacknowledged_chunk_is_handed_out_again_unchanged(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, fsync=False) as wal:
        append_all(wal, payloads(5))
        first = wal.read_pending(max_records=3, max_bytes=1 << 20)
        append_all(wal, payloads(5, start=5))
        retry = wal.read_pending(max_records=100, max_bytes=1 << 20)
        assert retry == first
        assert first is not None and first.dedup_token == f"wal-{wal.wal_id}-1-3"


def test_chunk_bounds_survive_a_crash_before_checkpoint(tmp_path: Path) -> None:
    """The claim is durable before read_pending returns: a snapshot of the disk replays it."""
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    with WriteAheadLog.open(live) as wal:
        append_all(wal, payloads(5))
        handed_out = wal.read_pending(max_records=3, max_bytes=1 << 20)
        append_all(wal, payloads(5, start=5))
        shutil.copytree(live, crashed)  # what the disk holds if the process died here
    with WriteAheadLog.open(crashed) as wal:
        assert wal.read_pending(max_records=100, max_bytes=1 << 20) == handed_out
        assert handed_out is not None
        wal.checkpoint(handed_out.last_lsn)
        rest = wal.read_pending(max_records=100, max_bytes=1 << 20)
        assert rest is not None and (rest.first_lsn, rest.last_lsn) == (4, 10)


def test_wal_id_differs_between_directories_so_tokens_never_collide(tmp_path: Path) -> None:
    tokens = []
    for name in ("collector-a", "collector-b"):
        with WriteAheadLog.open(tmp_path / name, fsync=False) as wal:
            append_all(wal, [b"same"])
            chunk = wal.read_pending(max_records=1, max_bytes=99)
            assert chunk is not None
            tokens.append(chunk.dedup_token)
    assert tokens[0] != tokens[1]


def test_checkpoint_must_end_the_chunk_handed_out(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, fsync=False) as wal:
        append_all(wal, payloads(5))
        with pytest.raises(ValueError):
            wal.checkpoint(3)
        chunk = wal.read_pending(max_records=3, max_bytes=1 << 20)
        with pytest.raises(ValueError):
            wal.checkpoint(2)
        assert chunk is not None
        wal.checkpoint(chunk.last_lsn)
        wal.checkpoint(chunk.last_lsn)  # repeating the last checkpoint is harmless
        assert wal.checkpointed_lsn == 3


# --- budget and lifecycle --------------------------------------------------------------


def test_full_backlog_rejects_appends_until_a_checkpoint_frees_space(tmp_path: Path) -> None:
    record = HEADER_BYTES + 80
    with WriteAheadLog.open(tmp_path, max_backlog_bytes=10 * record, fsync=False) as wal:
        append_all(wal, [b"e" * 80] * 10)
        with pytest.raises(WalFull):
            append_all(wal, [b"e" * 80])
        assert wal.last_lsn == 10
    with WriteAheadLog.open(tmp_path, max_backlog_bytes=10 * record, fsync=False) as wal:
        with pytest.raises(WalFull):
            append_all(wal, [b"e" * 80])
        chunk = wal.read_pending(max_records=2, max_bytes=1 << 20)
        assert chunk is not None
        wal.checkpoint(chunk.last_lsn)
        assert append_all(wal, [b"e" * 80] * 2) == [11, 12]


def test_payload_larger_than_the_budget_is_rejected(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, max_backlog_bytes=1000, fsync=False) as wal:
        with pytest.raises(ValueError):
            append_all(wal, [b"x" * 1000])


def test_a_directory_is_opened_by_one_log_at_a_time(tmp_path: Path) -> None:
    with WriteAheadLog.open(tmp_path, fsync=False):
        with pytest.raises(WalError):
            WriteAheadLog.open(tmp_path, fsync=False)


def test_closed_log_refuses_appends_and_reads(tmp_path: Path) -> None:
    wal = WriteAheadLog.open(tmp_path)
    wal.close()
    wal.close()
    with pytest.raises(WalClosed):
        append_all(wal, [b"late"])
    with pytest.raises(WalClosed):
        wal.read_pending(max_records=1, max_bytes=1)
    with pytest.raises(WalClosed):
        wal.checkpoint(1)


# --- durability ------------------------------------------------------------------------


def test_concurrent_appends_share_fsyncs_and_return_only_once_covered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wal = WriteAheadLog.open(tmp_path)
    covered = [0]  # highest LSN written before a completed fdatasync started
    real_fdatasync = os.fdatasync

    def recording_fdatasync(fd: int) -> None:
        written_before = wal.last_lsn
        real_fdatasync(fd)
        covered[0] = max(covered[0], written_before)

    monkeypatch.setattr(os, "fdatasync", recording_fdatasync)

    async def acknowledged(payload: bytes) -> int:
        lsn = await append(wal, payload)
        assert lsn <= covered[0], "acknowledged before an fsync covered the record"
        return lsn

    async def burst() -> list[int]:
        return list(await asyncio.gather(*(acknowledged(b"e" * 1000) for _ in range(200))))

    with wal:
        assert sorted(asyncio.run(burst())) == list(range(1, 201))
        assert 1 <= wal.fsync_count <= 20


def test_fsync_failure_fails_the_append_and_every_later_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fdatasync(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    with WriteAheadLog.open(tmp_path) as wal:
        monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
        with pytest.raises(WalClosed):
            append_all(wal, [b"lost"])
        with pytest.raises(WalClosed):
            append_all(wal, [b"refused"])
        assert wal.read_pending(max_records=1, max_bytes=99) is None  # never durable


def test_failed_write_leaves_no_partial_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_writev = os.writev

    def disk_full_midway(fd: int, buffers: list[bytes]) -> int:
        os.write(fd, b"".join(buffers)[:7])
        raise OSError(errno.ENOSPC, "No space left on device")

    with WriteAheadLog.open(tmp_path, fsync=False) as wal:
        append_all(wal, [b"first"])
        monkeypatch.setattr(os, "writev", disk_full_midway)
        with pytest.raises(WalError):
            append_all(wal, [b"does not fit"])
        monkeypatch.setattr(os, "writev", real_writev)
        assert append_all(wal, [b"second"]) == [2]
    with caplog.at_level(logging.WARNING, logger="northstar.collector.wal"):
        with WriteAheadLog.open(tmp_path, fsync=False) as wal:
            assert [r.payload for r in everything_pending(wal)] == [b"first", b"second"]
    assert not caplog.records


_CRASHING_APPENDER = """
import asyncio, hashlib, os, sys
from pathlib import Path
from collector.wal import WriteAheadLog

async def appender(wal):
    while True:
        payload = os.urandom(int.from_bytes(os.urandom(2), "big") % 4000 + 1)
        lsn = wal.write(payload)
        await wal.wait_durable(lsn)
        print(lsn, hashlib.sha256(payload).hexdigest(), flush=True)

async def main():
    wal = WriteAheadLog.open(Path(sys.argv[1]), segment_max_bytes=32 << 10)
    await asyncio.gather(*(appender(wal) for _ in range(8)))

asyncio.run(main())
"""


def test_every_acknowledged_record_survives_sigkill(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_APPENDER, str(tmp_path)],
        stdout=subprocess.PIPE,
        cwd=REPO_ROOT,
        text=True,
    )
    assert child.stdout is not None
    acknowledged = [child.stdout.readline() for _ in range(400)]
    child.send_signal(signal.SIGKILL)
    acknowledged += child.stdout.readlines()  # printed (so acknowledged) before the kill
    child.wait()
    expected = dict(line.split() for line in acknowledged if line.endswith("\n"))
    with WriteAheadLog.open(tmp_path) as wal:
        recovered = {str(r.lsn): hashlib.sha256(r.payload).hexdigest() for r in everything_pending(wal)}
    assert len(expected) >= 400
    assert {lsn: recovered.get(lsn) for lsn in expected} == expected


# --- recovery from damage --------------------------------------------------------------


def write_records(directory: Path, count: int, **options: int) -> list[bytes]:
    sent = payloads(count)
    with WriteAheadLog.open(directory, fsync=False, **options) as wal:
        append_all(wal, sent)
    return sent


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def record_offset(sent: list[bytes], index: int) -> int:
    return sum(HEADER_BYTES + len(p) for p in sent[:index])


def write_torn_record(segment: Path, lsn: int, payload: bytes, keep: int) -> None:
    """The first `keep` bytes of a record a crash interrupted: never acknowledged."""
    with segment.open("ab") as file:
        file.write((encode_header(lsn, payload) + payload)[:keep])


def test_torn_tail_is_truncated_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sent = write_records(tmp_path, 10)
    [segment] = segment_files(tmp_path)
    write_torn_record(segment, 11, b"torn" * 10, HEADER_BYTES + 35)
    with caplog.at_level(logging.WARNING, logger="northstar.collector.wal"):
        with WriteAheadLog.open(tmp_path, fsync=False) as wal:
            assert [r.payload for r in everything_pending(wal)] == sent
            assert append_all(wal, [b"after"]) == [11]
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "torn tail" in caplog.text


def test_checksum_mismatch_in_last_record_is_a_torn_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sent = write_records(tmp_path, 10)
    [segment] = segment_files(tmp_path)
    write_torn_record(segment, 11, b"torn" * 10, HEADER_BYTES + 40)  # complete, never fsync'd
    flip_byte(segment, segment.stat().st_size - 1)
    with caplog.at_level(logging.WARNING, logger="northstar.collector.wal"):
        with WriteAheadLog.open(tmp_path, fsync=False) as wal:
            assert [r.payload for r in everything_pending(wal)] == sent
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert segment.stat().st_size == record_offset(sent, 10)


def test_damage_inside_a_segment_drops_only_that_record_and_logs_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sent = write_records(tmp_path, 10)
    [segment] = segment_files(tmp_path)
    flip_byte(segment, record_offset(sent, 4) + HEADER_BYTES + 1)  # payload of LSN 5
    with caplog.at_level(logging.WARNING, logger="northstar.collector.wal"):
        with WriteAheadLog.open(tmp_path, fsync=False) as wal:
            assert [r.lsn for r in everything_pending(wal)] == [1, 2, 3, 4, 6, 7, 8, 9, 10]
            assert append_all(wal, [b"after"]) == [11]
    assert {r.levelname for r in caplog.records} == {"ERROR"}
    assert "after LSN 4, before LSN 6" in caplog.text
    assert segment.with_name(segment.name + ".corrupt").exists()


def test_damage_in_a_sealed_segment_keeps_later_segments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_records(tmp_path, 12, segment_max_bytes=100)
    oldest = segment_files(tmp_path)[0]
    os.truncate(oldest, oldest.stat().st_size - 3)
    with caplog.at_level(logging.WARNING, logger="northstar.collector.wal"):
        with WriteAheadLog.open(tmp_path, fsync=False) as wal:
            lsns = [r.lsn for r in everything_pending(wal)]
    assert lsns[0] == 1 and lsns[-1] == 12 and len(lsns) == 11
    assert {r.levelname for r in caplog.records} == {"ERROR"}
