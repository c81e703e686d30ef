"""The guess throttle's rule on a fake clock: a burst of refusals, then blocks that double up to a cap,
per client address; correct secrets never count, and nobody is blocked for good."""

from __future__ import annotations

import pytest

from northstar.web.throttle import GuessThrottle, client_address

from ...fake_clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1000.0)


def _throttle(clock: FakeClock, **options: float) -> GuessThrottle:
    return GuessThrottle(burst=5, refill_seconds=3.0, max_block_seconds=60.0, clock=clock, **options)


def test_a_burst_of_refusals_is_free_then_blocks_double_up_to_the_cap(clock: FakeClock) -> None:
    throttle = _throttle(clock)
    assert [throttle.refused("a") for _ in range(5)] == [0.0] * 5
    assert throttle.retry_after("a") == 0.0
    blocks = []
    while len(blocks) < 9:
        block = throttle.refused("a")
        assert throttle.retry_after("a") == block
        if block:  # refills during a block may buy a free guess in between
            blocks.append(block)
            clock.now += block  # the attacker retries exactly when told
            assert throttle.retry_after("a") == 0.0
    assert blocks == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]


def test_in_the_long_run_about_one_guess_per_refill_and_block_is_checked(clock: FakeClock) -> None:
    throttle = _throttle(clock)
    checked, hour = 0, 3600.0
    while clock.now < 1000.0 + hour:  # an attacker asking ten times a second for an hour
        if throttle.retry_after("a") == 0.0:
            checked += 1
            throttle.refused("a")
        clock.now += 0.1
    assert checked <= 5 + hour / 3.0 + 7 + hour / 60.0  # 36,000 asked


def test_addresses_are_independent_and_a_full_bucket_resets_the_backoff(clock: FakeClock) -> None:
    throttle = _throttle(clock)
    for _ in range(8):
        throttle.refused("attacker")
    assert throttle.retry_after("attacker") > 0
    assert throttle.retry_after("admin") == 0.0 and throttle.refused("admin") == 0.0
    clock.now += 60 + 5 * 3.0 + 1  # quiet for the longest block and a whole refill
    assert throttle.retry_after("attacker") == 0.0
    assert [throttle.refused("attacker") for _ in range(5)] == [0.0] * 5
    assert throttle.refused("attacker") == 1.0  # the backoff starts over


def test_remembered_addresses_are_bounded(clock: FakeClock) -> None:
    throttle = _throttle(clock, max_addresses=100)
    for n in range(1000):
        throttle.refused(f"10.0.{n // 256}.{n % 256}")
    assert len(throttle._buckets) == 100


@pytest.mark.parametrize(("host", "key"), [
    ("127.0.0.2", "127.0.0.2"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
    ("::ffff:10.1.2.3", "10.1.2.3"),
    (None, "unknown"),
    ("testclient", "testclient"),
])
def test_guesses_count_per_ipv4_address_or_ipv6_64_network(host: str | None, key: str) -> None:
    assert client_address(host) == key
