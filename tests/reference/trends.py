"""A plain-Python reference implementation of trends, for checking the engine number by number.

It reads Segment-shaped messages (dicts: `type`, `event`, `userId`, `anonymousId`,
`messageId`, `timestamp` (aware datetime), `properties`, `traits`) and a trends query as the
API takes it (a dict), and answers the API's `series` list, with the semantics documented in
`insights.trends`. It shares no code with the engine beyond the interval labels' format.
Persons come from `persons(messages) -> {distinct_id: person_id}`: today each distinct id is
its own person; `tests/reference/persons.py::resolve` (identity merges) plugs in unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

Message = dict[str, Any]
Persons = Callable[[list[Message]], dict[str, str]]

_ROLLING = {"dau": 1, "wau": 7, "mau": 30}
_QUANTILES = {"median": 50, "p90": 90, "p95": 95, "p99": 99}


def distinct_id(message: Message) -> str:
    return message.get("userId") or message.get("anonymousId") or ""


def each_distinct_id_alone(messages: list[Message]) -> dict[str, str]:
    """The interim identity: every distinct id is a person of its own."""
    return {distinct_id(m): distinct_id(m) for m in messages}


def text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def present(properties: dict[str, Any], name: str) -> bool:
    return properties.get(name) is not None


def number(properties: dict[str, Any], name: str) -> float | None:
    if not present(properties, name) or isinstance(properties[name], (bool, dict, list)):
        return None
    try:
        return float(text(properties[name]))
    except ValueError:
        return None


def matches(condition: dict[str, Any], properties: dict[str, Any]) -> bool:
    name, operator, value = condition["property"], condition.get("operator", "equals"), condition.get("value")
    values = [text(v) for v in (value if isinstance(value, list) else [value])]
    here = present(properties, name)
    shown = text(properties[name]) if here else ""
    if operator in ("equals", "in"):
        return here and shown in values
    if operator in ("not_equals", "not_in"):
        return not (here and shown in values)
    if operator in ("gt", "gte", "lt", "lte"):
        found = number(properties, name)
        return found is not None and {"gt": found > value, "gte": found >= value, "lt": found < value,
                                      "lte": found <= value}[operator]
    if operator == "contains":
        return here and values[0].lower() in shown.lower()
    if operator == "regex":
        return here and re.search(values[0], shown) is not None
    if operator == "is_set":
        return here
    return not here


def bucket(timestamp: dt.datetime, interval: str, tz: ZoneInfo) -> str:
    local = timestamp.astimezone(tz)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0).isoformat()
    day = local.date()
    if interval == "week":
        day -= dt.timedelta(days=(day.weekday() + 1) % 7)
    elif interval == "month":
        day = day.replace(day=1)
    return day.isoformat()


def labels(query: dict[str, Any]) -> list[str]:
    tz = ZoneInfo(query.get("timezone", "UTC"))
    first, last = dt.date.fromisoformat(query["date_from"]), dt.date.fromisoformat(query["date_to"])
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.timezone.utc)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.timezone.utc)
    interval = query.get("interval", "day")
    found: list[str] = []
    instant = start
    while instant < end:  # every hour of the range, bucketed: covers every interval touching it
        label = bucket(instant, interval, tz)
        if not found or found[-1] != label:
            found.append(label)
        instant += dt.timedelta(hours=1)
    return found


def person_properties(messages: Iterable[Message], person_of: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Each person's latest value of each trait, by event time."""
    latest: dict[str, dict[str, Any]] = defaultdict(dict)
    for message in sorted((m for m in messages if m["type"] == "identify"), key=lambda m: m["timestamp"]):
        latest[person_of[distinct_id(message)]].update(message.get("traits") or {})
    return latest


