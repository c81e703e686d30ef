"""Decoding Segment payloads: per-event rejection, and what the collector itself sets on a message.

What ClickHouse derives from a message (defaults, clock skew, exposure ids) is tested on
chDB in tests/integration/test_event_rows.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.wire import InvalidPayload, decode_batch, decode_single

NOW_MS = 1_795_000_000_000
NOW = datetime.fromtimestamp(NOW_MS / 1000, timezone.utc)
LIMIT = 32 * 1024


def _batch(*events: object, **envelope: object) -> bytes:
    return json.dumps({"batch": list(events), **envelope}).encode()


def test_the_collector_sets_arrival_sent_at_and_a_missing_message_id_but_keeps_the_rest() -> None:
    body = _batch({"type": "track", "event": "E", "userId": 7, "receivedAt": "2000-01-01T00:00:00Z",
                   "writeKey": "k", "timestamp": "2026-11-17T00:00:00"}, sentAt=_iso(NOW_MS))
    (message,) = decode_batch(body, NOW, LIMIT).accepted
    assert (message.received_at, message.sent_at, message.write_key) == (NOW, NOW, None)
    assert message.user_id == 7 and message.timestamp == datetime(2026, 11, 17)
    assert message.message_id.startswith("auto-")


def test_exposure_without_ids_is_rejected() -> None:
    body = _batch({"type": "track", "event": "Experiment Viewed", "userId": "u", "properties": {}})
    decoded = decode_batch(body, NOW, LIMIT)
    assert decoded.accepted == []
    assert "experiment_id" in decoded.rejected[0].reason


def test_missing_message_id_is_derived_from_content_so_resends_dedup() -> None:
    body = _batch({"type": "track", "event": "E", "userId": "u", "timestamp": "2026-01-01T00:00:00Z"})
    first = decode_batch(body, NOW, LIMIT).accepted[0]
    again = decode_batch(body, NOW + timedelta(seconds=5), LIMIT).accepted[0]
    assert first.message_id == again.message_id
    assert first.message_id.startswith("auto-")


@pytest.mark.parametrize("body", [b"", b"[]", b'{"batch": 3}', b"\xff\xfe", b'{"batch": [1'])
def test_unusable_bodies_raise(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        decode_batch(body, NOW, LIMIT)


def test_single_event_type_comes_from_the_path_and_only_track_keeps_an_event_name() -> None:
    body = json.dumps({"userId": "u", "traits": {"a": 1}, "type": "track", "event": "E"}).encode()
    decoded = decode_single(body, "identify", NOW, LIMIT)
    assert (decoded.accepted[0].type, decoded.accepted[0].event) == ("identify", None)
    assert msgspec.json.decode(decoded.accepted[0].traits) == {"a": 1}


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=10,
)
_events = st.one_of(
    _json_values,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["track", "identify", "page", "bogus"])},
        optional={
            "event": _json_values,
            "userId": _json_values,
            "anonymousId": _json_values,
            "properties": _json_values,
            "timestamp": st.one_of(st.text(), st.just("2026-05-01T10:00:00Z")),
            "messageId": _json_values,
        },
    ),
)


@given(st.lists(_events, max_size=20))
def test_every_event_is_either_accepted_or_rejected_with_its_index(events: list[object]) -> None:
    decoded = decode_batch(_batch(*events), NOW, LIMIT)
    indexes = [rejection.index for rejection in decoded.rejected]
    assert len(decoded.accepted) + len(indexes) == len(events)
    assert indexes == sorted(set(indexes))
    for event in decoded.accepted:
        assert event.user_id not in (None, "") or event.anonymous_id not in (None, "")
        assert isinstance(msgspec.json.decode(event.properties), dict)


def _utc(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)


def _iso(epoch_ms: int) -> str:
    return _utc(epoch_ms).isoformat(timespec="milliseconds")


def test_invalid_utf8_is_rejected_per_event() -> None:
    bad_properties = b'{"type":"track","event":"E","userId":"u","properties":{"a":"\xff\xfe"}}'
    bad_name = b'{"type":"track","event":"E\xff","userId":"u"}'
    good = b'{"type":"track","event":"E","userId":"u"}'
    decoded = decode_batch(b'{"batch":[' + b",".join([bad_properties, bad_name, good]) + b"]}", NOW, LIMIT)
    assert len(decoded.accepted) == 1
    assert [r.index for r in decoded.rejected] == [0, 1]
    assert "UTF-8" in decoded.rejected[0].reason


@pytest.mark.parametrize(("properties", "stored", "reason"), [
    (b"", "{}", None),
    (b',"properties":null', "{}", None),
    (b',"properties":{ "a" : [1] }', '{ "a" : [1] }', None),
    (b',"properties":[1]', None, "properties must be a JSON object"),
    (b',"properties":"\xff"', None, "properties must be a JSON object"),
    (b',"properties":{"a":"\xff"}', None, "properties is not valid UTF-8"),
])
def test_properties_are_stored_as_the_clients_json_object(properties: bytes, stored: str | None,
                                                          reason: str | None) -> None:
    event = b'{"type":"track","event":"E","userId":"u"' + properties + b"}"
    decoded = decode_batch(b'{"batch":[' + event + b"]}", NOW, LIMIT)
    assert [bytes(event.properties).decode() for event in decoded.accepted] == ([stored] if stored else [])
    assert [rejection.reason for rejection in decoded.rejected] == ([reason] if reason else [])


_well_formed = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "page"]), "event": st.text(min_size=1, max_size=5),
     "userId": st.one_of(st.text(min_size=1, max_size=5), st.integers(0, 99))},
    optional={"properties": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
              "timestamp": st.just("2026-05-01T10:00:00+02:00"), "messageId": st.text(min_size=1, max_size=8)},
)


@given(st.lists(_well_formed, min_size=1, max_size=8), st.data())
def test_a_whole_batch_decodes_as_its_events_would_one_by_one(events: list[dict], data: st.DataObject) -> None:
    """Well-formed batches take a one-call path; one malformed event sends the batch down the
    per-event path. Either way every event comes out as it would alone."""
    if data.draw(st.booleans()):
        events.insert(data.draw(st.integers(0, len(events))), {"type": "track", "userId": []})
    alone = [decode_batch(_batch(event), NOW, LIMIT) for event in events]
    together = decode_batch(_batch(*events), NOW, LIMIT)
    assert together.accepted == [event for decoded in alone for event in decoded.accepted]
    assert [(r.index, r.reason) for r in together.rejected] == [
        (index, decoded.rejected[0].reason) for index, decoded in enumerate(alone) if decoded.rejected
    ]


def test_an_events_own_sent_at_is_kept_and_the_bodys_fills_the_rest() -> None:
    ahead = _iso(NOW_MS + 3_600_000)
    own = {"type": "track", "event": "E", "userId": "u", "sentAt": ahead}
    plain = {"type": "track", "event": "E", "userId": "u"}
    first, second = decode_batch(_batch(own, plain, sentAt=_iso(NOW_MS)), NOW, LIMIT).accepted
    assert (first.sent_at, second.sent_at) == (_utc(NOW_MS + 3_600_000), NOW)
