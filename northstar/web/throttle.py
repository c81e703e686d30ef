"""Throttling secret guesses per client address: a token bucket of failures, then exponential backoff.

The rule, for every secret a request presents (the admin secret as a bearer token, on the
login form or as `?token=`, and SDK keys; the public write key is no secret):

- Only refused secrets count; a correct one never does.
- Each client address (an IPv4 address; an IPv6 /64 network, what one host usually holds)
  may be refused `burst` times (20) in a row; the bucket refills by one every
  `refill_seconds` (3 s).
- A refusal that finds the bucket empty blocks the address for 1 s, doubling with each
  further such refusal, at most `max_block_seconds` (60 s). The backoff starts over at 1 s
  only once the address has sent no refused secret for a whole block plus a whole refill
  (60 s + 20 × 3 s at most), so in the long run about 21 guesses a minute are checked
  (one per refill, one per block) however fast an address asks.
- While blocked, a request from the address that presents a secret is answered 429 with
  `Retry-After`, without the secret being checked (a right guess then learns nothing).

Blocking is per address: guesses from one address never block another, so an attacker can
lock the admin out only from the admin's own address (a shared NAT or proxy), and only while
they keep guessing: an address is free again at most 60 s after its last refused guess.
State is bounded: at most `max_addresses` addresses are remembered (least recently refused
dropped first). Not thread-safe: call it from the event loop only.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["GuessThrottle", "client_address"]


def client_address(host: str | None) -> str:
    """The key a client's guesses are counted under: its IPv4 address, or its IPv6 /64 network."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Bucket:
    tokens: float
    updated: float
    block_seconds: float = 0.0
    blocked_until: float = 0.0


@dataclass(eq=False, kw_only=True)
class GuessThrottle:
    """Refused secrets per client address (see the module docstring for the rule)."""

    burst: int = 20
    refill_seconds: float = 3.0
    max_block_seconds: float = 60.0
    max_addresses: int = 65_536
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, _Bucket] = field(default_factory=OrderedDict, init=False, repr=False)

    def retry_after(self, address: str) -> float:
        """Seconds `address` is still blocked for; 0.0 when its secrets may be checked."""
        bucket = self._buckets.get(address)
        return 0.0 if bucket is None else max(0.0, bucket.blocked_until - self.clock())

    def refused(self, address: str) -> float:
        """Record one refused secret from `address`; returns the seconds it is now blocked (0.0: not)."""
        now = self.clock()
        bucket = self._buckets.pop(address, None)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
        quiet = now - bucket.updated
        if quiet > bucket.block_seconds + self.burst * self.refill_seconds:
            bucket.block_seconds = 0.0
        bucket.tokens = min(float(self.burst), bucket.tokens + quiet / self.refill_seconds)
        bucket.updated = now
        self._buckets[address] = bucket
        while len(self._buckets) > self.max_addresses:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        bucket.block_seconds = min(self.max_block_seconds, 2 * bucket.block_seconds or 1.0)
        bucket.blocked_until = now + bucket.block_seconds
        return bucket.block_seconds
