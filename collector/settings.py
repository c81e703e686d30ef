"""Collector configuration: one object built from flags and `NORTHSTAR_*` variables, passed down."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from collector.event_time import IMPORT_WINDOW, LIVE_WINDOW, EventTimeWindow
from sdk.wire import MAX_BATCH_BYTES, MAX_EVENT_BYTES

__all__ = ["CollectorSettings", "Limits", "load_or_create_secret"]


@dataclass(frozen=True)
class Limits:
    """Size limits on every input, in bytes (decompressed) or events."""

    max_event_bytes: int = MAX_EVENT_BYTES
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_compressed_bytes: int = 500 * 1024


@dataclass(frozen=True)
class CollectorSettings:
    """Everything the collector process needs to know; immutable once built."""

    data_dir: Path
    clickhouse_dsn: str
    write_keys: frozenset[str]
    admin_secret: str
    host: str = "127.0.0.1"
    port: int = 8080
    flush_interval_seconds: float = 0.2
    flush_max_bytes: int = 16 << 20
    wal_max_backlog_bytes: int = 2 << 30
    fsync: bool = True
    cluster: str | None = None
    max_concurrent_requests: int = 1024
    """Past this many requests in flight the server answers 503: memory stays bounded."""
    limits: Limits = field(default_factory=Limits)
    live_window: EventTimeWindow = LIVE_WINDOW
    """Event times the SDK routes store as sent; others are stored at their receive time."""
    import_window: EventTimeWindow = IMPORT_WINDOW
    """Event times `/v1/import` accepts; events dated outside are refused by index."""

    @property
    def wal_dir(self) -> Path:
        """The write-ahead log's directory, under the data directory."""
        return self.data_dir / "wal"

    @property
    def dead_letter_dir(self) -> Path:
        """Where rows ClickHouse refused are kept, with the reason, under the data directory."""
        return self.data_dir / "dead-letter"


def default_clickhouse_dsn(data_dir: Path) -> str:
    """The embedded default: chDB in this process, data under the data directory."""
    return f"chdb://{(data_dir / 'clickhouse').resolve()}"


def load_or_create_secret(path: Path) -> tuple[str, bool]:
    """Read a secret from `path`, creating a random one (mode 0600) on first start.

    Returns the secret and whether it was just created, so the caller can print it once.
    """
    if path.exists():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")
    return value, True
