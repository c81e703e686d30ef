"""Which delivery failures are worth retrying, how long to wait before the next attempt, and the
one retry budget every batch shares while the collector is unreachable."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["delivered", "retry", "too_large", "rejected"]

PROBE_SECONDS = 5.0
"""Once the shared retry budget is spent, one batch is tried this often; the others are dropped."""


def verdict(status: int | None) -> Verdict:
    """What an HTTP status (None: no answer at all) means for the batch.

    2xx: delivered. No answer, 408, 429 and 5xx: transient, retry. 413: the body is over the
    collector's limit, send it in halves. Any other status (400, 401, 403, ...) would fail the
    same way again: rejected.
    """
    if status is None or status in (408, 429) or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    if status == 413:
        return "too_large"
    return "rejected"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter, unless the server said when (Retry-After)."""

    base_seconds: float = 0.25
    cap_seconds: float = 15.0
    uniform: Callable[[], float] = random.random

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        if retry_after is not None:
            return retry_after
        return self.uniform() * min(self.cap_seconds, self.base_seconds * 2.0 ** min(attempt, 30))


class RetryBudget:
    """`seconds` of retrying shared by every batch of one outage, so N queued batches cost at
    most `seconds` (plus one attempt each while it lasts), never N times it.

    The first retryable failure opens an outage; retries of any batch must fit before its
    deadline. Once it is spent the client fails fast: batches are dropped without an attempt,
    except one probe every `probe_seconds`. Any answer that is not a retryable failure closes
    the outage and restores the whole budget. Used by one sender thread at a time.
    """

    def __init__(
        self, seconds: float, *, probe_seconds: float = PROBE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self._probe_seconds = probe_seconds
        self._clock = clock
        self._started: float | None = None  # when the current outage began
        self._next_probe = 0.0

    @property
    def in_outage(self) -> bool:
        return self._started is not None

    @property
    def spent(self) -> bool:
        return self._started is not None and self._clock() >= self._started + self.seconds

    def may_attempt(self) -> bool:
        """Whether a batch should be tried now (False: drop it, the collector is known down)."""
        if not self.spent:
            return True
        now = self._clock()
        if now < self._next_probe:
            return False
        self._next_probe = now + self._probe_seconds
        return True

    def failed(self) -> None:
        """A retryable failure: opens the outage unless one is open."""
        if self._started is None:
            self._started = self._clock()

    def allows_wait(self, delay: float) -> bool:
        """Whether waiting `delay` seconds for a retry stays within the budget."""
        return self._started is None or self._clock() + delay <= self._started + self.seconds

    def answered(self) -> float | None:
        """The collector answered (not a retryable failure): seconds the outage lasted, if one was open."""
        if self._started is None:
            return None
        lasted, self._started, self._next_probe = self._clock() - self._started, None, 0.0
        return lasted
