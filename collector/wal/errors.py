"""Exceptions raised by the write-ahead log; the HTTP and CLI edges map them to answers."""

from __future__ import annotations


class WalError(Exception):
    """Base class: the log cannot do what was asked."""


class WalFull(WalError):
    """The un-checkpointed backlog would exceed the disk budget: shed load (503 + Retry-After).

    Nothing was written; the same append can be retried once the writer catches up.
    """


class RecordTooLarge(WalError, ValueError):
    """One payload is larger than any record the log can hold (its record limit, or the whole
    disk budget): retrying it can never succeed, so it is the client's to split (HTTP 413).

    Nothing was written.
    """


class WalClosed(WalError):
    """The log was closed (shutdown) or is unusable after an I/O failure."""


class WalCorrupt(WalError):
    """Stored bytes failed their checksum or structure check and cannot be trusted."""
