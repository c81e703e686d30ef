"""Collector configuration: one object built from flags and `NORTHSTAR_*` variables, passed down."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from collector.event_time import IMPORT_WINDOW, LIVE_WINDOW, EventTimeWindow
from sdk.wire import MAX_BATCH_BYTES, MAX_EVENT_BYTES

__all__ = [
    "CollectorSettings", "ConnectionLimits", "Limits", "check_clickhouse_dsn", "load_or_create_secret", "redact_dsn",
]


@dataclass(frozen=True)
class Limits:
    """Size limits on every input, in bytes (decompressed) or events."""

    max_event_bytes: int = MAX_EVENT_BYTES
    max_batch_bytes: int = MAX_BATCH_BYTES
    max_compressed_bytes: int = 500 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    """What one client connection may hold (the edge enforces them); seconds, bytes.

    A request's head must arrive within `head_timeout_seconds` of the connection opening
    (or of its first byte after a response); its body within `body_timeout_seconds` of the
    head plus one second per `body_min_bytes_per_second` received; a kept-alive connection
    idle for `keep_alive_timeout_seconds` is closed. At most `max_connections_per_client`
    connections per client address (0: no cap): behind a proxy or load balancer, which is one
    address for everyone, turn it off or raise it.
    """

    head_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    body_min_bytes_per_second: int = 16 * 1024
    max_head_bytes: int = 64 * 1024
    keep_alive_timeout_seconds: float = 15.0
    """Longer than the ingestion Retry-After (5 s), so a client that waits that long finds its connection open."""
    max_connections_per_client: int = 512


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
    """Past this many requests in flight (not connections) the server answers 503: memory stays bounded."""
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    limits: Limits = field(default_factory=Limits)
    live_window: EventTimeWindow = LIVE_WINDOW
    """Event times the SDK routes store as sent; others are stored at their receive time."""
    import_window: EventTimeWindow = IMPORT_WINDOW
    """Event times `/v1/import` accepts; events dated outside are refused by index."""

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def dead_letter_dir(self) -> Path:
        return self.data_dir / "dead-letter"


def default_clickhouse_dsn(data_dir: Path) -> str:
    """The embedded default: chDB in this process, data under the data directory."""
    return f"chdb://{(data_dir / 'clickhouse').resolve()}"


def check_clickhouse_dsn(dsn: str) -> str:
    """`dsn` if the store can be reached through it at all; else ValueError saying what is wrong.

    Checked at start, so a typo refuses to start instead of acknowledging events that can
    never be stored: `chdb:///absolute/path` (three slashes: a relative path would move with
    the working directory) or `http(s)://[user:password@]host[:port][/database]`.
    """
    try:
        parts = urlsplit(dsn)
        parts.port  # raises ValueError for a port that is not a number in range
    except ValueError as error:
        raise ValueError(f"ClickHouse DSN {redact_dsn(dsn)!r} is not a URL: {error}") from None
    if parts.scheme == "chdb":
        if parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"chDB DSN {dsn!r} needs an absolute path: chdb:///absolute/path (three slashes)")
    elif parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"ClickHouse DSN {redact_dsn(dsn)!r} names no host: {parts.scheme}://host:8123")
    else:
        raise ValueError(f"ClickHouse DSN {redact_dsn(dsn)!r}: unknown scheme {parts.scheme!r}; "
                         "use chdb:///absolute/path or http(s)://host:8123")
    return dsn


def redact_dsn(dsn: str) -> str:
    """`dsn` with its password replaced by `***`, for logs and messages."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "<unparseable DSN>"
    if parts.password is None:
        return dsn
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


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
