"""Versioned storage of definitions (experiments, metrics, saved insights) as JSON documents.

The collector stores and serves them (SDKs fetch them); `experiments` gives them meaning.
Every save appends a new version, so the history of a definition is kept. Each kind has
its own key space.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from collector.storage.clickhouse import Client, per_thread

__all__ = ["StoredDefinition", "DefinitionStore", "DefinitionKind"]

DefinitionKind = Literal["experiment", "metric", "insight", "cohort", "survey", "setting"]


@dataclass(frozen=True)
class StoredDefinition:
    """One stored version of a definition: its JSON text as saved, never re-encoded."""

    key: str
    version: int
    definition: str
    updated_at: datetime


_SELECT = (
    "SELECT key, version, definition, updated_at FROM experiment_definitions WHERE kind = {kind:String}"
)


class DefinitionStore:
    """Reads and appends definition versions of one kind; safe to share between threads."""

    def __init__(self, connect: Callable[[], Client], kind: DefinitionKind = "experiment") -> None:
        """Connects lazily, per thread, so the server starts while ClickHouse is down."""
        self._client = per_thread(connect)
        self._kind = kind
        self._lock = threading.RLock()

    def save(self, key: str, definition: str) -> StoredDefinition:
        """Append `definition` as the next version of `key`."""
        with self._lock:
            current = self.latest(key)
            version = 1 if current is None else current.version + 1
            self._client().insert(
                "experiment_definitions",
                [[key, version, definition, self._kind]],
                column_names=["key", "version", "definition", "kind"],
            )
            saved = self.latest(key)
        assert saved is not None and saved.version == version
        return saved

    def latest(self, key: str) -> StoredDefinition | None:
        """The newest version of `key`, or None when it was never stored."""
        rows = self._query(
            _SELECT + " AND key = {key:String} ORDER BY version DESC LIMIT 1", {"key": key}
        )
        return rows[0] if rows else None

    def history(self, key: str) -> list[StoredDefinition]:
        """Every version of `key`, oldest first (empty for an unknown key)."""
        return self._query(_SELECT + " AND key = {key:String} ORDER BY version", {"key": key})

    def all_latest(self) -> list[StoredDefinition]:
        """The newest version of every key, ordered by key."""
        return self._query(_SELECT + " ORDER BY key, version DESC LIMIT 1 BY key", {})

    def _query(self, sql: str, parameters: dict[str, str]) -> list[StoredDefinition]:
        with self._lock:
            rows = self._client().query(sql, parameters={**parameters, "kind": self._kind}).result_rows
        return [StoredDefinition(*row) for row in rows]
