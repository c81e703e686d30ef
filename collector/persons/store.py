"""Reading and deleting persons: what the persons API, the CLI and the dashboard show.

A person is found by any of its distinct ids or by its person id. Everything is read from
the derived tables and `events` with bound parameters; resolving an id costs a dictionary
lookup, finding a person id that no merge produced scans the events once (admin use only).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import msgspec

from collector.persons.merging import PERSON_ID_PREFIX
from collector.persons.resolution import DISTINCT_ID, PERSON_PROPERTIES, person_id, person_key
from collector.storage.clickhouse import Client

__all__ = ["Person", "PersonEvent", "PersonDeleted", "UnknownPerson", "find_person", "list_persons",
           "recent_person_events", "delete_person"]


class UnknownPerson(LookupError):
    """No stored event or link names this distinct id or person id."""


class Person(msgspec.Struct, frozen=True):
    """One person: its public id, its distinct ids (sorted), properties, activity and refused merges."""

    person_id: str
    distinct_ids: list[str]
    properties: dict[str, Any]
    first_seen: datetime | None
    last_seen: datetime | None
    merge_refusals: int


class PersonEvent(msgspec.Struct, frozen=True):
    """One of a person's events, for its page."""

    timestamp: datetime
    type: str
    event: str
    distinct_id: str
    message_id: str


class PersonDeleted(msgspec.Struct, frozen=True):
    """What `DELETE /v1/persons/{id}` removed, and how long ClickHouse took to apply it."""

    person_id: str
    distinct_ids: list[str]
    events_deleted: int
    seconds: float


_KEY_OF_PERSON_ID_SQL = f"""
SELECT person_key FROM (
    SELECT argMax(person_key, version) AS person_key, argMax(person_id, version) AS person_id
    FROM person_overrides GROUP BY distinct_key
) WHERE person_id = {{person_id:String}}
UNION ALL
SELECT * FROM (SELECT cityHash64({DISTINCT_ID}) FROM events
               WHERE lower(hex(MD5(concat('{PERSON_ID_PREFIX}', {DISTINCT_ID})))) = {{person_id:String}} LIMIT 1)
LIMIT 1
"""
_KEY_OF_ID_SQL = f"""
SELECT {person_key("{id:String}")}
WHERE {{id:String}} IN (SELECT distinct_id FROM person_overrides)
   OR EXISTS (SELECT 1 FROM events WHERE user_id = {{id:String}} OR anonymous_id = {{id:String}})
"""
_IDS_SQL = f"""
SELECT distinct_id FROM person_overrides GROUP BY distinct_id
HAVING argMax(person_key, version) = {{key:UInt64}} AND argMax(canonical_id, version) != distinct_id
UNION DISTINCT
SELECT argMax(canonical_id, version) FROM person_overrides GROUP BY distinct_id
HAVING argMax(person_key, version) = {{key:UInt64}}
UNION DISTINCT
SELECT * FROM (SELECT {DISTINCT_ID} AS id FROM events WHERE cityHash64(id) = {{key:UInt64}} LIMIT 1)
"""
_OF_IDS = f"{DISTINCT_ID} IN {{ids:Array(String)}}"
_SEEN_SQL = f"SELECT min(timestamp), max(timestamp) FROM events WHERE {_OF_IDS}"
_REFUSALS_SQL = """
SELECT count() FROM person_merge_refusals FINAL
WHERE refused AND (user_id IN {ids:Array(String)} OR other_id IN {ids:Array(String)})
"""
_PROPERTIES_SQL = f"SELECT properties FROM {PERSON_PROPERTIES} WHERE person_key = {{key:UInt64}}"
_RECENT_SQL = f"""
SELECT timestamp, type, event, {DISTINCT_ID}, message_id FROM events
WHERE {_OF_IDS}
ORDER BY timestamp DESC, message_id LIMIT 1 BY message_id LIMIT {{limit:UInt32}}
"""
_LIST_SQL = f"""
SELECT any({person_id()}), groupUniqArray({DISTINCT_ID}) AS ids, min(timestamp), max(timestamp),
       any(props.properties) AS properties
FROM events
__JOIN__ JOIN {PERSON_PROPERTIES} AS props ON props.person_key = {person_key()}
WHERE __CONDITION__
GROUP BY {person_key()}
ORDER BY max(timestamp) DESC
LIMIT {{limit:UInt32}}
"""
_PROPERTY_MATCHES = ("if(JSONType(props.properties, {property:String}) = 'String', "
                     "JSONExtractString(props.properties, {property:String}), "
                     "JSONExtractRaw(props.properties, {property:String})) = {value:String}")


