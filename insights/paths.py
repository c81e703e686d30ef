"""Journeys: the paths persons take through the product, as the edges of a Sankey, computed in ClickHouse.

`POST /v1/insights/paths` (semantics guaranteed here):
- Nodes are track events by name, and page / screen views by their page or screen name
  (`(page)` / `(screen)` when unnamed). `include_events` keeps only those nodes,
  `exclude_events` drops those; both apply before anything else.
- Each person's nodes in the range, ordered by time (ties by name), are split into sessions
  wherever `session_idle_minutes` (default 30) pass with nothing; each session gives at most one path:
  from the session's first `start_event` forwards, or to its first `end_event` backwards (the
  up to `steps - 1` nodes before it), or from the session's start; `steps` nodes at most (default 5).
- A path's nodes are named with their step: `1_Signup`, `2_Pricing`, ... An edge joins
  consecutive nodes; `persons` counts the distinct persons who took it, `mean_seconds` is the
  mean time between its two nodes over every time it was taken. The top `edge_limit` edges
  (default 50) by persons (ties: source, target).
`POST /v1/insights/paths/persons` with `node` lists the persons whose path passes that node.
Filters are the shared shape (event, person, cohort); persons through `collector.persons.resolution`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from collector.documents import decode_document
from collector.persons.resolution import person_id
from insights.query import DateRange, InsightError, PropertyFilter, validate_date_range, validate_filters
from insights.scan import CohortMembers, no_cohorts, person_events
from insights.sql import Parameters, Rows

__all__ = ["PathsQuery", "PathEdge", "PathsResult", "PathPersons", "parse_paths_query", "paths", "path_persons",
           "MAX_STEPS", "MAX_EDGES"]

MAX_STEPS = 20
MAX_EDGES = 500
MAX_NAMES = 100


class PathsQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `POST /v1/insights/paths` (and, with `node`, of `/paths/persons`)."""

    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    start_event: str | None = None
    end_event: str | None = None
    steps: int = 5
    edge_limit: int = 50
    session_idle_minutes: float = 30
    include_events: list[str] = []
    exclude_events: list[str] = []
    filters: list[PropertyFilter] = []
    node: str | None = None
    offset: int = 0
    limit: int = 100

    @property
    def date_range(self) -> DateRange:
        """The query's days and zone."""
        return DateRange(self.date_from, self.date_to, self.timezone)


class PathEdge(msgspec.Struct, frozen=True):
    """`persons` went from `source` to `target` (step-prefixed node names), `mean_seconds` apart on average."""

    source: str
    target: str
    persons: int
    mean_seconds: float


class PathsResult(msgspec.Struct, frozen=True):
    """The top edges, most persons first."""

    edges: list[PathEdge]


class PathPersons(msgspec.Struct, frozen=True):
    """One page of the persons (public ids, ordered) whose path passes `node`; `next_offset` None on the last page."""

    node: str
    total: int
    offset: int
    persons: list[str]
    next_offset: int | None


def parse_paths_query(document: bytes | str, *, node_required: bool = False) -> PathsQuery:
    """Decode and validate a paths query; raises InsightError naming the field."""
    query = decode_document(document, PathsQuery, InsightError, "query")
    validate_date_range(query.date_range)
    if query.start_event is not None and query.end_event is not None:
        raise InsightError("end_event", "give a start_event or an end_event, not both")
    for field in ("start_event", "end_event"):
        value = getattr(query, field)
        if value is not None and not 0 < len(value) <= 200:
            raise InsightError(field, "an event or page name of 1 to 200 characters")
    if not 2 <= query.steps <= MAX_STEPS:
        raise InsightError("steps", f"2 to {MAX_STEPS}")
    if not 0 < query.edge_limit <= MAX_EDGES:
        raise InsightError("edge_limit", f"1 to {MAX_EDGES}")
    if not 0 < query.session_idle_minutes <= 7 * 24 * 60:
        raise InsightError("session_idle_minutes", "more than 0, at most a week (10080)")
    for field in ("include_events", "exclude_events"):
        if len(getattr(query, field)) > MAX_NAMES:
            raise InsightError(field, f"at most {MAX_NAMES} names")
    validate_filters(query.filters, "filters")
    if node_required and not query.node:
        raise InsightError("node", "name the node, step-prefixed as the paths answer names it (2_Checkout)")
    if not 0 < query.limit <= 10_000 or query.offset < 0:
        raise InsightError("limit", "1 to 10,000 persons a page, from offset 0 or more")
    return query


