"""The ClickHouse schema as versioned, idempotent migrations applied on start.

`schema_migrations` records each applied version; every statement is safe to run twice,
so a crash between a statement and its record is harmless.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from collector.storage.clickhouse import Client
from collector.storage.cluster import for_cluster

__all__ = ["Migration", "MIGRATIONS", "PERSON_DICTIONARY", "migrate", "applied_versions"]

PERSON_DICTIONARY = "person_overrides_dictionary"
"""distinct key -> (person key, person id) for ids merged into another person (`collector.persons`)."""

log = logging.getLogger("northstar.collector.schema")


@dataclass(frozen=True)
class Migration:
    """One schema version: idempotent statements, applied in order, recorded in `schema_migrations` once all ran."""

    version: int
    description: str
    statements: tuple[str, ...]


# The `events` row the view derives from one `events_input` row; migrations fill in how
# `timestamp` is computed and which columns follow the exposure ids.
_EVENTS_FROM_INPUT = """
            SELECT
                i.messageId AS message_id,
                i.type AS type,
                ifNull(i.event, '') AS event,
                ifNull(i.name, '') AS name,
                ifNull(i.userId, '') AS user_id,
                ifNull(i.anonymousId, '') AS anonymous_id,
                ifNull(i.groupId, '') AS group_id,
                ifNull(i.previousId, '') AS previous_id,
{timestamp}                coalesce(i.timestamp, i.originalTimestamp, i.receivedAt) AS original_timestamp,
                ifNull(i.sentAt, toDateTime64(0, 3, 'UTC')) AS sent_at,
                i.receivedAt AS received_at,
                i.properties AS properties,
                i.traits AS traits,
                i.context AS context,
                if(i.event = 'Experiment Viewed', if(JSONType(i.properties, 'experiment_id') = 'String',
                    JSONExtractString(i.properties, 'experiment_id'), JSONExtractRaw(i.properties, 'experiment_id')), '') AS experiment_id,
                if(i.event = 'Experiment Viewed', if(JSONType(i.properties, 'variation_id') = 'String',
                    JSONExtractString(i.properties, 'variation_id'), JSONExtractRaw(i.properties, 'variation_id')), '') AS variation_id{columns}
            FROM events_input AS i
"""
_SKEW_CORRECTED_V3 = """\
                coalesce(i.timestamp, i.originalTimestamp, i.receivedAt)
                    + toIntervalMillisecond(if(
                        i.sentAt IS NOT NULL AND abs(dateDiff('millisecond', i.sentAt, i.receivedAt)) > 10000,
                        dateDiff('millisecond', i.sentAt, i.receivedAt), 0)) AS timestamp,
"""
# Since migration 4: an event without a time of its own is stored at its receive time, not
# shifted by the skew of the client's `sentAt` (Segment's rule; and what an event whose time
# was out of bounds becomes, see `collector.event_time`).
_EVENT_TIME = """coalesce(i.timestamp, i.originalTimestamp, i.receivedAt)
                    + toIntervalMillisecond(if(
                        (i.timestamp IS NOT NULL OR i.originalTimestamp IS NOT NULL) AND i.sentAt IS NOT NULL
                        AND abs(dateDiff('millisecond', i.sentAt, i.receivedAt)) > 10000,
                        dateDiff('millisecond', i.sentAt, i.receivedAt), 0))"""
_SKEW_CORRECTED = f"                {_EVENT_TIME} AS timestamp,\n"


def _events_from_input(timestamp: str, columns: str = "") -> str:
    return _EVENTS_FROM_INPUT.format(timestamp=timestamp, columns=columns)


_LINK_KIND = "multiIf({t} = 'identify', 'identify', {t} = 'alias', 'alias', {t} = 'group', 'group', 'merge')"
# A link's "other" id: the anonymous id an identify names, the group a group message joins,
# else the previous id (alias; PostHog's $merge_dangerously `alias`, see collector.posthog).
_LINKS_FROM_INPUT = f"""
            SELECT
                i.messageId AS message_id,
                {_LINK_KIND.format(t="i.type")} AS kind,
                {_EVENT_TIME} AS timestamp,
                if(ifNull(i.userId, '') != '', ifNull(i.userId, ''), ifNull(i.anonymousId, '')) AS user_id,
                multiIf(i.type = 'identify', ifNull(i.anonymousId, ''), i.type = 'group', ifNull(i.groupId, ''),
                        ifNull(i.previousId, '')) AS other_id
            FROM events_input AS i
            WHERE (i.type = 'identify' AND ifNull(i.anonymousId, '') != '' AND ifNull(i.userId, '') != '')
               OR (i.type = 'alias' AND ifNull(i.userId, '') != '')
               OR i.type = 'group'
               OR (i.event = '$merge_dangerously' AND ifNull(i.previousId, '') != '')
"""
_IDENTIFIED_FROM_INPUT = f"""
            SELECT i.userId AS distinct_id, min({_EVENT_TIME}) AS first_identified
            FROM events_input AS i
            WHERE ifNull(i.userId, '') != '' AND NOT i.unidentifiedUserId
            GROUP BY distinct_id
