"""Benchmark: one experiment's results (3 metrics + CUPED) over 1M and 10M events on chDB.

Data are generated inside ClickHouse (`INSERT … SELECT … FROM numbers()`), about ten
events per person: one exposure, sessions, orders with revenue, page views, and some of each
before the exposure (the CUPED covariate). 30% of the persons were exposed under an anonymous
id and then identified (an identify links it to their user id, derived into persons before
timing). Prints seconds per experiment (median of a few runs, after one warm-up), the ratio
to a same-run baseline scan of the events table, and the same query with identity
resolution against it without (each distinct id its own unit), same run: goal <= 1.2x.

    .venv/bin/python -m loadtests.bench_analysis            # 1M and 10M events
    .venv/bin/python -m loadtests.bench_analysis --events 1000000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from collector.persons.derivation import derive_persons
from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from experiments.analysis_settings import AnalysisSettings
from experiments.definitions import ExperimentDefinition, Variant
from experiments.evaluation import analyse_experiment
from experiments.metrics import Measure, MetricDefinition
from experiments.queries import MetricQuery, build_query
from loadtests.timing import median_seconds

_EXPERIMENT = ExperimentDefinition(
    key="bench",
    variants=[Variant("control", 0.5), Variant("treatment", 0.5)],
    metrics=["orders", "revenue", "revenue-per-session"],
    analysis=AnalysisSettings(cuped=True),
)
_METRICS = [
    MetricDefinition(key="orders", kind="conversion", event="Order Completed"),
    MetricDefinition(key="revenue", kind="mean", event="Order Completed", property_name="revenue"),
    MetricDefinition(
        key="revenue-per-session", kind="ratio", event="Order Completed", property_name="revenue",
        denominator=Measure("Session Started"),
    ),
]

# Row n belongs to unit n % units; the first `units` rows are the exposures, spread over
# 14 days; the rest are other events spread over 28 days around them.
_GENERATE = """
INSERT INTO events (message_id, type, event, user_id, anonymous_id, timestamp, original_timestamp,
                    sent_at, received_at, properties, experiment_id, variation_id)
SELECT
    concat('m', toString(number)) AS message_id,
    'track',
    multiIf(number < {units:UInt64}, 'Experiment Viewed',
            rand(1) % 10 < 4, 'Session Started',
            rand(1) % 10 < 5, 'Order Completed',
            'Page Viewed') AS event,
    if(number < {units:UInt64} AND number % 10 < 3, '', concat('u', toString(number % {units:UInt64}))) AS user_id,
    if(number < {units:UInt64} AND number % 10 < 3, concat('a', toString(number)), '') AS anonymous_id,
    toDateTime64('2026-03-01 00:00:00', 3, 'UTC')
        + toIntervalSecond(if(number < {units:UInt64}, (number * 7919) % (14 * 86400),
                              rand(2) % (28 * 86400))) AS timestamp,
    timestamp, timestamp, timestamp,
    if(event = 'Order Completed',
       concat('{"revenue":', toString(round(10 + (rand(3) % 9000) / 100, 2)), '}'),
       '{"path":"/home"}'),
    if(number < {units:UInt64}, 'bench', ''),
    if(number < {units:UInt64}, if(cityHash64(number) % 2 = 0, 'control', 'treatment'), '')
FROM numbers({events:UInt64})
"""

# The identify of each merged person (its exposure was anonymous), as the views would have
# captured it, and when every user id was first identified.
_LINKS = """
INSERT INTO identity_links (message_id, kind, timestamp, user_id, other_id)
SELECT concat('i', toString(number)), 'identify', toDateTime64('2026-02-01 00:00:00', 3, 'UTC'),
       concat('u', toString(number)), concat('a', toString(number))
FROM numbers({units:UInt64}) WHERE number % 10 < 3
"""
_IDENTIFIED = """
INSERT INTO identified_ids (distinct_id, first_identified)
SELECT concat('u', toString(number)), toDateTime64('2026-02-01 00:00:00', 3, 'UTC') FROM numbers({units:UInt64})
"""
_BASELINE = "SELECT sum(cityHash64(properties)) FROM events"



def _alternating_medians(first: Callable[[], object], second: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median seconds of each, run in turns (after one warm-up each), so a shared machine's
    drift weighs on both alike."""
    first(), second()
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for run, spent in zip((first, second), timings):
            started = time.perf_counter()
            run()
            spent.append(time.perf_counter() - started)
    return statistics.median(timings[0]), statistics.median(timings[1])


def bench(events: int, repeats: int) -> dict[str, float]:
    """Seconds per experiment (with and without identity resolution), per baseline scan and
    for deriving the persons, on a fresh store of `events`."""
    units = events // 10
    with tempfile.TemporaryDirectory(prefix="northstar-bench-") as directory:
        client: Client = connect(f"chdb://{directory}")
        migrate(client)
        started = time.perf_counter()
        client.command(_GENERATE, parameters={"units": units, "events": events})
        client.command(_LINKS, parameters={"units": units})
        client.command(_IDENTIFIED, parameters={"units": units})
        client.command("OPTIMIZE TABLE events FINAL")
        print(f"  generated {events:,} events in {time.perf_counter() - started:.1f}s")
        derived = derive_persons(client)
        print(f"  derived persons from {derived.links:,} links in {derived.seconds:.1f}s "
              f"({derived.persons_merged:,} merged persons)")
        queries = [MetricQuery(metric, _EXPERIMENT.conversion_window_hours, metric.kind != "ratio")
                   for metric in _METRICS]
        lookback = _EXPERIMENT.analysis.cuped_lookback_hours
        sql, parameters = build_query(_EXPERIMENT.key, queries, lookback)
        without, _ = build_query(_EXPERIMENT.key, queries, lookback, identity=False)
        with_identity, without_identity = _alternating_medians(
            lambda: client.query(sql, parameters=parameters), lambda: client.query(without, parameters=parameters),
            2 * repeats + 1)
        timings = {
            "experiment": median_seconds(lambda: analyse_experiment(client, _EXPERIMENT, _METRICS), repeats),
            "with_identity": with_identity,
            "without_identity": without_identity,
            "baseline": median_seconds(lambda: client.query(_BASELINE), repeats),
            "derivation": derived.seconds,
        }
        client.close()
    return timings


def main() -> None:
    """Print analysis time against a full scan of the same events, for each event count asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="events (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for events in args.events or [1_000_000, 10_000_000]:
        print(f"{events:,} events, {events // 10:,} persons (30% merged from an anonymous id), 3 metrics + CUPED:")
        timings = bench(events, args.repeats)
        experiment, baseline = timings["experiment"], timings["baseline"]
        print(f"  results {experiment:.3f} s per experiment; baseline scan {baseline:.3f} s; "
              f"ratio {experiment / baseline:.1f}x")
        print(f"  experiment query with identity resolution {timings['with_identity']:.3f} s, without "
              f"{timings['without_identity']:.3f} s: ratio {timings['with_identity'] / timings['without_identity']:.2f}x"
              " (goal <= 1.2x)")


if __name__ == "__main__":
    main()
