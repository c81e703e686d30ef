"""The one door analytical queries go through: a time and memory limit each, a bounded number at once.

Ingestion shares the store and the CPU, so an insight never runs unbounded: ClickHouse
cuts a query off past `max_execution_time` / `max_memory_usage` (raised here as
`QueryLimitExceeded`), past `max_concurrent_queries` running a caller waits at most
`queue_seconds` for a slot (then `QueryBusy`), and the query's threads yield the CPU to
ingestion (`os_thread_priority`). Thread-safe.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any, Literal

from clickhouse_connect.driver.exceptions import DatabaseError

from collector.settings import AnalyticsLimits
from collector.storage.clickhouse import Client, per_thread

__all__ = ["AnalyticalQueries", "QueryBusy", "QueryLimitExceeded", "QueryRefused"]

_TIMEOUT_EXCEEDED = 159
_MEMORY_LIMIT_EXCEEDED = 241
_CANNOT_COMPILE_REGEXP = 427


class QueryBusy(Exception):
    """Every analytical slot stayed taken for the whole wait: retry after `retry_after` seconds."""

    def __init__(self, running: int, retry_after: int) -> None:
        super().__init__(f"{running} analytical queries are running (the limit): retry after {retry_after} s")
        self.retry_after = retry_after


class QueryLimitExceeded(Exception):
    """ClickHouse cut the query off at its time or memory limit."""

    def __init__(self, limit: Literal["time", "memory"], message: str, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = retry_after


class QueryRefused(Exception):
    """ClickHouse could not run the query as asked (an RE2 regex it cannot compile)."""


class AnalyticalQueries:
    """Runs analytical SQL under `limits`; one ClickHouse client per calling thread.

    `before_query` (the server passes its persons derivation's `refresh`) runs before each
    query, so an analysis sees every identity link stored by then, not the last background pass.
    """

    def __init__(self, connect: Callable[[], Client], limits: AnalyticsLimits,
                 before_query: Callable[[], object] = lambda: None) -> None:
        self.limits = limits
        self._before_query = before_query
        self._client = per_thread(connect)
        self._slots = threading.BoundedSemaphore(limits.max_concurrent_queries)
        self._settings = {
            "max_execution_time": limits.max_query_seconds,
            "max_memory_usage": limits.max_query_memory_bytes,
            # The query's threads run at the lowest CPU priority (nice 19): on a busy machine the
            # event loop, the log and the inserts get the CPU first, idle cores still go to insights.
            "os_thread_priority": 19,
        }

    def rows(self, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The result rows of `sql`; raises QueryBusy, QueryLimitExceeded or QueryRefused."""
        if not self._slots.acquire(timeout=self.limits.queue_seconds):
            raise QueryBusy(self.limits.max_concurrent_queries, max(1, math.ceil(self.limits.queue_seconds)))
        try:
            self._before_query()
            answer = self._client().query(sql, parameters=parameters, settings=self._settings)
            return [tuple(row) for row in answer.result_rows]
        except DatabaseError as error:
            raise self._translated(error) from None
        finally:
            self._slots.release()

    def _translated(self, error: DatabaseError) -> Exception:
        code = getattr(error, "code", None)
        limits = self.limits
        if code == _TIMEOUT_EXCEEDED:
            return QueryLimitExceeded("time", f"the query ran past its time limit of {limits.max_query_seconds:g} s "
                                      "(NORTHSTAR_INSIGHTS_MAX_SECONDS): narrow the date range or the filters", 30)
        if code == _MEMORY_LIMIT_EXCEEDED:
            return QueryLimitExceeded("memory", "the query needed more than its memory limit of "
                                      f"{limits.max_query_memory_bytes >> 20} MiB (NORTHSTAR_INSIGHTS_MAX_MEMORY_MB): "
                                      "narrow the date range, the breakdown or the filters", 30)
        if code == _CANNOT_COMPILE_REGEXP:
            return QueryRefused("a filter's regex is not valid RE2 syntax")
        return error
