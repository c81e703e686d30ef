"""The real posthog and segment-analytics-python packages send to Northstar unchanged."""

from __future__ import annotations

import json
import uuid

import posthog
import segment.analytics as segment_analytics

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


def test_segment_analytics_python_delivers(collector: CollectorProcess, api: AdminClient) -> None:
    user = f"segment-{uuid.uuid4().hex[:10]}"
    errors: list[Exception] = []
    client = segment_analytics.Client(
        collector.write_key, host=collector.url, on_error=lambda error, batch: errors.append(error),
        gzip=True,
    )
    for n in range(50):
        client.track(user, "Segment Event", {"n": n})
    client.identify(user, {"email": "s@example.com"})
    client.page(user, "Docs", "Install", {"path": "/install"})
    client.group(user, "acme", {"plan": "enterprise"})
    client.flush()
    client.shutdown()

    assert errors == []
    api.wait_until_stored()
    assert api.events(user_id=user, event="Segment Event")["total"] == 50
    types = {event["type"] for event in api.events(user_id=user, limit=100)["events"]}
    assert types == {"track", "identify", "page", "group"}
    (page,) = api.events(user_id=user, type="page")["events"]
    assert page["name"] == "Install"
    (track,) = api.events(user_id=user, event="Segment Event", limit=1)["events"]
    assert json.loads(track["context"])["library"]["name"] == "analytics-python"


def test_posthog_python_delivers(collector: CollectorProcess, api: AdminClient) -> None:
    user = f"posthog-{uuid.uuid4().hex[:10]}"
    client = posthog.Posthog(collector.write_key, host=collector.url, sync_mode=False, max_retries=1)
    for n in range(40):
        client.capture("PostHog Event", distinct_id=user, properties={"n": n})
    client.set(distinct_id=user, properties={"email": "p@example.com"})
    client.alias(previous_id=user, distinct_id=f"{user}-new")
    client.group_identify("company", "acme", {"plan": "pro"}, distinct_id=user)
    client.flush()
    client.shutdown()

    api.wait_until_stored()
    stored = api.events(user_id=user, event="PostHog Event", limit=100)
    assert stored["total"] == 40
    properties = json.loads(stored["events"][0]["properties"])
    assert properties["$lib"] == "posthog-python"  # $-prefixed properties are kept
    assert sorted(json.loads(e["properties"])["n"] for e in stored["events"]) == list(range(40))
    (person,) = api.events(user_id=user, type="identify")["events"]
    assert json.loads(person["traits"]) == {"email": "p@example.com"}
    (group,) = api.events(user_id=user, type="group")["events"]
    assert (group["group_id"], json.loads(group["traits"])) == ("acme", {"plan": "pro"})
    (alias,) = api.events(user_id=f"{user}-new", type="alias")["events"]
    assert alias["previous_id"] == user
