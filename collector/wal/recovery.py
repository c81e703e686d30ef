"""Open-time recovery: validate every live segment, cut torn tails, salvage around damage.

Behaviour on damage (found by CRC, header and LSN-order checks):
- Damage at the very end of the newest segment, after every record the state file knows was
  acknowledged, is a torn write from a crash: nothing in it was acknowledged, so the segment
  is truncated to its last good record (WARNING). The state file learns what is acknowledged
  whenever it is stored (each chunk claimed and checkpointed) and on close, so only records
  acknowledged since the last store before a crash cannot be told from a torn write.
- Any other damage (inside a segment, at the end of a sealed one, or destroying a record
  known to be acknowledged) means acknowledged data was destroyed by the disk or by hand. The log neither stops there nor drops later records:
  the good records around the damage are kept, the damaged bytes are dropped, the original
  file is kept beside the segment as `<name>.corrupt` for forensics, and the lost LSNs are
  reported at ERROR. LSNs then have a gap; everything else is replayed as usual.
"""

from __future__ import annotations

import logging
import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path

from .records import Damage, Span, scan
from .segments import Position, Segment, count_checkpointed, list_segments
from .state import fsync_directory

logger = logging.getLogger("northstar.collector.wal")


@dataclass
class Recovered:
    """What recovery found: live segments (oldest first) and the backlog after the checkpoint."""

    segments: list[Segment] = field(default_factory=list)
    last_lsn: int = 0
    cursor: Position | None = None
    backlog_records: int = 0
    backlog_bytes: int = 0


def _scan_file(path: Path, after_lsn: int) -> list[Span | Damage]:
    size = path.stat().st_size
    if size == 0:
        return []
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return list(scan(data, after_lsn))


def _truncate(path: Path, size: int, *, fsync: bool) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _rewrite_without_damage(path: Path, spans: list[Span], *, fsync: bool) -> None:
    """Replace `path` by its good records only, keeping the original as `<name>.corrupt`."""
    repaired = path.with_name(path.name + ".repair.tmp")
    with open(path, "rb") as source, open(repaired, "wb") as target:
        for span in spans:
            source.seek(span.start)
            target.write(source.read(span.end - span.start))
        target.flush()
        if fsync:
            os.fsync(target.fileno())
    try:
        os.link(path, path.with_name(path.name + ".corrupt"))
    except FileExistsError:
        pass
    os.replace(repaired, path)
    if fsync:
        fsync_directory(path.parent)


def _lost_lsns(entries: list[Span | Damage], index: int, after_lsn: int) -> str:
    """Human-readable LSN range destroyed by the damage at entries[index]."""
    before = next((e.lsn for e in reversed(entries[:index]) if isinstance(e, Span)), after_lsn)
    following = next((e.lsn for e in entries[index:] if isinstance(e, Span)), None)
    return f"after LSN {before}" + (f", before LSN {following}" if following else "")


def _repair(
    path: Path, entries: list[Span | Damage], after_lsn: int, acknowledged_lsn: int, *, newest: bool, fsync: bool
) -> None:
    """Fix `path` in place so that it holds only good records; log what was lost."""
    damage = [(i, e) for i, e in enumerate(entries) if isinstance(e, Damage)]
    spans = [e for e in entries if isinstance(e, Span)]
    last_good = spans[-1].lsn if spans else after_lsn
    torn_tail = (newest and len(damage) == 1 and damage[0][0] == len(entries) - 1
                 and last_good >= acknowledged_lsn)
    if torn_tail:
        logger.warning(
            "WAL %s: torn tail of %d bytes at offset %d (%s) truncated; it was never acknowledged",
            path.name, damage[0][1].end - damage[0][1].start, damage[0][1].start,
            _lost_lsns(entries, damage[0][0], after_lsn),
        )
        _truncate(path, damage[0][1].start, fsync=fsync)
        return
    for index, bad in damage:
        logger.error(
            "WAL %s: %d corrupt bytes at offset %d dropped, acknowledged records lost (%s)",
            path.name, bad.end - bad.start, bad.start, _lost_lsns(entries, index, after_lsn),
        )
    _rewrite_without_damage(path, spans, fsync=fsync)
    logger.error("WAL %s: original kept as %s.corrupt", path.name, path.name)


def recover(directory: Path, checkpointed_lsn: int, acknowledged_lsn: int = 0, *, fsync: bool) -> Recovered:
    """Validate and repair the segments of `directory`; measure the backlog after the checkpoint.

    `acknowledged_lsn`: every record up to it was acknowledged (the state file's lower bound).
    """
    for leftover in directory.glob("*.repair.tmp"):
        leftover.unlink()
    segments = list_segments(directory)
    obsolete = count_checkpointed(segments, checkpointed_lsn)
    for segment in segments[:obsolete]:
        segment.path.unlink()
    result = Recovered(segments=segments[obsolete:])
    for index, segment in enumerate(result.segments):
        entries = _scan_file(segment.path, result.last_lsn)
        if any(isinstance(entry, Damage) for entry in entries):
            newest = index == len(result.segments) - 1
            _repair(segment.path, entries, result.last_lsn, acknowledged_lsn, newest=newest, fsync=fsync)
            entries = _scan_file(segment.path, result.last_lsn)
        segment.size = segment.path.stat().st_size
        for span in entries:
            if isinstance(span, Span):
                _account(result, segment, span, checkpointed_lsn)
    return result


def _account(result: Recovered, segment: Segment, span: Span, checkpointed_lsn: int) -> None:
    result.last_lsn = span.lsn
    if span.lsn <= checkpointed_lsn:
        return
    if result.cursor is None:
        result.cursor = Position(segment.first_lsn, span.start)
    result.backlog_records += 1
    result.backlog_bytes += span.end - span.start
