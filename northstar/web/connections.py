"""What one TCP connection may hold: a deadline for its request head and body, a per-client cap.

uvicorn times out only the idle gap after a response (`timeout_keep_alive`): a connection
that never sends a byte, sends its head a byte at a time, or trickles its body is held for
ever, and its `limit_concurrency` counts sockets, so 1,030 such connections made every
request, `/health` included, a 503 (measured). This protocol adds, per connection:

- the request head (request line and headers) must arrive within `head_timeout_seconds` of
  the connection opening, or of the first byte after the previous response: else a 408 and
  the connection is closed; a head over `max_head_bytes` is a 431 and closed;
- the body must arrive within `body_timeout_seconds` of the head, extended by one second per
  `body_min_bytes_per_second` received (Apache's mod_reqtimeout rule: a slow honest upload
  finishes, a trickle does not); while the application is not reading (flow control) the
  clock does not run against the client; past it, a 408 if no response was started, and the
  connection is closed (the application sees a client disconnect);
- at most `max_connections_per_client` connections per client IP address (0: no cap); one
  over it is closed as soon as it is accepted, before anything of it is read.

One timer per connection, re-armed only when it fires: a request costs no timer calls.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Literal

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from collector.settings import ConnectionLimits

__all__ = ["Refusal", "guarded_protocol"]

Refusal = Literal["per_client_cap", "head_timeout", "head_too_large", "body_timeout"]
"""Why a connection was closed by the guard: the `reason` label of `northstar_requests_refused_total`."""


_STATUS_LINES = {
    408: b"HTTP/1.1 408 Request Timeout\r\n",
    431: b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
}


def guarded_protocol(limits: ConnectionLimits, on_refused: Callable[[Refusal], None]) -> type[HttpToolsProtocol]:
    """An httptools protocol class enforcing `limits` for one server; `on_refused` counts each refusal.

    The connection counts per client live in the returned class: build one per server.
    """
    per_client: Counter[str] = Counter()
    cap = limits.max_connections_per_client

    class GuardedProtocol(HttpToolsProtocol):
        _phase: Literal["head", "body"] | None = None
        _deadline = 0.0
        _timer: asyncio.TimerHandle | None = None
        _head_bytes = 0
        _client_ip: str | None = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if cap and self.client:
                ip = self.client[0]
                if per_client[ip] >= cap:
                    on_refused("per_client_cap")
                    self._refused = True
                    transport.close()
                    return
                per_client[ip] += 1
                self._client_ip = ip
            self._expect_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._client_ip is not None:
                per_client[self._client_ip] -= 1
                if not per_client[self._client_ip]:
                    del per_client[self._client_ip]
                self._client_ip = None
            self._phase = None
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            if self._phase is None and (self.cycle is None or self.cycle.response_complete):
                self._expect_head()  # bytes between requests (even bare CRLFs) start the head clock
            super().data_received(data)

        def on_message_begin(self) -> None:
            if self._phase is None:  # a pipelined request, begun while the previous one runs
                self._expect_head()
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value))
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            if self._refused:  # the rest of the chunk being parsed: start no application
                return
            self._phase = "body"
            self._deadline = self.loop.time() + limits.body_timeout_seconds
            super().on_headers_complete()

        def on_body(self, body: bytes) -> None:
            if self._refused:
                return
            self._deadline += len(body) / limits.body_min_bytes_per_second
            super().on_body(body)

        def on_message_complete(self) -> None:
            if self._refused:
                return
            self._phase = None
            super().on_message_complete()

        def _expect_head(self) -> None:
            self._phase = "head"
            self._head_bytes = 0
            self._deadline = self.loop.time() + limits.head_timeout_seconds
            if self._timer is None:
                self._timer = self.loop.call_at(self._deadline, self._check_deadline)

        def _count_head(self, size: int) -> None:
            self._head_bytes += size
            if self._head_bytes > limits.max_head_bytes and not self._refused:
                on_refused("head_too_large")
                self._refuse(431, f"request head over {limits.max_head_bytes} bytes")

        def _check_deadline(self) -> None:
            self._timer = None
            if self._phase is None or self.transport.is_closing():
                return
            now = self.loop.time()
            if self._phase == "body" and self.flow.read_paused:
                self._deadline = max(self._deadline, now + limits.body_timeout_seconds)
            if now < self._deadline:
                self._timer = self.loop.call_at(self._deadline, self._check_deadline)
                return
            if self._phase == "head":
                on_refused("head_timeout")
                self._refuse(408, f"request head not received within {limits.head_timeout_seconds:g} s")
            else:
                on_refused("body_timeout")
                if self.cycle is not None and not self.cycle.response_started:
                    # The application's receive() now sees a disconnect, its answer is not sent.
                    self.cycle.response_complete = self.cycle.disconnected = True
                    self._refuse(408, "request body not received in time (at least "
                                      f"{limits.body_min_bytes_per_second} bytes/s after "
                                      f"{limits.body_timeout_seconds:g} s)")
                else:
                    self.transport.close()

        def _refuse(self, status: int, reason: str) -> None:
            """Answer `status` with `reason` as a JSON error and close the connection."""
            self._refused = True
            body = msgspec.json.encode({"success": False, "error": reason})
            self.transport.write(b"".join([
                _STATUS_LINES[status],
                b"content-type: application/json\r\n",
                b"content-length: %d\r\n" % len(body),
                b"connection: close\r\n\r\n",
                body,
            ]))
            self.transport.close()

    return GuardedProtocol
