"""Cluster mode: the single-node schema statements rewritten for a ClickHouse cluster.

Each table becomes a `<name>_local` Replicated*MergeTree on every node (`ON CLUSTER`) plus
a Distributed `<name>` over them, so every query and insert keeps using the plain name.
Events are sharded by unit id, which keeps one user's events on one shard and makes the
per-user aggregation of experiment queries shard-local. Migrations stay plain single-node
SQL; `for_cluster` refuses a statement it cannot rewrite, so a new kind of migration
cannot silently skip the cluster.
"""

from __future__ import annotations

import re

__all__ = ["for_cluster", "validate_cluster_name", "CLUSTER_INSERT_SETTINGS"]

CLUSTER_INSERT_SETTINGS = {"insert_distributed_sync": 1}
"""Distributed inserts are acknowledged only once every shard has its block."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CREATE = re.compile(
    r"\s*CREATE TABLE IF NOT EXISTS (?P<name>\w+)\s*\((?P<columns>.*)\)\s*"
    r"ENGINE = (?P<engine>\w*MergeTree)(?:\((?P<engine_args>[^)]*)\))?(?P<rest>.*)",
    re.DOTALL,
)
_ALTER = re.compile(r"\s*ALTER TABLE (?P<name>\w+)\s+(?P<rest>.*)", re.DOTALL)
# Tables that hold nothing (ENGINE = Null) and the views inserting from them exist on every
# node as they are: a node's insert into one becomes an insert into the Distributed target.
_CREATE_ON_EVERY_NODE = re.compile(
    r"\s*CREATE (?P<kind>TABLE|MATERIALIZED VIEW) IF NOT EXISTS (?P<name>\w+)\s+(?P<rest>"
    r"\(.*\)\s*ENGINE = Null\s*|TO \w+ AS\s.*)",
    re.DOTALL,
)
_ALTER_ON_EVERY_NODE = re.compile(r"\s*ALTER TABLE (?P<name>events_input|events_from_input)\s+(?P<rest>.*)", re.DOTALL)
_DEDUP_WINDOW = re.compile(r"non_replicated_deduplication_window")
# Rows that collapse into one (a message id, a distinct id) must land on one shard.
_SHARDING_KEYS = {
    "events": "cityHash64(if(user_id != '', user_id, anonymous_id))",
    "identity_links": "cityHash64(message_id)",
    "identified_ids": "cityHash64(distinct_id)",
    "person_overrides": "distinct_key",
    "person_merge_refusals": "cityHash64(message_id)",
}
# A dictionary exists on every node (its source query reads the Distributed table); a
# backfill runs once, through the Distributed tables.
_CREATE_DICTIONARY = re.compile(r"\s*CREATE DICTIONARY IF NOT EXISTS (?P<name>\w+)\s+(?P<rest>\(.*)", re.DOTALL)
_INSERT_SELECT = re.compile(r"\s*INSERT INTO \w+ \(.*\)\s+SELECT\s.*", re.DOTALL)


def validate_cluster_name(name: str) -> str:
    """`name` unchanged when it is a ClickHouse identifier (it is put into SQL as one); ValueError otherwise."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"cluster name must be a ClickHouse identifier, got {name!r}")
    return name


def for_cluster(statement: str, cluster: str) -> list[str]:
    """The statements that apply `statement` to every node of `cluster`."""
    validate_cluster_name(cluster)
    if everywhere := _CREATE_ON_EVERY_NODE.fullmatch(statement):
        kind, name, rest = everywhere["kind"], everywhere["name"], everywhere["rest"].strip()
        return [f"CREATE {kind} IF NOT EXISTS {name} ON CLUSTER {cluster} {rest}"]
    if everywhere := _ALTER_ON_EVERY_NODE.fullmatch(statement):
        return [f"ALTER TABLE {everywhere['name']} ON CLUSTER {cluster} {everywhere['rest'].strip()}"]
    if dictionary := _CREATE_DICTIONARY.fullmatch(statement):
        return [f"CREATE DICTIONARY IF NOT EXISTS {dictionary['name']} ON CLUSTER {cluster} {dictionary['rest'].strip()}"]
    if _INSERT_SELECT.fullmatch(statement):
        return [statement]
    if created := _CREATE.fullmatch(statement):
        return _create(cluster, **created.groupdict())
    if altered := _ALTER.fullmatch(statement):
        name, rest = altered["name"], altered["rest"].strip()
        return [f"ALTER TABLE {name}_local ON CLUSTER {cluster} {rest}",
                f"ALTER TABLE {name} ON CLUSTER {cluster} {rest}"]
    raise ValueError(f"cluster mode cannot rewrite this statement: {statement.strip()[:80]}")


def _create(cluster: str, name: str, columns: str, engine: str, engine_args: str | None, rest: str) -> list[str]:
    path = f"'/clickhouse/tables/{{shard}}/{{database}}/{name}_local', '{{replica}}'"
    arguments = path + (f", {engine_args}" if engine_args else "")
    local = (
        f"CREATE TABLE IF NOT EXISTS {name}_local ON CLUSTER {cluster} ({columns}) "
        f"ENGINE = Replicated{engine}({arguments}){_DEDUP_WINDOW.sub('replicated_deduplication_window', rest)}"
    )
    sharding_key = _SHARDING_KEYS.get(name, "rand()")
    distributed = (
        f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER {cluster} AS {name}_local "
        f"ENGINE = Distributed({cluster}, currentDatabase(), {name}_local, {sharding_key})"
    )
    return [local, distributed]