def _person_key(client: Client, id_or_person_id: str) -> int:
    rows = client.query(_KEY_OF_ID_SQL, parameters={"id": id_or_person_id}).result_rows
    if not rows:
        rows = client.query(_KEY_OF_PERSON_ID_SQL, parameters={"person_id": id_or_person_id}).result_rows
    if not rows:
        raise UnknownPerson(id_or_person_id)
    return int(rows[0][0])


def _distinct_ids(client: Client, key: int) -> list[str]:
    return sorted({row[0] for row in client.query(_IDS_SQL, parameters={"key": key}).result_rows})


def find_person(client: Client, id_or_person_id: str) -> Person:
    """The person owning a distinct id, or with that person id; raises UnknownPerson."""
    key = _person_key(client, id_or_person_id)
    ids = _distinct_ids(client, key)
    if not ids:
        raise UnknownPerson(id_or_person_id)
    public_id = client.query(f"SELECT {person_id('{id:String}')}", parameters={"id": ids[0]}).result_rows[0][0]
    properties = client.query(_PROPERTIES_SQL, parameters={"key": key}).result_rows
    first_seen, last_seen = client.query(_SEEN_SQL, parameters={"ids": ids}).result_rows[0]
    refusals = client.query(_REFUSALS_SQL, parameters={"ids": ids}).result_rows[0][0]
    seen = first_seen is not None and first_seen.year > 1970
    return Person(public_id, ids, json.loads(properties[0][0]) if properties else {},
                  first_seen if seen else None, last_seen if seen else None, int(refusals))


def list_persons(client: Client, property_name: str = "", value: str = "", limit: int = 100) -> list[Person]:
    """Persons by latest activity; with `property_name`, only those whose property equals `value`
    (strings compared unquoted, other JSON values as their text). Merge refusals are not counted here."""
    parameters: dict[str, Any] = {"limit": limit}
    if property_name:
        sql = _LIST_SQL.replace("__JOIN__", "INNER").replace("__CONDITION__", _PROPERTY_MATCHES)
        parameters |= {"property": property_name, "value": value}
    else:
        sql = _LIST_SQL.replace("__JOIN__", "LEFT").replace("__CONDITION__", "1")
    rows = client.query(sql, parameters=parameters, settings={"join_use_nulls": 0}).result_rows
    return [Person(pid, sorted(ids), json.loads(props) if props else {}, first, last, 0)
            for pid, ids, first, last, props in rows]


def recent_person_events(client: Client, distinct_ids: list[str], limit: int = 50) -> list[PersonEvent]:
    """A person's latest events (each message once), newest first."""
    rows = client.query(_RECENT_SQL, parameters={"ids": distinct_ids, "limit": limit}).result_rows
    return [PersonEvent(*row) for row in rows]


_DELETES = (
    ("events", _OF_IDS),
    ("identity_links", "user_id IN {ids:Array(String)} OR other_id IN {ids:Array(String)}"),
    ("identified_ids", "distinct_id IN {ids:Array(String)}"),
    ("person_merge_refusals", "user_id IN {ids:Array(String)} OR other_id IN {ids:Array(String)}"),
    ("person_overrides", "distinct_id IN {ids:Array(String)} OR canonical_id IN {ids:Array(String)}"),
)


def delete_person(client: Client, id_or_person_id: str, cluster: str | None = None) -> PersonDeleted:
    """Remove a person: its events (those sent under its ids), links, identified ids and
    derived rows; raises UnknownPerson.

    Lightweight deletes: the rows are gone from every query when this returns (ClickHouse
    masks them at once, and drops them physically at its next merge of each part). Events
    still in a collector's log and not yet inserted are not covered; re-derive persons after.
    """
    person = find_person(client, id_or_person_id)
    ids = person.distinct_ids
    started = time.monotonic()
    events = client.query(
        "SELECT uniqExact(message_id) FROM events WHERE " + _DELETES[0][1], parameters={"ids": ids}).result_rows[0][0]
    for table, condition in _DELETES:
        target = f"{table}_local ON CLUSTER {cluster}" if cluster else table
        client.command(f"DELETE FROM {target} WHERE {condition}", parameters={"ids": ids})
    return PersonDeleted(person.person_id, ids, int(events), time.monotonic() - started)
