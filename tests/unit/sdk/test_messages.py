"""What the SDK puts on the wire: message shapes, value conversion, snapshots, timestamps."""

from __future__ import annotations

import enum
import json
import math
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sdk
from sdk.messages import encode_message, json_safe, snapshot


def recording_client(**options: Any) -> sdk.Client:
    return sdk.Client("wk_test", send=False, **options)


def test_track_message_has_the_segment_shape() -> None:
    client = recording_client()
    client.track("user-1", "Signed Up", {"plan": "pro"}, context={"ip": "10.0.0.1"})
    (message,) = client.recorded
    assert message.keys() == {"type", "event", "userId", "anonymousId", "properties", "context", "timestamp",
                              "messageId"}
    assert message["type"] == "track" and message["event"] == "Signed Up"
    assert message["userId"] == "user-1" and message["anonymousId"] is None
    assert message["properties"] == {"plan": "pro"}
    library = {"name": "northstar-python", "version": sdk.VERSION}
    assert message["context"] == {"ip": "10.0.0.1", "library": library}
    assert uuid.UUID(message["messageId"]).version == 4
    assert datetime.fromisoformat(message["timestamp"]).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.identify("u", {"email": "a@b.c"}), {"type": "identify", "traits": {"email": "a@b.c"}}),
        (lambda c: c.alias("anon-1", "u"), {"type": "alias", "previousId": "anon-1", "userId": "u"}),
        (lambda c: c.group("u", "acme", {"seats": 3}),
         {"type": "group", "groupId": "acme", "traits": {"seats": 3}}),
        (lambda c: c.page("u", "Pricing", {"path": "/p"}),
         {"type": "page", "name": "Pricing", "properties": {"path": "/p"}}),
        (lambda c: c.screen("u", "Home"), {"type": "screen", "name": "Home", "properties": {}}),
        (lambda c: c.track(anonymous_id="anon-1", event="Viewed"), {"userId": None, "anonymousId": "anon-1"}),
        (lambda c: c.track(42, "Viewed"), {"userId": "42"}),
    ],
)
def test_each_call_kind_builds_its_message(call: Any, expected: dict[str, Any]) -> None:
    client = recording_client()
    assert call(client)
    (message,) = client.recorded
    assert {key: message[key] for key in expected} == expected


def test_caller_choices_are_respected() -> None:
    client = recording_client(default_context={"app": {"name": "shop"}, "ip": "1.1.1.1"})
    moment = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    client.track("u", "Paid", message_id="order-17-paid", timestamp=moment, integrations={"All": False},
                 context={"ip": "2.2.2.2"})
    (message,) = client.recorded
    assert message["messageId"] == "order-17-paid"
    assert message["timestamp"] == "2026-01-02T03:04:05.678+02:00"
    assert message["integrations"] == {"All": False}
    assert message["context"]["app"] == {"name": "shop"} and message["context"]["ip"] == "2.2.2.2"


def test_naive_timestamps_are_local_time() -> None:
    client = recording_client()
    naive = datetime(2026, 6, 1, 12, 0, 0)
    client.track("u", "Paid", timestamp=naive)
    sent = datetime.fromisoformat(client.recorded[0]["timestamp"])
    assert sent == naive.astimezone()


class Plan(enum.Enum):
    PRO = "pro"


class Size(enum.IntEnum):
    LARGE = 3


class NumpyLikeScalar:
    def item(self) -> int:
        return 7


class NumpyLikeArray:
    def tolist(self) -> list[float]:
        return [1.5, 2.5]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "2026-01-02T03:04:05+00:00"),
        (date(2026, 1, 2), "2026-01-02"),
        (Decimal("9.99"), 9.99),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        ({3}, [3]),
        (frozenset({"a"}), ["a"]),
        ((1, 2), [1, 2]),
        (Plan.PRO, "pro"),
        (Size.LARGE, 3),
        (b"caf\xc3\xa9", "café"),
        (NumpyLikeScalar(), 7),
        (NumpyLikeArray(), [1.5, 2.5]),
        (float("nan"), None),
        (float("inf"), None),
        ({1: "a", None: "b", uuid.UUID(int=0): "c"},
         {"1": "a", "null": "b", "00000000-0000-0000-0000-000000000000": "c"}),
        (object, str(object)),
    ],
)
def test_values_json_cannot_represent_are_converted_like_segment(value: Any, expected: Any) -> None:
    client = recording_client()
    client.track("u", "Converted", {"value": value})
    assert client.recorded[0]["properties"]["value"] == expected


json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
odd_scalars = (st.datetimes() | st.dates() | st.decimals() | st.uuids() | st.binary()
               | st.sampled_from(list(Plan)) | st.sampled_from(list(Size)))
nested_values = st.recursive(
    json_scalars | odd_scalars,
    lambda children: (st.lists(children, max_size=4) | st.frozensets(st.integers(), max_size=3)
                      | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)),
    max_leaves=20,
)


@given(nested_values)
def test_any_nesting_of_supported_values_encodes_as_strict_json(value: Any) -> None:
    encoded = encode_message({"properties": {"value": value}})
    decoded = json.loads(encoded, parse_constant=pytest.fail)
    assert decoded == json.loads(json.dumps(json_safe({"properties": {"value": value}})))


@given(st.dictionaries(st.text(max_size=5), nested_values, max_size=5))
def test_a_snapshot_is_unaffected_by_later_mutation(properties: dict[str, Any]) -> None:
    copy = snapshot(properties)
    before = encode_message(copy)
    assert before == encode_message(properties) or _has_nan(properties)
    for key, value in properties.items():
        if isinstance(value, (list, dict)):
            value.clear()
        properties[key] = "mutated"
    properties["added"] = True
    assert encode_message(copy) == before


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_nan(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(item) for item in value)
    return False


def test_nested_properties_are_snapshotted_at_call_time() -> None:
    properties = {"cart": {"items": ["a"]}}
    captured = snapshot(properties)
    properties["cart"]["items"].append("b")
    assert captured == {"cart": {"items": ["a"]}}


def test_message_ids_made_in_bulk_are_distinct_random_uuid4s() -> None:
    from sdk.messages import new_message_ids

    ids = new_message_ids(2_000)
    assert len(set(ids)) == 2_000
    parsed = [uuid.UUID(message_id) for message_id in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == i for u, i in zip(parsed, ids))
    assert {i[19] for i in ids} == set("89ab")  # every variant nibble occurs
