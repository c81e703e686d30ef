"""A plain-Python reference for persons: which person each distinct id of some Segment messages belongs to.

Written from the rules (not from `collector.persons`), for tests to compare the collector's
persons and analysis counts against. `messages` are Segment wire dicts (`type`, `userId`,
`anonymousId`, `previousId`, `timestamp` as RFC 3339 text or datetime, `messageId`, and for
PostHog's `$merge_dangerously` a track event with `previousId`).

- Links, in (timestamp, messageId) order: identify with userId and anonymousId, alias
  (previousId -> userId), `$merge_dangerously`.
- An id is identified from the first message carrying it as userId.
- A link moves the other id's person into the userId's person unless that person has an id
  identified at or before the link (then it is refused), except `$merge_dangerously`.
- Canonical id: the person's id identified first (ties: smaller id), else its smallest id;
  person id = md5("northstar.person:" + canonical).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["resolve", "person_id"]


def person_id(canonical: str) -> str:
    """The public id of the person whose canonical id is `canonical`."""
    return hashlib.md5(f"northstar.person:{canonical}".encode()).hexdigest()


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def resolve(messages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Every distinct id the messages name -> its person id."""
    messages = list(messages)
    first_identified: dict[str, datetime] = {}
    ids: set[str] = set()
    links = []
    for message in messages:
        user, anonymous = message.get("userId") or "", message.get("anonymousId") or ""
        at = _time(message["timestamp"])
        ids |= {i for i in (user, anonymous) if i}
        if user and (user not in first_identified or at < first_identified[user]):
            first_identified[user] = at
        kind, other = None, ""
        if message["type"] == "identify" and user and anonymous:
            kind, other = "identify", anonymous
        elif message["type"] == "alias" and user:
            kind, other = "alias", message.get("previousId") or ""
        elif message.get("event") == "$merge_dangerously" and message.get("previousId"):
            kind, other = "merge", message["previousId"]
        if kind and other:
            ids.add(other)
            links.append((at, message["messageId"], kind, user, other))
    person_of = {i: frozenset([i]) for i in ids}
    for at, _, kind, user, other in sorted(links):
        into, moved = person_of[user], person_of[other]
        if into == moved:
            continue
        if kind != "merge" and any(first_identified.get(i, datetime.max.replace(tzinfo=at.tzinfo)) <= at
                                   for i in moved):
            continue
        merged = into | moved
        for i in merged:
            person_of[i] = merged
    resolved = {}
    for i, members in person_of.items():
        identified = sorted((first_identified[m], m) for m in members if m in first_identified)
        canonical = identified[0][1] if identified else min(members)
        resolved[i] = person_id(canonical)
    return resolved
