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
    "AnalyticsLimits", "CollectorSettings", "ConnectionLimits", "Credentials", "Limits", "MIN_SECRET_LENGTH", "SecretSource",
    "check_clickhouse_dsn", "check_credentials", "load_credentials", "load_or_create_secret", "redact_dsn",
]

MIN_SECRET_LENGTH = 16
"""Fewest characters of an admin secret or SDK key (the write key is public: any length)."""


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
class AnalyticsLimits:
    """What analytical queries (insights) may take from the store ingestion shares.

    Each query runs with ClickHouse's `max_execution_time` (`max_query_seconds`) and
    `max_memory_usage` (`max_query_memory_bytes`): past either it is cut off and answered 503.
    At most `max_concurrent_queries` run at once; another waits up to `queue_seconds` for a
    slot, then is answered 429 with Retry-After.
    """

    max_query_seconds: float = 30.0
    max_query_memory_bytes: int = 2 << 30
    max_concurrent_queries: int = 2
    queue_seconds: float = 5.0


@dataclass(frozen=True)
class CollectorSettings:
    """Everything the collector process needs to know; immutable once built."""

    data_dir: Path
    clickhouse_dsn: str
    write_keys: frozenset[str]
    admin_secret: str
    sdk_keys: frozenset[str] = frozenset()
    """Server-side SDK keys: `GET /v1/sdk/definitions` (local evaluation) needs one."""
    secure_cookies: bool = False
    secret_guess_burst: int = 20
    """Refused secrets one client address may present before its guesses are throttled (429)."""
    """Mark the dashboard's cookie Secure even over http (TLS ended by a proxy); https requests always are."""
    session_idle_seconds: float = 3600.0
    """A dashboard session ends after this long without a request..."""
    session_max_seconds: float = 12 * 3600.0
    """... and this long after sign-in, whatever happens."""
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
    analytics: AnalyticsLimits = field(default_factory=AnalyticsLimits)
    limits: Limits = field(default_factory=Limits)
    live_window: EventTimeWindow = LIVE_WINDOW
    """Event times the SDK routes store as sent; others are stored at their receive time."""
    import_window: EventTimeWindow = IMPORT_WINDOW
    """Event times `/v1/import` accepts; events dated outside are refused by index."""

    def __post_init__(self) -> None:
        check_credentials(self.write_keys, self.sdk_keys, self.admin_secret)

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


def check_clickhouse_dsn(dsn: str) -> str:
    """`dsn` if the store can be reached through it at all; else ValueError saying what is wrong.

    Checked at start, so a typo refuses to start instead of acknowledging events that can
    never be stored: `chdb:///absolute/path` (three slashes: a relative path would move with
    the working directory) or `http(s)://[user:password@]host[:port][/database]`.
    """
    try:
        parts = urlsplit(dsn)
        _ = parts.port  # raises ValueError for a port that is not a number in range
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


@dataclass(frozen=True)
class SecretSource:
    """Where one kind of credential comes from: values (flags, environment) or a file, not both.

    A file holds one value per line (blank lines ignored), so secrets stay out of `ps` and
    shell history; systemd credentials and container secrets are such files.
    """

    values: tuple[str, ...] = ()
    file: Path | None = None


@dataclass(frozen=True)
class Credentials:
    """The write keys, SDK keys and admin secret a server starts with.

    `generated` holds one line per credential created just now, to print once.
    """

    write_keys: frozenset[str]
    sdk_keys: frozenset[str]
    admin_secret: str
    generated: tuple[str, ...] = ()


# kind: (what it is called, the file it is generated into under the data directory, its flags)
_KINDS = {
    "write_keys": ("write key", "write_key", "--write-key/--write-key-file"),
    "sdk_keys": ("SDK key", "sdk_key", "--sdk-key/--sdk-key-file"),
    "admin_secret": ("admin secret", "admin_secret", "--admin-secret/--admin-secret-file"),
}


def load_credentials(
    data_dir: Path, *, write_keys: SecretSource, sdk_keys: SecretSource, admin_secret: SecretSource
) -> Credentials:
    """Each credential from its source, else from the data directory, else generated there (mode 0600).

    Everything given is read and checked (`check_credentials`) before anything is generated,
    so a refused start creates nothing. Raises ValueError with one line naming the problem.
    """
    sources = {"write_keys": write_keys, "sdk_keys": sdk_keys, "admin_secret": admin_secret}
    found = {kind: _given(kind, source, data_dir) for kind, source in sources.items()}
    if len(found["admin_secret"]) > 1:
        raise ValueError("give one admin secret (its file holds one line)")
    check_credentials(frozenset(found["write_keys"]), frozenset(found["sdk_keys"]),
                      found["admin_secret"][0] if found["admin_secret"] else None)
    generated = []
    for kind, values in found.items():
        if not values:
            name, file_name, _ = _KINDS[kind]
            value, _ = load_or_create_secret(data_dir / file_name)
            found[kind] = [value]
            generated.append(f"Generated {name} (stored in {data_dir / file_name}): {value}")
    return Credentials(frozenset(found["write_keys"]), frozenset(found["sdk_keys"]), found["admin_secret"][0],
                       tuple(generated))


def _given(kind: str, source: SecretSource, data_dir: Path) -> list[str]:
    """The values of `source`, else of the data directory's file; [] when there are none yet."""
    name, file_name, flags = _KINDS[kind]
    values = [value.strip() for value in source.values if value.strip()]
    if values and source.file is not None:
        raise ValueError(f"the {name} is given both as a value and as a file ({flags}): give one")
    path = source.file if source.file is not None else data_dir / file_name
    if values or (source.file is None and not path.exists()):
        return values
    try:
        values = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read the {name} from {path}: {getattr(error, 'strerror', None) or error}") from None
    if not values:
        raise ValueError(f"{path} holds no {name}")
    return values


def check_credentials(write_keys: frozenset[str], sdk_keys: frozenset[str], admin_secret: str | None) -> None:
    """Raise ValueError (one line) unless secrets are long enough and no credential doubles as another.

    The admin secret and SDK keys need `MIN_SECRET_LENGTH` characters; an SDK key or the admin
    secret equal to a write key (public, shipped in browser apps) would be no secret at all.
    """
    for name, value in [("admin secret", admin_secret), *(("SDK key", key) for key in sdk_keys)]:
        if value is not None and len(value) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"the {name} must be at least {MIN_SECRET_LENGTH} characters (this one has {len(value)}); "
                "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(24))'")
    if sdk_keys & write_keys or admin_secret in write_keys:
        raise ValueError("an SDK key or the admin secret equals a write key, which is public: use different values")
    if admin_secret in sdk_keys:
        raise ValueError("the admin secret equals an SDK key: use different values")
