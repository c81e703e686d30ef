"""Connections that hold the server without sending a request: idle sockets, a head or a body
sent a byte at a time. Attackers connect from 127.0.0.2, honest clients from 127.0.0.1, so the
per-client cap shows on the first and not the second. Real collector, real sockets."""

from __future__ import annotations

import contextlib
import json
import resource
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.server_process import CollectorProcess

_ATTACKER = "127.0.0.2"
_IDLE, _SLOW = 1_100, 100
_CAP = 1_150  # over uvicorn's old 1,024 sockets, under the 1,200 attackers: both rules show
_HEAD_TIMEOUT = _BODY_TIMEOUT = 4.0
_PROBE_SECONDS = 2.0
"""What an honest request may take while the attack runs; before the guard, every one was a 503."""


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    extra = ("--max-connections-per-client", str(_CAP),
             "--head-timeout", str(_HEAD_TIMEOUT), "--body-timeout", str(_BODY_TIMEOUT))
    with CollectorProcess(tmp_path_factory.mktemp("guarded"), extra_args=extra) as process:
        yield process


def _ensure_open_files(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _attacker_socket(port: int) -> socket.socket:
    connection = socket.socket()
    connection.bind((_ATTACKER, 0))
    connection.connect(("127.0.0.1", port))
    return connection


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _closed_by_server(connection: socket.socket) -> bytes | None:
    """What the server sent before closing, or None while it keeps the connection open."""
    poller = select.poll()  # select() refuses descriptors past 1,024
    poller.register(connection, select.POLLIN)
    if not poller.poll(0):
        return None
    try:
        return connection.recv(65536) or b"<closed>"
    except ConnectionResetError:
        return b"<reset>"


class _Trickle:
    """Sends one more body byte on every slow connection every 0.25 s, until stopped."""

    def __init__(self, connections: list[socket.socket]) -> None:
        self.connections = connections
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(0.25):
            for connection in self.connections:
                try:
                    connection.send(b" ")
                except OSError:
                    pass


def _probe(url: str, write_key: str) -> list[tuple[str, int, float]]:
    """A batch and /health, each on a connection of its own, as a new client would."""
    user = f"probe-{uuid.uuid4().hex[:8]}"
    batch = {"batch": [{"type": "track", "event": "Probe", "userId": user, "messageId": uuid.uuid4().hex}
                       for _ in range(10)]}
    answers = []
    for method, path, body in (("POST", "/v1/batch", json.dumps(batch).encode()), ("GET", "/health", None)):
        started = time.monotonic()
        response = httpx.request(method, url + path, content=body, auth=(write_key, ""), timeout=10)
        answers.append((path, response.status_code, time.monotonic() - started))
    return answers


def test_idle_and_slow_connections_do_not_stall_other_clients(guarded: CollectorProcess) -> None:
    _ensure_open_files(_IDLE + _SLOW + 512)
    port = guarded.port
    rss_before = _rss_bytes(guarded.pid)
    idle = [_attacker_socket(port) for _ in range(_IDLE)]
    slow = [_attacker_socket(port) for _ in range(_SLOW)]
    for connection in slow:
        with contextlib.suppress(OSError):  # those over the cap are already closed
            connection.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 400000\r\n\r\n{")
    trickle = _Trickle(slow)
    trickle.thread.start()
    attack_started = time.monotonic()
    try:
        probes = [answer for _ in range(5) for answer in _probe(guarded.url, guarded.write_key)]
        assert time.monotonic() - attack_started < _HEAD_TIMEOUT, "too slow to test while the attack holds"
        assert all(status == 200 for _, status, _ in probes), probes
        assert max(seconds for _, _, seconds in probes) < _PROBE_SECONDS, probes
        rss_during = _rss_bytes(guarded.pid)
        assert rss_during - rss_before < 64 << 20, (rss_before, rss_during)

        # Over the per-client cap: closed as soon as accepted; the rest are held.
        refused: list[socket.socket] = []
        while len(refused) < _IDLE + _SLOW - _CAP and time.monotonic() - attack_started < _HEAD_TIMEOUT - 1:
            refused = [c for c in idle + slow if _closed_by_server(c) is not None]
        assert len(refused) == _IDLE + _SLOW - _CAP

        # Past the head timeout every idle connection has its 408; past the body timeout
        # (4 s plus 1 s per 16 KB received: a trickle gains nothing) every slow one.
        time.sleep(_HEAD_TIMEOUT + 1.5 - (time.monotonic() - attack_started))
        answers = [_closed_by_server(c) for c in idle + slow if c not in refused]
        assert all(answer is not None and answer.startswith(b"HTTP/1.1 408") for answer in answers), \
            {answer[:40] if answer else answer for answer in answers}
        metrics = httpx.get(guarded.url + "/metrics").text
        assert 'northstar_requests_refused_total{reason="head_timeout"}' in metrics
        assert 'northstar_requests_refused_total{reason="body_timeout"}' in metrics
        assert f'northstar_requests_refused_total{{reason="per_client_cap"}} {_IDLE + _SLOW - _CAP}.0' in metrics
    finally:
        trickle.stopped.set()
        trickle.thread.join()
        for connection in idle + slow:
            connection.close()


def test_a_head_sent_a_byte_at_a_time_is_cut_off(guarded: CollectorProcess) -> None:
    """Bytes arriving do not extend the head's deadline (they do for a body, by its rate)."""
    connection = socket.create_connection(("127.0.0.1", guarded.port))
    started = time.monotonic()
    answer = None
    try:
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
            answer = _closed_by_server(connection)
            if answer is not None:
                break
            connection.send(bytes([byte]))
            time.sleep(0.1)
    finally:
        connection.close()
    assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < _HEAD_TIMEOUT + 1


def test_a_head_over_its_size_limit_is_a_431(guarded: CollectorProcess) -> None:
    response = httpx.get(guarded.url + "/health", headers={"X-Big": "a" * 70_000})
    assert response.status_code == 431
    assert "request head over" in response.json()["error"]


def test_an_honest_slow_upload_finishes(guarded: CollectorProcess) -> None:
    """Each 16 KB received buys a second: a 200 KB body sent over 4.5 s (past the 4 s timeout) is read."""
    user = f"slow-upload-{uuid.uuid4().hex[:8]}"
    events = [{"type": "track", "event": "Slow", "userId": user, "messageId": uuid.uuid4().hex,
               "properties": {"pad": "x" * 2000}} for _ in range(100)]
    body = json.dumps({"batch": events}).encode()

    def chunks() -> Iterator[bytes]:
        step = len(body) // 9 + 1
        for start in range(0, len(body), step):
            time.sleep(0.5)
            yield body[start:start + step]

    response = httpx.post(guarded.url + "/v1/batch", content=chunks(), auth=(guarded.write_key, ""),
                          headers={"Content-Length": str(len(body)), "Content-Type": "application/json"},
                          timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 100
