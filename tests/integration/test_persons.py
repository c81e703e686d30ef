"""Persons through the real collector: identity across anonymous and identified ids in every count."""

from __future__ import annotations

import random
import signal
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError
from tests.reference.persons import resolve

START = datetime(2026, 3, 1, tzinfo=timezone.utc)
AB = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]


def _message(kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": at.isoformat(), "messageId": uuid.uuid4().hex, **fields}


def _send(collector: CollectorProcess, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 300):
        chunk = messages[start:start + 300]
        answer = httpx.post(collector.url + "/v1/import", json={"batch": chunk}, auth=(collector.write_key, ""))
        assert answer.json()["accepted"] == len(chunk), answer.text


def _running(api: AdminClient, prefix: str, **fields: Any) -> tuple[str, str]:
    """A started A/B experiment (with `fields`) and its conversion event."""
    key = f"{prefix}-{uuid.uuid4().hex[:8]}"
    api.save_experiment({"key": key, "conversion_event": f"Converted {key}", "variants": AB, **fields})
    api.start_experiment(key)
    return key, f"Converted {key}"


def _assert_every_unit_converted(result: dict[str, Any], units: int) -> None:
    rates = _rates(result)
    assert sum(exposed for exposed, _ in rates.values()) == units
    assert all(exposed == converted for exposed, converted in rates.values()), rates


def _rates(result: dict[str, Any]) -> dict[str, tuple[int, int]]:
    (metric,) = result["metrics"]
    return {v["key"]: (v["units"], v["total"]) for v in metric["variants"]}


def test_an_anonymous_exposure_and_a_conversion_after_signup_count_as_one_converted_person(
    collector: CollectorProcess, api: AdminClient
) -> None:
    key = f"signup-{uuid.uuid4().hex[:8]}"
    conversion = f"Purchased {key}"
    api.save_experiment({"key": key, "conversion_event": conversion, "variants": AB})
    messages = []
    for n in range(20):
        anonymous, user = f"{key}-anon{n}", f"{key}-user{n}"
        variant = AB[n % 2]["key"]
        at = START + timedelta(minutes=n)
        messages.append(_message("track", at, anonymousId=anonymous, event="Experiment Viewed",
                                 properties={"experiment_id": key, "variation_id": variant}))
        if n % 4 < 3:  # signs up, then converts identified
            messages.append(_message("identify", at + timedelta(minutes=5), userId=user, anonymousId=anonymous))
            messages.append(_message("track", at + timedelta(minutes=6), userId=user, event=conversion))
    random.Random(7).shuffle(messages)  # arrival order does not matter
    _send(collector, messages)
    api.wait_until_stored()

    assert _rates(api.results(key)) == {"control": (10, 10), "treatment": (10, 5)}


def test_anonymous_unit_experiment_counts_visitors_exposed_through_assign(
    collector: CollectorProcess, api: AdminClient
) -> None:
    key, conversion = _running(api, "anon-unit", unit="anonymous_id")
    conversions = []
    with httpx.Client(base_url=collector.url, auth=(collector.write_key, "")) as http:
        for n in range(40):
            visitor = f"{key}-visitor{n}"
            answer = http.post("/v1/assign", json={"unit_id": visitor, "experiments": [key], "log_exposures": True})
            assert answer.json()["exposures_logged"] == 1
            conversions.append(_message("track", datetime.now(timezone.utc) + timedelta(seconds=1),
                                        userId=f"{key}-user{n}", anonymousId=visitor, event=conversion))
    _send(collector, conversions)
    api.wait_until_stored()

    _assert_every_unit_converted(api.results(key), 40)


def test_bucket_by_anonymous_id_keeps_the_variant_at_login_and_analyses_the_person(
    collector: CollectorProcess, api: AdminClient
) -> None:
    key, conversion = _running(api, "bucket", bucket_by="anonymous_id")
    with httpx.Client(base_url=collector.url, auth=(collector.write_key, "")) as http:
        for n in range(30):
            device, user = f"{key}-device{n}", f"{key}-user{n}"
            before = http.post("/v1/assign", json={"anonymous_id": device, "experiments": [key],
                                                   "log_exposures": True}).json()
            after = http.post("/v1/assign", json={"unit_id": user, "anonymous_id": device, "experiments": [key],
                                                  "log_exposures": True}).json()
            assert before["assignments"][key]["variant"] == after["assignments"][key]["variant"]
            now = datetime.now(timezone.utc)
            _send(collector, [_message("identify", now, userId=user, anonymousId=device),
                              _message("track", now + timedelta(seconds=1), userId=user, event=conversion)])
    api.wait_until_stored()

    result = api.results(key)
    assert result["multiple_exposures"] == 0
    _assert_every_unit_converted(result, 30)  # one unit per person, not per id


def test_group_unit_experiment_counts_a_group_converted_when_any_member_converts(
    collector: CollectorProcess, api: AdminClient
) -> None:
    key, conversion = _running(api, "group", unit="company")
    with httpx.Client(base_url=collector.url, auth=(collector.write_key, "")) as http:
        variants = {}
        for n in range(12):
            company = f"{key}-company{n}"
            answer = http.post("/v1/assign", json={"unit_id": company, "experiments": [key], "log_exposures": True})
            variants[company] = answer.json()["assignments"][key]["variant"]
    messages = []
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    for n, company in enumerate(variants):
        for member in range(3):
            messages.append(_message("group", now, userId=f"{company}-member{member}", groupId=company))
        if n % 3 == 0:  # one member of every third company converts
            messages.append(_message("track", now + timedelta(seconds=1), userId=f"{company}-member1",
                                     event=conversion))
    _send(collector, messages)
    api.wait_until_stored()

    expected: dict[str, list[int]] = {"control": [0, 0], "treatment": [0, 0]}
    for n, company in enumerate(variants):
        expected[variants[company]][0] += 1
        expected[variants[company]][1] += n % 3 == 0
    assert _rates(api.results(key)) == {k: tuple(v) for k, v in expected.items() if v[0]}


def test_person_api_shows_ids_properties_refusals_and_deletes(collector: CollectorProcess, api: AdminClient) -> None:
    tag = uuid.uuid4().hex[:8]
    device, customer, other = f"D-{tag}", f"C-{tag}", f"E-{tag}"
    story = [
        _message("page", START, anonymousId=device, name="/pricing"),
        _message("identify", START + timedelta(minutes=1), userId=customer, anonymousId=device,
                 traits={"plan": "free", "email": f"{tag}@example.com"}),
        _message("identify", START + timedelta(minutes=2), userId=other, anonymousId=device),  # refused
        _message("identify", START + timedelta(minutes=3), userId=customer, traits={"plan": f"pro-{tag}"}),
        _message("identify", START - timedelta(days=1), userId=customer, traits={"plan": "old"}),  # older: loses
    ]
    _send(collector, story)
    _send(collector, story)  # resent (same message ids): the refusal still counts once
    api.wait_until_stored()

    person = api.person(device)
    assert person["distinct_ids"] == sorted([customer, device])
    assert {e["context"] for e in api.events(user_id=customer)["events"]} == {"{}"}  # no IP unless the app sends one
    assert person["properties"] == {"plan": f"pro-{tag}", "email": f"{tag}@example.com"}
    assert person["merge_refusals"] == 1
    assert person["first_seen"].startswith("2026-02-28")
    assert api.person(person["person_id"]) == person == api.person(customer)
    assert api.person(other)["distinct_ids"] == [other]
    (listed,) = api.persons(property_name="plan", value=f"pro-{tag}")
    assert listed["person_id"] == person["person_id"]
    with pytest.raises(ApiError, match="404"):
        api.person(f"nobody-{tag}")

    deleted = api.delete_person(customer)
    assert deleted["distinct_ids"] == sorted([customer, device]) and deleted["events_deleted"] == 4
    with pytest.raises(ApiError, match="404"):
        api.person(device)
    assert api.events(user_id=customer)["total"] == 0


_IDS = [f"p{n}" for n in range(5)]


@st.composite
def _story(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Visitors browsing anonymously, identifying, aliasing; shuffled later."""
    messages = []
    for _ in range(draw(st.integers(4, 12))):
        at = START + timedelta(minutes=draw(st.integers(0, 6)))
        user, other = draw(st.sampled_from(_IDS)), draw(st.sampled_from(_IDS))
        kind = draw(st.sampled_from(["identify", "alias", "track-anon", "track"]))
        if kind == "identify":
            messages.append(_message("identify", at, userId=user, anonymousId="a" + other))
        elif kind == "alias":
            messages.append(_message("alias", at, userId=user, previousId="a" + other))
        elif kind == "track-anon":
            messages.append(_message("track", at, anonymousId="a" + other, event="Viewed"))
        else:
            messages.append(_message("track", at, userId=user, event="Viewed"))
    return messages


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=_story(), seed=st.integers(0, 2**16))
def test_shuffled_arrival_across_batches_a_kill_9_and_a_retry_give_the_reference_persons(
    fresh_collector: CollectorProcess, story: list[dict[str, Any]], seed: int
) -> None:
    tag = uuid.uuid4().hex[:6]
    for message in story:  # ids of their own per example: the store is shared across examples
        for field in ("userId", "anonymousId", "previousId"):
            if field in message:
                message[field] = f"{tag}-{message[field]}"
    arrival = list(story)
    random.Random(seed).shuffle(arrival)
    middle = len(arrival) // 2
    fresh_collector.start()
    _send(fresh_collector, arrival[:middle // 2])
    _send(fresh_collector, arrival[middle // 2:middle])
    fresh_collector.stop(signal.SIGKILL)  # what was logged but not inserted is replayed from the log
    fresh_collector.start()
    _send(fresh_collector, arrival[middle:])
    _send(fresh_collector, arrival[:middle // 2])  # a client's retry of a batch: counted once
    api = AdminClient(fresh_collector.url, fresh_collector.admin_secret)
    api.wait_until_stored()

    expected = resolve(story)
    assert {i: api.person(i)["person_id"] for i in expected} == expected
    fresh_collector.stop()


def test_posthog_identify_merges_an_anonymous_capture_and_merge_dangerously_joins_identified_persons(
    collector: CollectorProcess, api: AdminClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    anonymous, alice, bob = f"ph-anon-{tag}", f"ph-alice-{tag}", f"ph-bob-{tag}"

    def event(name: str, distinct_id: str, minutes: int, **properties: Any) -> dict[str, Any]:
        return {"event": name, "distinct_id": distinct_id, "properties": {"$lib": "posthog-python", **properties},
                "timestamp": (START + timedelta(minutes=minutes)).isoformat(), "uuid": str(uuid.uuid4())}

    batch = [
        event("$pageview", anonymous, 0, **{"$current_url": "/"}),  # an anonymous distinct id: not identified
        event("$identify", alice, 1, **{"$anon_distinct_id": anonymous, "$set": {"name": "Alice"}}),
        event("$identify", bob, 2),
        event("$create_alias", alice, 3, alias=bob),  # both identified: refused
    ]
    answer = httpx.post(collector.url + "/batch/", json={"api_key": collector.write_key, "batch": batch})
    assert answer.status_code == 200, answer.text
    api.wait_until_stored()
    assert api.person(anonymous)["distinct_ids"] == sorted([anonymous, alice])
    assert api.person(bob)["distinct_ids"] == [bob] and api.person(bob)["merge_refusals"] == 1

    merge = [event("$merge_dangerously", alice, 4, alias=bob)]
    assert httpx.post(collector.url + "/batch/", json={"api_key": collector.write_key, "batch": merge}).is_success
    api.wait_until_stored()
    person = api.person(bob)
    assert person["distinct_ids"] == sorted([anonymous, alice, bob])
    assert person["properties"] == {"name": "Alice"}
