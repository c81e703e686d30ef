"""Which delivery failures are worth retrying, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["delivered", "retry", "rejected"]


def verdict(status: int | None) -> Verdict:
    """What an HTTP status (None: no answer at all) means for the batch.

    2xx: delivered. No answer, 408, 429 and 5xx: transient, retry. Any other status (400, 401,
    403, 413, ...) would fail the same way again: rejected.
    """
    if status is None or status in (408, 429) or status >= 500:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
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
