"""Benchmark: trends on chDB (persons per day; persons per day broken down by a property) against
the plain GROUP BY a person would write by hand, same run, same data; and customer insight
(`customer_figures`: a behavioural cohort's size, 5-step paths, lifecycle over 30 days, NPS over
100k survey responses) against the naive query of each.

Events are generated inside ClickHouse (`INSERT … SELECT … FROM numbers()`): 20 event names
(Zipf-like shares), persons who send under their user id or an anonymous id, 30 days, property
JSON like a web app's (path, plan, country, browser, revenue, a nested object). The engine runs
each query exactly as the API does (`insights.trends`: resent events collapsed with FINAL,
persons through `collector.persons.resolution`, every interval zero-filled, under the
analytical limits); the naive baseline is `uniqExact(distinct id) … GROUP BY day` over the same
event and days, with no dedup and no person resolution, run through the same limits (so at
the same low CPU priority). Prints median seconds of a few runs after a warm-up, and the ratio.

    .venv/bin/python -m loadtests.bench_insights                 # 1M and 10M events
    .venv/bin/python -m loadtests.bench_insights --events 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from functools import partial

from collector.settings import AnalyticsLimits
from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from insights.cohorts import BehaviorRule, Cohort, Cohorts
from insights.lifecycle import LifecycleQuery, lifecycle
from insights.limits import AnalyticalQueries
from insights.paths import PathsQuery, paths
from insights.query import Breakdown
from insights.surveys import NpsQuery, nps
from insights.trends import Series, TrendsQuery, trends
from loadtests.timing import median_seconds

_EVENTS = ["Page Viewed", "Button Clicked", "Search Performed", "Product Viewed", "Added To Cart", "Session Started",
           "Signed In", "Checkout Started", "Order Completed", "Video Played", "Comment Posted", "Profile Updated",
           "Invite Sent", "File Uploaded", "Notification Opened", "Settings Changed", "Plan Upgraded", "Error Shown",
           "Help Opened", "Signed Out"]
_DAY0 = dt.date(2026, 4, 1)
_DAYS = 30

# Row n is sent by person (hash of n) % persons, under its user id or (a third of the time) an
# anonymous id; event k has share ~ 1/(k+1).
_GENERATE = """
INSERT INTO events (message_id, type, event, user_id, anonymous_id, timestamp, original_timestamp, sent_at,
                    received_at, properties)
SELECT
    concat('m', toString(number)) AS message_id, 'track',
    {names:Array(String)}[1 + toUInt32(floor(pow(20.99, (rand(1) % 100000) / 100000.0)) - 1)] AS event,
    if(rand(2) % 3 = 0, '', concat('user-', toString(cityHash64(number) % {persons:UInt64}))) AS user_id,
    if(user_id = '', concat('anon-', toString(cityHash64(number) % {persons:UInt64})), '') AS anonymous_id,
    toDateTime64({start:String}, 3, 'UTC') + toIntervalMillisecond(rand(3) % ({days:UInt32} * 86400000)) AS timestamp,
    timestamp, timestamp, timestamp,
    concat('{"path":"/', ['home', 'pricing', 'docs', 'blog', 'app', 'settings'][1 + rand(4) % 6],
           '","plan":"', ['free', 'free', 'free', 'pro', 'team', 'enterprise'][1 + rand(5) % 6],
           '","country":"', ['US', 'DE', 'FR', 'GB', 'IN', 'BR', 'JP', 'CA'][1 + rand(6) % 8],
           '","browser":"', ['Chrome', 'Safari', 'Firefox', 'Edge'][1 + rand(7) % 4],
           '","revenue":', toString(round((rand(8) % 20000) / 100, 2)),
           ',"$screen":{"width":', toString(800 + rand(9) % 1200), ',"height":900},"referrer":"https://example.com/',
           toString(rand(10) % 1000), '"}')
FROM numbers({events:UInt64})
"""

_NAIVE = """
SELECT toDate(timestamp) AS day, {breakdown}uniqExact(if(user_id != '', user_id, anonymous_id)) AS persons
FROM events
WHERE event = {{event:String}} AND timestamp >= {{start:DateTime64(3, 'UTC')}} AND timestamp < {{end:DateTime64(3, 'UTC')}}
GROUP BY day{group}
ORDER BY day
"""



def bench(events: int, persons: int, repeats: int) -> list[tuple[str, float, float]]:
    """(measure, engine seconds, naive seconds) on a fresh store of `events` events."""
    with tempfile.TemporaryDirectory(prefix="northstar-bench-insights-") as directory:
        dsn = f"chdb://{directory}"
        client = connect(dsn)
        migrate(client)
        started = time.perf_counter()
        client.command(_GENERATE, parameters={"names": _EVENTS, "persons": persons, "events": events,
                                              "start": f"{_DAY0} 00:00:00", "days": _DAYS})
        client.command("OPTIMIZE TABLE events FINAL")
        print(f"  generated {events:,} events of {persons:,} persons in {time.perf_counter() - started:.1f}s")
        queries = AnalyticalQueries(partial(connect, dsn), AnalyticsLimits())
        last = _DAY0 + dt.timedelta(days=_DAYS - 1)
        bounds = {"event": _EVENTS[0], "start": dt.datetime.combine(_DAY0, dt.time(), dt.timezone.utc),
                  "end": dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.timezone.utc)}
        figures = []
        for name, breakdown, naive_breakdown in (
            ("persons per day", None, ("", "")),
            ("persons per day by plan", Breakdown("plan"), ("JSONExtractString(properties, 'plan') AS plan, ", ", plan")),
        ):
            query = TrendsQuery([Series(_EVENTS[0], "persons")], _DAY0, last, breakdown=breakdown)
            engine = median_seconds(partial(trends, queries.rows, query), repeats)
            sql = _NAIVE.format(breakdown=naive_breakdown[0], group=naive_breakdown[1])
            naive = median_seconds(partial(queries.rows, sql, bounds), repeats)
            figures.append((name, engine, naive))
        figures += customer_figures(client, queries, persons, repeats)
        client.close()
    return figures


_RESPONSES = """
INSERT INTO events (message_id, type, event, user_id, timestamp, original_timestamp, sent_at, received_at, properties)
SELECT concat('s', toString(number)), 'track', 'Survey Responded',
       concat('user-', toString(cityHash64(number, 's') % {persons:UInt64})) AS user_id,
       toDateTime64({start:String}, 3, 'UTC') + toIntervalMillisecond(rand(11) % ({days:UInt32} * 86400000)) AS timestamp,
       timestamp, timestamp, timestamp,
       concat('{"survey":"bench-nps","score":', toString(rand(12) % 11), '}')
