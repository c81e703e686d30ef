"""A clock the test moves by hand, for code that takes a `clock: Callable[[], float]`."""

from __future__ import annotations


class FakeClock:
    """Returns `now` (seconds) when called; a test sets or advances `now` itself."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
