"""The SDK against a loopback collector that works, refuses, hangs, fails and throttles."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import sdk
from sdk_sink import Received, Reply, refusing_host, running_sink, wait_until

REPO = Path(__file__).resolve().parents[2]


def fast_client(host: str, **options: object) -> sdk.Client:
    """A client with short timers, so failure paths finish within a test's budget."""
    settings: dict[str, object] = {"flush_interval": 0.05, "timeout": 2, "max_retry_seconds": 1}
    settings.update(options)
    return sdk.Client("wk_test", host, **settings)  # type: ignore[arg-type]


def assert_counts_add_up(stats: sdk.Stats) -> None:
    assert stats.enqueued == stats.sent + stats.dropped_total + stats.pending


def test_batches_arrive_gzipped_with_basic_auth_in_order() -> None:
    with running_sink() as sink:
        client = fast_client(sink.url, batch_size=10)
        for n in range(25):
            client.track("user-1", "Signed Up", {"n": n})
        assert client.flush(timeout=10)

        requests = sink.wait_for_requests(3)
        assert [len(r.messages) for r in requests] == [10, 10, 5]
        first = requests[0]
        assert first.path == "/v1/batch"
        assert first.gzipped and first.headers["Content-Encoding"] == "gzip"
        assert first.write_key == "wk_test"
        assert first.headers["User-Agent"] == f"northstar-python/{sdk.VERSION}"
        assert first.body["sentAt"].endswith("+00:00")
        assert [m["properties"]["n"] for m in sink.messages()] == list(range(25))
        assert client.stats().sent == 25 and client.stats().batches == 3
        client.shutdown()


def test_host_path_prefix_and_plain_json_without_gzip() -> None:
    with running_sink() as sink:
        client = fast_client(f"{sink.url}/ingest/", gzip=False)
        client.identify("user-1", {"plan": "pro"})
        assert client.flush(timeout=10)
        (request,) = sink.wait_for_requests(1)
        assert request.path == "/ingest/v1/batch" and not request.gzipped
        client.shutdown()


