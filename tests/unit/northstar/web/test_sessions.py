"""Dashboard sessions on a fake clock: random per sign-in, idle and absolute expiry, revoked at sign-out,
bounded in number."""

from __future__ import annotations

import pytest

from northstar.web.sessions import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_SECONDS, SessionStore

from ...fake_clock import FakeClock


def test_every_sign_in_gets_a_new_random_token() -> None:
    store = SessionStore()
    tokens = {store.start() for _ in range(50)}
    assert len(tokens) == 50 and all(len(token) >= 43 for token in tokens)
    assert all(store.touch(token) for token in tokens)
    assert not store.touch("forged") and not store.touch("")


def test_a_session_ends_after_the_idle_time_without_requests() -> None:
    clock = FakeClock()
    store = SessionStore(idle_seconds=60, max_seconds=600, clock=clock)
    token = store.start()
    clock.now = 59
    assert store.touch(token)
    clock.now = 59 + 59  # used within the idle time: still alive
    assert store.touch(token)
    clock.now = 59 + 59 + 60
    assert not store.touch(token)
    clock.now -= 1  # ended for good, not merely rejected that once
    assert not store.touch(token) and len(store) == 0


def test_a_session_ends_at_its_absolute_age_however_busy() -> None:
    clock = FakeClock()
    store = SessionStore(idle_seconds=60, max_seconds=300, clock=clock)
    token = store.start()
    while clock.now < 299:
        assert store.touch(token)
        clock.now += 30
    clock.now = 300
    assert not store.touch(token)


def test_sign_out_revokes_only_that_session() -> None:
    store = SessionStore()
    first, second = store.start(), store.start()
    store.end(first)
    store.end("not-a-session")
    assert not store.touch(first) and store.touch(second)


def test_sessions_are_bounded_and_the_least_recently_used_goes_first() -> None:
    store = SessionStore(max_sessions=3)
    oldest, used, other = store.start(), store.start(), store.start()
    assert store.touch(oldest)  # now the most recent
    newest = store.start()
    assert len(store) == 3 and not store.touch(used)
    assert store.touch(oldest) and store.touch(other) and store.touch(newest)


def test_the_documented_defaults_and_a_refused_configuration() -> None:
    assert (DEFAULT_IDLE_SECONDS, DEFAULT_MAX_SECONDS) == (3600, 12 * 3600)
    with pytest.raises(ValueError, match="idle_seconds"):
        SessionStore(idle_seconds=100, max_seconds=10)
