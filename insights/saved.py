"""Saved insights: a named trends query stored as a versioned document, like experiments and metrics.

Stored through the collector's `DefinitionStore` (kind `insight`): every save is a new
version; the dashboard lists them on its home page and renders each from its stored query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import msgspec

from collector.documents import check_key, decode_document
from collector.storage.clickhouse import Client
from collector.storage.documents import DefinitionStore
from insights.query import InsightError
from insights.trends import TrendsQuery, validate_trends_query

__all__ = ["SavedInsight", "SavedInsights", "UnknownInsight", "parse_saved_insight"]


class UnknownInsight(KeyError):
    """No saved insight has this key."""


class SavedInsight(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A trends query under a key, with a name and description people read."""

    key: str
    query: TrendsQuery
    name: str = ""
    description: str = ""
    kind: Literal["trends"] = "trends"

    @property
    def label(self) -> str:
        """The name people see: `name`, else the key."""
        return self.name or self.key


def parse_saved_insight(document: bytes | str) -> SavedInsight:
    """Decode and validate a saved insight; raises InsightError naming the field (`query.series[0].math`)."""
    insight = decode_document(document, SavedInsight, InsightError, "insight")
    check_key(insight.key, "key", InsightError)
    if len(insight.name) > 200 or len(insight.description) > 2000:
        raise InsightError("name", "a name of at most 200 characters, a description of at most 2000")
    try:
        validate_trends_query(insight.query)
    except InsightError as error:
        raise InsightError(f"query.{error.field}", error.reason) from None
    return insight


class SavedInsights:
    """Saved insights by key, latest version each; safe to share between threads."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._definitions = DefinitionStore(connect, kind="insight")

    def save(self, insight: SavedInsight) -> int:
        """Store a validated insight as the next version of its key; returns that version."""
        return self._definitions.save(insight.key, msgspec.json.encode(insight).decode()).version

    def get(self, key: str) -> SavedInsight:
        """The latest version of `key`; raises UnknownInsight."""
        stored = self._definitions.latest(key)
        if stored is None:
            raise UnknownInsight(key)
        return parse_saved_insight(stored.definition)

    def list(self) -> list[SavedInsight]:
        """Every saved insight's latest version, by key."""
        return [parse_saved_insight(stored.definition) for stored in self._definitions.all_latest()]
