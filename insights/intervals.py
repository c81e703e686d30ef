"""Calendar intervals in a time zone: the SQL that buckets an event and the full list of buckets.

ClickHouse buckets each event (`toStartOfHour/toDate/toStartOfWeek/toStartOfMonth(ts, tz)`),
Python lists every interval of the range with zoneinfo, so a result has every interval even
where nothing happened, and a DST day is one interval of 23 or 25 hours (an hour interval
list has 23 or 25 entries that day). Weeks start on Sunday (PostHog's default).

A bucket's key is its label: `YYYY-MM-DD` for day, week (its Sunday) and month (its first
day); for hours the local start as RFC 3339 with the zone's offset (`2026-03-29T03:00:00+02:00`),
which tells the two 01:00 hours of a fall-back night apart.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from insights.query import DateRange, zone

__all__ = ["Interval", "INTERVALS", "bucket_sql", "bucket_label", "interval_labels", "MAX_INTERVALS"]

Interval = Literal["hour", "day", "week", "month"]
INTERVALS: tuple[str, ...] = Interval.__args__  # type: ignore[attr-defined]
MAX_INTERVALS = 1000
"""The most points one series may have (an hour interval over 41 days)."""


def bucket_sql(interval: Interval, timestamp: str, tz_param: str) -> str:
    """A SQL expression of the event's bucket: Date for day/week/month, UInt32 Unix seconds for hour."""
    if interval == "hour":
        return f"toUnixTimestamp(toStartOfHour({timestamp}, {tz_param}))"
    if interval == "day":
        return f"toDate({timestamp}, {tz_param})"
    if interval == "week":
        return f"toStartOfWeek({timestamp}, 0, {tz_param})"
    return f"toStartOfMonth({timestamp}, {tz_param})"


def bucket_label(bucket: dt.date | int, timezone: str) -> str:
    """The label of a bucket as `bucket_sql` returns it (a date, or Unix seconds for hours)."""
    if isinstance(bucket, int):
        return dt.datetime.fromtimestamp(bucket, zone(timezone)).isoformat()
    return bucket.isoformat()


def interval_labels(interval: Interval, date_range: DateRange) -> list[str]:
    """Every interval touching the range, in order (the first week or month may start before `date_from`)."""
    first, last = date_range.date_from, date_range.date_to
    if interval == "hour":
        start, end = date_range.bounds()
        tz = zone(date_range.timezone)
        labels, instant = [], start
        while instant < end:
            labels.append(instant.astimezone(tz).isoformat())
            instant += dt.timedelta(hours=1)
        return labels
    if interval == "day":
        return [(first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    if interval == "week":
        sunday = first - dt.timedelta(days=(first.weekday() + 1) % 7)
        return [(sunday + dt.timedelta(weeks=n)).isoformat() for n in range((last - sunday).days // 7 + 1)]
    months = (last.year - first.year) * 12 + last.month - first.month
    return [dt.date(first.year + (first.month - 1 + n) // 12, (first.month - 1 + n) % 12 + 1, 1).isoformat()
            for n in range(months + 1)]

