"""How a batch body leaves the process: HTTP POST to `{host}/v1/batch`, or an in-memory record."""

from __future__ import annotations

import base64
import email.utils
import gzip
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from .version import LIBRARY_NAME, VERSION

USER_AGENT = f"{LIBRARY_NAME}/{VERSION}"

_MAX_LINE = 65_536
_MAX_HEADERS = 100
_MAX_BODY = 1 << 20  # of an answer: enough for the rejections of any batch

# A keep-alive connection the server closed while idle fails like this on its next use.
_STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclass(frozen=True)
class Response:
    """The collector's answer to one POST."""

    status: int | None
    """HTTP status; None when no answer arrived (refused, reset, timed out)."""
    retry_after: float | None = None
    """Seconds the server asked to wait (Retry-After), if any."""
    rejected: tuple[tuple[int, str], ...] = ()
    """(index in the batch, reason) of messages a 2xx answer refused."""
    detail: str = ""


def base_url(host: str) -> str:
    """The collector's base URL, without a trailing slash: ``host:port`` means ``http://host:port``."""
    return (host if "://" in host else f"http://{host}").rstrip("/")


class Transport(Protocol):
    """Where batches go: `post` sends one gzip'd or plain body and never raises for HTTP statuses;
    `begin`/`finish` split a post so the caller can work while the collector answers; `close` is
    idempotent."""

    def post(self, body: bytes) -> Response:
        """Send `body` and return the answer (never raises)."""
        ...

    def begin(self, body: bytes) -> None:
        """Send `body` without waiting for the answer; `finish` returns it (never raises)."""
        ...

    def finish(self) -> Response: ...

    def close(self) -> None: ...


