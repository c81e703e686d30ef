"""Experiment management and results over one ClickHouse store, safe to call from many threads."""

from __future__ import annotations

from collections.abc import Callable

from collector.storage import DefinitionStore
from collector.storage.clickhouse import Client, per_thread
from experiments.analysis import ConversionResult, analyse_conversion
from experiments.definitions import ExperimentDefinition
from experiments.queries import conversion_counts
from experiments.store import ExperimentStore

__all__ = ["ExperimentService", "UnknownExperiment"]


class UnknownExperiment(LookupError):
    pass


class ExperimentService:
    """Each calling thread gets its own ClickHouse client (a client serialises its calls)."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._client = per_thread(connect)
        self.store = ExperimentStore(DefinitionStore(connect))

    def save(self, definition: ExperimentDefinition) -> int:
        return self.store.save(definition)

    def get(self, key: str) -> ExperimentDefinition:
        definition = self.store.get(key)
        if definition is None:
            raise UnknownExperiment(key)
        return definition

    def list(self) -> list[ExperimentDefinition]:
        return self.store.list()

    def conversion_result(self, key: str, alpha: float = 0.05) -> ConversionResult:
        definition = self.get(key)
        return analyse_conversion(definition, conversion_counts(self._client(), definition), alpha)