def test_concurrent_producers_every_event_delivered_exactly_once() -> None:
    threads, per_thread = 8, 1_000
    with running_sink() as sink:
        client = fast_client(sink.url, max_queue_size=threads * per_thread)

        def produce(worker: int) -> None:
            for n in range(per_thread):
                client.track(f"user-{worker}", "Clicked", {"n": n})

        workers = [threading.Thread(target=produce, args=(w,)) for w in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert client.flush(timeout=30)

        messages = sink.messages()
        assert len(messages) == threads * per_thread
        assert len({m["messageId"] for m in messages}) == threads * per_thread
        for worker in range(threads):  # each producer's events keep their order
            mine = [m["properties"]["n"] for m in messages if m["userId"] == f"user-{worker}"]
            assert mine == list(range(per_thread))
        stats = client.stats()
        assert (stats.enqueued, stats.sent, stats.dropped_total, stats.pending) == (8_000, 8_000, 0, 0)
        client.shutdown()


def test_properties_mutated_after_track_are_sent_as_they_were() -> None:
    with running_sink() as sink:
        client = fast_client(sink.url, flush_interval=5)
        properties = {"plan": "pro", "cart": {"items": ["a"]}}
        client.track("user-1", "Checked Out", properties)
        properties["plan"] = "free"
        properties["cart"]["items"].append("b")
        assert client.flush(timeout=10)
        assert sink.messages()[0]["properties"] == {"plan": "pro", "cart": {"items": ["a"]}}
        client.shutdown()


def test_refused_connections_keep_the_queue_bounded_and_counts_exact() -> None:
    with refusing_host() as host:
        client = fast_client(host, max_queue_size=50, batch_size=10, max_retry_seconds=0.3)
        for n in range(2_000):
            assert client.stats().queued <= 50
            client.track("user-1", "Clicked", {"n": n})
            if n % 100 == 0:
                assert_counts_add_up(client.stats())
        assert client.flush(timeout=20)

        stats = client.stats()
        assert stats.enqueued == 2_000 and stats.sent == 0 and stats.pending == 0
        assert stats.dropped["queue_full"] > 0 and stats.dropped["retry_exhausted"] > 0
        assert stats.dropped_total == 2_000
        assert stats.retries > 0
        client.shutdown()


def test_hanging_collector_does_not_block_callers() -> None:
    with running_sink(lambda n, request: Reply(hang=True)) as sink:
        client = fast_client(sink.url, max_queue_size=20, batch_size=5, timeout=0.2, max_retry_seconds=0.5)
        accepted = [client.track("user-1", "Clicked", {"n": n}) for n in range(500)]
        stats = client.stats()
        assert stats.queued <= 20 and stats.dropped["queue_full"] == 500 - sum(accepted)
        assert_counts_add_up(stats)

        assert client.flush(timeout=20)
        stats = client.stats()
        assert stats.sent == 0 and stats.pending == 0
        assert stats.dropped["retry_exhausted"] + stats.dropped["queue_full"] == 500
        assert len(sink.requests) >= 2
        client.shutdown()


def test_server_errors_are_retried_with_the_same_message_ids() -> None:
    def fail_twice(number: int, request: Received) -> Reply:
        return Reply(status=503) if number < 2 else Reply()

    with running_sink(fail_twice) as sink:
        client = fast_client(sink.url, max_retry_seconds=30)
        for n in range(3):
            client.track("user-1", "Clicked", {"n": n})
        assert client.flush(timeout=20)

        requests = sink.wait_for_requests(3)
        ids = [[m["messageId"] for m in r.messages] for r in requests]
        assert ids[0] == ids[1] == ids[2] and len(set(ids[0])) == 3
        stats = client.stats()
        assert (stats.sent, stats.retries, stats.batches, stats.dropped_total) == (3, 2, 1, 0)
        client.shutdown()


def test_429_waits_as_long_as_retry_after_says() -> None:
    arrivals: list[float] = []

    def throttle_once(number: int, request: Received) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(status=429, headers={"Retry-After": "1"}) if number == 0 else Reply()

    with running_sink(throttle_once) as sink:
        client = fast_client(sink.url, max_retry_seconds=10)
        client.track("user-1", "Clicked")
        assert client.flush(timeout=20)
        assert len(sink.requests) == 2
        assert arrivals[1] - arrivals[0] >= 1.0  # a lower bound: never flaky
        assert client.stats().sent == 1
        client.shutdown()


def test_retry_after_beyond_the_retry_budget_gives_up_at_once() -> None:
    errors: list[sdk.NorthstarError] = []
    with running_sink(lambda n, request: Reply(status=429, headers={"Retry-After": "3600"})) as sink:
        client = fast_client(sink.url, max_retry_seconds=5,
                             on_error=lambda error, messages: errors.append(error))
        client.track("user-1", "Clicked")
        assert client.flush(timeout=20)
        assert len(sink.requests) == 1
        assert client.stats().dropped["retry_exhausted"] == 1
        assert [e.reason for e in errors] == ["retry_exhausted"] and errors[0].status == 429
        client.shutdown()


@pytest.mark.parametrize("status", [400, 401, 403])
def test_client_errors_are_not_retried(status: int) -> None:
    reports: list[tuple[sdk.NorthstarError, list[dict]]] = []
    with running_sink(lambda n, request: Reply(status=status, body={"error": "no"})) as sink:
        client = fast_client(sink.url, on_error=lambda error, messages: reports.append((error, messages)))
        client.track("user-1", "Clicked", {"n": 1})
        client.track("user-1", "Clicked", {"n": 2})
        assert client.flush(timeout=10)
        assert len(sink.requests) == 1
        stats = client.stats()
        assert (stats.sent, stats.retries, stats.dropped["rejected"]) == (0, 0, 2)
        ((error, messages),) = reports
        assert error.reason == "rejected" and error.status == status
        assert [m["properties"]["n"] for m in messages] == [1, 2]
        client.shutdown()


def test_events_the_collector_rejects_individually_are_counted_not_retried() -> None:
    def reject_second(number: int, request: Received) -> Reply:
        return Reply(body={"success": True, "accepted": 2, "rejected": [{"index": 1, "reason": "bad event"}]})

    reports: list[tuple[sdk.NorthstarError, list[dict]]] = []
    with running_sink(reject_second) as sink:
        client = fast_client(sink.url, on_error=lambda error, messages: reports.append((error, messages)))
        for n in range(3):
            client.track("user-1", "Clicked", {"n": n})
        assert client.flush(timeout=10)
        assert len(sink.requests) == 1
        stats = client.stats()
        assert (stats.sent, stats.dropped["rejected"], stats.retries) == (2, 1, 0)
        ((error, messages),) = reports
        assert "bad event" in str(error) and [m["properties"]["n"] for m in messages] == [1]
        client.shutdown()


def test_a_stale_keep_alive_connection_is_replaced_without_a_retry() -> None:
    with running_sink(lambda n, request: Reply(drop_connection_after=True)) as sink:
        client = fast_client(sink.url)
        for n in range(3):
            client.track("user-1", "Clicked", {"n": n})
            assert client.flush(timeout=10)
        assert len(sink.messages()) == 3
        assert client.stats().retries == 0
        client.shutdown()


def test_sync_mode_has_sent_when_the_call_returns() -> None:
    with running_sink() as sink:
        client = fast_client(sink.url, sync_mode=True)
        assert client.track("user-1", "Function Invoked")
        assert len(sink.requests) == 1 and client.stats().sent == 1
        client.shutdown()


def test_shutdown_abandons_retries_after_its_timeout() -> None:
    with running_sink(lambda n, request: Reply(status=500)) as sink:
        client = fast_client(sink.url, max_retry_seconds=600)
        for n in range(5):
            client.track("user-1", "Clicked", {"n": n})
        sink.wait_for_requests(1)
        assert not client.shutdown(timeout=0.2)
        wait_until(lambda: client.stats().pending == 0)
        assert client.stats().dropped["shutdown"] == 5
        assert not client.track("user-1", "After Shutdown")
        assert client.stats().dropped["shutdown"] == 6
        assert_counts_add_up(client.stats())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_empty_and_parent_keeps_its_pending_events() -> None:
    with running_sink() as sink:
        client = fast_client(sink.url, flush_interval=60, batch_size=1_000)
        for n in range(10):
            client.track("parent", "Before Fork", {"n": n})
        assert client.stats().queued == 10

        pid = os.fork()
        if pid == 0:  # child: exits with 0 only if it behaved
            ok = False
            try:
                fresh = client.stats()
                client.track("child", "In Child")
                ok = fresh.enqueued == 0 and fresh.queued == 0 and client.flush(timeout=10)
                ok = ok and client.stats().sent == 1
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0

        assert client.flush(timeout=10)
        messages = sink.messages()
        assert sorted(m["userId"] for m in messages) == ["child"] + ["parent"] * 10
        assert len({m["messageId"] for m in messages}) == 11
        assert client.stats().sent == 10
        client.shutdown()


def test_events_pending_at_interpreter_exit_are_sent() -> None:
    with running_sink() as sink:
        program = (
            "import sdk\n"
            f"client = sdk.Client('wk_test', {sink.url!r}, flush_interval=60)\n"
            "client.track('user-1', 'Exited')\n"
        )
        subprocess.run([sys.executable, "-c", program], cwd=REPO, check=True, timeout=30)
        assert [m["event"] for m in sink.messages()] == ["Exited"]
