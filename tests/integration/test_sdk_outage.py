"""The SDK during a collector outage: one shared retry budget, bounded shutdown and exit,
rate-limited retry logs, and 413 answered by splitting the batch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import sdk
from sdk_sink import Received, Reply, refusing_host, running_sink

REPO = Path(__file__).resolve().parents[2]


def test_shutdown_with_the_collector_down_resolves_a_full_queue_within_one_budget() -> None:
    with refusing_host() as host:
        client = sdk.Client("wk_test", host, max_queue_size=10_000, batch_size=100, max_retry_seconds=0.5)
        for n in range(10_000):
            client.track("user-1", "Clicked", {"n": n})
        # 100 batches with a budget each would take 100 x 0.5 s: far past shutdown's default.
        assert client.shutdown()
        stats = client.stats()
        assert stats.dropped["retry_exhausted"] == 10_000 and stats.pending == 0
        assert stats.retries < 100  # retries happen within the one budget, not per batch


def test_retries_during_an_outage_are_logged_once_and_the_recovery_too(caplog: pytest.LogCaptureFixture) -> None:
    def fail_three(number: int, request: Received) -> Reply:
        return Reply(status=503) if number < 3 else Reply()

    with running_sink(fail_three) as sink, caplog.at_level("WARNING", logger="northstar"):
        client = sdk.Client("wk_test", sink.url, flush_interval=0.05, max_retry_seconds=30)
        client.track("user-1", "Clicked")
        assert client.flush(timeout=30)
        client.shutdown()
    lines = [record.getMessage() for record in caplog.records]
    assert client.stats().retries == 3 and client.stats().sent == 1
    assert len([line for line in lines if "retrying" in line]) == 1, lines
    assert len([line for line in lines if "answers again" in line]) == 1, lines


def test_a_batch_answered_413_is_split_until_only_the_oversized_event_is_dropped() -> None:
    def too_big(request: Received) -> bool:
        return len(request.messages) > 3 or any("blob" in m["properties"] for m in request.messages)

    def limit(number: int, request: Received) -> Reply:
        return Reply(status=413, body={"error": "too large"}) if too_big(request) else Reply()

    errors: list[tuple[sdk.NorthstarError, list[dict]]] = []
    with running_sink(limit) as sink:
        client = sdk.Client("wk_test", sink.url, flush_interval=60, on_error=lambda e, m: errors.append((e, m)))
        for n in range(10):
            client.track("user-1", "Clicked", {"n": n, **({"blob": "x" * 1000} if n == 6 else {})})
        assert client.flush()
        delivered = [m["properties"]["n"] for r in sink.requests if not too_big(r) for m in r.messages]
        client.shutdown()
    assert delivered == [0, 1, 2, 3, 4, 5, 7, 8, 9]
    stats = client.stats()
    assert (stats.sent, stats.dropped["too_large"], stats.dropped["rejected"]) == (9, 1, 0)
    ((error, messages),) = errors
    assert error.reason == "too_large" and error.status == 413 and messages[0]["properties"]["n"] == 6


def test_app_exit_with_the_collector_hanging_takes_about_two_seconds() -> None:
    with running_sink(lambda n, request: Reply(hang=True)) as sink:
        program = (
            "import sdk\n"
            f"client = sdk.Client('wk_test', {sink.url!r}, timeout=30)\n"
            "for n in range(10_000):\n"
            "    client.track('user-1', 'Exited', {'n': n})\n"
        )
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", program], cwd=REPO, check=True, timeout=60)
        elapsed = time.monotonic() - started
    assert elapsed < 8, elapsed  # sdk.client.EXIT_TIMEOUT is 2 s; it used to wait the 30 s HTTP timeout
