"""Benchmark: one experiment's results (3 metrics + CUPED) over 1M and 10M events on chDB.

Data are generated inside ClickHouse (`INSERT … SELECT … FROM numbers()`), about ten
events per unit: one exposure, sessions, orders with revenue, page views, and some of each
before the exposure (the CUPED covariate). Prints seconds per experiment (median of a few
runs, after one warm-up) and the ratio to a same-run baseline scan of the events table.

    .venv/bin/python -m loadtests.bench_analysis            # 1M and 10M events
    .venv/bin/python -m loadtests.bench_analysis --events 1000000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from experiments.analysis_settings import AnalysisSettings
from experiments.definitions import ExperimentDefinition, Variant
from experiments.evaluation import analyse_experiment
from experiments.metrics import Measure, MetricDefinition

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
INSERT INTO events (message_id, type, event, user_id, timestamp, original_timestamp,
                    sent_at, received_at, properties, experiment_id, variation_id)
SELECT
    concat('m', toString(number)) AS message_id,
    'track',
    multiIf(number < {units:UInt64}, 'Experiment Viewed',
            rand(1) % 10 < 4, 'Session Started',
            rand(1) % 10 < 5, 'Order Completed',
            'Page Viewed') AS event,
    concat('u', toString(number % {units:UInt64})) AS user_id,
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

_BASELINE = "SELECT sum(cityHash64(properties)) FROM events"


def _median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def bench(events: int, repeats: int) -> tuple[float, float]:
    """(seconds per experiment, seconds per baseline scan) on a fresh store of `events`."""
    with tempfile.TemporaryDirectory(prefix="northstar-bench-") as directory:
        client: Client = connect(f"chdb://{directory}")
        migrate(client)
        started = time.perf_counter()
        client.command(_GENERATE, parameters={"units": events // 10, "events": events})
        client.command("OPTIMIZE TABLE events FINAL")
        print(f"  generated {events:,} events in {time.perf_counter() - started:.1f}s")
        experiment = _median_seconds(lambda: analyse_experiment(client, _EXPERIMENT, _METRICS), repeats)
        baseline = _median_seconds(lambda: client.query(_BASELINE), repeats)
        client.close()
    return experiment, baseline


def main() -> None:
    """Print analysis time against a full scan of the same events, for each event count asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, action="append", help="events (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for events in args.events or [1_000_000, 10_000_000]:
        print(f"{events:,} events, {events // 10:,} units, 3 metrics + CUPED:")
        experiment, baseline = bench(events, args.repeats)
        print(f"  results {experiment:.3f} s per experiment; baseline scan {baseline:.3f} s; "
              f"ratio {experiment / baseline:.1f}x")


if __name__ == "__main__":
    main()
