"""The Client as an app uses it, with `send=False`: validation, counting, never raising."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sdk
from sdk.buffer import Buffer
from sdk.messages import Captured


class Reports:
    """An `on_error` hook that remembers what it was told."""

    def __init__(self) -> None:
        self.errors: list[sdk.NorthstarError] = []
        self.messages: list[list[dict[str, Any]]] = []

    def __call__(self, error: sdk.NorthstarError, messages: list[dict[str, Any]]) -> None:
        self.errors.append(error)
        self.messages.append(messages)


def recording_client(**options: Any) -> sdk.Client:
    return sdk.Client("wk_test", send=False, **options)


def test_recorded_messages_let_apps_assert_what_they_track() -> None:
    client = recording_client()
    assert client.track("user-1", "Signed Up", {"plan": "pro"})
    assert client.identify("user-1", {"email": "a@example.com"})
    assert [m["type"] for m in client.recorded] == ["track", "identify"]
    stats = client.stats()
    assert (stats.enqueued, stats.sent, stats.pending, stats.dropped_total) == (2, 2, 0, 0)


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda c: c.track(event="No One"), "requires user_id or anonymous_id"),
        (lambda c: c.track("u"), "requires event"),
        (lambda c: c.track("u", ""), "non-empty"),
        (lambda c: c.track("u", 42), "non-empty string"),
        (lambda c: c.track("u", "E", ["not", "a", "dict"]), "expected a dict"),
        (lambda c: c.track("u", "E", timestamp="yesterday"), "timestamp must be a datetime"),
        (lambda c: c.track("u", "E", message_id=""), "message_id"),
        (lambda c: c.alias("anon", None), "alias requires user_id"),
        (lambda c: c.alias(None, "u"), "requires previous_id"),
        (lambda c: c.group("u"), "requires group_id"),
        (lambda c: c.page("u", 3), "name must be a non-empty string"),
    ],
)
def test_invalid_calls_are_reported_counted_and_never_raise(
    call: Any, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    reports = Reports()
    client = recording_client(on_error=reports)
    with caplog.at_level(logging.WARNING, logger="northstar"):
        assert call(client) is False
    assert client.recorded == []
    assert client.stats().dropped["invalid"] == 1 and client.stats().enqueued == 1
    (error,) = reports.errors
    assert error.reason == "invalid" and problem in str(error)
    assert problem in caplog.text


def test_values_that_cannot_even_be_captured_are_invalid() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no")

    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    client = recording_client()
    assert not client.track("u", "E", {"nested": {"odd": Unprintable()}})
    assert not client.track("u", "E", {"cycle": cyclic})
    assert not client.track(Unprintable(), "E")
    assert client.stats().dropped["invalid"] == 3


@settings(max_examples=200)
@given(st.lists(st.none() | st.integers() | st.text() | st.floats() | st.binary()
                | st.dictionaries(st.text(), st.integers()) | st.lists(st.integers()), max_size=4))
def test_no_combination_of_arguments_raises(arguments: list[Any]) -> None:
    client = recording_client()
    for method in (client.track, client.identify, client.alias, client.group, client.page, client.screen):
        try:
            result = method(*arguments)
        except TypeError as error:  # wrong arity is Python's own check, before our code runs
            assert "positional argument" in str(error)
            continue
        assert isinstance(result, bool)
    stats = client.stats()
    assert stats.enqueued == stats.sent + stats.dropped_total


def test_messages_over_max_event_bytes_are_dropped_as_too_large() -> None:
    reports = Reports()
    client = recording_client(max_event_bytes=1_000, on_error=reports)
    assert client.track("u", "Big", {"blob": "x" * 2_000})  # accepted; dropped once serialised
    assert client.track("u", "Small")
    assert [m["event"] for m in client.recorded] == ["Small"]
    assert client.stats().dropped["too_large"] == 1
    assert reports.errors[0].reason == "too_large" and reports.messages[0][0]["event"] == "Big"


def test_a_failing_on_error_hook_does_not_reach_the_app() -> None:
    def broken_hook(error: sdk.NorthstarError, messages: list[dict[str, Any]]) -> None:
        raise RuntimeError("hook bug")

    client = recording_client(on_error=broken_hook)
    assert client.track(event="No One") is False


def test_disabled_client_does_nothing() -> None:
    client = sdk.Client("", disabled=True)
    assert client.track("u", "E") is False
    assert client.track(event="invalid too") is False
    assert client.flush() and client.shutdown()
    assert client.recorded == [] and client.stats().enqueued == 0


@pytest.mark.parametrize(
    "options",
    [{"batch_size": 0}, {"max_queue_size": 0}, {"max_event_bytes": 600_000}, {"flush_interval": 0},
     {"host": "ftp://example.com"}],
)
def test_invalid_configuration_fails_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sdk.Client("wk_test", **options)


def test_a_write_key_is_required_to_send() -> None:
    with pytest.raises(ValueError):
        sdk.Client("")


def test_counts_are_exact_with_concurrent_producers() -> None:
    client = recording_client()
    barrier = threading.Barrier(8)

    def produce() -> None:
        barrier.wait()
        for n in range(300):
            client.track("u", "E", {"n": n})
            client.track(event="invalid")

    threads = [threading.Thread(target=produce) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = client.stats()
    assert (stats.enqueued, stats.sent, stats.dropped["invalid"]) == (4_800, 2_400, 2_400)
    assert len(client.recorded) == 2_400 and stats.batches == 2_400


def test_the_buffer_never_exceeds_its_bound_and_loses_nothing_uncounted() -> None:
    buffer = Buffer(max_size=100, batch_size=10)
    call = Captured("track", "u", None, "E", None, None, 0.0, None, None)
    done = threading.Event()
    taken: list[int] = []

    def consume() -> None:
        while not done.is_set() or buffer.stats().queued:
            calls = buffer.take(0.001) or []
            taken.append(len(calls))
            buffer.resolve(sent=len(calls))

    def produce() -> None:
        for _ in range(5_000):
            buffer.offer(call)
            assert buffer.stats().queued <= 100

    consumer = threading.Thread(target=consume)
    consumer.start()
    producers = [threading.Thread(target=produce) for _ in range(4)]
    for producer in producers:
        producer.start()
    for producer in producers:
        producer.join()
    done.set()
    consumer.join()
    stats = buffer.stats()
    assert stats.enqueued == 20_000 == stats.sent + stats.dropped["queue_full"]
    assert stats.sent == sum(taken) and max(taken) <= 10


def test_module_level_functions_use_the_configured_default_client() -> None:
    client = sdk.configure("wk_test", send=False)
    try:
        assert sdk.track("user-1", "Signed Up", {"plan": "pro"})
        assert sdk.identify("user-1", {"plan": "pro"})
        assert sdk.flush()
        assert [m["type"] for m in client.recorded] == ["track", "identify"]
    finally:
        sdk.configure("", disabled=True)


def test_public_api_includes_variant_assignment() -> None:
    assert {"Client", "configure", "track", "flush", "bucket", "assign_variant"} <= set(sdk.__all__)
    assert 0 <= sdk.bucket("salt", "user-1") < 1


def test_an_unreferenced_client_is_collected_and_its_thread_ends() -> None:
    client = sdk.Client("wk_test", "http://127.0.0.1:9", flush_interval=0.01, max_retry_seconds=0)
    client.track("u", "E")
    (thread,) = client._consumer._threads
    reference = weakref.ref(client)
    del client
    gc.collect()
    assert reference() is None
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_survey_response_is_a_documented_track_event() -> None:
    client = recording_client()
    assert client.survey_response("user-1", "nps-q4", score=9, answer="Fast and clear", question="Recommend us?")
    assert client.survey_response("user-2", "nps-q4", score=3)
    first, second = client.recorded
    assert (first["type"], first["event"], first["userId"]) == ("track", sdk.wire.SURVEY_EVENT, "user-1")
    assert first["properties"] == {"survey": "nps-q4", "score": 9, "answer": "Fast and clear",
                                   "question": "Recommend us?"}
    assert second["properties"] == {"survey": "nps-q4", "score": 3}


def test_a_bad_survey_response_is_reported_never_raised() -> None:
    reports = Reports()
    client = recording_client(on_error=reports)
    assert not client.survey_response(None, "nps-q4", score=9)
    assert not client.survey_response("u", "nps", properties=42)  # type: ignore[arg-type]
    assert [error.reason for error in reports.errors] == ["invalid", "invalid"]
