"""`sdk.transport.read_response`: the lean HTTP/1.x answer reader the SDK's sender uses."""

from __future__ import annotations

import http.client
import io

import pytest

from sdk.transport import read_response


def answer(raw: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    return read_response(io.BytesIO(raw))


def test_content_length_keep_alive_and_headers() -> None:
    status, headers, body, will_close = answer(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\nnoEXTRA")
    assert (status, headers["retry-after"], body, will_close) == (429, "3", b"no", False)


def test_chunked_bodies_and_trailers() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3;x=y\r\n:1}\r\n0\r\nT: v\r\n\r\n"
    assert answer(raw)[2] == b'{"a":1}'


def test_informational_answers_are_skipped_and_no_content_has_no_body() -> None:
    status, _, body, will_close = answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
    assert (status, body, will_close) == (204, b"", False)


@pytest.mark.parametrize(("raw", "closes"), [
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", True),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", True),
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", False),
    (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", True),  # no length: the body runs to the close
])
def test_when_the_connection_closes_after_the_answer(raw: bytes, closes: bool) -> None:
    assert answer(raw)[3] is closes


@pytest.mark.parametrize("raw", [
    b"",  # the server closed a kept-alive connection: the caller resends once
    b"SSH-2.0-OpenSSH\r\n\r\n",
    b"HTTP/1.1 abc OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_what_is_not_a_whole_http_answer_raises_an_http_exception(raw: bytes) -> None:
    with pytest.raises(http.client.HTTPException):
        answer(raw)


def test_an_empty_answer_counts_as_a_stale_connection() -> None:
    with pytest.raises(http.client.RemoteDisconnected):
        answer(b"")
