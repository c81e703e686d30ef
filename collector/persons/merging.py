"""The merge rules of persons, as pure functions over links in event-time order.

A link says two distinct ids may be one person: an identify naming an anonymous id, an alias,
or a `$merge_dangerously`. Every distinct id starts as a person of its own; links are applied
in (timestamp, message id) order, PostHog's person-merge-service rules:

- the ids already share a person: nothing changes;
- otherwise the person of the link's *other* id (the anonymous, previous or alias id) moves
  into the person of its user id, unless that moved person is *identified* at the link's
  time (one of its ids was carried as an identified user id at or before it): then the merge
  is refused and counted, so one shared device never glues two customers together;
- `$merge_dangerously` always merges.

Because the outcome is a function of the sorted links and of each id's first identified time,
it does not depend on the order in which messages arrived. Each person's canonical id is its
first identified id (earliest first identified time, ties by the smaller id), else its
smallest id; the person id is a hash of that canonical id (`person_id_of`), computed the same
way in ClickHouse (`collector.persons.resolution`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["Link", "LinkKind", "Persons", "merge_links", "person_id_of", "PERSON_ID_PREFIX"]

LinkKind = Literal["identify", "alias", "merge"]
PERSON_ID_PREFIX = "northstar.person:"


@dataclass(frozen=True)
class Link:
    """One merge-bearing message: `other_id`'s person moves into `user_id`'s (applied by time, then message id)."""

    timestamp: datetime
    message_id: str
    kind: LinkKind
    user_id: str
    other_id: str


@dataclass
class Persons:
    """The outcome of the links: each linked id's canonical id, and the merges refused."""

    canonical: dict[str, str] = field(default_factory=dict)
    """Every id named by a link -> the canonical id of its person (itself when alone)."""
    refused: list[Link] = field(default_factory=list)
    """Links refused because the person to be moved was already identified."""

    def merged(self) -> int:
        """How many persons have more than one distinct id."""
        return sum(1 for size in Counter(self.canonical.values()).values() if size > 1)

    def members(self) -> dict[str, list[str]]:
        """Canonical id -> the sorted ids of that person (persons of one id included)."""
        grouped: dict[str, list[str]] = {}
        for distinct_id, canonical in sorted(self.canonical.items()):
            grouped.setdefault(canonical, []).append(distinct_id)
        return grouped


def person_id_of(canonical_id: str) -> str:
    """The public person id of the person whose canonical id is `canonical_id`."""
    return hashlib.md5((PERSON_ID_PREFIX + canonical_id).encode()).hexdigest()


def merge_links(links: Iterable[Link], identified_at: Mapping[str, datetime]) -> Persons:
    """Apply `links` (any order: they are sorted here) with each id's first identified time."""
    parent: dict[str, str] = {}
    # Per root: the earliest first identified time among its ids (None: no id ever identified).
    earliest: dict[str, datetime | None] = {}

    def find(distinct_id: str) -> str:
        if distinct_id not in parent:
            parent[distinct_id] = distinct_id
            earliest[distinct_id] = identified_at.get(distinct_id)
            return distinct_id
        root = distinct_id
        while parent[root] != root:
            root = parent[root]
        while parent[distinct_id] != root:  # path compression
            parent[distinct_id], distinct_id = root, parent[distinct_id]
        return root

    refused: list[Link] = []
    for link in sorted(links, key=_order):
        into, moved = find(link.user_id), find(link.other_id)
        if into == moved:
            continue
        moved_since = earliest[moved]
        if link.kind != "merge" and moved_since is not None and moved_since <= link.timestamp:
            refused.append(link)
            continue
        parent[moved] = into
        times = [t for t in (earliest[into], moved_since) if t is not None]
        earliest[into] = min(times) if times else None
    grouped: dict[str, list[str]] = {}
    for distinct_id in parent:
        grouped.setdefault(find(distinct_id), []).append(distinct_id)
    canonical: dict[str, str] = {}
    for ids in grouped.values():
        identified = [(identified_at[i], i) for i in ids if i in identified_at]
        chosen = min(identified)[1] if identified else min(ids)
        canonical.update(dict.fromkeys(ids, chosen))
    return Persons(canonical, refused)


def _order(link: Link) -> tuple[datetime, str]:
    return link.timestamp, link.message_id
