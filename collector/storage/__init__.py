"""ClickHouse access: the one client factory, the schema and every statement that writes."""

from collector.storage.clickhouse import connect
from collector.storage.documents import DefinitionStore, StoredDefinition
from collector.storage.events import encode_rows, insert_rows
from collector.storage.schema import migrate

__all__ = ["connect", "migrate", "encode_rows", "insert_rows", "DefinitionStore", "StoredDefinition"]
