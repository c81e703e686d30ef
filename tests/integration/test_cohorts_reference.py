"""Cohorts in ClickHouse equal the plain-Python reference on randomized events: person-property,
behavioural (at least / at most / exactly, within days, negated) and cohort-membership rules under
all/any, static cohorts; a cohort as a filter (lifecycle, trends) and as a breakdown (NPS, trends)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage.clickhouse import Client
from insight_events import load, rows_of
from insights.cohorts import Cohorts, parse_cohort, static_ids_from_csv
from insights.lifecycle import lifecycle, parse_lifecycle_query
from insights.query import InsightError
from insights.surveys import nps, parse_nps_query
from insights.trends import parse_trends_query, trends
from test_lifecycle_reference import messages
from test_nps_reference import response
from tests.reference import cohorts as reference
from tests.reference import lifecycle as lifecycle_reference
from tests.reference import surveys as surveys_reference
from tests.reference import trends as trends_reference

AS_OF = dt.datetime(2026, 3, 25, 12, tzinfo=dt.timezone.utc)


def store(events_store: Client) -> Cohorts:
    return Cohorts(lambda: events_store, rows_of(events_store))


@st.composite
def rules(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["person", "behavior", "behavior"]))
    if kind == "person":
        return {"type": "person", "property": "country", "operator": draw(st.sampled_from(["equals", "not_equals"])),
                "value": draw(st.sampled_from(["DE", "US"]))}
    rule: dict[str, Any] = {"type": "behavior", "event": draw(st.sampled_from(["A", "B"])),
                            "operator": draw(st.sampled_from(["at_least", "at_most", "exactly"])),
                            "count": draw(st.integers(0, 3)), "within_days": draw(st.integers(1, 30)),
                            "negate": draw(st.booleans())}
    if draw(st.booleans()):
        rule["filters"] = [{"property": "plan", "value": "pro"}]
    return rule


@st.composite
def cohort_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    inner = {"key": "inner", "match": draw(st.sampled_from(["all", "any"])), "rules": draw(st.lists(rules(), min_size=1, max_size=3))}
    outer = {"key": "outer", "match": draw(st.sampled_from(["all", "any"])),
             "rules": [*draw(st.lists(rules(), max_size=2)), {"type": "cohort", "key": "inner", "negate": draw(st.booleans())}]}
    return inner, outer


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=messages(), pair=cohort_pairs())
def test_cohort_members_equal_the_reference(events_store: Client, events: list[dict[str, Any]],
                                            pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    load(events_store, events)
    cohorts = store(events_store)
    for document in pair:
        cohorts.save(parse_cohort(msgspec.json.encode(document)))
    by_key = {one["key"]: one for one in pair}
    expected = {key: reference.members(events, one, by_key, AS_OF) for key, one in by_key.items()}
    for key in by_key:
        assert cohorts.size(key, AS_OF) == len(expected[key]), key
    query = {"date_from": "2026-03-01", "date_to": "2026-03-30", "interval": "week",
             "filters": [{"type": "cohort", "key": "outer"}]}
    now = {key: reference.members(events, one, by_key, dt.datetime.now(dt.timezone.utc)) for key, one in by_key.items()}
    found = msgspec.to_builtins(lifecycle(rows_of(events_store), parse_lifecycle_query(msgspec.json.encode(query)),
                                          cohorts.members_sql))["points"]
    assert found == [{**p, "churn_rate": pytest.approx(p["churn_rate"])}
                     for p in lifecycle_reference.lifecycle(events, query, cohort_members=now)]


def test_a_cohort_filters_and_breaks_down_trends_and_nps(events_store: Client) -> None:
    at = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=12)).replace(second=0, microsecond=0)
    days = {"date_from": (at.date() - dt.timedelta(days=1)).isoformat(), "date_to": (at.date() + dt.timedelta(days=1)).isoformat()}
    events = [response(n, f"p{n}", at + dt.timedelta(minutes=n), n % 11, plan="pro" if n % 3 else "free")
              for n in range(30)]
    events += [{"type": "track", "event": "Upgrade", "userId": f"p{n}", "messageId": f"up{n}",
                "timestamp": at - dt.timedelta(days=n % 5), "properties": {}} for n in range(0, 30, 2)]
    load(events_store, events)
    cohorts = store(events_store)
    upgraded = {"key": "upgraded", "rules": [{"type": "behavior", "event": "Upgrade", "within_days": 3}]}
    cohorts.save(parse_cohort(msgspec.json.encode(upgraded)))
    cohorts.save(parse_cohort(msgspec.json.encode({"key": "vips", "static_ids": ["p1", "p2", "p3", "nobody"]})))
    members = {key: reference.members(events, {"key": "vips", "static_ids": ["p1", "p2", "p3", "nobody"]}
                                      if key == "vips" else upgraded, {}, dt.datetime.now(dt.timezone.utc))
               for key in ("upgraded", "vips")}
    assert len(members["upgraded"]) == 9 and cohorts.size("vips") == 4
    query = {"survey": "nps", **days,
             "filters": [{"type": "cohort", "key": "upgraded"}], "breakdown": {"type": "cohort", "cohorts": ["upgraded", "vips"]}}
    found = msgspec.to_builtins(nps(rows_of(events_store), parse_nps_query(msgspec.json.encode(query)), cohorts.members_sql))
    expected = surveys_reference.nps(events, query, cohort_members=members)
    assert found["total"] == pytest.approx(expected["total"]) and found["total"]["responses"] == 9
    assert [b["value"] for b in found["breakdowns"]] == [b["value"] for b in expected["breakdowns"]] == ["upgraded", "vips"]
    trend = {"series": [{"event": "Survey Responded", "math": "total"}], **days, "breakdown": {"type": "cohort", "cohorts": ["vips", "upgraded"]}}
    lines = msgspec.to_builtins(trends(rows_of(events_store), parse_trends_query(msgspec.json.encode(trend)), cohorts.members_sql))
    assert {(s["breakdown_value"], sum(s["values"])) for s in lines["series"]} == {("upgraded", 9.0), ("vips", 3.0)}
    filtered = {**trend, "breakdown": None, "filters": [{"type": "cohort", "key": "vips"}]}
    del filtered["breakdown"]
    assert members["vips"] == {"p1", "p2", "p3", "nobody"}
    lines = msgspec.to_builtins(trends(rows_of(events_store), parse_trends_query(msgspec.json.encode(filtered)), cohorts.members_sql))
    assert sum(lines["series"][0]["values"]) == 3.0
    assert sum(trends_reference.trends(events, {**filtered, "filters": []})[0]["values"]) == 30.0
    page = cohorts.members("vips", limit=3)
    assert (page.total, len(page.persons), page.next_offset) == (4, 3, 3)
    assert len(cohorts.members("vips", offset=3).persons) == 1


def test_bad_cohorts_are_refused_naming_the_field(events_store: Client) -> None:
    cohorts = store(events_store)
    cohorts.save(parse_cohort(b'{"key": "a", "rules": [{"type": "behavior", "event": "X"}]}'))
    with pytest.raises(InsightError, match="cycle"):
        cohorts.save(parse_cohort(b'{"key": "b", "rules": [{"type": "cohort", "key": "a"}]}'))
        cohorts.save(parse_cohort(b'{"key": "a", "rules": [{"type": "cohort", "key": "b"}]}'))
    for document, field in ((b'{"key": "c"}', "rules"), (b'{"key": "c", "rules": [{"type": "behavior", "event": "X", "count": -1}]}',
                                                          "rules[0].count"),
                            (b'{"key": "c", "rules": [{"type": "nope"}]}', "rules[0].type")):
        with pytest.raises(InsightError) as refused:
            parse_cohort(document)
        assert refused.value.field.startswith(field)
    assert static_ids_from_csv("id\nu1\n\nu2,extra\nu1\n") == ["u1", "u2"]
