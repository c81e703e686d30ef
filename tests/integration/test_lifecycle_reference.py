"""Lifecycle (new, returning, resurrecting, dormant, churn) and stickiness in ClickHouse equal the
plain-Python reference on randomized events: every interval, zones with DST, filters, resends;
and the fixed example of the issue (100 active, 12 lost: churn 12%)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage.clickhouse import Client
from insight_events import load, rows_of
from insights.lifecycle import activity, lifecycle, parse_lifecycle_query, stickiness
from tests.reference import lifecycle as reference
from tests.reference import trends as trends_reference

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)  # the US (Mar 8) and EU (Mar 29) spring-forward inside the span
SPAN_HOURS = 40 * 24
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
USERS = [f"u{n}" for n in range(8)]


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for index in range(draw(st.integers(0, 70))):
        user = draw(st.sampled_from(USERS))
        kind = draw(st.sampled_from(["track", "track", "track", "page"]))
        message = {"type": kind, "messageId": f"m{index}",
                   "timestamp": T0 + dt.timedelta(minutes=draw(st.integers(0, SPAN_HOURS * 60))),
                   "properties": {"plan": draw(st.sampled_from(["free", "pro"]))},
                   **({"event": draw(st.sampled_from(["A", "B"]))} if kind == "track" else {}),
                   **({"userId": user} if draw(st.booleans()) else {"anonymousId": user})}
        found.append(message)
        if draw(st.integers(0, 9)) == 0:
            found.append(message)
    for index, user in enumerate(draw(st.lists(st.sampled_from(USERS), max_size=4, unique=True))):
        found.append({"type": "identify", "userId": user, "messageId": f"i{index}", "timestamp": T0,
                      "traits": {"country": draw(st.sampled_from(["DE", "US"]))}})
    return found


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    interval = draw(st.sampled_from(["hour", "day", "day", "week", "month"]))
    first = dt.date(2026, 3, 3) + dt.timedelta(days=draw(st.integers(0, 30)))
    days = draw(st.integers(0, 2 if interval == "hour" else 20))
    query: dict[str, Any] = {"interval": interval, "timezone": draw(st.sampled_from(ZONES)),
                             "date_from": first.isoformat(), "date_to": (first + dt.timedelta(days=days)).isoformat()}
    event = draw(st.sampled_from([None, "A", "B"]))
    if event is not None:
        query["event"] = event
    query["filters"] = draw(st.sampled_from([
        [], [{"property": "plan", "value": "pro"}], [{"property": "country", "type": "person", "value": "DE"}]]))
    return query


def _parsed(query: dict[str, Any]) -> Any:
    return parse_lifecycle_query(msgspec.json.encode(query))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=messages(), query=queries())
def test_lifecycle_and_stickiness_equal_the_reference(events_store: Client, events: list[dict[str, Any]],
                                                      query: dict[str, Any]) -> None:
    load(events_store, events)
    found = msgspec.to_builtins(lifecycle(rows_of(events_store), _parsed(query)))["points"]
    expected = reference.lifecycle(events, query)
    assert found == [{**point, "churn_rate": pytest.approx(point["churn_rate"])} for point in expected]
    sticky = msgspec.to_builtins(stickiness(rows_of(events_store), _parsed(query)))
    assert {"exactly": sticky["exactly"], "at_least": sticky["at_least"]} == reference.stickiness(events, query)


def test_churn_is_those_lost_over_those_active_before(events_store: Client) -> None:
    """100 customers active on day 1; 88 of them come back on day 2, 12 do not: churn 12%."""
    day1, day2 = dt.datetime(2026, 5, 4, 9, tzinfo=dt.timezone.utc), dt.datetime(2026, 5, 5, 9, tzinfo=dt.timezone.utc)
    events = [{"type": "track", "event": "Use", "userId": f"c{n}", "messageId": f"a{n}", "timestamp": day1}
              for n in range(100)]
    events += [{"type": "track", "event": "Use", "userId": f"c{n}", "messageId": f"b{n}", "timestamp": day2}
               for n in range(88)]
    events += [{"type": "track", "event": "Use", "userId": "c0", "messageId": "old", "timestamp": day1 - dt.timedelta(days=9)},
               {"type": "track", "event": "Use", "userId": "late", "messageId": "l0", "timestamp": day2}]
    load(events_store, events)
    query = {"event": "Use", "date_from": "2026-05-04", "date_to": "2026-05-05"}
    points = msgspec.to_builtins(lifecycle(rows_of(events_store), _parsed(query)))["points"]
    assert points[0] == {"date": "2026-05-04", "new": 99, "returning": 0, "resurrecting": 1, "dormant": 0,
                         "active": 100, "churn_rate": None}
    assert points[1] == {"date": "2026-05-05", "new": 1, "returning": 88, "resurrecting": 0, "dormant": 12,
                         "active": 89, "churn_rate": 0.12}
    sticky = msgspec.to_builtins(stickiness(rows_of(events_store), _parsed(query)))
    assert (sticky["exactly"], sticky["at_least"]) == ([13, 88], [101, 88])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=messages(), query=queries())
def test_daily_weekly_monthly_actives_equal_trends_reference(events_store: Client, events: list[dict[str, Any]],
                                                             query: dict[str, Any]) -> None:
    load(events_store, events)
    query = {**query, "interval": "day", "event": query.get("event") or "A"}
    found = msgspec.to_builtins(activity(rows_of(events_store), _parsed(query)))
    for math in ("dau", "wau", "mau"):
        series = {"series": [{"event": query["event"], "math": math}], **query}
        assert found[math] == trends_reference.trends(events, series)[0]["values"], math
