"""Prometheus metrics of one collector process, on a registry of its own (no global state).

Counts the writer already keeps (accepted, stored, backlog) are read from it at scrape
time rather than counted twice; latencies and rejections are recorded here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collector.persons.derivation import Derived
from collector.writer import WriterCounters

__all__ = ["CollectorMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ROW_BUCKETS = (10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000)


class _WriterCollector(Collector):
    def __init__(self, counters: Callable[[], WriterCounters]) -> None:
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        counters = self._counters()
        yield CounterMetricFamily("northstar_events_accepted", "Events acknowledged (durably logged).",
                                  value=counters.accepted)
        yield CounterMetricFamily("northstar_events_stored", "Events inserted into ClickHouse.",
                                  value=counters.stored)
        yield CounterMetricFamily("northstar_inserts", "ClickHouse inserts that succeeded.",
                                  value=counters.inserts)
        yield CounterMetricFamily("northstar_insert_failures", "ClickHouse inserts that failed (retried).",
                                  value=counters.insert_failures)
        yield CounterMetricFamily("northstar_events_dead_lettered",
                                  "Logged events ClickHouse refused as data, kept under dead-letter/.",
                                  value=counters.dead_lettered)
        yield GaugeMetricFamily("northstar_log_backlog_records", "Logged request batches not yet in ClickHouse.",
                                value=counters.backlog_records)
        yield GaugeMetricFamily("northstar_log_backlog_bytes", "Bytes in the log not yet in ClickHouse.",
                                value=counters.backlog_bytes)
        yield CounterMetricFamily("northstar_log_fsyncs", "Group-commit fsyncs of the log (each acknowledges "
                                  "every request logged before it).", value=counters.log_fsyncs)


class _PersonsCollector(Collector):
    def __init__(self, last: Callable[[], Derived | None]) -> None:
        self._last = last

    def collect(self) -> Iterator[Metric]:
        last = self._last()
        if last is None:
            return
        yield GaugeMetricFamily("northstar_person_merge_refusals", "Identify/alias merges refused because the "
                                "person to be moved was already identified (latest derivation).", value=last.refusals)
        yield GaugeMetricFamily("northstar_persons_merged", "Persons of more than one distinct id (latest derivation).",
                                value=last.persons_merged)
        yield GaugeMetricFamily("northstar_identity_links", "Identity links the latest derivation applied.",
                                value=last.links)


class CollectorMetrics:
    """The metrics one server process exposes at `GET /metrics`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events_rejected = Counter(
            "northstar_events_rejected", "Events refused one by one, by reason.", ["reason"],
            registry=self.registry,
        )
        self.requests_refused = Counter(
            "northstar_requests_refused", "Whole requests refused, by reason.", ["reason"],
            registry=self.registry,
        )
        self.requests_aborted = Counter(
            "northstar_requests_aborted", "Requests whose client disconnected before sending all of it.",
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "northstar_request_seconds", "Ingestion request latency until acknowledged.", ["api"],
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.insert_seconds = Histogram(
            "northstar_insert_seconds", "Latency of one ClickHouse insert.",
            buckets=_LATENCY_BUCKETS, registry=self.registry,
        )
        self.insert_rows = Histogram(
            "northstar_insert_rows", "Events per ClickHouse insert.",
            buckets=_ROW_BUCKETS, registry=self.registry,
        )

    def watch_writer(self, counters: Callable[[], WriterCounters]) -> None:
        """Export the writer's counters (read at each scrape, never cached)."""
        self.registry.register(_WriterCollector(counters))

    def watch_persons(self, last: Callable[[], Derived | None]) -> None:
        """Export the latest person derivation's figures (nothing before the first pass)."""
        self.registry.register(_PersonsCollector(last))

    def observe_insert(self, rows: int, seconds: float) -> None:
        """Record one ClickHouse insert: its rows and how long it took."""
        self.insert_rows.observe(rows)
        self.insert_seconds.observe(seconds)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
