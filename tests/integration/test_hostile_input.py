"""Input a client gets wrong, or sends to hurt: each is answered with a clear 4xx, and nothing
else of the request, or of the server, is lost. Real collector, real sockets."""

from __future__ import annotations

import gzip
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _post_raw(collector: CollectorProcess, path: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(collector.url + path, content=body, auth=(collector.write_key, ""),
                      headers={"Content-Type": "application/json", **headers}, timeout=30)


def _track(user: str, event: str, **fields: object) -> dict[str, object]:
    return {"type": "track", "event": event, "userId": user, "messageId": _unique("m"), **fields}


@pytest.mark.parametrize("route", ["segment", "posthog"])
def test_a_lone_surrogate_is_stored_as_a_replacement_character_and_the_batch_kept(
    collector: CollectorProcess, api: AdminClient, route: str
) -> None:
    user = _unique("surrogate")
    if route == "segment":
        events = [_track(user, "Cut Emoji", properties={"title": "HOLE"}), _track(user, "Fine")]
        body, path = json.dumps({"batch": events}), "/v1/batch"
    else:
        events = [{"event": "Cut Emoji", "distinct_id": user, "properties": {"title": "HOLE"}},
                  {"event": "Fine", "distinct_id": user}]
        body, path = json.dumps({"api_key": collector.write_key, "batch": events}), "/batch/"
    # What JavaScript's JSON.stringify writes for half of an emoji; a paired one is kept.
    body = body.replace("HOLE", "sliced \\ud83d|\\ud83d\\ude00|\\\\ud800")

    response = _post_raw(collector, path, body.encode())

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    api.wait_until_stored()
    stored = api.events(user_id=user)["events"]
    assert sorted(event["event"] for event in stored) == ["Cut Emoji", "Fine"]
    cut = next(event for event in stored if event["event"] == "Cut Emoji")
    assert json.loads(cut["properties"])["title"] == "sliced \ufffd|\U0001F600|\\ud800"


def test_every_gzip_member_is_decoded(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("members")
    text = json.dumps({"batch": [_track(user, f"Member {n}") for n in range(4)]}).encode()
    middle = len(text) // 2
    response = _post_raw(collector, "/v1/batch", gzip.compress(text[:middle]) + gzip.compress(text[middle:]),
                         **{"Content-Encoding": "gzip"})

    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 4
    api.wait_until_stored()
    assert api.events(user_id=user)["total"] == 4


def test_gzip_with_trailing_garbage_is_refused_whole(collector: CollectorProcess, api: AdminClient) -> None:
    user = _unique("garbage")
    body = gzip.compress(json.dumps({"batch": [_track(user, "Before Garbage")]}).encode()) + b"\x00garbage"
    response = _post_raw(collector, "/v1/batch", body, **{"Content-Encoding": "gzip"})

    assert response.status_code == 400
    assert "trailing bytes" in response.json()["error"]


def test_a_gzip_bomb_spread_over_members_is_still_cut_off(collector: CollectorProcess) -> None:
    member = gzip.compress(b" " * 400_000)  # each under the limit, together over it
    response = _post_raw(collector, "/v1/batch", member * 2, **{"Content-Encoding": "gzip"})

    assert response.status_code == 413


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_the_limit_gets_its_413_over_a_real_socket(collector: CollectorProcess, framing: str) -> None:
    body = b'{"batch": [' + b" " * (2 << 20) + b"]}"
    if framing == "chunked":  # no length announced: the limit is found while reading
        pieces = [body[start:start + 65536] for start in range(0, len(body), 65536)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
        framing_header = "Transfer-Encoding: chunked"
    else:
        framing_header = f"Content-Length: {len(body)}"
    # `Connection: close`, as urllib and many SDKs send: the server closes after its answer.
    head = (f"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Connection: close\r\n{framing_header}\r\n\r\n").encode()
    with socket.socket() as client:
        # A small send buffer, as over a real network: the body cannot all be in flight
        # before the server answers, so a server that stops reading resets the connection.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
        client.settimeout(30)
        client.connect(("127.0.0.1", collector.port))
        client.sendall(head + body)
        answer = b""
        while b"\r\n" not in answer:
            received = client.recv(4096)
            if not received:
                break
            answer += received

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_assign_refuses_an_id_ingestion_would_refuse(collector: CollectorProcess, api: AdminClient) -> None:
    with httpx.Client(base_url=collector.url, auth=(collector.write_key, ""), timeout=30) as client:
        response = client.post("/v1/assign", json={"unit_id": "u" * 60_000, "log_exposures": True})
        fine = client.post("/v1/assign", json={"unit_id": "u" * 512})

    assert response.status_code == 400
    assert "unit_id" in response.json()["error"]
    assert fine.status_code == 200


@pytest.mark.parametrize("limit", ["²", "١", "9" * 5000, "1001", "-1"])
def test_explorer_limit_is_a_400_unless_ascii_digits_in_range(api: AdminClient, collector: CollectorProcess,
                                                              limit: str) -> None:
    response = httpx.get(collector.url + "/v1/events", params={"limit": limit}, timeout=30,
                         headers={"Authorization": f"Bearer {collector.admin_secret}"})

    assert response.status_code == 400
    assert "limit" in response.json()["error"]


@pytest.fixture(scope="module")
def small_budget_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    with CollectorProcess(Path(tmp_path_factory.mktemp("small-budget")),
                          extra_args=("--log-budget-mb", "1")) as process:
        yield process


def test_a_batch_whose_log_record_exceeds_the_whole_budget_is_a_413(small_budget_collector: CollectorProcess) -> None:
    # ~480 KB of tiny events: under the body limit, but logged (message ids, arrival) over 1 MB.
    events = [{"type": "track", "event": "t", "userId": "u"}] * 11_000
    body = json.dumps({"batch": events}, separators=(",", ":")).encode()
    assert len(body) < 500 * 1024
    response = _post_raw(small_budget_collector, "/v1/batch", body)

    assert response.status_code == 413, response.text
    assert "fewer events" in response.json()["error"]
    small = _post_raw(small_budget_collector, "/v1/batch", json.dumps({"batch": events[:100]}).encode())
    assert small.status_code == 200


def test_client_disconnects_are_counted_not_logged_as_tracebacks(small_budget_collector: CollectorProcess) -> None:
    head = (b"POST /v1/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n")
    for _ in range(30):
        with socket.create_connection(("127.0.0.1", small_budget_collector.port), timeout=30) as client:
            client.sendall(head + b'{"batch": [' + b" " * 1000)
    health = httpx.get(small_budget_collector.url + "/health", timeout=30)  # the server still answers

    def aborted() -> float:
        for line in httpx.get(small_budget_collector.url + "/metrics", timeout=30).text.splitlines():
            if line.startswith("northstar_requests_aborted_total "):
                return float(line.split()[1])
        return 0.0

    deadline = time.monotonic() + 10  # each close is seen when the server next reads from it
    while aborted() < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert health.status_code == 200
    assert aborted() == 30
    log = small_budget_collector.log()
    assert "Exception in ASGI application" not in log
    assert "Traceback" not in log
    assert log.count("aborted by their client") == 1