_PATHS = """
WITH
nodes AS (
    SELECT person, any(distinct_id) AS some_id,
           arraySort(x -> (x.1, x.2), groupArray((toUnixTimestamp64Milli(timestamp), {node}))) AS visits
    FROM ({events})
    WHERE {node_filter}
    GROUP BY person
),
sessions AS (
    SELECT person, some_id, arrayJoin(arraySplit((visit, i) -> i = 1 OR visit.1 - visits[i - 1].1 > {idle},
                                                  visits, arrayEnumerate(visits))) AS session
    FROM nodes
),
paths AS (
    SELECT person, some_id, {slice} AS path
    FROM (SELECT *, indexOf(arrayMap(x -> x.2, session), {anchor}) AS at FROM sessions)
    WHERE {anchored}
)
"""

_EDGES = _PATHS + """
SELECT edge.1 AS source, edge.2 AS target, uniqExact(person) AS persons, avg(edge.3) / 1000 AS mean_seconds
FROM (
    SELECT person, arrayJoin(arrayMap(i -> (concat(toString(i), '_', path[i].2), concat(toString(i + 1), '_', path[i + 1].2),
                                            path[i + 1].1 - path[i].1), range(1, length(path)))) AS edge
    FROM paths
)
GROUP BY source, target
ORDER BY persons DESC, source, target
LIMIT {limit}
"""

_PERSONS = _PATHS + """
SELECT pid, count() OVER () AS total
FROM (
    SELECT DISTINCT {person_id} AS pid FROM paths
    WHERE has(arrayMap(i -> concat(toString(i), '_', path[i].2), arrayEnumerate(path)), {node_name})
)
ORDER BY pid
LIMIT {page_limit} OFFSET {page_offset}
"""


def _sql(template: str, query: PathsQuery, cohorts: CohortMembers) -> tuple[str, dict[str, Any]]:
    param = Parameters()
    start, end = query.date_range.bounds()
    node = "multiIf(type = 'track', event, name != '', name, type = 'page', '(page)', '(screen)')"
    node_filters = []
    if query.include_events:
        node_filters.append(f"{node} IN {param(query.include_events, 'Array(String)')}")
    if query.exclude_events:
        node_filters.append(f"{node} NOT IN {param(query.exclude_events, 'Array(String)')}")
    steps = param(query.steps, "Int64")
    anchor = query.start_event or query.end_event
    if query.start_event is not None:
        slice_, anchored = f"arraySlice(session, at, {steps})", "at > 0"
    elif query.end_event is not None:
        slice_, anchored = f"arraySlice(session, greatest(1, at - {steps} + 1), least(at, {steps}))", "at > 0"
    else:
        slice_, anchored = f"arraySlice(session, 1, {steps})", "1"
    sql = template.format(
        node=node,
        events=person_events(param, "type IN ('track', 'page', 'screen')", start, end, query.filters, cohorts),
        node_filter=" AND ".join(node_filters) or "1",
        idle=param(int(query.session_idle_minutes * 60_000), "Int64"),
        anchor=param(anchor or "", "String"),
        slice=slice_,
        anchored=anchored,
        limit=param(query.edge_limit, "UInt32"),
        person_id=person_id("some_id"),
        node_name=param(query.node or "", "String"),
        page_limit=param(query.limit, "UInt32"),
        page_offset=param(query.offset, "UInt64"),
    )
    return sql, param.values


def paths(rows: Rows, query: PathsQuery, cohorts: CohortMembers = no_cohorts) -> PathsResult:
    """Answer a validated paths query in one ClickHouse query."""
    sql, parameters = _sql(_EDGES, query, cohorts)
    return PathsResult([PathEdge(str(source), str(target), int(persons), float(mean))
                        for source, target, persons, mean in rows(sql, parameters)])


def path_persons(rows: Rows, query: PathsQuery, cohorts: CohortMembers = no_cohorts) -> PathPersons:
    """The persons whose path passes `query.node` (one page of them)."""
    sql, parameters = _sql(_PERSONS, query, cohorts)
    found = rows(sql, parameters)
    total = int(found[0][1]) if found else 0
    persons = [str(row[0]) for row in found]
    following = query.offset + len(persons)
    return PathPersons(query.node or "", total, query.offset, persons,
                       following if persons and following < total else None)
