"""Experiment and metric definitions persisted through the collector's versioned definition store."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import msgspec

from collector.storage import DefinitionStore
from experiments.definitions import ExperimentDefinition, stored_definition
from experiments.metrics import MetricDefinition, parse_metric

__all__ = ["TypedStore", "ExperimentStore", "MetricStore", "Versioned"]


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


Definition = TypeVar("Definition", bound=_Keyed)


@dataclass(frozen=True)
class Versioned(Generic[Definition]):
    """One stored version of a definition."""

    version: int
    updated_at: datetime
    definition: Definition


class TypedStore(Generic[Definition]):
    """Typed access to the latest version of each definition of one kind."""

    def __init__(self, definitions: DefinitionStore, parse: Callable[[str], Definition]) -> None:
        self._definitions = definitions
        self._parse = parse

    def save(self, definition: Definition) -> int:
        """Store a validated definition as a new version; returns that version."""
        stored = self._definitions.save(definition.key, msgspec.json.encode(definition).decode())
        return stored.version

    def get(self, key: str) -> Definition | None:
        """The latest definition of `key`, parsed; None for an unknown key."""
        stored = self._definitions.latest(key)
        return None if stored is None else self._parse(stored.definition)

    def list(self) -> list[Definition]:
        """Every key's latest definition, parsed."""
        return [self._parse(stored.definition) for stored in self._definitions.all_latest()]

    def latest(self, key: str) -> Versioned[Definition] | None:
        """The latest definition of `key` with its version and time; None for an unknown key."""
        stored = self._definitions.latest(key)
        return None if stored is None else Versioned(stored.version, stored.updated_at, self._parse(stored.definition))

    def history(self, key: str) -> builtins.list[Versioned[Definition]]:
        """Every version of `key`, oldest first (empty for an unknown key)."""
        return [
            Versioned(stored.version, stored.updated_at, self._parse(stored.definition))
            for stored in self._definitions.history(key)
        ]


class ExperimentStore(TypedStore[ExperimentDefinition]):
    """Experiment definitions, parsed and validated as they are read back."""

    def __init__(self, definitions: DefinitionStore) -> None:
        super().__init__(definitions, stored_definition)


class MetricStore(TypedStore[MetricDefinition]):
    """Metric definitions, parsed and validated as they are read back."""

    def __init__(self, definitions: DefinitionStore) -> None:
        super().__init__(definitions, parse_metric)
