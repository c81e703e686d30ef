"""Trends in ClickHouse equal the plain-Python reference on randomized events: every math,
interval and breakdown, filters of every operator, zones with DST, resent events, and identity
merges (through the ingestion path and the persons derivation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from insight_events import ingest, load
from insights.trends import parse_trends_query, trends
from tests.reference import trends as reference
from tests.reference.persons import resolve

T0 = dt.datetime(2026, 3, 6, tzinfo=dt.timezone.utc)  # the US (Mar 8) and EU (Mar 29) spring-forward inside the span
SPAN_HOURS = 26 * 24
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
USERS = [f"u{n}" for n in range(6)]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    store = connect(f"chdb://{Path(tmp_path_factory.mktemp('trends'))}")
    migrate(store)
    yield store
    store.close()


_values = st.sampled_from(["free", "pro", "Pro Max", "10", 3, 7, 12.5, True])


@st.composite
def messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for index in range(draw(st.integers(0, 60))):
        user = draw(st.sampled_from(USERS))
        properties = {name: draw(_values) for name in ("plan", "n") if draw(st.booleans())}
        if draw(st.booleans()):
            properties["n"] = draw(st.integers(-5, 40))
        message = {"type": "track", "event": draw(st.sampled_from(["A", "B"])), "messageId": f"m{index}",
                   "timestamp": T0 + dt.timedelta(minutes=draw(st.integers(0, SPAN_HOURS * 60))),
                   "properties": properties, **({"userId": user} if draw(st.booleans()) else {"anonymousId": user})}
        found.append(message)
        if draw(st.integers(0, 9)) == 0:
            found.append(message)  # resent: counts once
    for index, user in enumerate(draw(st.lists(st.sampled_from(USERS), max_size=4, unique=True))):
        found.append({"type": "identify", "userId": user, "messageId": f"i{index}",
                      "timestamp": T0 + dt.timedelta(hours=index),
                      "traits": {"country": draw(st.sampled_from(["DE", "US", "FR"])), "tier": draw(st.sampled_from([1, 2]))}})
    return found


@st.composite
def merged_messages(draw: st.DrawFn) -> list[dict[str, Any]]:
    """`messages` plus identity merges at random times: identify (anonymousId -> userId) and alias
    (previousId -> userId), among them some the merge rules refuse (both sides identified)."""
    found = draw(messages())
    for index in range(draw(st.integers(0, 4))):
        source, target = draw(st.lists(st.sampled_from(USERS), min_size=2, max_size=2, unique=True))
        at = T0 + dt.timedelta(minutes=draw(st.integers(0, SPAN_HOURS * 60)))
        kind = draw(st.sampled_from([("identify", "anonymousId"), ("alias", "previousId")]))
        found.append({"type": kind[0], "userId": target, kind[1]: source, "messageId": f"merge{index}", "timestamp": at})
    return found


_operators = {
    "equals": st.sampled_from(["pro", "free", 3, "10"]), "not_equals": st.sampled_from(["pro", 7]),
    "in": st.lists(st.sampled_from(["pro", "Pro Max", 3, 12.5, True]), min_size=1, max_size=3),
    "not_in": st.lists(st.sampled_from(["free", 7]), min_size=1, max_size=2),
    "gt": st.integers(-2, 20), "gte": st.integers(0, 12), "lt": st.floats(0, 20).map(lambda v: round(v, 1)),
    "lte": st.integers(0, 12), "contains": st.sampled_from(["pro", "MAX", "1"]),
    "regex": st.sampled_from(["^P", "o$", "[0-9]+", "a|e"]), "is_set": st.none(), "is_not_set": st.none(),
}


@st.composite
def filters(draw: st.DrawFn) -> dict[str, Any]:
    operator = draw(st.sampled_from(sorted(_operators)))
    kind = draw(st.sampled_from(["event", "person"]))
    name = draw(st.sampled_from(["plan", "n"] if kind == "event" else ["country", "tier"]))
    condition = {"property": name, "operator": operator, "type": kind}
    value = draw(_operators[operator])
    return condition if value is None else {**condition, "value": value}


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    interval = draw(st.sampled_from(["hour", "day", "day", "week", "month"]))
    maths = ["total", "persons", "per_person_avg", "sum", "avg", "min", "max", "median", "p90", "p99"]
    if interval == "day":
        maths += ["dau", "wau", "mau"]
    first = dt.date(2026, 3, 6) + dt.timedelta(days=draw(st.integers(0, 20)))
    days = draw(st.integers(0, 3 if interval == "hour" else 12))
    series = []
    for _ in range(draw(st.integers(1, 2))):
        math = draw(st.sampled_from(maths))
        one: dict[str, Any] = {"event": draw(st.sampled_from(["A", "B"])), "math": math}
        if math in ("sum", "avg", "min", "max", "median", "p90", "p99"):
            one["property"] = "n"
        if draw(st.booleans()):
            one["filters"] = draw(st.lists(filters(), max_size=2))
        series.append(one)
    query: dict[str, Any] = {"series": series, "interval": interval, "timezone": draw(st.sampled_from(ZONES)),
                             "date_from": first.isoformat(), "date_to": (first + dt.timedelta(days=days)).isoformat()}
    if draw(st.booleans()):
        query["filters"] = draw(st.lists(filters(), max_size=1))
    if draw(st.booleans()):
        kind = draw(st.sampled_from(["event", "person"]))
        query["breakdown"] = {"property": draw(st.sampled_from(["plan", "n"] if kind == "event" else ["country"])),
                              "type": kind}
        query["breakdown_limit"] = draw(st.integers(1, 3))
    return query


def engine(client: Client, query: dict[str, Any]) -> list[dict[str, Any]]:
    def rows(sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        return list(client.query(sql, parameters=parameters).result_rows)

    answer = trends(rows, parse_trends_query(msgspec.json.encode(query)))
    return msgspec.to_builtins(answer)["series"]


def assert_same(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [(s["label"], s["breakdown_value"], s["dates"]) for s in found] == \
        [(s["label"], s["breakdown_value"], s["dates"]) for s in expected]
    for one, other in zip(found, expected):
        assert one["values"] == pytest.approx(other["values"], rel=1e-9, abs=1e-9), one["label"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(events=messages(), query=queries())
def test_trends_equal_the_reference(client: Client, events: list[dict[str, Any]], query: dict[str, Any]) -> None:
    load(client, events)
    assert_same(engine(client, query), reference.trends(events, query))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(events=merged_messages(), query=queries())
def test_trends_count_merged_persons_as_the_reference_does(client: Client, events: list[dict[str, Any]],
                                                            query: dict[str, Any]) -> None:
    """Identify and alias merges (refused ones included) give the persons the reference's merge rules give."""
    ingest(client, events)
    assert_same(engine(client, query), reference.trends(events, query, persons=resolve))
