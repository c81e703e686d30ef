"""The funnel engine on chDB: the issue's fixture, cases ported from PostHog, and the plain-Python
reference on randomized events (every order, exclusions, breakdowns, same-millisecond events)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from collector.storage.events import EVENT_COLUMNS
from insights.funnels import Exclusion, FunnelBreakdown, FunnelQuery, funnel, funnel_persons
from insights.matching import EngineInputError, EventMatch
from insights_reference import OTHER, RefEvent, RefFunnel, reference_funnel
from insights_store import load

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
T0 = int(dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
PLAN = "JSONExtract(properties, 'plan', 'Nullable(String)')"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    client = connect(f"chdb://{Path(tmp_path_factory.mktemp('funnels'))}")
    migrate(client)
    yield client
    client.close()


def journeys(people: dict[str, list[tuple[str, int]]], start: int = T0) -> list[RefEvent]:
    return [RefEvent(person, name, start + at) for person, steps in people.items() for name, at in steps]


def query(steps: str | list[str], days: int = 14, **fields: object) -> FunnelQuery:
    first = dt.date(2026, 5, 1)
    return FunnelQuery(steps=tuple(EventMatch(s) for s in steps), date_from=first,  # type: ignore[arg-type]
                       date_to=first + dt.timedelta(days=days - 1), **fields)


def counts(store: Client, funnel_query: FunnelQuery) -> list[int]:
    return [step.count for step in funnel(store, funnel_query).steps]


FIXTURE = journeys({
    "u1": [("A", 0), ("B", HOUR), ("C", 2 * HOUR)],
    "u2": [("A", 0), ("C", HOUR), ("B", 2 * HOUR)],
    "u3": [("A", 0), ("B", 2 * DAY), ("C", 2 * DAY + HOUR)],
    "u4": [("A", 0), ("A", 3 * DAY), ("B", 3 * DAY + HOUR), ("C", 3 * DAY + 2 * HOUR)],
    "u5": [("A", 0), ("X", HOUR // 2), ("B", HOUR), ("C", 3 * HOUR // 2)],
    "u6": [("A", 0), ("B", HOUR), ("A", 3 * HOUR // 2), ("C", 2 * HOUR)],
    "u7": [("B", 0), ("C", HOUR)],
})


def test_the_issue_fixture_ordered_strict_and_what_window_funnel_says(store: Client) -> None:
    load(store, FIXTURE)
    assert counts(store, query("ABC", window_seconds=86400)) == [6, 5, 4]
    assert counts(store, query("ABC", window_seconds=86400, order="strict")) == [6, 3, 2]
    assert counts(store, query("ABC", window_seconds=86400, order="unordered")) == [7, 7, 5]
    reached = store.query("""
        SELECT level, count() FROM (
            SELECT user_id, windowFunnel(86400000)(toUInt64(toUnixTimestamp64Milli(timestamp)),
                                                event = 'A', event = 'B', event = 'C') AS level
            FROM events GROUP BY user_id) GROUP BY level""").result_rows
    assert sum(c for level, c in reached if level >= 2) == 5 and sum(c for level, c in reached if level >= 3) == 4


def test_drop_off_and_reached_person_lists_page_through_person_ids(store: Client) -> None:
    load(store, FIXTURE)
    funnel_query = query("ABC", window_seconds=86400)
    ids = {user: store.query(f"SELECT lower(hex(MD5(concat('northstar.person:', '{user}'))))").result_rows[0][0]
           for user in ("u1", "u2", "u3", "u4", "u5", "u6")}
    assert set(funnel_persons(store, funnel_query, 1, dropped=True).person_ids) == {ids["u3"]}
    assert set(funnel_persons(store, funnel_query, 2, dropped=True).person_ids) == {ids["u2"]}
    first = funnel_persons(store, funnel_query, 3, limit=3)
    rest = funnel_persons(store, funnel_query, 3, limit=3, offset=3)
    assert first.has_more and not rest.has_more
    assert set(first.person_ids + rest.person_ids) == {ids[u] for u in ("u1", "u4", "u5", "u6")}
    assert list(first.person_ids + rest.person_ids) == sorted(first.person_ids + rest.person_ids)


def test_impossible_queries_name_their_field() -> None:
    with pytest.raises(EngineInputError) as error:
        funnel(None, query("ABC", window_seconds=0))  # type: ignore[arg-type]
    assert error.value.field == "window_seconds"
    with pytest.raises(EngineInputError) as error:
        funnel(None, query(["E"] * 21))  # type: ignore[arg-type]
    assert error.value.field == "steps"
    with pytest.raises(EngineInputError) as error:
        funnel(None, query("ABC", exclusions=(Exclusion(EventMatch("B"), 1, 3),)))  # type: ignore[arg-type]
    assert error.value.field == "exclusions[0].event"
    with pytest.raises(EngineInputError) as error:
        funnel(None, query("ABC", order="unordered", exclusions=(Exclusion(EventMatch("X"), 1, 2),)))  # type: ignore[arg-type]
    assert error.value.field == "exclusions[0].from_step"


# Ported from PostHog funnels/test/conversion_time_cases.py (run there for every order).
@pytest.mark.parametrize("order", ["ordered", "strict", "unordered"])
def test_posthog_funnel_with_multiple_incomplete_tries(store: Client, order: str) -> None:
    start = int(dt.datetime(2021, 5, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    load(store, journeys({"person1": [
        ("user signed up", HOUR), ("$pageview", 2 * HOUR), ("something else", 3 * HOUR),
        ("user signed up", 2 * DAY + 4 * HOUR), ("$pageview", 2 * DAY + 5 * HOUR),
        ("user signed up", 3 * DAY + 7 * HOUR), ("$pageview", 3 * DAY + 10 * HOUR)]}, start))
    result = funnel(store, FunnelQuery(tuple(EventMatch(e) for e in ("user signed up", "$pageview", "something else")),
                                       dt.date(2021, 5, 1), dt.date(2021, 5, 14), window_seconds=86400, order=order))  # type: ignore[arg-type]
    assert [s.count for s in result.steps] == [1, 1, 1]
    assert result.steps[1].mean_seconds_from_previous == result.steps[1].median_seconds_from_previous == 3600


@pytest.mark.parametrize("order", ["ordered", "strict", "unordered"])
def test_posthog_funnel_step_conversion_times(store: Client, order: str) -> None:
    start = int(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    load(store, journeys({
        "person1": [("sign up", 12 * HOUR), ("play movie", 13 * HOUR), ("buy", 15 * HOUR)],
        "person2": [("sign up", DAY + 14 * HOUR), ("play movie", DAY + 16 * HOUR)],
        "person3": [("sign up", DAY + 14 * HOUR), ("play movie", DAY + 16 * HOUR), ("buy", DAY + 17 * HOUR)]}, start))
    result = funnel(store, FunnelQuery(tuple(EventMatch(e) for e in ("sign up", "play movie", "buy")),
                                       dt.date(2020, 1, 1), dt.date(2020, 1, 8), window_seconds=7 * 86400, order=order))  # type: ignore[arg-type]
    assert [(s.mean_seconds_from_previous, s.median_seconds_from_previous) for s in result.steps] == [
        (None, None), (6000, 7200), (5400, 5400)]


@pytest.mark.parametrize("order", ["ordered", "strict", "unordered"])
def test_posthog_funnel_times_with_different_conversion_windows(store: Client, order: str) -> None:
    start = int(dt.datetime(2020, 1, 2, tzinfo=dt.timezone.utc).timestamp() * 1000)
    load(store, journeys({
        "stopped_after_signup1": [("user signed up", 14 * HOUR), ("pageview", 14 * HOUR + 5 * MINUTE)],
        "stopped_after_signup2": [("user signed up", 14 * HOUR + 3 * MINUTE)],
        "stopped_after_signup3": [("user signed up", 12 * HOUR), ("pageview", 12 * HOUR + 15 * MINUTE)]}, start))
    steps = (EventMatch("user signed up"), EventMatch("pageview"))
    days = FunnelQuery(steps, dt.date(2020, 1, 1), dt.date(2020, 1, 14), window_seconds=14 * 86400, order=order)  # type: ignore[arg-type]
    result = funnel(store, days)
    assert [s.count for s in result.steps] == [3, 2] and result.steps[1].mean_seconds_from_previous == 600
    minutes = funnel(store, FunnelQuery(steps, dt.date(2020, 1, 1), dt.date(2020, 1, 14), window_seconds=300, order=order))  # type: ignore[arg-type]
    assert [s.count for s in minutes.steps] == [3, 1] and minutes.steps[1].mean_seconds_from_previous == 300
    assert len(funnel_persons(store, days, 2).person_ids) == 2


# Ported from PostHog funnels/test/test_funnel.py.
def test_posthog_funnel_with_repeat_steps(store: Client) -> None:
    load(store, journeys({
        "stopped_after_signup1": [("user signed up", 0)],
        "stopped_after_pageview1": [("user signed up", 0), ("$pageview", 1 * HOUR), ("$pageview", 2 * HOUR)],
        "stopped_after_pageview2": [("user signed up", 0), ("$pageview", HOUR), ("$pageview", 2 * HOUR),
                                    ("$pageview", 3 * HOUR), ("$pageview", 4 * HOUR)]}))
    steps = ["user signed up", "$pageview", "$pageview", "$pageview", "$pageview"]
    assert counts(store, query(steps)) == [3, 2, 2, 1, 1]


def test_posthog_funnel_exclusions_full_window(store: Client) -> None:
    start = int(dt.datetime(2021, 5, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    load(store, journeys({
        "person1": [("user signed up", HOUR), ("paid", 2 * HOUR)],
        "person2": [("user signed up", 3 * HOUR), ("x 1 name with numbers 2", 3 * HOUR + 30 * MINUTE), ("paid", 4 * HOUR)],
        "person3": [("user signed up", 5 * HOUR), ("paid", 6 * HOUR)]}, start))
    excluded = FunnelQuery((EventMatch("user signed up"), EventMatch("paid")), dt.date(2021, 5, 1), dt.date(2021, 5, 14),
                           exclusions=(Exclusion(EventMatch("x 1 name with numbers 2"), 1, 2),))
    assert counts(store, excluded) == [2, 2]
    assert len(funnel_persons(store, excluded, 2).person_ids) == 2


def test_posthog_advanced_funnel_exclusions_between_steps(store: Client) -> None:
    start = int(dt.datetime(2021, 5, 1, tzinfo=dt.timezone.utc).timestamp() * 1000)
    half = 30 * MINUTE
    load(store, journeys({
        "person1": [("user signed up", HOUR), ("$pageview", 2 * HOUR), ("x", 3 * HOUR), ("insight viewed", 4 * HOUR),
                    ("x", 4 * HOUR + half), ("invite teammate", 5 * HOUR), ("x", 5 * HOUR + half), ("pageview2", 6 * HOUR)],
        "person2": [("user signed up", HOUR), ("$pageview", 2 * HOUR), ("insight viewed", 4 * HOUR),
                    ("x", 4 * HOUR + half), ("invite teammate", 5 * HOUR), ("x", 5 * HOUR + half), ("pageview2", 6 * HOUR)],
        "person3": [("user signed up", HOUR), ("x", HOUR + half), ("$pageview", 2 * HOUR), ("insight viewed", 4 * HOUR),
                    ("invite teammate", 5 * HOUR), ("x", 5 * HOUR + half), ("pageview2", 6 * HOUR)]}, start))
    steps = tuple(EventMatch(e) for e in ("user signed up", "$pageview", "insight viewed", "invite teammate", "pageview2"))

    def between(f: int, t: int) -> list[int]:
        return counts(store, FunnelQuery(steps, dt.date(2021, 5, 1), dt.date(2021, 5, 14),
                                         exclusions=(Exclusion(EventMatch("x"), f, t),)))
    # PostHog numbers its steps from 0 there: funnel_from_step 0..3 are 1..4 here.
    assert between(1, 2) == [2] * 5
    assert between(2, 3) == [2] * 5
    assert between(3, 4) == [1] * 5
    assert between(4, 5) == [0] * 5
    assert between(2, 4) == [1] * 5


def test_posthog_funnel_with_matching_timestamps_counts_steps_in_order(store: Client) -> None:
    load(store, journeys({"person1": [("A", 0), ("B", 0), ("C", 0)], "person2": [("C", 0), ("B", 0), ("A", 0)]}))
    assert counts(store, query("ABC")) == [2, 2, 2]
    assert counts(store, query("ABC", order="strict")) == [2, 2, 2]


def test_posthog_basic_strict_funnel(store: Client) -> None:
    load(store, journeys({
        "stopped_after_signup1": [("user signed up", 0), ("insight viewed", HOUR)],
        "stopped_after_pageview1": [("user signed up", 0), ("$pageview", HOUR)],
        "stopped_after_insightview": [("user signed up", 0), ("$pageview", HOUR), ("blaah", 2 * HOUR),
                                      ("insight viewed", 3 * HOUR)],
        "stopped_after_insightview2": [("insight viewed", 0), ("user signed up", HOUR), ("$pageview", 2 * HOUR),
                                       ("insight viewed", 3 * HOUR)]}))
    steps = ["user signed up", "$pageview", "insight viewed"]
    assert counts(store, query(steps, order="strict")) == [4, 3, 1]
    assert counts(store, query(steps)) == [4, 3, 2]


# Ported from PostHog funnels/test/breakdown_cases.py (breakdown attributed to step 1).
def test_posthog_funnel_step_breakdown_event_and_limit(store: Client) -> None:
    events = [RefEvent("person1", "sign up", T0, "Chrome"), RefEvent("person1", "play movie", T0 + HOUR, "Safari"),
              RefEvent("person1", "buy", T0 + 2 * HOUR, "Safari"),
              RefEvent("person2", "sign up", T0, "Safari"), RefEvent("person2", "play movie", T0 + HOUR, "Safari"),
              RefEvent("person3", "sign up", T0, "Safari"),
              RefEvent("person4", "sign up", T0, None), RefEvent("person4", "play movie", T0 + HOUR, "Chrome")]
    load(store, events)
    result = funnel(store, query(["sign up", "play movie", "buy"], breakdown=FunnelBreakdown(PLAN)))
    assert [s.count for s in result.steps] == [4, 3, 1]
    assert [(b.value, [s.count for s in b.steps]) for b in result.breakdowns] == [
        ("Safari", [2, 1, 0]), ("Chrome", [1, 1, 1]), (None, [1, 1, 0])]
    limited = funnel(store, query(["sign up", "play movie", "buy"], breakdown=FunnelBreakdown(PLAN, limit=1)))
    assert [(b.value, [s.count for s in b.steps]) for b in limited.breakdowns] == [
        ("Safari", [2, 1, 0]), (OTHER, [2, 2, 1])]
    chrome = funnel_persons(store, query(["sign up", "play movie", "buy"], breakdown=FunnelBreakdown(PLAN)), 3,
                            breakdown_value="Chrome", everyone=False)
    assert len(chrome.person_ids) == 1


def test_a_person_with_step_one_in_two_values_counts_in_each(store: Client) -> None:
    load(store, [RefEvent("p", "A", T0, "x"), RefEvent("p", "A", T0 + HOUR, "y"), RefEvent("p", "B", T0 + 2 * HOUR)])
    result = funnel(store, query("AB", breakdown=FunnelBreakdown(PLAN)))
    assert [(b.value, [s.count for s in b.steps]) for b in result.breakdowns] == [("x", [1, 1]), ("y", [1, 1])]
    assert [s.count for s in result.steps] == [1, 1]


def test_conditions_and_breakdowns_read_person_properties(store: Client) -> None:
    load(store, journeys({"p1": [("A", 0), ("B", HOUR)], "p2": [("A", 0), ("B", HOUR)], "p3": [("A", 0)]}))
    at = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    store.insert("events", [["i1", "identify", "", "", "p1", "", "", "", at, at, at, at, "{}", '{"plan":"pro"}', "{}",
                             "", ""]], column_names=EVENT_COLUMNS)
    pro = EventMatch("A", "JSONExtractString(person_properties, {key:String}) = {value:String}",
                     {"key": "plan", "value": "pro"})
    assert counts(store, FunnelQuery((pro, EventMatch("B")), dt.date(2026, 5, 1), dt.date(2026, 5, 2),
                                     person_properties=True)) == [1, 1]
    result = funnel(store, FunnelQuery((EventMatch("A"), EventMatch("B")), dt.date(2026, 5, 1), dt.date(2026, 5, 2),
                                       person_properties=True, breakdown=FunnelBreakdown(
                                           "JSONExtract(person_properties, 'plan', 'Nullable(String)')")))
    assert [(b.value, [s.count for s in b.steps]) for b in result.breakdowns] == [(None, [2, 1]), ("pro", [1, 1])]


# The engine against the plain-Python reference on random event sets.
NAMES = ["A", "B", "C", "X"]
events_strategy = st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3", "p4"]), st.sampled_from(NAMES),
                                     st.integers(0, 40), st.sampled_from([None, "a", "b"])), max_size=24)


def _compare(store: Client, raw: list[tuple[str, str, int, str | None]], steps: list[str], plan_step: bool,
             window: int, order: str, exclusion: tuple[str, int, int] | None, breakdown: bool) -> None:
    # Times on a 2-hour grid over ~3 days: same-millisecond events of different steps are common.
    events = [RefEvent(person, name, T0 + slot * 2 * HOUR, plan) for person, name, slot, plan in raw]
    load(store, events)
    matches = [(s, "a" if plan_step and i == 1 else None) for i, s in enumerate(steps)]
    exclusions = [] if exclusion is None else [((exclusion[0], None), exclusion[1], exclusion[2])]
    reference = reference_funnel(events, RefFunnel(matches, T0, T0 + 2 * DAY, window * HOUR, order, exclusions,
                                                   breakdown, breakdown_limit=2))
    engine_query = FunnelQuery(
        tuple(EventMatch(name, "JSONExtractString(properties, 'plan') = {plan:String}", {"plan": plan})
              if plan else EventMatch(name) for name, plan in matches),
        dt.date(2026, 5, 1), dt.date(2026, 5, 2), window_seconds=window * 3600, order=order,  # type: ignore[arg-type]
        exclusions=tuple(Exclusion(EventMatch(m[0]), f, t) for m, f, t in exclusions),
        breakdown=FunnelBreakdown(PLAN, limit=2) if breakdown else None)
    result = funnel(store, engine_query)
    buckets = {"all": result.steps, **{b.value: b.steps for b in result.breakdowns}}
    empty = [(0, None, None)] * len(steps)
    for bucket in set(buckets) | set(reference):
        got = [(s.count, s.mean_seconds_from_previous, s.median_seconds_from_previous)
               for s in buckets.get(bucket, ())] or empty
        want = reference.get(bucket, empty)
        assert [g[0] for g in got] == [w[0] for w in want], (bucket, got, want)
        for (_, mean, median), (_, want_mean, want_median) in zip(got, want):
            assert mean == pytest.approx(want_mean) and median == pytest.approx(want_median), (bucket, got, want)


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=events_strategy, steps=st.lists(st.sampled_from(NAMES[:3]), min_size=2, max_size=4),
       plan_step=st.booleans(), window=st.sampled_from([2, 6, 24]),
       order=st.sampled_from(["ordered", "strict", "unordered"]),
       exclusion=st.none() | st.tuples(st.just("X"), st.just(1), st.integers(2, 4)), breakdown=st.booleans())
def test_the_engine_equals_the_reference_on_random_events(
    store: Client, raw: list[tuple[str, str, int, str | None]], steps: list[str], plan_step: bool, window: int,
    order: str, exclusion: tuple[str, int, int] | None, breakdown: bool,
) -> None:
    if exclusion is not None:
        exclusion = (exclusion[0], 1, len(steps)) if order == "unordered" else (
            exclusion[0], 1, min(exclusion[2], len(steps)))
    _compare(store, raw, steps, plan_step, window, order, exclusion, breakdown)
