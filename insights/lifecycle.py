"""Lifecycle and churn, and stickiness: who is new, who comes back, who leaves, and how often people come.

Lifecycle (`POST /v1/insights/lifecycle`), per calendar interval `t` of the range, for the
event (any event when omitted) and the filters; a person is *active* in `t` when they did it then:
- `new`: the person's first such event ever falls in `t` (their first event, not a profile's
  creation time);
- `returning`: active in `t` and in `t - 1` (not new);
- `resurrecting`: active in `t`, not in `t - 1`, active some time before (not new);
- `dormant`: active in `t - 1`, not in `t` (a positive count; charts draw it below zero);
- `churn_rate = dormant / active(t - 1)` (None when nobody was active in `t - 1`).
Activity is counted over whole intervals: the first week or month counts from its own start
(which may lie before `date_from`), and `t - 1` of the first interval is read too.

Stickiness (`POST /v1/insights/stickiness`): over the range's intervals (events in the range
only), `exactly[k - 1]` persons did the event in exactly k of them, `at_least[k - 1]` in k or more.

Both count persons (`collector.persons.resolution`), resends once; filters are the shared
shape (event, person and cohort filters).
"""

from __future__ import annotations

import datetime as dt

import msgspec

from collector.documents import decode_document
from insights.intervals import MAX_INTERVALS, Interval, bucket_label, bucket_sql, interval_labels
from insights.query import DateRange, InsightError, PropertyFilter, validate_date_range, validate_filters, zone
from insights.scan import CohortMembers, no_cohorts, person_events
from insights.sql import Parameters, Rows

__all__ = [
    "ActivityResult", "LifecycleQuery", "LifecyclePoint", "LifecycleResult", "StickinessResult", "activity",
    "parse_lifecycle_query", "lifecycle",
    "stickiness", "previous_start",
]



class LifecycleQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `POST /v1/insights/lifecycle` and `/stickiness`: a track event (None: any track, page or screen
    event) over local days."""

    date_from: dt.date
    date_to: dt.date
    event: str | None = None
    interval: Interval = "day"
    timezone: str = "UTC"
    filters: list[PropertyFilter] = []

    @property
    def date_range(self) -> DateRange:
        """The query's days and zone."""
        return DateRange(self.date_from, self.date_to, self.timezone)


class LifecyclePoint(msgspec.Struct, frozen=True):
    """One interval: persons by status, and the churn rate (None without anyone active before)."""

    date: str
    new: int
    returning: int
    resurrecting: int
    dormant: int
    active: int
    churn_rate: float | None


class LifecycleResult(msgspec.Struct, frozen=True):
    """Every interval of the range, in order."""

    event: str | None
    interval: str
    timezone: str
    points: list[LifecyclePoint]


class StickinessResult(msgspec.Struct, frozen=True):
    """`exactly[k-1]` / `at_least[k-1]`: persons active in exactly / at least k of the `intervals` intervals."""

    event: str | None
    interval: str
    timezone: str
    intervals: int
    exactly: list[int]
    at_least: list[int]


def parse_lifecycle_query(document: bytes | str) -> LifecycleQuery:
    """Decode and validate a lifecycle or stickiness query; raises InsightError naming the field."""
    query = decode_document(document, LifecycleQuery, InsightError, "query")
    if query.event is not None and not 0 < len(query.event) <= 200:
        raise InsightError("event", "name the event (at most 200 characters), or leave it out for any event")
    validate_date_range(query.date_range)
    points = len(interval_labels(query.interval, query.date_range))
    if points > MAX_INTERVALS:
        raise InsightError("date_to", f"{points} {query.interval} intervals; at most {MAX_INTERVALS}")
    validate_filters(query.filters, "filters")
    return query


def previous_start(interval: Interval, first_label: str, timezone: str) -> dt.datetime:
    """The UTC start of the interval before the one labelled `first_label`."""
    tz = zone(timezone)
    if interval == "hour":
        return dt.datetime.fromisoformat(first_label).astimezone(dt.timezone.utc) - dt.timedelta(hours=1)
    day = dt.date.fromisoformat(first_label)
    if interval == "day":
        day -= dt.timedelta(days=1)
    elif interval == "week":
        day -= dt.timedelta(weeks=1)
    else:
        day = (day - dt.timedelta(days=1)).replace(day=1)
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.timezone.utc)


def _shift(interval: Interval, bucket: str, steps: int) -> str:
    """SQL of the bucket `steps` intervals after `bucket` (negative: before)."""
    if interval == "hour":
        return f"toUInt32({bucket} + {3600 * steps})"
    if interval == "day":
        return f"({bucket} + {steps})"
    if interval == "week":
        return f"({bucket} + {7 * steps})"
    return f"addMonths({bucket}, {steps})"


def _bucket_literal(interval: Interval, label: str) -> str:
    if interval == "hour":
        return str(int(dt.datetime.fromisoformat(label).timestamp()))
    return f"toDate('{dt.date.fromisoformat(label).isoformat()}')"


def _condition(query: LifecycleQuery, param: Parameters) -> str:
    return "type IN ('track', 'page', 'screen')" if query.event is None else f"(type = 'track' AND event = {param(query.event, 'String')})"


