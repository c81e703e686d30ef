"""The merge rules of persons (collector.persons.merging): PostHog's person-merge-service cases,
the refused identified-identified merge, $merge_dangerously, and arrival-order independence."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.persons.merging import Link, merge_links, person_id_of
from tests.reference.persons import resolve

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _identify(minutes: int, user: str, anonymous: str, kind: str = "identify") -> Link:
    return Link(_at(minutes), f"m{minutes}-{user}-{anonymous}", kind, user, anonymous)  # type: ignore[arg-type]


def test_neither_id_has_a_person_yet_so_both_make_a_new_one() -> None:
    persons = merge_links([_identify(1, "user", "anon")], {"user": _at(1)})
    assert persons.canonical == {"user": "user", "anon": "user"}
    assert persons.refused == []


def test_an_id_without_a_person_joins_the_other_ids_person() -> None:
    links = [_identify(1, "user", "anon-1"), _identify(2, "user", "anon-2")]
    persons = merge_links(links, {"user": _at(1)})
    assert persons.members() == {"user": ["anon-1", "anon-2", "user"]}


def test_two_persons_merge_when_the_one_moved_is_not_identified() -> None:
    # anon-1 and anon-2 each made a person with an alias before; identify joins them.
    links = [_identify(1, "anon-1", "device-1", "alias"), _identify(2, "anon-2", "device-2", "alias"),
             _identify(3, "anon-1", "anon-2")]
    persons = merge_links(links, {"anon-1": _at(3)})
    assert persons.members() == {"anon-1": ["anon-1", "anon-2", "device-1", "device-2"]}


def test_an_identified_person_is_never_moved_by_identify_or_alias_and_the_refusal_is_counted() -> None:
    # Device D identified as C, later as E: D stays with C, E is a person of its own.
    links = [_identify(1, "C", "D"), _identify(2, "E", "D"), _identify(3, "C", "E", "alias")]
    persons = merge_links(links, {"C": _at(1), "E": _at(2)})
    assert persons.members() == {"C": ["C", "D"], "E": ["E"]}
    assert [link.user_id for link in persons.refused] == ["E", "C"]


def test_merge_dangerously_merges_two_identified_persons() -> None:
    links = [_identify(1, "C", "D"), _identify(2, "E", "F"), _identify(3, "E", "C", "merge")]
    persons = merge_links(links, {"C": _at(1), "E": _at(2)})
    assert persons.members() == {"C": ["C", "D", "E", "F"]}  # canonical: identified first
    assert persons.refused == []


def test_identification_later_than_the_link_does_not_refuse_it() -> None:
    persons = merge_links([_identify(1, "user", "anon")], {"user": _at(1), "anon": _at(5)})
    assert persons.canonical["anon"] == "user"


def test_person_ids_are_a_hash_of_the_canonical_id() -> None:
    assert person_id_of("C") == "d00079db89859d605f7d9f5379570303"


_IDS = [f"id{n}" for n in range(6)]


@st.composite
def _messages(draw: st.DrawFn) -> list[dict]:
    count = draw(st.integers(1, 14))
    messages = []
    for n in range(count):
        kind = draw(st.sampled_from(["identify", "alias", "track", "merge"]))
        user, other = draw(st.sampled_from(_IDS)), draw(st.sampled_from(_IDS))
        at = _at(draw(st.integers(0, 5))).isoformat()
        message = {"type": kind, "userId": user, "timestamp": at, "messageId": f"m{n}"}
        if kind == "identify":
            message["anonymousId"] = other
        elif kind == "alias":
            message["previousId"] = other
        elif kind == "merge":
            message.update(type="track", event="$merge_dangerously", previousId=other)
        else:
            message["event"] = "Clicked"
        messages.append(message)
    return messages


def _links_of(messages: list[dict]) -> tuple[list[Link], dict[str, datetime]]:
    links, identified = [], {}
    for m in messages:
        at = datetime.fromisoformat(m["timestamp"])
        identified[m["userId"]] = min(at, identified.get(m["userId"], at))
        other = m.get("anonymousId") or m.get("previousId")
        if other:
            kind = "merge" if m.get("event") == "$merge_dangerously" else m["type"]
            links.append(Link(at, m["messageId"], kind, m["userId"], other))
    return links, identified


@settings(max_examples=200, deadline=None)
@given(messages=_messages(), seed=st.integers(0, 2**32))
def test_any_arrival_order_gives_the_reference_persons(messages: list[dict], seed: int) -> None:
    shuffled = list(messages)
    random.Random(seed).shuffle(shuffled)
    links, identified = _links_of(shuffled)
    persons = merge_links(links, identified)
    expected = resolve(messages)
    assert {i: person_id_of(c) for i, c in persons.canonical.items()} == {i: expected[i] for i in persons.canonical}
