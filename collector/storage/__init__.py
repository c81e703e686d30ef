"""ClickHouse access: the one client factory, the schema and every statement that writes."""

from collector.storage.clickhouse import connect
from collector.storage.definitions import DefinitionStore, StoredDefinition
from collector.storage.events import insert_events
from collector.storage.schema import migrate

__all__ = ["connect", "migrate", "insert_events", "DefinitionStore", "StoredDefinition"]
