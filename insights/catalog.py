"""The event catalog: which events exist (30-day counts, last seen) and which properties they carry.

Maintained cheaply, off the ingestion path: `refresh()` (run periodically by the server, under
the analytical limits) counts events by name over 30 days, which reads only the `event` and
`timestamp` columns, and samples properties from about `sample_granules` granules of the
events table (8,192 rows each: `_part_offset` picks whole granules, so ClickHouse reads the
JSON of those granules only). Inserts parse nothing for it. Readers get the last snapshot;
a property seen in no sampled row is missing until a later refresh samples one.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Literal

import msgspec

from insights.sql import Rows

__all__ = ["CatalogEvent", "CatalogProperty", "EventCatalog", "CatalogEvents", "CatalogProperties"]

log = logging.getLogger("northstar.insights")

_GRANULE_ROWS = 8192
_MAX_EVENTS = 1000
_MAX_PROPERTIES = 500
_EXAMPLES = 3
_EXAMPLE_CHARACTERS = 80


class CatalogEvent(msgspec.Struct, frozen=True):
    """An event name seen in the last 30 days: how often, and when last (RFC 3339, UTC)."""

    name: str
    count_30d: int
    last_seen: str


class CatalogProperty(msgspec.Struct, frozen=True):
    """A property seen in the sample: its JSON types (String, Int64, Double, Bool, ...) and a few example values."""

    name: str
    types: list[str]
    examples: list[str]


class CatalogEvents(msgspec.Struct, frozen=True):
    """Every event of the last 30 days, most frequent first; `refreshed_at` is when the catalog was built."""

    events: list[CatalogEvent]
    refreshed_at: str


class CatalogProperties(msgspec.Struct, frozen=True):
    """Properties of `event` (all events when None), or person properties (`type` person), by name."""

    event: str | None
    type: str
    properties: list[CatalogProperty]
    refreshed_at: str


_EVENTS_SQL = """
SELECT event, count() AS events, max(timestamp) AS last_seen
FROM events
WHERE event != '' AND timestamp >= now64(3) - INTERVAL 30 DAY
GROUP BY event ORDER BY events DESC, event LIMIT {limit:UInt32}
"""
_PROPERTIES_SQL = """
SELECT event, kv.1 AS name, groupUniqArray(JSONType(json, kv.1)) AS types,
       groupUniqArray({examples:UInt32})(substring(if(JSONType(json, kv.1) = 'String', JSONExtractString(json, kv.1),
           kv.2), 1, {characters:UInt32})) AS examples
FROM (
    SELECT if(type = 'identify', '', event) AS event, if(type = 'identify', traits, properties) AS json
    FROM events
    PREWHERE intDiv(_part_offset, {granule:UInt32}) % {stride:UInt64} = 0 AND (type = 'identify' OR event != '')
)
ARRAY JOIN JSONExtractKeysAndValuesRaw(json) AS kv
GROUP BY event, name ORDER BY event, name LIMIT {limit:UInt32} BY event
"""


class EventCatalog:
    """The last catalog snapshot; `refresh()` builds a new one. Thread-safe."""

    def __init__(self, rows: Rows, sample_granules: int = 25) -> None:
        self._rows = rows
        self._sample_granules = sample_granules
        self._lock = threading.Lock()
        self._refreshed_at: dt.datetime | None = None
        self._events: list[CatalogEvent] = []
        self._properties: dict[str, list[CatalogProperty]] = {}

    def refresh(self) -> None:
        """Count events over 30 days and sample properties; replaces the snapshot."""
        refreshed_at = dt.datetime.now(dt.timezone.utc)
        counted = self._rows(_EVENTS_SQL, {"limit": _MAX_EVENTS})
        stored_rows = sum(count for _, count, _ in counted) or 1
        stride = max(1, -(-stored_rows // (_GRANULE_ROWS * self._sample_granules)))
        sampled = self._rows(_PROPERTIES_SQL, {"examples": _EXAMPLES, "characters": _EXAMPLE_CHARACTERS,
                                               "granule": _GRANULE_ROWS, "stride": stride, "limit": _MAX_PROPERTIES})
        properties: dict[str, list[CatalogProperty]] = {}
        for event, name, types, examples in sampled:
            properties.setdefault(event, []).append(CatalogProperty(name, sorted(types), sorted(examples)))
        events = [CatalogEvent(name, count, _rfc3339(last)) for name, count, last in counted]
        with self._lock:
            self._events, self._properties, self._refreshed_at = events, properties, refreshed_at

    def events(self) -> CatalogEvents:
        """The snapshot's events (refreshed first if there is none yet)."""
        self._ensure()
        with self._lock:
            return CatalogEvents(list(self._events), _rfc3339(self._refreshed_at))

    def properties(self, event: str | None, kind: Literal["event", "person"] = "event") -> CatalogProperties:
        """Properties of `event` (every event's when None), or person properties for `kind` person."""
        self._ensure()
        with self._lock:
            if kind == "person":
                found = self._properties.get("", [])
            elif event is not None:
                found = self._properties.get(event, [])
            else:
                found = _merged([one for name, some in self._properties.items() if name for one in some])
            return CatalogProperties(event, kind, list(found), _rfc3339(self._refreshed_at))

    def refresh_every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        """A daemon thread refreshing every `seconds` until `stop` is set; a failed refresh is logged and retried."""
        def run() -> None:
            while not stop.wait(seconds):
                try:
                    self.refresh()
                except Exception as error:  # the store is down or busy: the old snapshot stays
                    log.warning("event catalog refresh failed (the previous snapshot stays): %s", error)

        thread = threading.Thread(target=run, name="event-catalog", daemon=True)
        thread.start()
        return thread

    def _ensure(self) -> None:
        if self._refreshed_at is None:
            self.refresh()


def _merged(properties: list[CatalogProperty]) -> list[CatalogProperty]:
    by_name: dict[str, CatalogProperty] = {}
    for one in properties:
        seen = by_name.get(one.name)
        by_name[one.name] = one if seen is None else CatalogProperty(
            one.name, sorted({*seen.types, *one.types}), sorted({*seen.examples, *one.examples})[:_EXAMPLES])
    return [by_name[name] for name in sorted(by_name)]


def _rfc3339(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).isoformat()
