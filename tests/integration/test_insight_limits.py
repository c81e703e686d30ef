"""Analytical queries run under limits: cut off past the time or memory limit, 429 past the concurrency bound."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.settings import AnalyticsLimits
from collector.storage import connect
from collector.storage.clickhouse import Client
from insights.limits import AnalyticalQueries, QueryBusy, QueryLimitExceeded

_HEAVY = "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One client, closed at the end: this process can hold one embedded store at a time."""
    client = connect(f"chdb://{Path(tmp_path_factory.mktemp('limits'))}")
    yield client
    client.close()


def test_a_query_past_its_time_or_memory_limit_is_cut_off(store: Client) -> None:
    queries = AnalyticalQueries(lambda: store, AnalyticsLimits(max_query_seconds=0.3,
                                                                         max_query_memory_bytes=16 << 20))
    with pytest.raises(QueryLimitExceeded) as timed_out:
        queries.rows(_HEAVY, {})
    assert timed_out.value.limit == "time" and "0.3 s" in str(timed_out.value)
    with pytest.raises(QueryLimitExceeded) as too_big:
        queries.rows("SELECT groupArray(number) FROM numbers(50000000)", {})
    assert too_big.value.limit == "memory" and "16 MiB" in str(too_big.value)
    assert queries.rows("SELECT 1", {}) == [(1,)]  # the slots were given back


def test_past_the_concurrency_bound_a_query_waits_then_is_refused(store: Client) -> None:
    queries = AnalyticalQueries(lambda: store, AnalyticsLimits(max_query_seconds=1.5,
                                                                         max_concurrent_queries=1, queue_seconds=0.2))
    running = threading.Thread(target=lambda: pytest.raises(QueryLimitExceeded, queries.rows, _HEAVY, {}))
    running.start()
    try:
        threading.Event().wait(0.3)
        with pytest.raises(QueryBusy) as busy:
            queries.rows("SELECT 1", {})
        assert busy.value.retry_after >= 1
    finally:
        running.join()
    assert queries.rows("SELECT 1", {}) == [(1,)]
