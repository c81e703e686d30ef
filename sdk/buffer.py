"""The bounded, counted hand-off between app threads and the consumer.

Every counter changes under the same lock as the queue, so `stats()` is exact under any
concurrency and `enqueued + recovered == sent + dropped + queued + in_flight` holds at every
instant (`recovered`: messages found in the spool of an earlier process).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from .counters import DROP_REASONS, DropReason, Stats
from .messages import Captured


class Drop(NamedTuple):
    """A submitted call the buffer refused; `report` is False for repeats within an episode."""

    reason: DropReason
    report: bool


_DROPS = {
    (reason, report): Drop(reason, report) for reason in ("queue_full", "shutdown") for report in (True, False)
}


class Buffer:
    """A FIFO of captured calls holding at most `max_size`; never blocks a producer."""

    def __init__(self, max_size: int, batch_size: int) -> None:
        self._capacity = max_size  # 0 once closed
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # the consumer waits for work here
        self._progress = threading.Condition(self._lock)  # flush() waits for resolutions here
        self._queue: deque[Captured] = deque()
        self._closed = False
        self._drop_reported = False
        self._accepted = 0  # entered the queue, or went straight to delivery
        self._refused = 0  # dropped when submitted
        self._taken = 0  # left the queue for delivery
        self._resolved = 0  # of the accepted: sent or dropped
        self._flush_upto = 0  # a flush waits until this many accepted messages are resolved
        self._sent = 0
        self._batches = 0
        self._retries = 0
        self._spooled = 0
        self._recovered = 0
        self._dropped = dict.fromkeys(DROP_REASONS, 0)

    def offer(self, call: Captured) -> Drop | None:
        """Queue `call`, or count it dropped and say why.

        A drop is marked for reporting once per episode (until the consumer takes again), so
        an outage costs the app one report, not one per call.
        """
        self._lock.acquire()  # not `with`: this is the app's hot path and `with` costs twice as much
        try:
            queue = self._queue
            if len(queue) < self._capacity:
                queue.append(call)
                self._accepted += 1
                if len(queue) == self._batch_size:
                    self._ready.notify()
                return None
            reason: DropReason = "shutdown" if self._closed else "queue_full"
            self._refused += 1
            self._dropped[reason] += 1
            report = not self._drop_reported
            self._drop_reported = True
            return _DROPS[reason, report]
        finally:
            self._lock.release()

    def reject(self, reason: DropReason) -> None:
        """Count a submitted call that never entered the queue."""
        with self._lock:
            self._refused += 1
            self._dropped[reason] += 1

    def admit_direct(self) -> Drop | None:
        """Count a call its own thread delivers (sync mode) as submitted and in flight, unless
        the buffer is closed: then it is counted dropped."""
        with self._lock:
            if self._closed:
                self._refused += 1
                self._dropped["shutdown"] += 1
                return _DROPS["shutdown", True]
            self._accepted += 1
            self._taken += 1
            return None

    def take(self, wait_seconds: float) -> list[Captured] | None:
        """Up to a batch of calls for the consumer, oldest first.

        Waits up to `wait_seconds` unless a full batch, a flush or a close is already pending;
        may return an empty list. None means closed and drained: the consumer should stop.
        """
        with self._lock:
            if not self._has_urgent_work():
                self._ready.wait(wait_seconds)
            queue = self._queue
            if not queue:
                return None if self._closed else []
            count = min(self._batch_size, len(queue))
            calls = [queue.popleft() for _ in range(count)]
            self._taken += count
            self._drop_reported = False
            return calls

    def take_ready(self) -> list[Captured] | None:
        """A full batch if one is queued (or everything, if a flush or a close waits), else an
        empty list; never waits. None means closed and drained."""
        with self._lock:
            if not self._queue:
                return None if self._closed else []
            if not self._has_urgent_work():
                return []
            count = min(self._batch_size, len(self._queue))
            calls = [self._queue.popleft() for _ in range(count)]
            self._taken += count
            self._drop_reported = False
            return calls

    def resolve(
        self, *, sent: int = 0, dropped: Mapping[DropReason, int] = MappingProxyType({}), batches: int = 0
    ) -> None:
        """Record the outcome of in-flight messages and wake flushes waiting for them."""
        with self._lock:
            self._sent += sent
            self._batches += batches
            for reason, count in dropped.items():
                self._dropped[reason] += count
            self._resolved += sent + sum(dropped.values())
            self._progress.notify_all()

    def count_retry(self) -> None:
        with self._lock:
            self._retries += 1

    def count_spooled(self, count: int) -> None:
        with self._lock:
            self._spooled += count

    def recover(self, count: int) -> None:
        """Count messages of an earlier process's spool as in flight in this one."""
        with self._lock:
            self._recovered += count
            self._taken += count

    def flush_waiting(self) -> bool:
        """Whether a `flush()` waits for messages not yet resolved (no lock: a hint for the sender)."""
        return self._resolved < self._flush_upto

    def abandon_in_flight(self, reason: DropReason) -> int:
        """Count every message still in flight dropped (its sender stopped); returns how many."""
        with self._lock:
            count = self._taken - self._resolved
            self._dropped[reason] += count
            self._resolved += count
            self._progress.notify_all()
            return count

    def flush(self, timeout: float | None, wake: Callable[[], None] | None = None) -> bool:
        """Wait until everything accepted so far is resolved; False if `timeout` ran out first.

        `wake` is called once the flush is visible (`flush_waiting`), without the lock held.
        """
        with self._lock:
            target = self._accepted + self._recovered
            if self._flush_upto < target:
                self._flush_upto = target
                self._ready.notify()
        if wake is not None:
            wake()
        with self._lock:
            return self._progress.wait_for(lambda: self._resolved >= target, timeout)

    def close(self) -> None:
        """Accept nothing more; the consumer drains what is queued without waiting, then stops."""
        with self._lock:
            self._closed = True
            self._capacity = 0
            self._ready.notify()

    def stats(self) -> Stats:
        with self._lock:
            return Stats(
                enqueued=self._accepted + self._refused,
                sent=self._sent,
                batches=self._batches,
                retries=self._retries,
                spooled=self._spooled,
                recovered=self._recovered,
                queued=len(self._queue),
                in_flight=self._taken - self._resolved,
                dropped=MappingProxyType(dict(self._dropped)),
            )

    def _has_urgent_work(self) -> bool:
        return len(self._queue) >= self._batch_size or self._taken < self._flush_upto or self._closed
