"""Which client event times are stored as sent: a window around the time the event arrived.

`events` is partitioned by the month of an event's own time, which the client chooses.
Unbounded, two 440 KB batches dated over years 1–700 made 8,400 partitions (measured:
later events stored 114 s late, `GET /v1/events?limit=1` 22 s), and about 25 such requests
reach ClickHouse's parts limit. So an event's time — its `timestamp` (else
`originalTimestamp`), and that time corrected for clock skew as the materialized view does —
must lie in a window around the receive time. Outside it, the live routes store the event at
its receive time and keep what the client sent in `client_timestamp` (as PostHog does past
23 h ahead, and Mixpanel past 1 h); `/v1/import`, made for backfills, refuses the event by
index with the reason, so a wrong year in a backfill is seen rather than folded into today
(Mixpanel's `/import` does the same before 1971).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

__all__ = ["EventTimeWindow", "LIVE_WINDOW", "IMPORT_WINDOW", "SKEW_TOLERANCE", "client_time_bounds", "as_utc"]

SKEW_TOLERANCE = timedelta(seconds=10)
"""A device clock off by more than this (sentAt against receivedAt) is corrected; the same
10 s as the materialized view's `> 10000` milliseconds (schema migration 4)."""

_ZERO = timedelta(0)
_EARLIEST = datetime.min.replace(tzinfo=timezone.utc)
_LATEST = datetime.max.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class EventTimeWindow:
    """Event times accepted as sent: at most `max_age` before, `max_ahead` after arrival.

    `outside`: what becomes of an event dated outside — stored at its receive time with the
    client's time kept ("receive_time"), or refused by index with a reason ("reject").
    """

    max_age: timedelta
    max_ahead: timedelta = timedelta(hours=23)
    outside: Literal["receive_time", "reject"] = "receive_time"

    def describe(self) -> str:
        """The window in words, for refusal reasons and help texts."""
        return (f"from {self.max_age.days} days before to {self.max_ahead.total_seconds() / 3600:g} hours "
                f"after the time it arrives, after clock-skew correction")


LIVE_WINDOW = EventTimeWindow(timedelta(days=31))
"""SDK routes: a month covers offline queues of mobile apps; partitions touched stay ≤ 3."""

IMPORT_WINDOW = EventTimeWindow(timedelta(days=3660), outside="reject")
"""`/v1/import`: ten years of backfill, ≤ 122 monthly partitions, however a client dates."""


def client_time_bounds(window: EventTimeWindow, received_at: datetime, sent_at: datetime | None) -> tuple[datetime, datetime]:
    """Earliest and latest client time such that it, and it shifted by the clock skew that
    `sent_at` shows, both lie in `window` (the bounds cross when no time can)."""
    skew = _ZERO if sent_at is None else received_at - as_utc(sent_at)
    if abs(skew) <= SKEW_TOLERANCE:
        skew = _ZERO
    return (_shifted(received_at, -window.max_age - min(skew, _ZERO)),
            _shifted(received_at, window.max_ahead - max(skew, _ZERO)))


def as_utc(moment: datetime) -> datetime:
    """A time without a zone is UTC, as ClickHouse reads it."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _shifted(moment: datetime, delta: timedelta) -> datetime:
    try:
        return moment + delta
    except OverflowError:
        return _LATEST if delta > _ZERO else _EARLIEST
