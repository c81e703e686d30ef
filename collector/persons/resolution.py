"""SQL expressions that turn an event's distinct id into its person, for every analysis.

The contract every analysis relies on (insights, experiments):
- `DISTINCT_ID` is the id an event was sent under (its `userId`, else its `anonymousId`).
- `person_key(expr)` is a UInt64 SQL expression: two distinct ids give the same key exactly
  when they belong to one person. Count persons with `uniqExact(person_key(...))`.
- `person_id(expr)` is the public person id (a String SQL expression) of that person, the id
  the persons API and person lists show; deterministic: the same events give the same ids.
- `PERSON_PROPERTIES` is a subquery with one row per person that has properties:
  `(person_key UInt64, properties String)` where `properties` is a JSON object (latest value
  of each property by event time).

Interim implementation: no merges yet (each distinct id is its own person); the persons
issue replaces the bodies, not the contract.
"""

from __future__ import annotations

__all__ = ["DISTINCT_ID", "PERSON_PROPERTIES", "person_id", "person_key"]

DISTINCT_ID = "if(user_id != '', user_id, anonymous_id)"


def person_key(distinct_id_sql: str = DISTINCT_ID) -> str:
    """A UInt64 SQL expression equal for exactly the distinct ids of one person."""
    return f"cityHash64({distinct_id_sql})"


def person_id(distinct_id_sql: str = DISTINCT_ID) -> str:
    """The public person id (String SQL expression) of the person owning `distinct_id_sql`."""
    return f"lower(hex(MD5(concat('northstar.person:', {distinct_id_sql}))))"


PERSON_PROPERTIES = f"""(
    SELECT {person_key()} AS person_key, argMax(traits, timestamp) AS properties
    FROM events FINAL
    WHERE type = 'identify' AND traits != ''
    GROUP BY person_key
)"""
