"""The one way the benchmarks time a query: the median of a few runs after one warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_seconds"]


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Seconds `run` takes: one untimed warm-up call, then the median of `repeats` timed calls."""
    run()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)
