"""A plain-Python reference of NPS (semantics in `insights.surveys`): the total, per interval, per
breakdown value, over Segment-shaped messages; persons from `persons(messages)`."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from tests.reference.lifecycle import matching
from tests.reference.trends import (
    Message,
    Persons,
    bucket,
    each_distinct_id_alone,
    labels,
    number,
    person_properties,
    present,
    text,
)

Z95 = 1.959963984540054


def summary(scores: list[float]) -> dict[str, Any]:
    """The API's summary of a list of scores."""
    n = len(scores)
    if n == 0:
        return {"responses": 0, "promoters": 0, "passives": 0, "detractors": 0, "nps": None, "nps_low": None,
                "nps_high": None, "nps_margin": None, "average": None, "average_low": None, "average_high": None}
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s < 7)
    p, d = promoters / n, detractors / n
    score = 100 * (p - d)
    margin = 100 * Z95 * math.sqrt((p + d - (p - d) ** 2) / n)
    mean = sum(scores) / n
    spread = Z95 * math.sqrt(sum((s - mean) ** 2 for s in scores) / (n - 1)) / math.sqrt(n) if n > 1 else None
    return {"responses": n, "promoters": promoters, "passives": n - promoters - detractors, "detractors": detractors,
            "nps": score, "nps_low": max(-100, score - margin), "nps_high": min(100, score + margin), "nps_margin": margin,
            "average": mean, "average_low": None if spread is None else mean - spread,
            "average_high": None if spread is None else mean + spread}


def _score(message: Message) -> float | None:
    properties = message.get("properties") or {}
    return number(properties, "$survey_response" if message["event"] == "survey sent" else "score")


def _responses(messages: list[Message], query: dict[str, Any], persons: Persons,
               cohort_members: dict[str, set[str]] | None) -> list[tuple[dt.datetime, str, Message]]:
    found = []
    for event, id_property in (("Survey Responded", "survey"), ("survey sent", "$survey_id")):
        for timestamp, person, message in matching(messages, {**query, "event": event}, persons, cohort_members):
            properties = message.get("properties") or {}
            if present(properties, id_property) and text(properties[id_property]) == query["survey"]:
                found.append((timestamp, person, message))
    return found


def nps(messages: list[Message], query: dict[str, Any], persons: Persons = each_distinct_id_alone,
        cohort_members: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """The API's `total`, `dates` and `breakdowns` for `query`."""
    tz = ZoneInfo(query.get("timezone", "UTC"))
    start = dt.datetime.combine(dt.date.fromisoformat(query["date_from"]), dt.time(), tz)
    end = dt.datetime.combine(dt.date.fromisoformat(query["date_to"]) + dt.timedelta(days=1), dt.time(), tz)
    unique = list({m["messageId"]: m for m in reversed(messages)}.values())
    traits = person_properties(unique, persons(unique))
    scored = sorted(((t, p, m) for t, p, m in _responses(messages, query, persons, cohort_members)
                     if start <= t < end and _score(m) is not None), key=lambda r: r[0])
    last = query.get("responses", "last") == "last"

    def chosen(group: Any) -> dict[Any, list[tuple[dt.datetime, str, Message]]]:
        groups: dict[Any, list[tuple[dt.datetime, str, Message]]] = defaultdict(list)
        latest: dict[tuple[Any, str], tuple[dt.datetime, str, Message]] = {}
        for row in scored:
            if last:
                latest[(group(row), row[1])] = row  # sorted by time: the last one wins (ties: no timestamp ties here)
            else:
                groups[group(row)].append(row)
        for (key, _), row in latest.items():
            groups[key].append(row)
        return groups

    answer: dict[str, Any] = {"total": summary([_score(m) or 0 for _, _, m in chosen(lambda r: "").get("", [])])}
    if query.get("interval"):
        by_time = chosen(lambda r: bucket(r[0], query["interval"], tz))
        answer["dates"] = [{"date": label, "summary": summary([_score(m) or 0 for _, _, m in by_time.get(label, [])])}
                           for label in labels(query)]
    breakdown = query.get("breakdown")
    if breakdown:
        values: dict[Any, list[float]] = defaultdict(list)
        for _, person, message in chosen(lambda r: "").get("", []):
            if breakdown["type"] == "cohort":
                keys = [(0, k) for k in breakdown["cohorts"] if person in (cohort_members or {}).get(k, set())]
            else:
                source = traits.get(person, {}) if breakdown["type"] == "person" else message.get("properties") or {}
                name = breakdown["property"]
                keys = [(0, text(source[name])) if present(source, name) else (1, "")]
            for key in keys:
                values[key].append(_score(message) or 0)
        ranked = sorted(values, key=lambda v: (-len(values[v]), v))
        limit = query.get("breakdown_limit", 25)
        answer["breakdowns"] = [{"value": None if v[0] else v[1], "summary": summary(values[v])} for v in ranked[:limit]]
        if ranked[limit:]:
            answer["breakdowns"].append({"value": "$other", "summary": summary([s for v in ranked[limit:] for s in values[v]])})
    return answer
