"""Cluster mode: every migration renders to Replicated local tables plus Distributed ones."""

from __future__ import annotations

import chdb
import pytest

from collector.storage.cluster import for_cluster
from collector.storage.schema import MIGRATIONS


@pytest.mark.parametrize(
    "statement", [s for migration in MIGRATIONS for s in migration.statements], ids=lambda s: s.split()[2:4]
)
def test_every_migration_statement_has_a_cluster_form(statement: str) -> None:
    rendered = for_cluster(statement, "analytics")
    if statement.lstrip().startswith("INSERT INTO"):  # a backfill: once, through the Distributed tables
        assert rendered == [statement]
    else:
        assert rendered and all("ON CLUSTER analytics" in sql for sql in rendered)


def test_tables_become_replicated_locals_behind_distributed_tables() -> None:
    (events,) = [s for s in MIGRATIONS[0].statements if "TABLE IF NOT EXISTS events" in s]
    local, distributed = for_cluster(events, "analytics")
    assert "CREATE TABLE IF NOT EXISTS events_local ON CLUSTER analytics" in local
    assert "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_local', '{replica}')" in local
    assert "replicated_deduplication_window = 10000" in local and "non_replicated" not in local
    assert "ORDER BY (event, user_id, toDate(original_timestamp), message_id)" in local
    assert distributed == (
        "CREATE TABLE IF NOT EXISTS events ON CLUSTER analytics AS events_local ENGINE = "
        "Distributed(analytics, currentDatabase(), events_local, "
        "cityHash64(if(user_id != '', user_id, anonymous_id)))"
    )


def test_alters_reach_both_tables_and_unknown_statements_are_refused() -> None:
    assert for_cluster("ALTER TABLE t ADD COLUMN IF NOT EXISTS c String", "c1") == [
        "ALTER TABLE t_local ON CLUSTER c1 ADD COLUMN IF NOT EXISTS c String",
        "ALTER TABLE t ON CLUSTER c1 ADD COLUMN IF NOT EXISTS c String",
    ]
    with pytest.raises(ValueError, match="cannot rewrite"):
        for_cluster("CREATE VIEW v AS SELECT 1", "c1")
    with pytest.raises(ValueError, match="identifier"):
        for_cluster("ALTER TABLE t DROP COLUMN c", "c1; DROP TABLE events")


def test_the_input_table_and_its_view_are_created_on_every_node_as_they_are() -> None:
    null_table, view = MIGRATIONS[2].statements
    (created,) = for_cluster(null_table, "analytics")
    assert created.startswith("CREATE TABLE IF NOT EXISTS events_input ON CLUSTER analytics (")
    assert created.rstrip().endswith("ENGINE = Null")
    (created,) = for_cluster(view, "analytics")
    assert created.startswith("CREATE MATERIALIZED VIEW IF NOT EXISTS events_from_input ON CLUSTER analytics TO events AS")


def _parsed_by_clickhouse(statement: str) -> str:
    """ClickHouse's own formatting of `statement`: its parser refuses what a cluster would refuse."""
    escaped = statement.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")  # parameters are TSV-escaped
    formatted = chdb.query("SELECT formatQuery({sql:String})", "TSVRaw", params={"sql": escaped})
    return str(formatted.bytes().decode())


@pytest.mark.parametrize(
    "statement", [s for migration in MIGRATIONS for s in migration.statements], ids=lambda s: s.split()[2:4]
)
def test_every_cluster_statement_is_parsed_by_clickhouse(statement: str) -> None:
    for rendered in for_cluster(statement, "analytics"):
        formatted = _parsed_by_clickhouse(rendered)
        assert " ON CLUSTER analytics" in formatted or formatted.startswith("INSERT INTO"), formatted


def test_the_parser_check_refuses_a_broken_statement() -> None:
    with pytest.raises(Exception, match="Syntax error"):
        _parsed_by_clickhouse("CREATE TABLE t_local ON CLUSTER analytics (a String) ENGINE = Distributed(")