class HttpTransport:
    """POSTs batch bodies over one keep-alive connection. Not thread-safe: one per sender."""

    def __init__(self, host: str, write_key: str, *, gzip: bool = True, timeout: float = 10.0) -> None:
        url = urllib.parse.urlsplit(base_url(host))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"host must be an http(s) URL, got {host!r}")
        self._https = url.scheme == "https"
        self._netloc = url.netloc
        self._path = url.path.rstrip("/") + "/v1/batch"
        self._gzip = gzip
        self._timeout = timeout
        credentials = base64.b64encode(f"{write_key}:".encode()).decode()
        headers = {
            "Host": url.netloc.rpartition("@")[2],
            "Accept-Encoding": "identity",
            "Content-Type": "application/json",
            "Authorization": f"Basic {credentials}",
            "User-Agent": USER_AGENT,
        }
        if gzip:
            headers["Content-Encoding"] = "gzip"
        lines = [f"POST {self._path or '/'} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._connection: http.client.HTTPConnection | None = None
        self._reader: BinaryIO | None = None  # the connection's buffered reader
        self._payload = b""  # of the request `begin` sent
        self._reused = False  # whether it went over a connection an earlier request used
        self._failure: Exception | None = None  # why `begin` could not send it

    def post(self, body: bytes) -> Response:
        """Send once (plus one immediate resend if a reused keep-alive connection was stale)."""
        self.begin(body)
        return self.finish()

    def begin(self, body: bytes) -> None:
        # gzip level 1: a third of level 6's CPU per event, bodies ~6% larger (measured, 100 events)
        self._payload = gzip.compress(body, compresslevel=1, mtime=0) if self._gzip else body
        self._reused = self._connection is not None
        self._failure = None
        try:
            self._send(self._payload)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            self._failure = error

    def finish(self) -> Response:
        payload, self._payload = self._payload, b""
        error = self._failure
        if error is None:
            try:
                return self._receive()
            except (OSError, http.client.HTTPException) as failure:
                self.close()
                error = failure
        if not (self._reused and isinstance(error, _STALE_CONNECTION_ERRORS)):
            return Response(None, detail=repr(error))
        try:  # the server had closed the idle keep-alive connection: resend once on a new one
            self._send(payload)
            return self._receive()
        except (OSError, http.client.HTTPException) as failure:
            self.close()
            return Response(None, detail=repr(failure))

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send(self, payload: bytes) -> None:
        """The whole request in one `sendall`: each blocking call gives up the GIL, and getting it
        back from a busy app thread can take the interpreter's switch interval (5 ms)."""
        connection = self._connection
        if connection is None:
            connection_class = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = self._connection = connection_class(self._netloc, timeout=self._timeout)
            connection.connect()
            self._reader = connection.sock.makefile("rb")
        connection.sock.sendall(b"%b%d\r\n\r\n%b" % (self._head, len(payload), payload))

    def _receive(self) -> Response:
        if self._reader is None:
            raise http.client.NotConnected()
        status, headers, content, will_close = read_response(self._reader)
        if will_close:
            self.close()
        return Response(
            status,
            retry_after=parse_retry_after(headers.get("retry-after")),
            rejected=_rejections(content) if 200 <= status < 300 else (),
            detail=content[:200].decode("utf-8", "replace"),
        )


class RecordingTransport:
    """`send=False`: keeps the messages of every body in `recorded` instead of sending them."""

    def __init__(self, recorded: list[dict[str, Any]]) -> None:
        self.recorded = recorded

    def post(self, body: bytes) -> Response:
        self.recorded.extend(json.loads(body)["batch"])
        return Response(200)

    def begin(self, body: bytes) -> None:
        self.post(body)

    def finish(self) -> Response:
        return Response(200)

    def close(self) -> None:
        pass


def read_response(reader: BinaryIO) -> tuple[int, dict[str, str], bytes, bool]:
    """One HTTP/1.x answer: status, headers (lower-case names), body (at most `_MAX_BODY`
    bytes kept) and whether the connection is closed after it. Content-Length, chunked and
    read-until-close bodies; 1xx answers are skipped. Raises `http.client.HTTPException`
    (or `RemoteDisconnected`) for what is not HTTP.

    http.client's own parser (the email package) cost ~150 µs of CPU per answer, a quarter
    of the consumer's time at 100 events per batch (measured).
    """
    try:
        while True:
            line = reader.readline(_MAX_LINE + 1)
            if not line:
                raise http.client.RemoteDisconnected("the collector closed the connection without an answer")
            version, _, rest = line.decode("latin-1").partition(" ")
            if not version.startswith("HTTP/1.") or len(line) > _MAX_LINE:
                raise http.client.BadStatusLine(repr(line[:100]))
            status = int(rest[:3])
            headers: dict[str, str] = {}
            for _ in range(_MAX_HEADERS):
                header = reader.readline(_MAX_LINE + 1)
                if header in (b"\r\n", b"\n", b""):
                    break
                name, _, value = header.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            else:
                raise http.client.HTTPException("too many headers")
            if not 100 <= status < 200:
                break
        connection = headers.get("connection", "").lower()
        will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        if status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = _read_chunked(reader)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            body = reader.read(min(length, _MAX_BODY))
            if len(body) < min(length, _MAX_BODY):
                raise http.client.IncompleteRead(body)
            will_close = will_close or length > _MAX_BODY
        else:
            body, will_close = reader.read(_MAX_BODY), True
        return status, headers, body, will_close
    except ValueError as error:  # a status, length or chunk size that is not a number
        raise http.client.HTTPException(repr(error)) from error


def _read_chunked(reader: BinaryIO) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk_size := int(reader.readline(_MAX_LINE + 1).split(b";")[0].strip(), 16):
        chunk = reader.read(chunk_size)
        if len(chunk) < chunk_size:
            raise http.client.IncompleteRead(chunk)
        size += chunk_size
        if size <= _MAX_BODY:
            parts.append(chunk)
        reader.readline(_MAX_LINE + 1)  # the chunk's CRLF
    for _ in range(_MAX_HEADERS):  # trailers, up to the empty line
        if reader.readline(_MAX_LINE + 1) in (b"\r\n", b"\n", b""):
            break
    return b"".join(parts)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _rejections(content: bytes) -> tuple[tuple[int, str], ...]:
    """Per-message rejections from a collector's 2xx JSON; anything unparsable means none."""
    try:
        rejected = json.loads(content).get("rejected") or ()
        return tuple((int(entry["index"]), str(entry.get("reason", ""))) for entry in rejected)
    except (ValueError, TypeError, AttributeError, KeyError):
        return ()
