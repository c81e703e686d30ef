"""A plain-Python reference of cohort membership (semantics in `insights.cohorts`).

`members(messages, cohort, cohorts, as_of)` gives the set of persons (as `persons(messages)`
names them) of a cohort document (a dict as the API takes it); `cohorts` holds the documents
other cohorts' rules refer to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.reference.trends import Message, Persons, distinct_id, each_distinct_id_alone, matches, person_properties


def members(messages: list[Message], cohort: dict[str, Any], cohorts: dict[str, dict[str, Any]], as_of: dt.datetime,
            persons: Persons = each_distinct_id_alone) -> set[str]:
    """The persons of `cohort` as of `as_of`."""
    unique = list({m["messageId"]: m for m in reversed(messages)}.values())
    person_of = persons(unique)
    if cohort.get("static_ids"):
        return {person_of.get(one, one) for one in cohort["static_ids"]}
    before = [m for m in unique if m["timestamp"] < as_of and m["type"] in ("track", "page", "screen", "identify")]
    traits = person_properties(unique, person_of)
    everyone = {person_of[distinct_id(m)] for m in before}
    found = set()
    for person in everyone:
        results = []
        for rule in cohort["rules"]:
            if rule["type"] == "person":
                results.append(matches({**rule, "type": "person"}, traits.get(person, {})))
            elif rule["type"] == "behavior":
                since = as_of - dt.timedelta(days=rule.get("within_days", 30))
                count = sum(1 for m in before if m["type"] == "track" and m.get("event") == rule["event"]
                            and person_of[distinct_id(m)] == person and m["timestamp"] >= since
                            and all(matches(f, m.get("properties") or {}) for f in rule.get("filters", [])))
                wanted = rule.get("count", 1)
                ok = {"at_least": count >= wanted, "at_most": count <= wanted,
                      "exactly": count == wanted}[rule.get("operator", "at_least")]
                results.append(ok != rule.get("negate", False))
            else:
                inside = person in members(messages, cohorts[rule["key"]], cohorts, as_of, persons)
                results.append(inside != rule.get("negate", False))
        if (all if cohort.get("match", "all") == "all" else any)(results):
            found.add(person)
    return found
