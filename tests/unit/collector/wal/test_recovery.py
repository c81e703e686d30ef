"""Damage to the last records of the newest segment: a torn write a crash left (never
acknowledged, truncated with a WARNING) is told from damage to records that were
acknowledged (an ERROR, the original kept as `.corrupt`, as for damage mid-segment)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
from pathlib import Path

import pytest

from collector.wal import WriteAheadLog
from collector.wal.records import encode_header

HEADER_BYTES = 20
EVENTS = [f"event-{n}:".encode() * 40 for n in range(10)]


def append(wal: WriteAheadLog, payloads: list[bytes]) -> list[int]:
    """Log `payloads` as request handlers do: write each, then wait until all are durable."""

    async def gather() -> list[int]:
        lsns = [wal.write(payload) for payload in payloads]
        await asyncio.gather(*(wal.wait_durable(lsn) for lsn in lsns))
        return lsns

    return asyncio.run(gather())


def pending_lsns(wal: WriteAheadLog) -> list[int]:
    chunk = wal.read_pending(max_records=1 << 30, max_bytes=1 << 40)
    return [record.lsn for record in chunk.records] if chunk else []


def only_segment(directory: Path) -> Path:
    [segment] = sorted(directory.glob("*.wal"))
    return segment


def reopen_logging(directory: Path, caplog: pytest.LogCaptureFixture) -> tuple[list[int], list[str], list[int]]:
    """Pending LSNs after recovery, the levels it logged, and the LSN of one more append."""
    with caplog.at_level(logging.WARNING, logger="northstar.collector.wal"):
        with WriteAheadLog.open(directory, fsync=False) as wal:
            lsns = pending_lsns(wal)
            after = append(wal, [b"after"])
    return lsns, [record.levelname for record in caplog.records], after


def closed_after_appending(directory: Path) -> Path:
    """The segment of a log that acknowledged EVENTS (LSNs 1-10) and was closed cleanly."""
    with WriteAheadLog.open(directory, fsync=False) as wal:
        append(wal, EVENTS)
    return only_segment(directory)


def test_a_cut_off_acknowledged_last_record_is_an_error_with_the_original_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    segment = closed_after_appending(tmp_path)
    original = segment.read_bytes()
    os.truncate(segment, len(original) - 100)

    lsns, levels, after = reopen_logging(tmp_path, caplog)

    assert lsns == list(range(1, 10))
    assert set(levels) == {"ERROR"}
    assert "acknowledged records lost (after LSN 9)" in caplog.text
    assert segment.with_name(segment.name + ".corrupt").read_bytes() == original[:-100]
    assert after == [11]  # LSN 10 was handed out once: not again


def test_a_huge_length_in_the_last_acknowledged_header_is_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    segment = closed_after_appending(tmp_path)
    data = bytearray(segment.read_bytes())
    last = len(data) - (HEADER_BYTES + len(EVENTS[-1]))
    struct.pack_into("<I", data, last + 4, 0xFFFF_FFF0)
    segment.write_bytes(bytes(data))

    lsns, levels, _ = reopen_logging(tmp_path, caplog)

    assert lsns == list(range(1, 10))
    assert set(levels) == {"ERROR"}
    assert segment.with_name(segment.name + ".corrupt").exists()


def crashed_after_a_claim(tmp_path: Path) -> Path:
    """A log directory as SIGKILL leaves it (no close) once the writer claimed a chunk: its
    state file, stored with the claim, knows LSNs 1-10 were acknowledged."""
    directory, survivor = tmp_path / "wal", tmp_path / "after-crash"
    wal = WriteAheadLog.open(directory, fsync=False)
    append(wal, EVENTS)
    assert wal.read_pending(max_records=2, max_bytes=1 << 20) is not None
    shutil.copytree(directory, survivor)
    wal.close()
    return survivor


def test_after_a_crash_records_acknowledged_before_the_last_state_write_are_known(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    survivor = crashed_after_a_claim(tmp_path)
    segment = only_segment(survivor)
    os.truncate(segment, segment.stat().st_size - 100)

    lsns, levels, _ = reopen_logging(survivor, caplog)

    assert lsns == [1, 2]  # the claimed chunk comes back first, unchanged
    assert set(levels) == {"ERROR"}
    assert segment.with_name(segment.name + ".corrupt").exists()


def test_a_torn_write_after_every_acknowledged_record_is_still_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    survivor = crashed_after_a_claim(tmp_path)
    segment = only_segment(survivor)
    with segment.open("ab") as file:  # LSN 11's header and half its payload, then the crash
        file.write((encode_header(11, EVENTS[0]) + EVENTS[0])[: HEADER_BYTES + 50])

    _, levels, after = reopen_logging(survivor, caplog)

    assert levels == ["WARNING"]
    assert "torn tail" in caplog.text
    assert not segment.with_name(segment.name + ".corrupt").exists()
    assert after == [11]
