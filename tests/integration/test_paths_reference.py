"""Paths in ClickHouse equal the plain-Python reference on randomized events: sessions split when
idle, start forwards, end backwards, steps, edge limit, include/exclude, page and screen names as
nodes, filters, zones; and the persons of a node."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage.clickhouse import Client
from insight_events import load, rows_of
from insights.paths import parse_paths_query, path_persons, paths
from insights.query import InsightError
from test_lifecycle_reference import ZONES
from tests.reference import paths as reference

T0 = dt.datetime(2026, 3, 28, 20, tzinfo=dt.timezone.utc)
USERS = [f"u{n}" for n in range(5)]
NODES = ["Signup", "Search", "Checkout", "page:home", "page:pricing", "page:", "screen:Cart"]


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for index in range(draw(st.integers(0, 60))):
        node = draw(st.sampled_from(NODES))
        kind, _, name = node.partition(":") if ":" in node else ("track", "", node)
        message: dict[str, Any] = {"type": kind, "messageId": f"m{index}", "userId": draw(st.sampled_from(USERS)),
                                   "timestamp": T0 + dt.timedelta(minutes=draw(st.integers(0, 36 * 60)) // 7 * 7),
                                   "properties": {"plan": draw(st.sampled_from(["free", "pro"]))}}
        message.update({"event": name} if kind == "track" else {"name": name} if name else {})
        found.append(message)
        if draw(st.integers(0, 9)) == 0:
            found.append(message)
    return found


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    query: dict[str, Any] = {"date_from": "2026-03-28", "date_to": draw(st.sampled_from(["2026-03-29", "2026-03-30"])),
                             "timezone": draw(st.sampled_from(ZONES)), "steps": draw(st.integers(2, 6)),
                             "edge_limit": draw(st.integers(1, 12)),
                             "session_idle_minutes": draw(st.sampled_from([30, 30, 90, 5]))}
    anchor = draw(st.sampled_from([None, "start_event", "end_event"]))
    if anchor:
        query[anchor] = draw(st.sampled_from(["Signup", "Checkout", "home"]))
    if draw(st.booleans()):
        query["exclude_events"] = ["Search"]
    elif draw(st.booleans()):
        query["include_events"] = ["Signup", "Checkout", "pricing", "(page)", "Cart"]
    if draw(st.booleans()):
        query["filters"] = [{"property": "plan", "value": "pro"}]
    return query


def _parsed(query: dict[str, Any]) -> Any:
    return parse_paths_query(msgspec.json.encode(query))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=messages(), query=queries())
def test_paths_equal_the_reference(events_store: Client, events: list[dict[str, Any]], query: dict[str, Any]) -> None:
    load(events_store, events)
    found = msgspec.to_builtins(paths(rows_of(events_store), _parsed(query)))["edges"]
    expected = reference.paths(events, query)
    assert found == [{**edge, "mean_seconds": pytest.approx(edge["mean_seconds"])} for edge in expected]
    if expected:
        node = expected[0]["target"]
        persons = msgspec.to_builtins(path_persons(rows_of(events_store), _parsed({**query, "node": node})))
        assert persons["total"] == len(reference.node_persons(events, {**query, "node": node}))


def test_a_journey_is_cut_by_idle_time(events_store: Client) -> None:
    minutes = [0, 2, 5, 50, 52]  # 45 minutes idle after the third: a new session
    names = ["Signup", "home", "Checkout", "Signup", "Checkout"]
    load(events_store, [{"type": "track" if n not in ("home",) else "page", **({"event": n} if n != "home" else {"name": n}),
                   "userId": f"p{person}", "messageId": f"{person}-{i}", "timestamp": T0 + dt.timedelta(minutes=m + person)}
                  for person in range(3) for i, (m, n) in enumerate(zip(minutes, names))])
    query = {"date_from": "2026-03-28", "date_to": "2026-03-28", "start_event": "Signup"}
    edges = msgspec.to_builtins(paths(rows_of(events_store), _parsed(query)))["edges"]
    assert edges == [{"source": "1_Signup", "target": "2_Checkout", "persons": 3, "mean_seconds": 120.0},
                     {"source": "1_Signup", "target": "2_home", "persons": 3, "mean_seconds": 120.0},
                     {"source": "2_home", "target": "3_Checkout", "persons": 3, "mean_seconds": 180.0}]
    backwards = msgspec.to_builtins(paths(rows_of(events_store), _parsed({**query, "start_event": None, "end_event": "Checkout",
                                                                     "steps": 2})))["edges"]
    assert [(e["source"], e["target"], e["persons"]) for e in backwards] == [("1_Signup", "2_Checkout", 3),
                                                                              ("1_home", "2_Checkout", 3)]
    with pytest.raises(InsightError, match="steps"):
        _parsed({**query, "steps": 99})