FROM numbers({responses:UInt64})
"""

_NAIVE_COHORT = """
SELECT count() FROM (
    SELECT if(user_id != '', user_id, anonymous_id) AS id FROM events
    WHERE event = {event:String} AND timestamp >= {since:DateTime64(3, 'UTC')} GROUP BY id HAVING count() >= 3
)
"""

_NAIVE_PATHS = """
SELECT path[i] AS source, path[i + 1] AS target, count() AS n
FROM (SELECT arraySlice(arrayMap(x -> x.2, arraySort(groupArray((timestamp, event)))), 1, 5) AS path
      FROM events WHERE timestamp >= {start:DateTime64(3, 'UTC')} AND timestamp < {end:DateTime64(3, 'UTC')}
      GROUP BY if(user_id != '', user_id, anonymous_id))
ARRAY JOIN arrayEnumerate(path) AS i WHERE i < length(path)
GROUP BY source, target ORDER BY n DESC LIMIT 50
"""

_NAIVE_LIFECYCLE = """
SELECT day, count() FROM (
    SELECT if(user_id != '', user_id, anonymous_id) AS id, toDate(timestamp) AS day, min(toDate(timestamp)) OVER (PARTITION BY id) AS first
    FROM events WHERE event = {event:String} AND timestamp < {end:DateTime64(3, 'UTC')} GROUP BY id, day
) WHERE day >= toDate({start:DateTime64(3, 'UTC')}) GROUP BY day, day = first
"""

_NAIVE_NPS = """
SELECT count(), countIf(score >= 9), countIf(score <= 6)
FROM (SELECT JSONExtractFloat(properties, 'score') AS score FROM events
      WHERE event = 'Survey Responded' AND JSONExtractString(properties, 'survey') = 'bench-nps')
"""


def customer_figures(client: Client, queries: AnalyticalQueries, persons: int,
                     repeats: int) -> list[tuple[str, float, float]]:
    """(measure, engine seconds, naive seconds) of a behavioural cohort's size, 5-step paths, lifecycle over
    30 days and NPS over 100k responses (added to the store first), each beside the query a person
    would write by hand (no dedup, no persons, no sessions, no last-response-per-person)."""
    responses = min(100_000, persons)
    client.command(_RESPONSES, parameters={"persons": persons, "responses": responses, "start": f"{_DAY0} 00:00:00",
                                           "days": _DAYS})
    last = _DAY0 + dt.timedelta(days=_DAYS - 1)
    start = dt.datetime.combine(_DAY0, dt.time(), dt.timezone.utc)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    cohorts = Cohorts(lambda: client, queries.rows)
    cohorts.save(Cohort("bench-clickers", rules=[BehaviorRule(_EVENTS[1], count=3, within_days=30)]))
    bounds = {"event": _EVENTS[1], "start": start, "end": end, "since": end - dt.timedelta(days=30)}
    figures = []
    for name, engine, sql in (
        ("behavioural cohort size", partial(cohorts.size, "bench-clickers", end), _NAIVE_COHORT),
        ("5-step paths", partial(paths, queries.rows, PathsQuery(_DAY0, last, steps=5)), _NAIVE_PATHS),
        ("lifecycle over 30 days", partial(lifecycle, queries.rows, LifecycleQuery(_DAY0, last, _EVENTS[1])),
         _NAIVE_LIFECYCLE),
        (f"NPS over {responses:,} responses", partial(nps, queries.rows, NpsQuery("bench-nps", _DAY0, last)), _NAIVE_NPS),
    ):
        figures.append((name, median_seconds(engine, repeats),
                        median_seconds(partial(queries.rows, sql, bounds), repeats)))  # same limits and priority
    return figures


def main() -> None:
    """Print engine and naive seconds, and their ratio, for each event count asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="events (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for events in args.events or [1_000_000, 10_000_000]:
        persons = max(events // 10, 1)
        print(f"{events:,} events, {persons:,} persons, {len(_EVENTS)} event names, {_DAYS} days "
              f"(trends of {_EVENTS[0]!r}, the most frequent):")
        for name, engine, naive in bench(events, persons, args.repeats):
            print(f"  {name}: engine {engine:.3f} s; naive GROUP BY {naive:.3f} s; ratio {engine / naive:.2f}x")


if __name__ == "__main__":
    main()
