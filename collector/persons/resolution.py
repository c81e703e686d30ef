"""SQL expressions that turn an event's distinct id into its person, for every analysis.

The contract every analysis relies on (insights, experiments):
- `DISTINCT_ID` is the id an event was sent under (its `userId`, else its `anonymousId`).
- `person_key(expr)` is a UInt64 SQL expression: two distinct ids give the same key exactly
  when they belong to one person. Count persons with `uniqExact(person_key(...))`.
- `person_id(expr)` is the public person id (a String SQL expression) of that person, the id
  the persons API and person lists show; deterministic: the same events give the same ids
  (`collector.persons.merging.person_id_of` computes it in Python).
- `PERSON_PROPERTIES` is a subquery with one row per person that has properties:
  `(person_key UInt64, properties String)` where `properties` is a JSON object: identify
  traits and PostHog `$set` (latest value of each property by event time), PostHog
  `$set_once` (the first value, unless a `$set` set that property).

A distinct id no link merged into another person is its own person: key `cityHash64(id)`.
Ids that were merged are looked up in an in-memory dictionary (`person_overrides`, derived by
`collector.persons.derivation`), so resolving costs a hash lookup per row, never a join. For
fewer lookups, group by `cityHash64(DISTINCT_ID)` first and resolve the keys of the groups
(`person_key_of_key`).
"""

from __future__ import annotations

from collector.persons.merging import PERSON_ID_PREFIX
from collector.storage.schema import PERSON_DICTIONARY

__all__ = ["DISTINCT_ID", "PERSON_PROPERTIES", "person_id", "person_key", "person_key_of_key"]

DISTINCT_ID = "if(user_id != '', user_id, anonymous_id)"


def person_key_of_key(distinct_key_sql: str) -> str:
    """The person key (UInt64 SQL) of a distinct id given as its `cityHash64` (UInt64 SQL)."""
    return f"dictGetOrDefault('{PERSON_DICTIONARY}', 'person_key', {distinct_key_sql}, {distinct_key_sql})"


def person_key(distinct_id_sql: str = DISTINCT_ID) -> str:
    """A UInt64 SQL expression equal for exactly the distinct ids of one person."""
    return person_key_of_key(f"cityHash64({distinct_id_sql})")


def person_id(distinct_id_sql: str = DISTINCT_ID) -> str:
    """The public person id (String SQL expression) of the person owning `distinct_id_sql`."""
    own = f"lower(hex(MD5(concat('{PERSON_ID_PREFIX}', {distinct_id_sql}))))"
    return f"dictGetOrDefault('{PERSON_DICTIONARY}', 'person_id', cityHash64({distinct_id_sql}), {own})"


# Per (person, property): the latest $set/trait value and the first $set_once value, by
# (event time, message id); a property someone $set keeps that value.
PERSON_PROPERTIES = f"""(
    SELECT person_key,
           concat('{{', arrayStringConcat(arraySort(groupArray(concat(toJSONString(name), ':', value))), ','), '}}')
               AS properties
    FROM (
        SELECT person_key, name,
               if(countIf(once = 0) > 0, argMaxIf(value, (timestamp, message_id), once = 0),
                  argMinIf(value, (timestamp, message_id), once = 1)) AS value
        FROM (
            SELECT {person_key()} AS person_key, timestamp, message_id,
                   arrayJoin(arrayConcat(
                       arrayMap(p -> (p.1, p.2, 0), JSONExtractKeysAndValuesRaw(if(type = 'identify', traits, '{{}}'))),
                       arrayMap(p -> (p.1, p.2, 0), JSONExtractKeysAndValuesRaw(properties, '$set')),
                       arrayMap(p -> (p.1, p.2, 1), JSONExtractKeysAndValuesRaw(properties, '$set_once'))
                   )) AS property,
                   property.1 AS name, property.2 AS value, property.3 AS once
            FROM (SELECT * FROM events FINAL
                  WHERE (type = 'identify' AND traits != '{{}}') OR position(properties, '"$set') > 0)
        )
        GROUP BY person_key, name
    )
    GROUP BY person_key
)"""