def trends(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone) -> list[dict[str, Any]]:
    """The API's `series` for `query` over `messages` (resent message ids count once)."""
    unique = list({m["messageId"]: m for m in reversed(messages)}.values())
    person_of = persons(unique)
    traits = person_properties(unique, person_of)
    tz = ZoneInfo(query.get("timezone", "UTC"))
    interval = query.get("interval", "day")
    all_labels = labels(query)
    first, last = dt.date.fromisoformat(query["date_from"]), dt.date.fromisoformat(query["date_to"])
    answer = []
    for series in query["series"]:
        math = series.get("math", "total")
        window = _ROLLING.get(math, 1)
        start = dt.datetime.combine(first - dt.timedelta(days=window - 1), dt.time(), tz)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
        filters = [*query.get("filters", []), *series.get("filters", [])]
        in_range = dt.datetime.combine(first, dt.time(), tz)
        rows = []  # (bucket, person, breakdown (missing, text), event properties, in the range (not before it))
        for message in unique:
            if message["type"] != "track" or message.get("event") != series["event"]:
                continue
            if not start <= message["timestamp"] < end:
                continue
            person = person_of[distinct_id(message)]
            properties = message.get("properties") or {}
            person_props = traits.get(person, {})
            if not all(matches(f, person_props if f.get("type") == "person" else properties) for f in filters):
                continue
            rows.append((bucket(message["timestamp"], interval, tz), person,
                         _breakdown(query.get("breakdown"), properties, person_props), properties,
                         message["timestamp"] >= in_range))
        answer += _lines(query, series, math, all_labels, rows)
    return answer


def _breakdown(breakdown: dict[str, Any] | None, properties: dict[str, Any], person_props: dict[str, Any]) -> tuple[int, str]:
    if breakdown is None:
        return (0, "")
    source = person_props if breakdown.get("type") == "person" else properties
    name = breakdown["property"]
    return (0, text(source[name])) if present(source, name) else (1, "")


def _lines(query: dict[str, Any], series: dict[str, Any], math: str, all_labels: list[str],
           rows: list[tuple[str, str, tuple[int, str], dict[str, Any], bool]]) -> list[dict[str, Any]]:
    breakdown = query.get("breakdown")
    groups: dict[Any, list[Any]] = defaultdict(list)
    if breakdown is None:
        groups[None] = rows
    else:
        volume: dict[tuple[int, str], int] = defaultdict(int)
        for row in rows:
            if row[4]:
                volume[row[2]] += 1
        ranked = sorted(volume, key=lambda value: (-volume[value], value[0], value[1]))
        top = ranked[:query.get("breakdown_limit", 25)]
        for row in rows:
            groups[row[2] if row[2] in top else "$other"].append(row)
        order = [*top, "$other"]
        groups = {key: groups[key] for key in order if groups.get(key)}
    answer = []
    for key, members in groups.items():
        values = [_value(math, series, all_labels[i], members) for i in range(len(all_labels))]
        if key is None:
            value, label = None, series["event"]
        else:
            value = "$other" if key == "$other" else None if key[0] else key[1]
            label = f"{series['event']} · {'(none)' if value is None else value}"
        answer.append({"label": label, "event": series["event"], "math": math, "breakdown_value": value,
                       "dates": all_labels, "values": values})
    if breakdown is not None and not answer:
        return []
    return answer


def _value(math: str, series: dict[str, Any], label: str, rows: list[Any]) -> float:
    if math in _ROLLING:
        day = dt.date.fromisoformat(label)
        window = [(day - dt.timedelta(days=n)).isoformat() for n in range(_ROLLING[math])]
        return float(len({row[1] for row in rows if row[0] in window}))
    here = [row for row in rows if row[0] == label]
    if math == "total":
        return float(len(here))
    if math == "persons":
        return float(len({row[1] for row in here}))
    if math == "per_person_avg":
        return len(here) / len({row[1] for row in here}) if here else 0.0
    numbers = [n for row in here if (n := number(row[3], series["property"])) is not None]
    if not numbers:
        return 0.0
    if math in _QUANTILES:
        return float(np.percentile(numbers, _QUANTILES[math]))
    return float({"sum": sum, "avg": lambda v: sum(v) / len(v), "min": min, "max": max}[math](numbers))
