"""The SDK's definitions over HTTP, against a stub collector: ETag refresh, last good copy, background
refresh, `get_variant` never waiting for the network."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sdk import Client
from sdk.definition_source import DefinitionSource

EVALUATION = json.loads((Path(__file__).parents[1] / "vectors" / "assignment.json").read_text())["evaluation"]
DOCUMENT = {"experiments": EVALUATION["experiments"]}
AB = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]


class StubCollector:
    """Serves `document` at /v1/sdk/definitions with an ETag; `status` forces an error answer."""

    def __init__(self) -> None:
        self.document: Any = DOCUMENT
        self.status = 200
        self.hold = threading.Event()  # cleared: requests wait for it (at most 10 s)
        self.hold.set()
        self.held = threading.Event()
        self.answered = 0
        self.requests: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stub.requests.append(dict(self.headers))
                if not stub.hold.is_set():
                    stub.held.set()
                    stub.hold.wait(10)
                stub.answered += 1
                body = stub.document if isinstance(stub.document, bytes) else json.dumps(stub.document).encode()
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if stub.status != 200:
                    self.send_response(stub.status)
                    self.end_headers()
                elif self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                else:
                    self.send_response(200)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[StubCollector]:
    server = StubCollector()
    yield server
    server.close()


def _source(url: str, **options: Any) -> DefinitionSource:
    return DefinitionSource(url, "wk", refresh_interval=3600, timeout=2, **options)


def test_refresh_sends_the_write_key_and_etag_and_keeps_definitions_on_304(stub: StubCollector) -> None:
    source = _source(stub.url)
    assert source.refresh() and source.refresh()
    first, second = stub.requests
    assert first["Authorization"] == "Basic d2s6" and "If-None-Match" not in first  # base64("wk:")
    assert second["If-None-Match"]
    assert source.get("vec-basic") is not None and sorted(source.keys()) == sorted(e["key"] for e in DOCUMENT["experiments"])


@pytest.mark.parametrize("failure", ["http_500", "not_json", "wrong_shape", "down"])
def test_a_failed_refresh_keeps_the_last_good_copy(stub: StubCollector, failure: str) -> None:
    source = _source(stub.url)
    assert source.refresh()
    if failure == "http_500":
        stub.status = 500
    elif failure == "not_json":
        stub.document = b"<html>oops"
    elif failure == "wrong_shape":
        stub.document = {"experiments": "everything"}
    else:
        stub.close()
    assert not source.refresh()
    assert source.get("vec-basic") is not None


def test_one_invalid_experiment_is_skipped_without_losing_the_others(stub: StubCollector) -> None:
    stub.document = {"experiments": [{"key": "broken", "variants": "nope"}, *DOCUMENT["experiments"]]}
    source = _source(stub.url)
    assert source.refresh()
    assert source.get("broken") is None and source.get("vec-basic") is not None


def test_background_refresh_picks_up_changes(stub: StubCollector) -> None:
    client = Client("wk", stub.url, sdk_key="wk", definitions_refresh_interval=0.05)
    try:
        assert client.wait_for_definitions(5)
        assert client.get_variant("late", "u1").reason == "unknown_experiment"
        stub.document = {"experiments": [{"key": "late", "status": "running", "variants": AB}]}
        deadline = time.monotonic() + 5
        while client.get_variant("late", "u1", log_exposure=False).reason != "assigned":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        client.shutdown(timeout=2)


def test_get_variant_never_waits_for_the_network(stub: StubCollector) -> None:
    stub.hold.clear()  # the stub keeps the definitions request open until released
    client = Client("wk", stub.url, sdk_key="wk")
    try:
        first = client.get_variant("vec-basic", "user-1", default="fallback")  # starts the background fetch
        assert stub.held.wait(5)  # the fetch is in flight and unanswered
        second = client.get_variant("vec-basic", "user-1", default="fallback")
        for result in (first, second):
            assert (result.variant, result.in_experiment, result.reason) == ("fallback", False, "unknown_experiment")
        assert stub.answered == 0  # both answered while the fetch was still waiting
        stub.hold.set()
        assert client.wait_for_definitions(5)
        assert client.get_variant("vec-basic", "user-1", log_exposure=False).reason == "assigned"
    finally:
        stub.hold.set()
        client.shutdown(timeout=2)


def test_wait_for_definitions_times_out_when_the_collector_is_unreachable(stub: StubCollector) -> None:
    stub.status = 503
    client = Client("wk", stub.url, sdk_key="wk")
    try:
        assert client.wait_for_definitions(0.3) is False
    finally:
        client.shutdown(timeout=2)


def test_definitions_are_fetched_with_the_sdk_key_not_the_write_key(stub: StubCollector) -> None:
    client = Client("wk_public", stub.url, sdk_key="sk")
    try:
        assert client.wait_for_definitions(5)
        assert stub.requests[0]["Authorization"] == "Basic c2s6"  # base64("sk:")
        assert client.get_variant("vec-basic", "user-1", log_exposure=False).reason == "assigned"
    finally:
        client.shutdown(timeout=2)


def test_without_an_sdk_key_nothing_is_fetched_and_one_warning_says_why(
    stub: StubCollector, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client("wk_public", stub.url)
    try:
        with caplog.at_level("WARNING", logger="northstar"):
            results = [client.get_variant("vec-basic", f"user-{n}", default="fallback") for n in range(3)]
        assert [r.variant for r in results] == ["fallback"] * 3
        assert {r.reason for r in results} == {"unknown_experiment"}
        assert client.wait_for_definitions(0.01) is False
        warnings = [r.getMessage() for r in caplog.records if "sdk_key" in r.getMessage()]
        assert len(warnings) == 1 and "local evaluation needs" in warnings[0]
        assert stub.requests == []
    finally:
        client.shutdown(timeout=2)
