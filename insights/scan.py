"""The events an analysis reads, each with its person: event filters, person filters, cohort filters.

Every customer analysis (lifecycle, stickiness, NPS, paths) starts from `person_events`: the
stored events (resends collapsed: `events FINAL`) in a time span that satisfy an event
condition and the query's filters, each with its person key (`collector.persons.resolution`).
Person-property filters read each person's latest properties; cohort filters keep members
of the cohort as `CohortMembers` defines it (`insights.cohorts`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from collector.persons.resolution import DISTINCT_ID, PERSON_PROPERTIES, person_key
from insights.query import Breakdown, InsightError, PropertyFilter
from insights.sql import Parameters, filter_condition, property_present, property_text

__all__ = ["CohortMembers", "no_cohorts", "person_events", "breakdown_sql", "time_param"]

CohortMembers = Callable[[str, Parameters], str]
"""SQL of a subquery with one column, the person keys of cohort `key`'s members (raises for an unknown key)."""


def no_cohorts(key: str, param: Parameters) -> str:
    """The `CohortMembers` of a caller without cohorts: any cohort filter is refused."""
    raise InsightError("filters", f"cohort {key!r}: cohorts are not available here")


def time_param(param: Parameters, instant: dt.datetime) -> str:
    """A bound DateTime64 parameter of a UTC instant."""
    return param(instant.astimezone(dt.timezone.utc), "DateTime64(3, 'UTC')")


def person_events(param: Parameters, condition: str, start: dt.datetime | None, end: dt.datetime,
                  filters: Sequence[PropertyFilter], cohorts: CohortMembers, *, person_properties: bool = False) -> str:
    """A subquery of the events in [start, end) (no lower bound when `start` is None) satisfying
    `condition` (SQL over the events table) and every filter.

    Columns: `person` (UInt64 person key), `distinct_id`, `timestamp`, `type`, `event`, `name`,
    `properties`, and `person_properties` (the person's latest, '' when none) when asked for
    or when a person filter needs it.
    """
    where = [condition, f"timestamp < {time_param(param, end)}"]
    if start is not None:
        where.append(f"timestamp >= {time_param(param, start)}")
    where += [filter_condition(f, "properties", param) for f in filters if f.type == "event"]
    person_conditions = [filter_condition(f, "person_properties", param) for f in filters if f.type == "person"]
    person_conditions += [f"person IN ({cohorts(f.key or '', param)})" for f in filters if f.type == "cohort"]
    inner = (f"SELECT {person_key()} AS person, {DISTINCT_ID} AS distinct_id, timestamp, type, event, name, properties"
             f" FROM events FINAL WHERE {' AND '.join(where)}")
    if person_properties or any(f.type == "person" for f in filters):
        inner = (f"SELECT e.*, ifNull(pp.properties, '') AS person_properties FROM ({inner}) AS e"
                 f" LEFT JOIN {PERSON_PROPERTIES} AS pp ON pp.person_key = e.person")
    if not person_conditions:
        return inner
    return f"SELECT * FROM ({inner}) WHERE {' AND '.join(person_conditions)}"


def breakdown_sql(breakdown: Breakdown, param: Parameters, cohorts: CohortMembers) -> str:
    """An Array(Tuple(UInt8, String)) SQL expression of an event's breakdown values over `person_events`:

    one `(missing, text)` for a property (missing 1 when the property is absent or null), and
    for a cohort breakdown one `(0, key)` per listed cohort the person belongs to (none: empty).
    """
    if breakdown.type == "cohort":
        members = [f"if(person IN ({cohorts(key, param)}), {param(key, 'String')}, '')" for key in breakdown.cohorts]
        return f"arrayMap(k -> (toUInt8(0), k), arrayFilter(k -> k != '', [{', '.join(members)}]))"
    column = "person_properties" if breakdown.type == "person" else "properties"
    key = param(breakdown.property_name, "String")
    return f"[(toUInt8(NOT {property_present(column, key)}), {property_text(column, key)})]"
