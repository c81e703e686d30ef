"""The retention engine on chDB: PostHog's golden day grid, and the plain-Python reference on random
events (recurring/first-time, calendar/rolling, cumulative, zones, intervals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from insights.matching import EngineInputError, EventMatch
from insights.retention import RetentionQuery, retention
from insights_reference import RefEvent, reference_retention
from insights_store import load

HOUR = 3_600_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = connect(f"chdb://{Path(tmp_path_factory.mktemp('retention'))}")
    migrate(client)
    yield client
    client.close()


def _at(day: int, hour: int = 5) -> int:
    return int(dt.datetime(2020, 6, 10 + day, hour, tzinfo=dt.timezone.utc).timestamp() * 1000)


# PostHog retention/test/test_retention_query_runner.py::test_day_interval; alias1 is person1's alias.
DAY_INTERVAL = [("person1", _at(0)), ("person1", _at(1)), ("person1", _at(2)), ("person1", _at(5)),
                ("alias1", _at(5, 9)), ("person1", _at(6)), ("person2", _at(1)), ("person2", _at(2)),
                ("person2", _at(3)), ("person2", _at(6))]
GOLDEN = [[1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0], [2, 2, 1, 0, 1, 2, 0, 0, 0, 0], [2, 1, 0, 1, 2, 0, 0, 0, 0],
          [1, 0, 0, 1, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [2, 0, 0, 0, 0], [0, 0, 0, 0],
          [0, 0, 0], [0, 0], [0]]


def _day_interval(store: Client, aliases: tuple[tuple[str, str], ...] = (("alias1", "person1"),)) -> list[list[int]]:
    load(store, [RefEvent(p, "$pageview", t) for p, t in DAY_INTERVAL], aliases=aliases)
    result = retention(store, RetentionQuery(EventMatch("$pageview"), EventMatch("$pageview"),
                                             dt.date(2020, 6, 10), dt.date(2020, 6, 20), periods=11))
    assert [c.start for c in result.cohorts][:2] == [dt.date(2020, 6, 10), dt.date(2020, 6, 11)]
    return [list(c.values) for c in result.cohorts]


def test_posthog_day_interval_without_the_alias_merged_differs_only_in_row_five(store: Client) -> None:
    grid = _day_interval(store, aliases=())
    assert grid[:5] == GOLDEN[:5] and grid[6:] == GOLDEN[6:]
    assert grid[5] == [2, 1, 0, 0, 0, 0]  # alias1 counts as a second person


def test_posthog_day_interval_golden_grid(store: Client) -> None:
    assert _day_interval(store) == GOLDEN


def test_impossible_queries_name_their_field() -> None:
    with pytest.raises(EngineInputError) as error:
        retention(None, RetentionQuery(EventMatch("a"), EventMatch("a"), dt.date(2020, 1, 1),  # type: ignore[arg-type]
                                       dt.date(2020, 1, 2), periods=0))
    assert error.value.field == "periods"
    with pytest.raises(EngineInputError) as error:
        retention(None, RetentionQuery(EventMatch("a"), EventMatch("a"), dt.date(2020, 1, 3),  # type: ignore[arg-type]
                                       dt.date(2020, 1, 2)))
    assert error.value.field == "date_from"


T0 = int(dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)


@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3", "p4", "p5"]), st.sampled_from(["S", "R"]),
                              st.integers(-100, 24 * 60)), max_size=30),
       interval=st.sampled_from(["day", "week", "month"]), periods=st.integers(1, 6),
       kind=st.sampled_from(["recurring", "first_time"]), window=st.sampled_from(["calendar", "rolling"]),
       cumulative=st.booleans(), timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York"]),
       same_event=st.booleans())
def test_the_engine_equals_the_reference_on_random_events(
    store: Client, raw: list[tuple[str, str, int]], interval: str, periods: int, kind: str, window: str,
    cumulative: bool, timezone: str, same_event: bool,
) -> None:
    # Times on a grid from before the range to past it, across the March DST changes.
    step = {"day": 15, "week": 45, "month": 100}[interval] * HOUR // 60
    events = [RefEvent(person, name, T0 + slot * step) for person, name, slot in raw]
    load(store, events)
    returning = "S" if same_event else "R"
    date_from, date_to = dt.date(2026, 3, 3), {"day": dt.date(2026, 3, 12), "week": dt.date(2026, 4, 10),
                                          "month": dt.date(2026, 5, 31)}[interval]
    want = reference_retention(events, {}, ("S", None), (returning, None), date_from, date_to, timezone, interval,
                               periods, kind, window, cumulative)
    got = retention(store, RetentionQuery(EventMatch("S"), EventMatch(returning), date_from, date_to, timezone,
                                          interval, periods, kind, window, cumulative))  # type: ignore[arg-type]
    assert [(c.start, list(c.values)) for c in got.cohorts] == want