"""
_BACKFILL_LINKS = f"""
            INSERT INTO identity_links (message_id, kind, timestamp, user_id, other_id)
            SELECT message_id, {_LINK_KIND.format(t="type")}, timestamp,
                   if(user_id != '', user_id, anonymous_id),
                   multiIf(type = 'identify', anonymous_id, type = 'group', group_id, type = 'alias', previous_id,
                           JSONExtractString(properties, 'alias'))
            FROM events
            WHERE (type = 'identify' AND anonymous_id != '' AND user_id != '')
               OR (type = 'alias' AND user_id != '' AND previous_id != '')
               OR type = 'group'
               OR (event = '$merge_dangerously' AND JSONExtractString(properties, 'alias') != '')
"""
_BACKFILL_IDENTIFIED = """
            INSERT INTO identified_ids (distinct_id, first_identified)
            SELECT user_id, min(timestamp)
            FROM events
            WHERE user_id != '' AND (NOT JSONHas(properties, '$lib')
                                     OR (type = 'identify' AND JSONHas(properties, '$anon_distinct_id')))
            GROUP BY user_id
"""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "events table and experiment definitions",
        (
            # Sorted by event name first: experiment queries filter on one or two event
            # names, then group by user. ReplacingMergeTree collapses resent copies of a
            # message on merge; analysis dedups by message_id exactly in the meantime.
            # The dedup window keeps a replayed log chunk from being inserted twice.
            """
            CREATE TABLE IF NOT EXISTS events (
                message_id String,
                type LowCardinality(String),
                event LowCardinality(String),
                name String,
                user_id String,
                anonymous_id String,
                group_id String,
                previous_id String,
                timestamp DateTime64(3, 'UTC'),
                original_timestamp DateTime64(3, 'UTC'),
                sent_at DateTime64(3, 'UTC'),
                received_at DateTime64(3, 'UTC'),
                properties String,
                traits String,
                context String,
                experiment_id LowCardinality(String),
                variation_id LowCardinality(String)
            )
            ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(original_timestamp)
            ORDER BY (event, user_id, toDate(original_timestamp), message_id)
            SETTINGS non_replicated_deduplication_window = 10000
            """,
            """
            CREATE TABLE IF NOT EXISTS experiment_definitions (
                key String,
                version UInt64,
                definition String,
                updated_at DateTime64(3, 'UTC') DEFAULT now64(3)
            )
            ENGINE = MergeTree
            ORDER BY (key, version)
            """,
        ),
    ),
    Migration(
        2,
        "definition kinds: metrics stored beside experiments",
        (
            # Existing rows are experiments; a key is unique within its kind only.
            """
            ALTER TABLE experiment_definitions
            ADD COLUMN IF NOT EXISTS kind LowCardinality(String) DEFAULT 'experiment'
            """,
        ),
    ),
    Migration(
        3,
        "events arrive as validated wire messages; ClickHouse derives the stored columns",
        (
            # The collector logs each accepted message as the client sent it (camelCase,
            # absent fields omitted, numbers kept as numbers) plus when it arrived; inserts
            # go here and the view below turns them into `events` rows. Doing that work in
            # ClickHouse costs less than building the rows in the collector's event loop.
            """
            CREATE TABLE IF NOT EXISTS events_input (
                type LowCardinality(String),
                event Nullable(String),
                name Nullable(String),
                userId Nullable(String),
                anonymousId Nullable(String),
                groupId Nullable(String),
                previousId Nullable(String),
                messageId String,
                timestamp Nullable(DateTime64(3, 'UTC')),
                originalTimestamp Nullable(DateTime64(3, 'UTC')),
                sentAt Nullable(DateTime64(3, 'UTC')),
                properties String DEFAULT '{}',
                traits String DEFAULT '{}',
                context String DEFAULT '{}',
                receivedAt DateTime64(3, 'UTC')
            )
            ENGINE = Null
            """,
            # Segment's clock-skew correction: an event is shifted by (receivedAt - sentAt)
            # when the device clock is more than 10 s off; below that the difference is
            # mostly transit time, and shifting would reorder one device's events.
            # Exposure ids come from the properties (strings, or integers as their digits).
            "CREATE MATERIALIZED VIEW IF NOT EXISTS events_from_input TO events AS\n"
            + _events_from_input(_SKEW_CORRECTED_V3),
        ),
    ),
    Migration(
        4,
        "event times bounded around the receive time; out-of-bounds client times kept as text",
        (
            # Partitions follow original_timestamp's month, so client clocks must not choose
            # among thousands of them: the collector replaces a time outside its window by
            # the receive time and keeps what the client sent here (RFC 3339; '' when kept).
            # String rather than Nullable(String) in events_input: the null map cost 7-23%
            # more ClickHouse CPU per inserted row, the plain column nothing measurable.
            """
            ALTER TABLE events ADD COLUMN IF NOT EXISTS client_timestamp String DEFAULT ''
            """,
            """
            ALTER TABLE events_input ADD COLUMN IF NOT EXISTS clientTimestamp String DEFAULT ''
            """,
            "ALTER TABLE events_from_input MODIFY QUERY"
            + _events_from_input(_SKEW_CORRECTED, ",\n                i.clientTimestamp AS client_timestamp"),
        ),
    ),
    Migration(
        5,
        "persons: identity links and identified ids captured on insert, derived overrides, backfilled",
        (
            # PostHog's ordinary captures carry a distinct id that may be anonymous in
            # `userId`; the collector marks them so they do not make that id identified.
            """
            ALTER TABLE events_input ADD COLUMN IF NOT EXISTS unidentifiedUserId Bool DEFAULT false
            """,
            # One row per merge-bearing message (identify with both ids, alias,
            # $merge_dangerously) and per group message (user -> group). Keyed by message
            # id: a resent or replayed message counts once (read with FINAL).
            """
            CREATE TABLE IF NOT EXISTS identity_links (
                message_id String,
                kind LowCardinality(String),
                timestamp DateTime64(3, 'UTC'),
                user_id String,
                other_id String
            )
            ENGINE = ReplacingMergeTree
            ORDER BY message_id
            """,
            "CREATE MATERIALIZED VIEW IF NOT EXISTS identity_links_from_input TO identity_links AS\n" + _LINKS_FROM_INPUT,
            # When each id was first carried as an identified user id: one row per id and
            # insert block (the view aggregates the block), min() collapses repeats.
            """
            CREATE TABLE IF NOT EXISTS identified_ids (
                distinct_id String,
                first_identified SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
            )
            ENGINE = AggregatingMergeTree
            ORDER BY distinct_id
            """,
            "CREATE MATERIALIZED VIEW IF NOT EXISTS identified_ids_from_input TO identified_ids AS\n"
            + _IDENTIFIED_FROM_INPUT,
            # Derived by `collector.persons.derivation`: a row per distinct id whose person is
            # not its own default (cityHash64 of itself); the latest version wins.
            """
            CREATE TABLE IF NOT EXISTS person_overrides (
                distinct_id String,
                canonical_id String,
                distinct_key UInt64 DEFAULT cityHash64(distinct_id),
                person_key UInt64 DEFAULT cityHash64(canonical_id),
                person_id String DEFAULT lower(hex(MD5(concat('northstar.person:', canonical_id)))),
                version UInt64
            )
            ENGINE = ReplacingMergeTree(version)
            ORDER BY distinct_key
            """,
            # Merges refused because the person to be moved was identified, per link message.
            """
            CREATE TABLE IF NOT EXISTS person_merge_refusals (
                message_id String,
                user_id String,
                other_id String,
                refused Bool,
                version UInt64
            )
            ENGINE = ReplacingMergeTree(version)
            ORDER BY message_id
            """,
            f"""
            CREATE DICTIONARY IF NOT EXISTS {PERSON_DICTIONARY} (
                distinct_key UInt64, person_key UInt64, person_id String
            )
            PRIMARY KEY distinct_key
            SOURCE(CLICKHOUSE(QUERY 'SELECT distinct_key, argMax(person_key, version) AS person_key,
                argMax(person_id, version) AS person_id FROM __DATABASE__.person_overrides GROUP BY distinct_key'))
            LAYOUT(HASHED())
            LIFETIME(0)
            """,
            # Stores that already hold events: the same links and identified ids, from
            # `events` (PostHog rows told apart by their `$lib` property).
            _BACKFILL_LINKS,
            _BACKFILL_IDENTIFIED,
        ),
    ),
)


def applied_versions(client: Client) -> set[int]:
    """The migration versions this store has recorded as applied."""
    rows = client.query("SELECT version FROM schema_migrations").result_rows
    return {row[0] for row in rows}


_MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version UInt32, description String, applied_at DateTime DEFAULT now()) "
    "ENGINE = MergeTree ORDER BY version"
)


def migrate(client: Client, cluster: str | None = None) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied now.

    With `cluster`, every statement is applied to all nodes (see `cluster.for_cluster`).
    """

    # A dictionary's source query names its table with the store's database.
    database = client.query("SELECT currentDatabase()").result_rows[0][0]
    if not re.fullmatch(r"\w+", database):
        raise ValueError(f"the store's database name must be letters, digits and '_', got {database!r}")

    def run(statement: str) -> None:
        statement = statement.replace("__DATABASE__", database)
        for rendered in for_cluster(statement, cluster) if cluster else [statement]:
            client.command(rendered)

    run(_MIGRATIONS_TABLE)
    done = applied_versions(client)
    applied: list[int] = []
    for migration in MIGRATIONS:
        if migration.version in done:
            continue
        for statement in migration.statements:
            run(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.description]],
            column_names=["version", "description"],
        )
        log.info("applied schema migration %d: %s", migration.version, migration.description)
        applied.append(migration.version)
    return applied
