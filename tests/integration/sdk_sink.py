"""A loopback stand-in for the collector, for SDK tests: records every request it receives
and answers each as a test scripts it (status, Retry-After, hang, close the connection)."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    gzipped: bool

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body["batch"]

    @property
    def write_key(self) -> str:
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        assert scheme == "Basic"
        user, _, password = base64.b64decode(credentials).decode().partition(":")
        assert password == ""
        return user


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None  # default: the collector's success answer
    hang: bool = False  # never answer (until the sink closes)
    drop_connection_after: bool = False  # close the keep-alive connection without saying so


Script = Callable[[int, Received], Reply]
"""Chooses the reply to the n-th request (0-based)."""


def accept_all(number: int, request: Received) -> Reply:
    return Reply()


class Sink:
    """Thread-safe record of what the SDK sent; `url` is the host to give the client."""

    def __init__(self, script: Script = accept_all) -> None:
        self.script = script
        self.requests: list[Received] = []
        self._lock = threading.Condition()
        self.release = threading.Event()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                gzipped = self.headers.get("Content-Encoding") == "gzip"
                decoded = json.loads(gzip.decompress(raw) if gzipped else raw)
                request = Received(self.path, dict(self.headers), decoded, gzipped)
                with sink._lock:
                    number = len(sink.requests)
                    sink.requests.append(request)
                    sink._lock.notify_all()
                reply = sink.script(number, request)
                if reply.hang:
                    sink.release.wait()
                    self.close_connection = True
                    return
                body = reply.body
                if body is None:
                    body = {"success": True, "accepted": len(request.messages), "rejected": []}
                answer = json.dumps(body).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.close_connection = reply.drop_connection_after

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def messages(self) -> list[dict[str, Any]]:
        """Every message of every request received, in arrival order (retries included)."""
        with self._lock:
            return [message for request in self.requests for message in request.messages]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Received]:
        with self._lock:
            assert self._lock.wait_for(lambda: len(self.requests) >= count, timeout), self.requests
            return list(self.requests)

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def running_sink(script: Script = accept_all) -> Iterator[Sink]:
    sink = Sink(script)
    try:
        yield sink
    finally:
        sink.close()


@contextmanager
def refusing_host() -> Iterator[str]:
    """A 127.0.0.1 URL where connections are refused (the port is bound, never listening)."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{reserved.getsockname()[1]}"


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        time.sleep(0.005)