_LIFECYCLE = """
WITH per_person AS (
    SELECT person, min(bucket) AS first, groupUniqArrayIf(bucket, timestamp >= {lookback}) AS active
    FROM (SELECT person, timestamp, {bucket} AS bucket FROM ({events}))
    GROUP BY person
)
SELECT toString(pair.1) AS at, pair.2 AS status, count() AS persons
FROM (
    SELECT arrayJoin(arrayConcat(
        arrayMap(t -> (t, multiIf(t = first, 'new', has(active, {previous}), 'returning', 'resurrecting')), active),
        arrayMap(t -> ({next}, 'dormant'), arrayFilter(t -> NOT has(active, {next}), active))
    )) AS pair
    FROM per_person
)
WHERE pair.1 >= {first_bucket} AND pair.1 <= {last_bucket}
GROUP BY at, status
"""


def lifecycle(rows: Rows, query: LifecycleQuery, cohorts: CohortMembers = no_cohorts) -> LifecycleResult:
    """Answer a validated lifecycle query in one ClickHouse query."""
    param = Parameters()
    labels = interval_labels(query.interval, query.date_range)
    lookback = previous_start(query.interval, labels[0], query.timezone)
    _, end = query.date_range.bounds()
    bucket = bucket_sql(query.interval, "timestamp", param(query.timezone, "String"))
    sql = _LIFECYCLE.format(
        lookback=param(lookback, "DateTime64(3, 'UTC')"),
        bucket=bucket,
        events=person_events(param, _condition(query, param), None, end, query.filters, cohorts),
        previous=_shift(query.interval, "t", -1),
        next=_shift(query.interval, "t", 1),
        first_bucket=_bucket_literal(query.interval, labels[0]),
        last_bucket=_bucket_literal(query.interval, labels[-1]),
    )
    counts: dict[tuple[str, str], int] = {}
    for at, status, persons in rows(sql, param.values):
        label = bucket_label(int(at) if query.interval == "hour" else dt.date.fromisoformat(at), query.timezone)
        counts[(label, status)] = int(persons)
    points = []
    for label in labels:
        new, returning, resurrecting, dormant = (counts.get((label, s), 0)
                                                 for s in ("new", "returning", "resurrecting", "dormant"))
        before = returning + dormant  # everyone active in t - 1 is either still active (returning) or dormant
        points.append(LifecyclePoint(label, new, returning, resurrecting, dormant, new + returning + resurrecting,
                                     dormant / before if before else None))
    return LifecycleResult(query.event, query.interval, query.timezone, points)


_STICKINESS = """
SELECT intervals, count() AS persons
FROM (SELECT person, uniqExact({bucket}) AS intervals FROM ({events}) GROUP BY person)
GROUP BY intervals
"""


def stickiness(rows: Rows, query: LifecycleQuery, cohorts: CohortMembers = no_cohorts) -> StickinessResult:
    """Answer a validated stickiness query in one ClickHouse query."""
    param = Parameters()
    labels = interval_labels(query.interval, query.date_range)
    start, end = query.date_range.bounds()
    sql = _STICKINESS.format(
        bucket=bucket_sql(query.interval, "timestamp", param(query.timezone, "String")),
        events=person_events(param, _condition(query, param), start, end, query.filters, cohorts),
    )
    exactly = [0] * len(labels)
    for intervals, persons in rows(sql, param.values):
        exactly[int(intervals) - 1] = int(persons)
    at_least = [sum(exactly[k:]) for k in range(len(labels))]
    return StickinessResult(query.event, query.interval, query.timezone, len(labels), exactly, at_least)


class ActivityResult(msgspec.Struct, frozen=True):
    """Active persons on each day: `dau`/`wau`/`mau` did the event (any event: None) in the 1/7/30 days ending then."""

    event: str | None
    timezone: str
    dates: list[str]
    dau: list[int]
    wau: list[int]
    mau: list[int]


_ACTIVITY = """
SELECT toString(day) AS at, uniqExactIf(person, shift < 1) AS dau, uniqExactIf(person, shift < 7) AS wau,
       uniqExact(person) AS mau
FROM (SELECT person, bucket + shift AS day, shift
      FROM (SELECT DISTINCT person, {bucket} AS bucket FROM ({events})) ARRAY JOIN range(30) AS shift)
WHERE day >= {first} AND day <= {last}
GROUP BY at
"""


def activity(rows: Rows, query: LifecycleQuery, cohorts: CohortMembers = no_cohorts) -> ActivityResult:
    """Daily, weekly and monthly active persons on each day of the range (the query's interval is not used):
    the same numbers as trends' `dau`/`wau`/`mau` of one event, here also for any event."""
    param = Parameters()
    tz = zone(query.timezone)
    labels = interval_labels("day", query.date_range)
    start = dt.datetime.combine(query.date_from - dt.timedelta(days=29), dt.time(), tz)
    _, end = query.date_range.bounds()
    sql = _ACTIVITY.format(bucket=bucket_sql("day", "timestamp", param(query.timezone, "String")),
                           events=person_events(param, _condition(query, param), start, end, query.filters, cohorts),
                           first=_bucket_literal("day", labels[0]), last=_bucket_literal("day", labels[-1]))
    found = {at: (int(d), int(w), int(m)) for at, d, w, m in rows(sql, param.values)}
    counts = [found.get(label, (0, 0, 0)) for label in labels]
    return ActivityResult(query.event, query.timezone, labels, [c[0] for c in counts], [c[1] for c in counts],
                          [c[2] for c in counts])
