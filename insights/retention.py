"""Retention: of the persons who did the start event in an interval, how many came back, computed in ClickHouse.

Semantics (PostHog's unless stated):
- Cohorts: one per calendar interval (day, week from Sunday, month) of `timezone` touching the
  date range; cohort i holds the persons who did the start event in interval i (`first_time`:
  whose first start event ever, over all history, falls in interval i).
- Cell (i, k), k ≥ 1 (`calendar`): cohort members who did the return event in interval i + k.
  `rolling`: in the k-th window after their start event (their first in interval i, or their
  first ever for `first_time`): [start + k·P, start + (k+1)·P) with P 24 hours, 7 × 24 hours or
  30 × 24 hours. `cumulative`: in that period or any later one (within the range).
- `values` = [cohort size, cell 1, ..., cell periods-1], cut where the intervals of the range
  end: events after the last interval of the range never count.
- Persons come from `collector.persons.resolution`; resent events count once (`events FINAL`).

Cost: one scan and one GROUP BY person (the interval indexes of the person's start and return
events), then per (person, cohort) array lookups: no self-join.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any, Literal

from collector.persons.resolution import DISTINCT_ID, PERSON_PROPERTIES, person_key
from collector.storage.clickhouse import Client
from insights.matching import EngineInputError, EventMatch, range_bounds

__all__ = [
    "RetentionInterval", "RetentionType", "RetentionWindow", "RetentionQuery", "Cohort", "RetentionResult",
    "MAX_PERIODS", "MAX_COHORTS", "validate_retention_query", "cohort_starts", "retention",
]

RetentionInterval = Literal["day", "week", "month"]
RetentionType = Literal["recurring", "first_time"]
RetentionWindow = Literal["calendar", "rolling"]
MAX_PERIODS = 100
MAX_COHORTS = 400
_ROLLING_MS = {"day": 86_400_000, "week": 7 * 86_400_000, "month": 30 * 86_400_000}


@dataclass(frozen=True)
class RetentionQuery:
    """One retention grid. `person_properties`: conditions may read the column `person_properties`."""

    start_event: EventMatch
    return_event: EventMatch
    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    interval: RetentionInterval = "day"
    periods: int = 8
    type: RetentionType = "recurring"
    window: RetentionWindow = "calendar"
    cumulative: bool = False
    person_properties: bool = False


@dataclass(frozen=True)
class Cohort:
    """The persons who started in the interval beginning `start` (local date) and how many returned per period."""

    start: dt.date
    size: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class RetentionResult:
    """One cohort per interval of the range, oldest first."""

    cohorts: tuple[Cohort, ...]


def cohort_starts(interval: RetentionInterval, date_from: dt.date, date_to: dt.date) -> list[dt.date]:
    """The local first days of every interval touching [date_from, date_to] (weeks start on Sunday)."""
    def floor(day: dt.date) -> dt.date:
        if interval == "week":
            return day - dt.timedelta(days=(day.weekday() + 1) % 7)
        return day.replace(day=1) if interval == "month" else day
    starts, current = [], floor(date_from)
    while current <= date_to:
        starts.append(current)
        current = _next(interval, current)
    return starts


def _next(interval: RetentionInterval, start: dt.date) -> dt.date:
    if interval == "day":
        return start + dt.timedelta(days=1)
    if interval == "week":
        return start + dt.timedelta(days=7)
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def validate_retention_query(query: RetentionQuery) -> None:
    """Raise EngineInputError naming the field of an impossible query."""
    for name, match in (("start_event", query.start_event), ("return_event", query.return_event)):
        if not match.event:
            raise EngineInputError(f"{name}.event", "is empty")
    if query.interval not in _ROLLING_MS:
        raise EngineInputError("interval", "must be day, week or month")
    if query.type not in ("recurring", "first_time"):
        raise EngineInputError("type", "must be recurring or first_time")
    if query.window not in ("calendar", "rolling"):
        raise EngineInputError("window", "must be calendar or rolling")
    if not 1 <= query.periods <= MAX_PERIODS:
        raise EngineInputError("periods", f"must be between 1 and {MAX_PERIODS}")
    range_bounds(query.date_from, query.date_to, query.timezone)
    if len(cohort_starts(query.interval, query.date_from, query.date_to)) > MAX_COHORTS:
        raise EngineInputError("date_from", f"the range holds more than {MAX_COHORTS} {query.interval}s")


_BUCKET = {
    "day": "dateDiff('day', {first:Date}, toDate(__ts__, {tz:String}))",
    "week": "intDiv(dateDiff('day', {first:Date}, toStartOfWeek(__ts__, 0, {tz:String})), 7)",
    "month": "dateDiff('month', {first:Date}, toStartOfMonth(__ts__, {tz:String}))",
}

_SQL = """
SELECT cohort, count() AS size,
       sumForEach(arrayMap(k -> toUInt64(__cell__), range(1, {periods:UInt32}))) AS returned
