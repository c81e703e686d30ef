"""Deriving persons from the identity links stored in ClickHouse.

`derive_persons(client)` reads every link (`identity_links`, one row per message id) and the
first identified time of each linked id (`identified_ids`), applies `merging.merge_links`, and
writes what changed: `person_overrides` rows for ids whose person is not their own default,
`person_merge_refusals` rows for refused links; then reloads the dictionary every analysis
reads (`collector.persons.resolution`). It is a pure function of those tables, so any
collector may run it, any number of times: the result depends only on the stored links, not
on which process ran it or in which order messages arrived. `PersonDerivation` runs it when
the inputs changed, for the server's background task and for reads that want the latest
persons.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from collector.persons.merging import Link, Persons, merge_links
from collector.storage.clickhouse import Client
from collector.storage.cluster import validate_cluster_name
from collector.storage.schema import PERSON_DICTIONARY

__all__ = ["Derived", "PersonDerivation", "derive_persons", "DERIVE_INTERVAL_SECONDS"]

log = logging.getLogger("northstar.collector.persons")

DERIVE_INTERVAL_SECONDS = 2.0
"""How often the server's background task looks for new links."""

_LINKS_SQL = """
SELECT timestamp, message_id, kind, user_id, other_id
FROM identity_links FINAL
WHERE kind != 'group' AND user_id != '' AND other_id != ''
"""
_IDENTIFIED_SQL = """
SELECT distinct_id, min(first_identified)
FROM identified_ids
WHERE distinct_id IN (SELECT user_id FROM identity_links WHERE kind != 'group'
                      UNION ALL SELECT other_id FROM identity_links WHERE kind != 'group')
GROUP BY distinct_id
"""
_OVERRIDES_SQL = """
SELECT distinct_id, argMax(canonical_id, version) FROM person_overrides GROUP BY distinct_id
"""
_REFUSALS_SQL = "SELECT message_id, argMax(refused, version) FROM person_merge_refusals GROUP BY message_id"
# What the derivation reads, cheaply: the active parts of `identity_links` (they change with
# every insert and merge of links; in cluster mode, of every node's local table), and a hash
# of the first identified times of the linked ids (stable under merges). Events that identify
# ids no link names do not trigger a pass.
_LINK_PARTS_SQL = """
SELECT arraySort(groupArray(concat(hostName(), '/', name))) FROM __PARTS__
WHERE database = currentDatabase() AND active AND table = 'identity_links__SUFFIX__'
"""
_IDENTIFIED_HASH_SQL = f"SELECT count(), sum(cityHash64(*)) FROM ({_IDENTIFIED_SQL})"


def _link_parts_sql(cluster: str | None) -> str:
    if cluster is None:
        return _LINK_PARTS_SQL.replace("__PARTS__", "system.parts").replace("__SUFFIX__", "")
    return (_LINK_PARTS_SQL.replace("__PARTS__", f"clusterAllReplicas({validate_cluster_name(cluster)}, system.parts)")
            .replace("__SUFFIX__", "_local"))


@dataclass(frozen=True)
class Derived:
    """What one derivation pass found and wrote."""

    links: int
    persons_merged: int
    """Persons made of more than one distinct id."""
    refusals: int
    overrides_written: int
    seconds: float


def derive_persons(client: Client, cluster: str | None = None) -> Derived:
    """Recompute persons from the stored links and write the differences; see the module doc."""
    started = time.monotonic()
    links = [Link(*row) for row in client.query(_LINKS_SQL).result_rows]
    identified_at: dict[str, datetime] = {row[0]: row[1] for row in client.query(_IDENTIFIED_SQL).result_rows}
    persons = merge_links(links, identified_at)
    written = _write_overrides(client, persons)
    _write_refusals(client, persons, links)
    # Reloaded after every pass, not only when this pass wrote: rows removed since the last load
    # (a deleted person) must leave the dictionary too. A pass runs only when its inputs changed.
    on_cluster = f" ON CLUSTER {cluster}" if cluster else ""
    client.command(f"SYSTEM RELOAD DICTIONARY {PERSON_DICTIONARY}{on_cluster}")
    return Derived(len(links), persons.merged(), len(persons.refused), written, time.monotonic() - started)


def _write_overrides(client: Client, persons: Persons) -> int:
    """Insert rows for ids whose canonical id changed; an id back on its own gets itself."""
    current: dict[str, str] = {row[0]: row[1] for row in client.query(_OVERRIDES_SQL).result_rows}
    wanted = {i: c for i, c in persons.canonical.items() if c != i or current.get(i, i) != i}
    changed = [(i, c) for i, c in sorted(wanted.items()) if current.get(i, i) != c]
    if changed:
        version = time.time_ns()
        client.insert("person_overrides", [[i, c, version] for i, c in changed],
                      column_names=["distinct_id", "canonical_id", "version"])
    return len(changed)


def _write_refusals(client: Client, persons: Persons, links: list[Link]) -> None:
    current = {message_id: bool(refused) for message_id, refused in client.query(_REFUSALS_SQL).result_rows}
    refused = {link.message_id for link in persons.refused}
    rows = [[link.message_id, link.user_id, link.other_id, link.message_id in refused]
            for link in links if current.get(link.message_id, False) != (link.message_id in refused)]
    if rows:
        version = time.time_ns()
        client.insert("person_merge_refusals", [[*row, version] for row in rows],
                      column_names=["message_id", "user_id", "other_id", "refused", "version"])


class PersonDerivation:
    """Runs `derive_persons` when the stored links, or the identified times of linked ids,
    changed since the last pass.

    Thread-safe: one pass at a time; `refresh` returns at once when nothing changed. A failed
    pass is logged and retried on the next call.
    """

    def __init__(self, connect: Callable[[], Client], cluster: str | None = None) -> None:
        self._connect = connect
        self._cluster = cluster
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._seen: object = None
        self.last: Derived | None = None

    def refresh(self) -> Derived | None:
        """Derive if the inputs changed; the pass's figures, or None when nothing changed or it failed."""
        with self._lock:
            try:
                if self._client is None:
                    self._client = self._connect()
                inputs = (self._client.query(_link_parts_sql(self._cluster)).result_rows[0][0],
                          self._client.query(_IDENTIFIED_HASH_SQL).result_rows[0])
                if inputs == self._seen:
                    return None
                derived = derive_persons(self._client, self._cluster)
            except Exception as error:  # the store is down or not migrated yet: try again later
                log.warning("deriving persons failed: %s", error)
                self._client = None
                return None
            self._seen, self.last = inputs, derived
            if derived.overrides_written:
                log.info("persons derived: %d links, %d merged persons, %d refusals, %d ids moved in %.2fs",
                         derived.links, derived.persons_merged, derived.refusals,
                         derived.overrides_written, derived.seconds)
            return derived
