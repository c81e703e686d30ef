"""Fuzzing the live ingestion endpoints: bad input gets a 4xx, never a 500, and loses nothing else."""

from __future__ import annotations

import gzip
import json
import uuid

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

ENDPOINTS = ["/v1/batch", "/v1/track", "/v1/identify", "/v1/alias", "/v1/group", "/batch/", "/capture/", "/i/v0/e/"]

_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50)
_json = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=15,
)
_field_names = st.sampled_from(
    ["type", "event", "userId", "anonymousId", "properties", "traits", "context", "timestamp",
     "messageId", "sentAt", "groupId", "previousId", "distinct_id", "uuid", "api_key", "$set", "batch"]
)
_events = st.dictionaries(_field_names, _json | st.just("2026-01-01T00:00:00Z") | st.just("track"), max_size=8)
_bodies = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=40).map(  # raw bytes inside an otherwise valid event's JSON
        lambda junk: b'{"batch":[{"type":"track","event":"E","userId":"u","properties":{"a":"' + junk + b'"}}]}'
    ),
    _json.map(lambda value: json.dumps(value).encode()),
    st.lists(_events | _json, max_size=6).map(lambda batch: json.dumps({"batch": batch}).encode()),
    _events.map(lambda event: json.dumps(event).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(ENDPOINTS), body=_bodies, zipped=st.sampled_from(["no", "yes", "lying"]))
def test_no_input_gets_a_server_error(collector: CollectorProcess, endpoint: str, body: bytes, zipped: str) -> None:
    headers = {"Content-Type": "application/json"}
    if zipped != "no":
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body) if zipped == "yes" else body
    response = httpx.post(collector.url + endpoint, content=body, headers=headers,
                          auth=(collector.write_key, ""), timeout=30)
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.lists(_events | _json, min_size=1, max_size=5))
def test_good_events_survive_beside_garbage(
    collector: CollectorProcess, api: AdminClient, garbage: list[object]
) -> None:
    message_id = uuid.uuid4().hex
    good = {"type": "track", "event": "Survivor", "userId": "fuzz-user", "messageId": message_id}
    response = httpx.post(collector.url + "/v1/batch", json={"batch": [*garbage, good]},
                          auth=(collector.write_key, ""), timeout=30)
    assert response.status_code == 200
    rejected = {item["index"] for item in response.json()["rejected"]}
    assert len(garbage) not in rejected
    api.wait_until_stored()
    assert api.verify([message_id])["missing"] == []


ADMIN_ROUTES = [("PUT", "/v1/experiments/fuzz"), ("PUT", "/v1/metrics/fuzz"), ("POST", "/v1/events/verify"),
                ("POST", "/v1/experiments/fuzz/phases")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(ADMIN_ROUTES), body=_bodies)
def test_admin_routes_answer_bad_bodies_with_4xx(collector: CollectorProcess, route: tuple[str, str], body: bytes) -> None:
    method, path = route
    response = httpx.request(method, collector.url + path, content=body, timeout=30,
                             headers={"Authorization": f"Bearer {collector.admin_secret}"})
    assert response.status_code < 500, response.text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies)
def test_assign_answers_bad_bodies_with_4xx(collector: CollectorProcess, body: bytes) -> None:
    response = httpx.post(collector.url + "/v1/assign", content=body, auth=(collector.write_key, ""), timeout=30)
    assert response.status_code < 500, response.text


def test_invalid_utf8_in_any_body_is_a_400(collector: CollectorProcess) -> None:
    admin = {"Authorization": f"Bearer {collector.admin_secret}"}
    requests = [
        ("PUT", "/v1/experiments/x", b'{"key":"x\xff"}', admin),
        ("PUT", "/v1/metrics/x", b'{"key":"x\xff"}', admin),
        ("POST", "/v1/events/verify", b'{"message_ids":["\xff"]}', admin),
        ("POST", "/v1/experiments/x/phases", b'{"salt":"\xff"}', admin),
        ("POST", "/v1/batch", b'{"writeKey":"\xff","batch":[]}', {}),
    ]
    for method, path, body, headers in requests:
        response = httpx.request(method, collector.url + path, content=body, headers=headers, timeout=30)
        assert 400 <= response.status_code < 500, (path, response.text)
    assign = httpx.post(collector.url + "/v1/assign", content=b'{"unit_id":"\xff"}', auth=(collector.write_key, ""))
    assert assign.status_code == 400


def test_json_nested_past_the_decoder_depth_is_a_400(collector: CollectorProcess) -> None:
    """1,500 levels fit in 3 KB; msgspec stops at ~1,000 with RecursionError, answered as a 400."""
    deep = b"[" * 1500 + b"]" * 1500
    admin = {"Authorization": f"Bearer {collector.admin_secret}"}
    ingestion = {endpoint: b'{"type":"track","event":"E","userId":"u","properties":' + deep + b"}"
                 for endpoint in ("/v1/track", "/capture/")}
    ingestion["/v1/batch"] = b'{"batch":[{"type":"track","event":"E","userId":"u","properties":' + deep + b"}]}"
    ingestion["/batch/"] = b'{"api_key":"k","batch":[{"event":"E","distinct_id":"u","properties":' + deep + b"}]}"
    ingestion["/v1/assign"] = b'{"unit_id":"u","attributes":' + deep + b"}"
    admin_requests = [
        ("PUT", "/v1/experiments/x", b'{"key":"x","variations":' + deep + b"}"),
        ("PUT", "/v1/metrics/x", b'{"key":' + deep + b"}"),
        ("POST", "/v1/events/verify", b'{"message_ids":' + deep + b"}"),
        ("POST", "/v1/experiments/x/phases", b'{"salt":' + deep + b"}"),
    ]
    responses = [httpx.post(collector.url + path, content=body, auth=(collector.write_key, ""), timeout=30)
                 for path, body in ingestion.items()]
    responses += [httpx.request(method, collector.url + path, content=body, headers=admin, timeout=30)
                  for method, path, body in admin_requests]
    for response in responses:
        assert response.status_code == 400, (response.url.path, response.status_code, response.text[:200])


def test_every_body_is_read_with_a_limit(collector: CollectorProcess) -> None:
    """Without Content-Length (chunked), an oversized body is cut off, not held in memory."""
    admin = {"Authorization": f"Bearer {collector.admin_secret}"}

    def chunks():
        for _ in range(40):
            yield b" " * 500_000  # 20 MB in all

    for method, path, headers, auth in [
        ("PUT", "/v1/experiments/x", admin, None),
        ("PUT", "/v1/metrics/x", admin, None),
        ("POST", "/v1/events/verify", admin, None),
        ("POST", "/v1/experiments/x/phases", admin, None),
        ("POST", "/v1/assign", {}, (collector.write_key, "")),
        ("POST", "/dashboard/login", {}, None),
    ]:
        response = httpx.request(method, collector.url + path, content=chunks(), headers=headers,
                                 auth=auth, timeout=30)
        assert response.status_code == 413, (path, response.status_code, response.text)