FROM (
    SELECT person, returns, __cohorts__ AS cohort_anchor, cohort_anchor.1 AS cohort, cohort_anchor.2 AS anchor
    FROM (
        SELECT {person_key} AS person,
               __starts__ AS starts,
               __returns__ AS returns
        FROM (SELECT *, __start__ AS is_start, __return__ AS is_return FROM __source__)
        WHERE timestamp < {range_end:DateTime64(3, 'UTC')} AND __where__
        GROUP BY person
    )
    WHERE notEmpty(starts)
)
WHERE cohort >= 0
GROUP BY cohort
"""


def retention(client: Client, query: RetentionQuery) -> RetentionResult:
    """Run the retention query; raises EngineInputError for an impossible query (before any SQL runs)."""
    validate_retention_query(query)
    starts = cohort_starts(query.interval, query.date_from, query.date_to)
    tz = zoneinfo.ZoneInfo(query.timezone)
    range_start = dt.datetime.combine(starts[0], dt.time(), tz).astimezone(dt.timezone.utc)
    range_end = dt.datetime.combine(_next(query.interval, starts[-1]), dt.time(), tz).astimezone(dt.timezone.utc)
    start_sql, start_parameters = query.start_event.condition("st", "st_event")
    return_sql, return_parameters = query.return_event.condition("rt", "rt_event")
    parameters: dict[str, Any] = {
        **start_parameters, **return_parameters, "first": starts[0], "tz": query.timezone,
        "range_start": range_start, "range_end": range_end, "periods": query.periods,
        "rolling_ms": _ROLLING_MS[query.interval],
    }
    first_time = query.type == "first_time"
    in_range = "timestamp >= {range_start:DateTime64(3, 'UTC')}"
    first_start = "minIf(timestamp, is_start)"
    if query.window == "calendar":
        # (interval index, its start time unused): the person's start intervals.
        starts_sql = (f"if({first_start} >= {{range_start:DateTime64(3, 'UTC')}}, [("
                      + _BUCKET[query.interval].replace("__ts__", first_start) + ", toInt64(0))], [])"
                      if first_time else
                      f"arrayMap(b -> (b, toInt64(0)), groupUniqArrayIf({_BUCKET[query.interval].replace('__ts__', 'timestamp')},"
                      f" is_start AND {in_range}))")
        returns_sql = (f"groupUniqArrayIf({_BUCKET[query.interval].replace('__ts__', 'timestamp')},"
                       f" is_return AND {in_range})")
        if not first_time and query.start_event == query.return_event:  # the same intervals: gather them once
            returns_sql = "arrayMap(s -> s.1, starts)"
        cell = "has(returns, cohort + k)" if not query.cumulative else "arrayMax(arrayPushBack(returns, -1)) >= cohort + k"
    else:
        # (interval index, start time in ms): the person's first start event of each interval.
        starts_sql = ((f"if({first_start} >= {{range_start:DateTime64(3, 'UTC')}}, [("
                       + _BUCKET[query.interval].replace("__ts__", first_start)
                       + f", toUnixTimestamp64Milli({first_start}))], [])") if first_time else
                      f"arrayFilter((x, i) -> i = 1 OR x.1 != s[i - 1].1, arraySort(groupArrayIf(("
                      f"{_BUCKET[query.interval].replace('__ts__', 'timestamp')}, toUnixTimestamp64Milli(timestamp)),"
                      f" is_start AND {in_range})) AS s, arrayEnumerate(s))")
        returns_sql = f"groupArrayIf(toUnixTimestamp64Milli(timestamp), is_return AND {in_range})"
        periods = "arrayMap(t -> intDiv(t - anchor, {rolling_ms:Int64}), arrayFilter(t -> t >= anchor, returns))"
        cell = f"has({periods}, k)" if not query.cumulative else f"arrayMax(arrayPushBack({periods}, -1)) >= k"
    source = "events FINAL" if not query.person_properties else (
        f"(SELECT *, ifNull(pp.properties, '') AS person_properties FROM events FINAL "
        f"LEFT JOIN {PERSON_PROPERTIES} AS pp ON pp.person_key = {person_key(DISTINCT_ID)})")
    where = f"(is_return AND {in_range}) OR (is_start AND {'1' if first_time else in_range})"
    sql = (_SQL.replace("__cell__", cell).replace("__cohorts__", "arrayJoin(starts)")
           .replace("__starts__", starts_sql).replace("__returns__", returns_sql)
           .replace("__start__", start_sql).replace("__return__", return_sql).replace("__source__", source)
           .replace("__where__", f"({where})").replace("{person_key}", person_key(DISTINCT_ID)))
    rows = {cohort: (size, returned) for cohort, size, returned in
            client.query(sql, parameters=parameters).result_rows}
    cohorts = []
    for index, start in enumerate(starts):
        size, returned = rows.get(index, (0, []))
        length = min(query.periods, len(starts) - index)
        values = [int(size)] + [int(returned[k]) if k < len(returned) else 0 for k in range(length - 1)]
        cohorts.append(Cohort(start, int(size), tuple(values)))
    return RetentionResult(tuple(cohorts))
