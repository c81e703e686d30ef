"""Write-ahead log of the collector: an acknowledged event batch is never lost.

Contract with the ClickHouse writer thread::

    while True:
        chunk = wal.read_pending(max_records=..., max_bytes=..., timeout=1.0)
        if chunk is None:
            continue
        # retry this insert until it succeeds; the token makes a repeat a no-op
        insert(decode(chunk.records), insert_deduplication_token=chunk.dedup_token)
        wal.checkpoint(chunk.last_lsn)

`read_pending` returns the same chunk until it is checkpointed, including after a crash and
restart (its bounds are stored before it is first returned), so every insert attempt of a
chunk carries the same dedup token and ClickHouse keeps it once.
"""

from .errors import RecordTooLarge, WalClosed, WalCorrupt, WalError, WalFull
from .log import Chunk, WriteAheadLog
from .records import Record

__all__ = ["Chunk", "Record", "RecordTooLarge", "WalClosed", "WalCorrupt", "WalError", "WalFull", "WriteAheadLog"]
