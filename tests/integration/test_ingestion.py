"""Ingestion over real HTTP into a real collector on chDB, as a Segment-compatible client sends."""

from __future__ import annotations

import gzip
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _post(collector: CollectorProcess, path: str, body: object, **kwargs: object) -> httpx.Response:
    auth = kwargs.pop("auth", (collector.write_key, ""))
    return httpx.post(collector.url + path, json=body, auth=auth, timeout=30, **kwargs)


def test_batch_events_are_stored_with_their_fields(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("user")
    sent_at = datetime.now(timezone.utc)
    batch = [
        {
            "type": "track",
            "event": "Song Played",
            "userId": user,
            "properties": {"song": f"s{n}", "seconds": n},
            "context": {"library": {"name": "test"}},
            "timestamp": (sent_at - timedelta(seconds=n)).isoformat(),
            "messageId": f"{user}-{n}",
        }
        for n in range(25)
    ]
    response = _post(collector, "/v1/batch", {"batch": batch, "sentAt": sent_at.isoformat()})

    assert response.status_code == 200
    assert response.json() == {"success": True, "accepted": 25, "rejected": []}
    api.wait_until_stored()
    stored = api.events(user_id=user, limit=100)
    assert stored["total"] == 25
    by_id = {event["message_id"]: event for event in stored["events"]}
    assert set(by_id) == {f"{user}-{n}" for n in range(25)}
    third = by_id[f"{user}-3"]
    assert (third["type"], third["event"], third["user_id"]) == ("track", "Song Played", user)
    assert third["properties"] == '{"song":"s3","seconds":3}'
    assert third["context"] == '{"library":{"name":"test"}}'
    assert round(third["original_timestamp"] * 1000) == int((sent_at - timedelta(seconds=3)).timestamp() * 1000)
    assert round(third["sent_at"] * 1000) == int(sent_at.timestamp() * 1000)


def test_malformed_events_are_rejected_by_index_and_the_rest_stored(
    collector: CollectorProcess, api: AdminClient
) -> None:
    user = _unique("user")
    batch = [
        {"type": "track", "event": "Good", "userId": user, "messageId": f"{user}-0"},
        {"type": "track", "userId": user},
        {"type": "track", "event": "Good", "messageId": "no-user"},
        {"type": "track", "event": "Good", "userId": user, "properties": [1, 2]},
        {"type": "launch", "event": "Good", "userId": user},
        {"type": "track", "event": "Good", "userId": user, "timestamp": "yesterday"},
        {"type": "identify", "userId": user, "traits": {"plan": "pro"}, "messageId": f"{user}-6"},
        "not an object",
    ]
    response = _post(collector, "/v1/batch", {"batch": batch})

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    reasons = {item["index"]: item["reason"] for item in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 7]
    assert "event is required" in reasons[1]
    assert "userId or anonymousId" in reasons[2]
    assert "properties must be a JSON object" in reasons[3]
    assert "type must be one of" in reasons[4]
    assert "timestamp" in reasons[5]
    api.wait_until_stored()
    stored = api.events(user_id=user)
    assert {event["message_id"] for event in stored["events"]} == {f"{user}-0", f"{user}-6"}


def test_wrong_write_key_is_refused_and_nothing_is_stored(
    collector: CollectorProcess, api: AdminClient
) -> None:
    user = _unique("user")
    batch = {"batch": [{"type": "track", "event": "Sneaky", "userId": user}]}

    assert _post(collector, "/v1/batch", batch, auth=("not-a-key", "")).status_code == 401
    assert _post(collector, "/v1/batch", batch, auth=None).status_code == 401
    assert _post(collector, "/v1/batch", {**batch, "writeKey": "not-a-key"}, auth=None).status_code == 401

    api.wait_until_stored()
    assert api.events(user_id=user)["total"] == 0


def test_write_key_in_body_and_single_event_endpoints(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("user")
    messages = {
        "track": {"event": "Clicked"},
        "identify": {"traits": {"email": "a@example.com"}},
        "page": {"name": "Home"},
        "screen": {"name": "Settings"},
        "group": {"groupId": "acme"},
        "alias": {"previousId": "anon-1"},
    }
    for message_type, fields in messages.items():
        body = {"writeKey": collector.write_key, "userId": user, "messageId": f"{user}-{message_type}", **fields}
        response = _post(collector, f"/v1/{message_type}", body, auth=None)
        assert response.status_code == 200, response.text

    api.wait_until_stored()
    stored = {event["type"]: event for event in api.events(user_id=user)["events"]}
    assert set(stored) == set(messages)
    assert stored["identify"]["traits"] == '{"email":"a@example.com"}'
    assert stored["page"]["name"] == "Home"
    assert stored["group"]["group_id"] == "acme"
    assert stored["alias"]["previous_id"] == "anon-1"


def test_gzip_bodies_and_limits(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("user")
    payload = httpx.Request("POST", "/", json={"batch": [{"type": "track", "event": "Zipped", "userId": user}]})
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    auth = (collector.write_key, "")
    zipped = httpx.post(collector.url + "/v1/batch", content=gzip.compress(payload.read()),
                        headers=headers, auth=auth)
    assert zipped.status_code == 200 and zipped.json()["accepted"] == 1

    bad_gzip = httpx.post(collector.url + "/v1/batch", content=b"not gzip", headers=headers, auth=auth)
    assert bad_gzip.status_code == 400 and "gzip" in bad_gzip.json()["error"]

    bomb = gzip.compress(b'{"batch": [' + b" " * 5_000_000 + b"]}")
    assert len(bomb) < 50_000
    too_big = httpx.post(collector.url + "/v1/batch", content=bomb, headers=headers, auth=auth)
    assert too_big.status_code == 413

    huge_event = {"type": "track", "event": "Huge", "userId": user, "properties": {"blob": "x" * 40_000}}
    response = _post(collector, "/v1/batch", {"batch": [huge_event]})
    assert response.status_code == 400
    assert "limit is 32768" in response.json()["rejected"][0]["reason"]

    assert _post(collector, "/v1/batch", {"nobatch": 1}).status_code == 400
    not_json = httpx.post(collector.url + "/v1/batch", content=b"{", auth=auth)
    assert not_json.status_code == 400

    api.wait_until_stored()
    assert api.events(user_id=user)["total"] == 1


def test_posthog_js_gzip_signalled_in_the_query(collector: CollectorProcess, api: AdminClient) -> None:
    """posthog-js sends `?compression=gzip-js` and no Content-Encoding; Segment routes ignore it."""
    user = _unique("user")
    body = httpx.Request("POST", "/", json={"api_key": collector.write_key, "batch": [
        {"event": "Zipped by posthog-js", "distinct_id": user, "properties": {"$current_url": "/"}},
    ]}).read()
    zipped = httpx.post(collector.url + "/e/?compression=gzip-js&ver=1.0", content=gzip.compress(body),
                        headers={"Content-Type": "text/plain"})
    assert zipped.status_code == 200 and zipped.json()["accepted"] == 1

    segment = httpx.post(collector.url + "/v1/batch?compression=gzip-js", content=gzip.compress(body),
                         auth=(collector.write_key, ""))
    assert segment.status_code == 400

    api.wait_until_stored()
    assert api.events(user_id=user)["total"] == 1


def test_a_batch_spanning_many_months_is_stored_and_the_log_moves_on(
    collector: CollectorProcess, api: AdminClient
) -> None:
    """Events are partitioned by month of the client's clock; no number of months stalls the log."""
    user = _unique("user")
    batch = [{"type": "track", "event": "Backfilled", "userId": user,
              "timestamp": f"{1990 + n // 12}-{n % 12 + 1:02d}-15T12:00:00Z"} for n in range(150)]
    assert _post(collector, "/v1/batch", {"batch": batch}).json()["accepted"] == 150
    assert _post(collector, "/v1/track", {"event": "After", "userId": user}).status_code == 200

    assert api.wait_until_stored(timeout=30)["backlog_records"] == 0
    assert api.events(user_id=user)["total"] == 151


def test_resent_batch_is_counted_once(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("user")
    batch = {"batch": [{"type": "track", "event": "Retried", "userId": user, "messageId": f"{user}-{n}"}
                       for n in range(10)]}
    for _ in range(3):
        assert _post(collector, "/v1/batch", batch).status_code == 200
    api.wait_until_stored()
    assert api.events(user_id=user)["total"] == 10
    report = api.verify([f"{user}-{n}" for n in range(12)])
    assert report["checked"] == 12
    assert report["missing"] == [f"{user}-10", f"{user}-11"]
    assert report["duplicated"] == []
    assert report["extra_copies"] <= 20  # two resends of ten, until a merge collapses them


def test_client_clock_skew_is_corrected_from_sent_at(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("user")
    device_now = datetime.now(timezone.utc) + timedelta(hours=3)  # device clock is 3 h fast
    batch = {
        "batch": [{"type": "track", "event": "Skewed", "userId": user,
                   "timestamp": (device_now - timedelta(minutes=10)).isoformat()}],
        "sentAt": device_now.isoformat(),
    }
    assert _post(collector, "/v1/batch", batch).status_code == 200
    api.wait_until_stored()
    (event,) = api.events(user_id=user)["events"]
    corrected = event["timestamp"]
    expected = (datetime.now(timezone.utc) - timedelta(minutes=10)).timestamp()
    assert abs(corrected - expected) < 60
    assert event["received_at"] - event["timestamp"] == pytest.approx(600, abs=0.001)


def test_verify_answers_for_large_id_lists(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("user")
    stored = [f"{user}-stored-{n}" for n in range(5)]
    batch = {"batch": [{"type": "track", "event": "Verified", "userId": user, "messageId": m} for m in stored]}
    assert _post(collector, "/v1/batch", batch).status_code == 200
    api.wait_until_stored()
    never_sent = [f"{user}-absent-{n}" for n in range(24_000)]
    report = api.verify(never_sent[:12_000] + stored + never_sent[12_000:])  # spans several chunks
    assert report["checked"] == 24_005
    assert len(report["missing"]) == 24_000 and not set(stored) & set(report["missing"])
