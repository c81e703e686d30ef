"""A plain-Python reference of paths (semantics in `insights.paths`): edges and the persons of a node."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from tests.reference.lifecycle import matching
from tests.reference.trends import Message, Persons, each_distinct_id_alone


def _node(message: Message) -> str:
    if message["type"] == "track":
        return str(message["event"])
    return message.get("name") or f"({message['type']})"


def person_paths(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone,
                 cohort_members: dict[str, set[str]] | None = None) -> list[tuple[str, list[tuple[dt.datetime, str]]]]:
    """(person, path) of every session that gives a path."""
    tz = ZoneInfo(query.get("timezone", "UTC"))
    start = dt.datetime.combine(dt.date.fromisoformat(query["date_from"]), dt.time(), tz)
    end = dt.datetime.combine(dt.date.fromisoformat(query["date_to"]) + dt.timedelta(days=1), dt.time(), tz)
    visits: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for timestamp, person, message in matching(messages, {**query, "event": None}, persons, cohort_members):
        node = _node(message)
        if not start <= timestamp < end:
            continue
        if query.get("include_events") and node not in query["include_events"]:
            continue
        if node in query.get("exclude_events", []):
            continue
        visits[person].append((timestamp, node))
    idle = dt.timedelta(minutes=query.get("session_idle_minutes", 30))
    steps = query.get("steps", 5)
    found = []
    for person, seen in visits.items():
        seen.sort(key=lambda v: (v[0].timestamp(), v[1]))
        sessions: list[list[tuple[dt.datetime, str]]] = []
        for index, visit in enumerate(seen):
            if index == 0 or visit[0] - seen[index - 1][0] > idle:
                sessions.append([])
            sessions[-1].append(visit)
        for session in sessions:
            names = [name for _, name in session]
            if query.get("start_event"):
                if query["start_event"] not in names:
                    continue
                at = names.index(query["start_event"])
                path = session[at:at + steps]
            elif query.get("end_event"):
                if query["end_event"] not in names:
                    continue
                at = names.index(query["end_event"])
                path = session[max(0, at - steps + 1):at + 1]
            else:
                path = session[:steps]
            found.append((person, path))
    return found


def paths(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone,
          cohort_members: dict[str, set[str]] | None = None) -> list[dict[str, Any]]:
    """The API's `edges`."""
    who: dict[tuple[str, str], set[str]] = defaultdict(set)
    gaps: dict[tuple[str, str], list[float]] = defaultdict(list)
    for person, path in person_paths(messages, query, persons, cohort_members):
        for index in range(len(path) - 1):
            edge = (f"{index + 1}_{path[index][1]}", f"{index + 2}_{path[index + 1][1]}")
            who[edge].add(person)
            gaps[edge].append((path[index + 1][0] - path[index][0]).total_seconds())
    ranked = sorted(who, key=lambda e: (-len(who[e]), e))[:query.get("edge_limit", 50)]
    return [{"source": s, "target": t, "persons": len(who[(s, t)]),
             "mean_seconds": sum(gaps[(s, t)]) / len(gaps[(s, t)])} for s, t in ranked]


def node_persons(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone) -> set[str]:
    """The persons whose path passes `query["node"]`."""
    return {person for person, path in person_paths(messages, query, persons)
            if query["node"] in [f"{i + 1}_{name}" for i, (_, name) in enumerate(path)]}
