"""Decoding Segment payloads: per-event rejection, identifiers, timestamps, exposures."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.events import NO_TIME
from collector.wire import InvalidPayload, decode_batch, decode_single

NOW_MS = 1_795_000_000_000
NOW = datetime.fromtimestamp(NOW_MS / 1000, timezone.utc)
LIMIT = 32 * 1024


def _batch(*events: object, **envelope: object) -> bytes:
    return json.dumps({"batch": list(events), **envelope}).encode()


def test_exposure_properties_fill_typed_columns() -> None:
    body = _batch({"type": "track", "event": "Experiment Viewed", "userId": 7,
                   "properties": {"experiment_id": "exp", "variation_id": 2, "extra": True}})
    (event,) = decode_batch(body, NOW, LIMIT).accepted
    assert (event.user_id, event.experiment_id, event.variation_id) == ("7", "exp", "2")


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


def test_timestamps_without_sent_at_are_kept_and_naive_ones_are_utc() -> None:
    body = _batch({"type": "track", "event": "E", "userId": "u", "timestamp": "2026-01-01T00:00:00"})
    (event,) = decode_batch(body, NOW, LIMIT).accepted
    assert event.timestamp == event.original_timestamp == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert event.sent_at == NO_TIME


def test_no_client_timestamp_means_received_at() -> None:
    (event,) = decode_batch(_batch({"type": "track", "event": "E", "userId": "u"}), NOW, LIMIT).accepted
    assert event.timestamp == event.received_at == NOW


@pytest.mark.parametrize("body", [b"", b"[]", b'{"batch": 3}', b"\xff\xfe", b'{"batch": [1'])
def test_unusable_bodies_raise(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        decode_batch(body, NOW, LIMIT)


def test_single_event_type_comes_from_the_path() -> None:
    body = json.dumps({"userId": "u", "traits": {"a": 1}, "type": "track"}).encode()
    decoded = decode_single(body, "identify", NOW, LIMIT)
    assert decoded.accepted[0].type == "identify"
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
        assert event.user_id or event.anonymous_id
        msgspec.json.decode(event.properties)


@pytest.mark.parametrize(("device_ahead_ms", "shifted"), [(0, False), (2_000, False), (-9_000, False),
                                                          (10_001, True), (-3_600_000, True)])
def test_only_real_clock_skew_is_corrected(device_ahead_ms: int, shifted: bool) -> None:
    sent_ms = NOW_MS + device_ahead_ms
    event_ms = sent_ms - 60_000
    body = _batch({"type": "track", "event": "E", "userId": "u",
                   "timestamp": _iso(event_ms)}, sentAt=_iso(sent_ms))
    (event,) = decode_batch(body, NOW, LIMIT).accepted
    assert event.original_timestamp == _utc(event_ms)
    assert event.timestamp == _utc(NOW_MS - 60_000 if shifted else event_ms)


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


def test_an_events_own_sent_at_corrects_it_alone() -> None:
    ahead = _iso(NOW_MS + 3_600_000)  # this device's clock is an hour fast
    skewed = {"type": "track", "event": "E", "userId": "u", "timestamp": ahead, "sentAt": ahead}
    plain = {"type": "track", "event": "E", "userId": "u", "timestamp": _iso(NOW_MS - 5_000)}
    corrected, kept = decode_batch(_batch(skewed, plain), NOW, LIMIT).accepted
    assert (corrected.timestamp, corrected.sent_at) == (NOW, _utc(NOW_MS + 3_600_000))
    assert (kept.timestamp, kept.sent_at) == (_utc(NOW_MS - 5_000), NO_TIME)
