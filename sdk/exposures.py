"""Which exposures this process already logged, so each is sent once, in bounded memory."""

from __future__ import annotations

import threading
from collections.abc import Hashable

__all__ = ["ExposureCache"]


class ExposureCache:
    """A thread-safe bounded set: `first` is True the first time a key is seen since it was evicted.

    The oldest key is evicted first (FIFO, so a repeat costs one lock-free dict look-up); an
    evicted key logs again, which is harmless: the analysis keeps each unit's first exposure.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("exposure_cache_size must be positive")
        self._capacity = capacity
        self._seen: dict[Hashable, None] = {}
        self._lock = threading.Lock()

    def first(self, key: Hashable) -> bool:
        if key in self._seen:  # a single dict look-up is atomic: no lock on the common path
            return False
        with self._lock:
            if key in self._seen:
                return False
            self._seen[key] = None
            if len(self._seen) > self._capacity:
                del self._seen[next(iter(self._seen))]
            return True

    def __len__(self) -> int:
        return len(self._seen)
