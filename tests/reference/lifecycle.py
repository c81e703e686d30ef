"""A plain-Python reference of lifecycle and stickiness (semantics in `insights.lifecycle`).

Reads Segment-shaped messages as `tests.reference.trends` does and answers the API's
`points` / stickiness lists; persons come from `persons(messages)` (identity merges plug in).
Cohort filters are given as `cohort_members: {key: set of person ids}`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from tests.reference.trends import (
    Message,
    Persons,
    bucket,
    distinct_id,
    each_distinct_id_alone,
    labels,
    matches,
    person_properties,
)


def matching(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone,
             cohort_members: dict[str, set[str]] | None = None) -> list[tuple[dt.datetime, str, Message]]:
    """(timestamp, person, message) of each distinct message matching the query's event and filters."""
    unique = list({m["messageId"]: m for m in reversed(messages)}.values())
    person_of = persons(unique)
    traits = person_properties(unique, person_of)
    event = query.get("event")
    found = []
    for message in unique:
        if message["type"] not in ("track", "page", "screen") if event is None else \
                (message["type"] != "track" or message.get("event") != event):
            continue
        person = person_of[distinct_id(message)]
        ok = True
        for condition in query.get("filters", []):
            if condition.get("type") == "cohort":
                ok = ok and person in (cohort_members or {}).get(condition["key"], set())
            else:
                source = traits.get(person, {}) if condition.get("type") == "person" else message.get("properties") or {}
                ok = ok and matches(condition, source)
        if ok:
            found.append((message["timestamp"], person, message))
    return found


def _previous(label: str, interval: str, tz: ZoneInfo) -> str:
    if interval == "hour":
        return (dt.datetime.fromisoformat(label) - dt.timedelta(hours=1)).astimezone(tz).isoformat()
    day = dt.date.fromisoformat(label)
    if interval == "day":
        return (day - dt.timedelta(days=1)).isoformat()
    if interval == "week":
        return (day - dt.timedelta(weeks=1)).isoformat()
    return (day - dt.timedelta(days=1)).replace(day=1).isoformat()


def lifecycle(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone,
              cohort_members: dict[str, set[str]] | None = None) -> list[dict[str, Any]]:
    """The API's `points` for `query`."""
    tz = ZoneInfo(query.get("timezone", "UTC"))
    interval = query.get("interval", "day")
    all_labels = labels(query)
    last = dt.date.fromisoformat(query["date_to"])
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
    active: dict[str, set[str]] = defaultdict(set)
    first: dict[str, dt.datetime] = {}
    for timestamp, person, _ in matching(messages, query, persons, cohort_members):
        if timestamp >= end:
            continue
        active[person].add(bucket(timestamp, interval, tz))
        first[person] = min(first.get(person, timestamp), timestamp)
    points = []
    for label in all_labels:
        previous = _previous(label, interval, tz)
        counts = dict.fromkeys(("new", "returning", "resurrecting", "dormant"), 0)
        for person, buckets in active.items():
            if label in buckets:
                if bucket(first[person], interval, tz) == label:
                    counts["new"] += 1
                elif previous in buckets:
                    counts["returning"] += 1
                else:
                    counts["resurrecting"] += 1
            elif previous in buckets:
                counts["dormant"] += 1
        before = counts["returning"] + counts["dormant"]
        points.append({"date": label, **counts, "active": counts["new"] + counts["returning"] + counts["resurrecting"],
                       "churn_rate": counts["dormant"] / before if before else None})
    return points


def stickiness(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone,
               cohort_members: dict[str, set[str]] | None = None) -> dict[str, list[int]]:
    """The API's `exactly` and `at_least` lists for `query`."""
    tz = ZoneInfo(query.get("timezone", "UTC"))
    interval = query.get("interval", "day")
    all_labels = labels(query)
    start = dt.datetime.combine(dt.date.fromisoformat(query["date_from"]), dt.time(), tz)
    end = dt.datetime.combine(dt.date.fromisoformat(query["date_to"]) + dt.timedelta(days=1), dt.time(), tz)
    buckets: dict[str, set[str]] = defaultdict(set)
    for timestamp, person, _ in matching(messages, query, persons, cohort_members):
        if start <= timestamp < end:
            buckets[person].add(bucket(timestamp, interval, tz))
    exactly = [sum(1 for found in buckets.values() if len(found) == k) for k in range(1, len(all_labels) + 1)]
    return {"exactly": exactly, "at_least": [sum(exactly[k:]) for k in range(len(all_labels))]}
