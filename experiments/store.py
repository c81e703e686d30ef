"""Experiment definitions persisted through the collector's versioned definition store."""

from __future__ import annotations

import msgspec

from collector.storage import DefinitionStore
from experiments.definitions import ExperimentDefinition, parse_definition

__all__ = ["ExperimentStore"]


class ExperimentStore:
    """Typed access to the latest version of each experiment definition."""

    def __init__(self, definitions: DefinitionStore) -> None:
        self._definitions = definitions

    def save(self, definition: ExperimentDefinition) -> int:
        """Store a validated definition as a new version; returns that version."""
        stored = self._definitions.save(definition.key, msgspec.json.encode(definition).decode())
        return stored.version

    def get(self, key: str) -> ExperimentDefinition | None:
        stored = self._definitions.latest(key)
        return None if stored is None else parse_definition(stored.definition)

    def list(self) -> list[ExperimentDefinition]:
        return [parse_definition(stored.definition) for stored in self._definitions.all_latest()]
