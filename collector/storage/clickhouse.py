"""The one way to reach ClickHouse: a clickhouse-connect client built from a DSN.

`chdb:///path` runs ClickHouse in this process (one process per path); `http(s)://` reaches
a server or cluster with the same code. A client serialises its calls, so each thread
that talks to ClickHouse builds its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

__all__ = ["connect", "per_thread", "Client", "is_embedded"]

_SCHEMES = ("chdb", "http", "https")


def is_embedded(dsn: str) -> bool:
    """True for a `chdb://` DSN: the store runs inside this process, which must then be its only user."""
    return urlsplit(dsn).scheme == "chdb"


def connect(dsn: str) -> Client:
    """A new client for `dsn`; raises ValueError for an unsupported scheme."""
    scheme = urlsplit(dsn).scheme
    if scheme not in _SCHEMES:
        raise ValueError(f"ClickHouse DSN must start with one of {_SCHEMES}, got {dsn!r}")
    return clickhouse_connect.get_client(dsn=dsn)


def per_thread(connect_fn: Callable[[], Client]) -> Callable[[], Client]:
    """A getter returning the calling thread's own client, built on first use."""
    local = threading.local()

    def client() -> Client:
        existing = getattr(local, "client", None)
        if existing is None:
            existing = local.client = connect_fn()
        return existing

    return client
