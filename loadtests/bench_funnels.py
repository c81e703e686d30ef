"""Benchmark: funnels (3 and 20 steps) against `windowFunnel`, and 8-day retention against a plain GROUP BY.

Data are generated inside ClickHouse (`INSERT … SELECT … FROM numbers()`): ten events per person
on average, 20 event names (`e0` … `e19`, earlier names more frequent), spread over 14 days with
a small JSON property. Every figure is the median of a few runs after one warm-up, in the same
run as its baseline:
- funnel 3 steps (e0 → e1 → e2, 1-day window) vs `windowFunnel(86400000)` over the same events
  (timestamps converted to UInt64 ms, since it refuses DateTime64), and the per-person sorted
  arrays alone (the part both pay for);
- funnel 20 steps vs 3 steps, and vs `windowFunnel` with 20 conditions;
- retention, 8 days, vs the naive GROUP BY (distinct days per person, then one pass per cohort).

    .venv/bin/python -m loadtests.bench_funnels                   # 1M events, 100k persons
    .venv/bin/python -m loadtests.bench_funnels --events 10000000 --persons 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections.abc import Callable

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from insights.funnels import FunnelQuery, funnel
from insights.matching import EventMatch
from insights.retention import RetentionQuery, retention
from loadtests.timing import median_seconds

_GENERATE = """
INSERT INTO events (message_id, type, event, user_id, timestamp, original_timestamp, sent_at, received_at, properties)
SELECT concat('m', toString(number)), 'track',
       concat('e', toString(least(19, toUInt32(floor(-log2(1 - (rand(1) % 1000000) / 1000000.0) * 3))))) AS event,
       concat('u', toString(rand(2) % {persons:UInt64})) AS user_id,
       toDateTime64('2026-03-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(rand(3) % (14 * 86400000)) AS timestamp,
       timestamp, timestamp, timestamp,
       concat('{"plan":"', ['free', 'pro', 'team'][rand(4) % 3 + 1], '","n":', toString(rand(5) % 100), '}')
FROM numbers({events:UInt64})
"""

_WINDOW_FUNNEL = """
SELECT level, count() FROM (
    SELECT cityHash64(if(user_id != '', user_id, anonymous_id)) AS person,
           windowFunnel(86400000)(toUInt64(toUnixTimestamp64Milli(timestamp)), {conditions}) AS level
    FROM events FINAL
    WHERE timestamp >= '2026-03-01' AND timestamp < '2026-03-16' AND event IN {names:Array(String)}
    GROUP BY person)
GROUP BY level
"""

_ARRAYS_ALONE = """
SELECT sum(length(events)) FROM (
    SELECT cityHash64(if(user_id != '', user_id, anonymous_id)) AS person,
           arraySort(groupArray((toUnixTimestamp64Milli(timestamp), event))) AS events
    FROM events FINAL
    WHERE timestamp >= '2026-03-01' AND timestamp < '2026-03-16' AND event IN {names:Array(String)}
    GROUP BY person)
"""

# The naive retention: distinct active days per person, then for each cohort day and offset a pass.
_NAIVE_RETENTION = """
SELECT cohort, k, count() FROM (
    SELECT person, arrayJoin(days) AS cohort, arrayJoin(range(0, 8)) AS k, days
    FROM (SELECT cityHash64(if(user_id != '', user_id, anonymous_id)) AS person, groupUniqArray(toDate(timestamp)) AS days
          FROM events FINAL
          WHERE event = 'e0' AND timestamp >= '2026-03-01' AND timestamp < '2026-03-09'
          GROUP BY person))
WHERE has(days, cohort + k)
GROUP BY cohort, k
"""



def _funnel_query(steps: int) -> FunnelQuery:
    return FunnelQuery(tuple(EventMatch(f"e{i}") for i in range(steps)), dt.date(2026, 3, 1), dt.date(2026, 3, 14),
                       window_seconds=86400)


def bench(events: int, persons: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        store: Client = connect(f"chdb://{directory}")
        migrate(store)
        started = time.perf_counter()
        store.command(_GENERATE, parameters={"events": events, "persons": persons},
                      settings={"max_partitions_per_insert_block": 0})
        store.command("OPTIMIZE TABLE events FINAL")
        print(f"{events:,} events, {persons:,} persons generated in {time.perf_counter() - started:.1f} s")

        def window_funnel(steps: int) -> Callable[[], object]:
            names = [f"e{i}" for i in range(steps)]
            sql = _WINDOW_FUNNEL.replace("{conditions}", ", ".join(f"event = '{n}'" for n in names))
            return lambda: store.query(sql, parameters={"names": names})

        three = median_seconds(lambda: funnel(store, _funnel_query(3)), repeats)
        twenty = median_seconds(lambda: funnel(store, _funnel_query(20)), repeats)
        wf3 = median_seconds(window_funnel(3), repeats)
        wf20 = median_seconds(window_funnel(20), 1)
        arrays3 = median_seconds(lambda: store.query(_ARRAYS_ALONE, parameters={"names": ["e0", "e1", "e2"]}), repeats)
        arrays20 = median_seconds(lambda: store.query(_ARRAYS_ALONE, parameters={"names": [f"e{i}" for i in range(20)]}),
                          repeats)
        ours = median_seconds(lambda: retention(store, RetentionQuery(EventMatch("e0"), EventMatch("e0"), dt.date(2026, 3, 1),
                                                              dt.date(2026, 3, 8), periods=8)), repeats)
        naive = median_seconds(lambda: store.query(_NAIVE_RETENTION), repeats)
        print(f"funnel 3 steps      {three:6.2f} s   windowFunnel {wf3:6.2f} s   ratio {three / wf3:.2f}"
              f"   (sorted arrays alone {arrays3:.2f} s)")
        print(f"funnel 20 steps     {twenty:6.2f} s   windowFunnel {wf20:6.2f} s   ratio {twenty / wf20:.2f}"
              f"   (sorted arrays alone {arrays20:.2f} s)")
        print(f"20 steps / 3 steps  {twenty / three:6.2f}")
        print(f"retention 8 days    {ours:6.2f} s   naive GROUP BY {naive:6.2f} s   ratio {ours / naive:.2f}")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=0, help="default: events / 10")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    bench(arguments.events, arguments.persons or arguments.events // 10, arguments.repeats)


if __name__ == "__main__":
    main()
