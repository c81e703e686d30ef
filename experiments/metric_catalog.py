"""The metric catalogue: versioned metric definitions that experiments reference by key."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence

from collector.storage import DefinitionStore
from collector.storage.clickhouse import Client
from experiments.metrics import MetricDefinition
from experiments.store import MetricStore

__all__ = ["MetricCatalog", "UnknownMetric"]


class UnknownMetric(LookupError):
    """A metric key that no stored metric definition has."""


class MetricCatalog:
    """Thread-safe (the definition store serialises its calls)."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._store = MetricStore(DefinitionStore(connect, kind="metric"))

    def save(self, metric: MetricDefinition) -> int:
        """Store a validated metric as a new version; returns that version."""
        return self._store.save(metric)

    def list(self) -> list[MetricDefinition]:
        """Every metric's latest definition."""
        return self._store.list()

    def resolve(self, keys: Sequence[str]) -> builtins.list[MetricDefinition]:
        """The latest definition of each key, in order; raises UnknownMetric."""
        metrics = []
        for key in keys:
            metric = self._store.get(key)
            if metric is None:
                raise UnknownMetric(key)
            metrics.append(metric)
        return metrics
