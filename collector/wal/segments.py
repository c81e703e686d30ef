"""Segment files: naming, listing, and reading records back for the writer.

A segment is an append-only file `<first LSN, 20 digits>.wal` holding consecutive records;
only the newest (active) one is appended to, older ones are sealed and only ever deleted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .errors import WalCorrupt
from .records import HEADER_SIZE, Record, checksum_ok, parse_header

_NAME = re.compile(r"^(\d{20})\.wal$")


@dataclass
class Segment:
    """One segment file; `size` counts the bytes of complete records written to it."""

    first_lsn: int
    path: Path
    size: int


class Position(NamedTuple):
    """Where the next record to hand out starts: a segment (by first LSN) and a byte offset."""

    segment_lsn: int
    offset: int


def segment_path(directory: Path, first_lsn: int) -> Path:
    """The file of the segment starting at `first_lsn`: zero-padded, so names sort in log order."""
    return directory / f"{first_lsn:020d}.wal"


def list_segments(directory: Path) -> list[Segment]:
    """Segments present in `directory`, oldest first."""
    found = []
    for path in directory.iterdir():
        if match := _NAME.match(path.name):
            found.append(Segment(int(match.group(1)), path, path.stat().st_size))
    return sorted(found, key=lambda segment: segment.first_lsn)


def count_checkpointed(segments: Sequence[Segment], checkpointed_lsn: int) -> int:
    """How many of the oldest segments hold only records ≤ `checkpointed_lsn`.

    The newest (active) segment is never counted: appends go there.
    """
    count = 0
    while count + 1 < len(segments) and segments[count + 1].first_lsn <= checkpointed_lsn + 1:
        count += 1
    return count


def _read_exact(fd: int, size: int, offset: int, path: Path) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) != size:
        raise WalCorrupt(f"{path}: short read at offset {offset}")
    return data


def _read_record(fd: int, offset: int, path: Path) -> tuple[Record, int]:
    """The record at `offset` and the offset after it; WalCorrupt if it fails its checks."""
    header = _read_exact(fd, HEADER_SIZE, offset, path)
    parsed = parse_header(header)
    if parsed is None:
        raise WalCorrupt(f"{path}: bad record header at offset {offset}")
    length, lsn, crc = parsed
    payload = _read_exact(fd, length, offset + HEADER_SIZE, path)
    if not checksum_ok(header, payload, crc):
        raise WalCorrupt(f"{path}: checksum mismatch for LSN {lsn} at offset {offset}")
    return Record(lsn, payload), offset + HEADER_SIZE + length


def _records_from(
    segments: Sequence[Segment], start: Position
) -> Generator[tuple[Record, Position], None, None]:
    """Records from `start` on with the position after each, within the listed sizes."""
    position = start
    for segment in segments:
        if segment.first_lsn < position.segment_lsn:
            continue
        offset = position.offset if segment.first_lsn == position.segment_lsn else 0
        fd = os.open(segment.path, os.O_RDONLY)
        try:
            while offset < segment.size:
                record, offset = _read_record(fd, offset, segment.path)
                yield record, Position(segment.first_lsn, offset)
        finally:
            os.close(fd)


class Batch(NamedTuple):
    """Records read for one chunk, where reading stopped, and their on-disk size."""

    records: list[Record]
    end: Position
    disk_bytes: int


def read_batch(
    segments: Sequence[Segment],
    start: Position,
    *,
    last_lsn: int,
    max_records: int,
    max_bytes: int,
) -> Batch:
    """Consecutive records from `start` with LSN ≤ `last_lsn`, within the limits.

    At least one record is returned when one is available, even if its payload alone is
    larger than `max_bytes`. `segments` must be a snapshot whose sizes cover only complete
    records.
    """
    records: list[Record] = []
    end, payload_bytes, disk_bytes = start, 0, 0
    with closing(_records_from(segments, start)) as stream:
        for record, after in stream:
            too_big = records and payload_bytes + len(record.payload) > max_bytes
            if record.lsn > last_lsn or len(records) >= max_records or too_big:
                break
            records.append(record)
            payload_bytes += len(record.payload)
            disk_bytes += HEADER_SIZE + len(record.payload)
            end = after
    return Batch(records, end, disk_bytes)
