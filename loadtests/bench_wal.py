"""Write-ahead log throughput: appends/s and MB/s with N concurrent appenders, fsync on vs off.

Run: python -m loadtests.bench_wal [--seconds 1] [--dir /path/on/the/target/disk]

Each configuration appends for a fixed time into a fresh log; the fsync-off run is the
baseline (same code, no durability), and the ratio shows what durability costs once group
commit has amortised it. Each run ends with a sync of the whole disk so that the
baseline's writeback does not slow the next run's fsyncs. The writer's side (read_pending +
checkpoint, one state-file fsync per chunk and per checkpoint) is measured last.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from collector.wal import WriteAheadLog

_BYTES_CAP = 512 << 20  # per run, so the fsync-off baseline does not fill the disk


@dataclass(frozen=True)
class Result:
    """Records appended in one run, their size, the time taken and the fsyncs it needed."""

    records: int
    megabytes: float
    seconds: float
    fsyncs: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def megabytes_per_second(self) -> float:
        return self.megabytes / self.seconds


async def _append_for(
    wal: WriteAheadLog, payload: bytes, concurrency: int, seconds: float, limit: int | None = None
) -> int:
    deadline = time.perf_counter() + seconds
    max_appends = limit or _BYTES_CAP // len(payload)
    done = 0

    async def appender() -> None:
        nonlocal done
        while time.perf_counter() < deadline and done < max_appends:
            await wal.wait_durable(wal.write(payload))
            done += 1

    await asyncio.gather(*(appender() for _ in range(concurrency)))
    return done


def measure_appends(
    root: Path, size: int, concurrency: int, *, fsync: bool, seconds: float
) -> Result:
    """Append for `seconds` into a fresh log under `root`, then delete it and flush the disk,
    so that one run's writeback does not slow the next run's fsyncs."""
    payload = os.urandom(size)
    directory = root / "appends"
    try:
        with WriteAheadLog.open(directory, fsync=fsync, max_backlog_bytes=_BYTES_CAP * 2) as wal:
            started = time.perf_counter()
            appends = asyncio.run(_append_for(wal, payload, concurrency, seconds))
            elapsed = time.perf_counter() - started
            return Result(appends, appends * size / 1e6, elapsed, wal.fsync_count)
    finally:
        shutil.rmtree(directory)
        os.sync()


def measure_drain(root: Path, size: int, records: int, *, max_records: int) -> Result:
    """Read + checkpoint a backlog of `records` as the ClickHouse writer does (after a restart).

    Each chunk costs two durable state-file writes: its claim and its checkpoint."""
    directory = root / "drain"
    with WriteAheadLog.open(directory, fsync=False) as wal:
        asyncio.run(_append_for(wal, os.urandom(size), 1, seconds=float("inf"), limit=records))
    with WriteAheadLog.open(directory) as wal:
        started, payload_bytes, chunks = time.perf_counter(), 0, 0
        while chunk := wal.read_pending(max_records=max_records, max_bytes=64 << 20):
            payload_bytes += sum(len(record.payload) for record in chunk.records)
            chunks += 1
            wal.checkpoint(chunk.last_lsn)
        return Result(records, payload_bytes / 1e6, time.perf_counter() - started, 2 * chunks)


_HEADER = (
    f"{'payload B / appenders / fsync':<30}{'records/s':>11}{'MB/s':>9}{'fsyncs':>8}{'per fsync':>11}"
)


def _row(label: str, result: Result) -> str:
    per_fsync = result.records / result.fsyncs if result.fsyncs else float("nan")
    return (
        f"{label:<30}{result.records_per_second:>11,.0f}{result.megabytes_per_second:>9,.1f}"
        f"{result.fsyncs:>8}{per_fsync:>11.1f}"
    )


def main() -> None:
    """Print appends/s of the write-ahead log with fsync on and off, per record size and concurrency."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="duration of each run")
    parser.add_argument("--dir", type=Path, help="where to put the logs (on the target disk)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 128])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-wal-") as scratch:
        root = Path(scratch)
        print(_HEADER)
        for size in args.sizes:
            for concurrency in args.concurrency:
                runs = {
                    fsync: measure_appends(
                        root, size, concurrency, fsync=fsync, seconds=args.seconds
                    )
                    for fsync in (False, True)
                }
                for fsync, result in runs.items():
                    label = f"{size:>6} / {concurrency:>4} / {'on' if fsync else 'off'}"
                    print(_row(label, result))
                ratio = runs[False].records_per_second / runs[True].records_per_second
                print(f"{'':<30}fsync off/on throughput ratio: {ratio:.1f}x")
        drained = measure_drain(root, 1_000, 200_000, max_records=10_000)
        print(_row("writer drain 1000 B, 10k/chunk", drained))


if __name__ == "__main__":
    main()
