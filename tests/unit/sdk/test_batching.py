"""Batch packing, the wire envelope and the retry policy, as pure functions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.batching import ENVELOPE_BYTES, batch_body, split_batches
from sdk.messages import now_iso
from sdk.retry import Backoff, verdict
from sdk.transport import parse_retry_after

MAX_EVENT = 300


def encoded_messages(sizes: list[int]) -> list[bytes]:
    """Distinct JSON messages of (about) the given sizes."""
    return [json.dumps({"n": n, "pad": "x" * size}).encode() for n, size in enumerate(sizes)]


@given(
    sizes=st.lists(st.integers(0, MAX_EVENT - 40), max_size=300),
    max_count=st.integers(1, 120),
    extra_bytes=st.integers(0, 5_000),
)
def test_batches_respect_limits_keep_order_and_hold_every_message_once(
    sizes: list[int], max_count: int, extra_bytes: int
) -> None:
    max_bytes = MAX_EVENT + ENVELOPE_BYTES + extra_bytes
    messages = encoded_messages(sizes)
    batches = split_batches(messages, max_count, max_bytes)

    assert [m for batch in batches for m in batch] == messages
    for batch in batches:
        assert 1 <= len(batch) <= max_count
        body = batch_body(batch, now_iso())
        assert len(body) <= max_bytes
        assert len(json.loads(body)["batch"]) == len(batch)


@given(sizes=st.lists(st.integers(0, 200), min_size=2, max_size=50), max_count=st.integers(1, 60))
def test_a_batch_is_only_cut_when_the_next_message_would_not_fit(sizes: list[int], max_count: int) -> None:
    messages = encoded_messages(sizes)
    max_bytes = max(map(len, messages)) + ENVELOPE_BYTES + 500
    batches = split_batches(messages, max_count, max_bytes)
    for batch, following in zip(batches, batches[1:]):
        grown = batch + following[:1]
        assert len(grown) > max_count or ENVELOPE_BYTES + len(b",".join(grown)) > max_bytes


def test_envelope_carries_sent_at() -> None:
    body = json.loads(batch_body([b'{"type":"track"}'], "2026-01-01T00:00:00.000+00:00"))
    assert body == {"batch": [{"type": "track"}], "sentAt": "2026-01-01T00:00:00.000+00:00"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(200, "delivered"), (204, "delivered"),
     (None, "retry"), (408, "retry"), (429, "retry"), (500, "retry"), (503, "retry"),
     (400, "rejected"), (401, "rejected"), (403, "rejected"), (404, "rejected"), (413, "too_large")],
)
def test_verdict_of_each_status(status: int | None, expected: str) -> None:
    assert verdict(status) == expected


@given(attempt=st.integers(0, 10_000), draw=st.floats(0, 1, exclude_max=True))
def test_backoff_is_full_jitter_under_a_cap(attempt: int, draw: float) -> None:
    backoff = Backoff(base_seconds=0.25, cap_seconds=15, uniform=lambda: draw)
    assert 0 <= backoff.delay(attempt, None) <= min(15, 0.25 * 2 ** min(attempt, 30))


def test_backoff_grows_exponentially_and_honours_retry_after() -> None:
    backoff = Backoff(base_seconds=0.25, cap_seconds=15, uniform=lambda: 1.0)
    assert [backoff.delay(n, None) for n in range(8)] == [0.25, 0.5, 1, 2, 4, 8, 15, 15]
    assert backoff.delay(0, retry_after=7.0) == 7.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    in_a_minute = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    assert 55 <= parse_retry_after(in_a_minute) <= 60
