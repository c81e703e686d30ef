"""Delivery counters and the frozen snapshot `Client.stats()` returns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

DropReason = Literal[
    "queue_full", "too_large", "invalid", "rejected", "retry_exhausted", "shutdown", "spool_full", "spool_damaged",
]
"""Why a message was given up on:

- ``queue_full``: the bounded queue was full when the app called (the collector is down or slow).
- ``too_large``: the serialised message exceeded ``max_event_bytes``, or the collector answered
  413 to it alone (a larger batch answered 413 is resent in halves).
- ``invalid``: the call was unusable (no user id, no event name, unserialisable values, ...).
- ``rejected``: the collector refused it (400/401/403, or listed in ``rejected`` of a 2xx).
- ``retry_exhausted``: the collector stayed unreachable or overloaded for ``max_retry_seconds``
  (one budget shared by all batches of an outage; past it batches are dropped at once, but
  for one probe every few seconds, until the collector answers).
- ``shutdown``: submitted after ``shutdown()``, or still pending when its timeout expired (with a
  spool, what was written to it stays there and the next client on that directory sends it).
- ``spool_full``: the spool held ``spool_max_bytes`` of unsent messages.
- ``spool_damaged``: a spool record that failed its checksum, or a torn last write.
"""

DROP_REASONS: tuple[DropReason, ...] = get_args(DropReason)


@dataclass(frozen=True)
class Stats:
    """A consistent snapshot of one client's counters (all counts are messages except `batches`).

    Taken atomically, so at any instant
    ``enqueued + recovered == sent + dropped_total + queued + in_flight``.
    """

    enqueued: int
    """Messages the app submitted while the client was enabled (including ones dropped)."""
    sent: int
    """Messages the collector acknowledged (with ``send=False``: recorded)."""
    batches: int
    """Requests the collector acknowledged."""
    retries: int
    """Repeated attempts of a batch after a retryable failure."""
    spooled: int
    """Messages this process wrote to its disk spool (0 without ``spool_dir``): a crash cannot lose them."""
    recovered: int
    """Messages found in spool files of earlier or dead processes, sent (or dropped) by this one."""
    queued: int
    """Messages waiting in the queue."""
    in_flight: int
    """Messages taken from the queue and not yet sent or dropped (being encoded, sent or retried)."""
    dropped: Mapping[DropReason, int]
    """Messages given up on, by reason; every reason is present."""

    @property
    def pending(self) -> int:
        """Messages neither sent nor dropped yet."""
        return self.queued + self.in_flight

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())
