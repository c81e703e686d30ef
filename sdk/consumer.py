"""A client's per-process delivery machinery: the bounded buffer and the consumer thread that
drains it, or, in sync mode, delivery in the calling thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .buffer import Buffer, Drop
from .delivery import Delivery
from .errors import logger
from .messages import Captured
from .stats import Stats

DeliveryFactory = Callable[[Buffer, threading.Event], Delivery]


class Consumer:
    """Owns the buffer and the single thread that sends its batches, started on first use.

    After a fork, `reset_after_fork` gives the child a fresh empty buffer, counters and
    connection; the parent keeps (and sends) what it had queued.
    """

    def __init__(
        self,
        make_delivery: DeliveryFactory,
        *,
        max_queue_size: int,
        batch_size: int,
        flush_interval: float,
        sync: bool,
    ) -> None:
        self._make_delivery = make_delivery
        self._max_queue_size = max_queue_size
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._sync = sync
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """(Re)create every per-process resource; the thread starts on the next submit."""
        self.buffer = Buffer(self._max_queue_size, self._batch_size)
        self._stop = threading.Event()
        self._delivery = self._make_delivery(self.buffer, self._stop)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # guards the lazy thread start; in sync mode, the transport

    def submit(self, call: Captured) -> Drop | None:
        """Hand `call` over for delivery; None if accepted, else why it was dropped."""
        if self._sync:
            return self._deliver_in_caller(call)
        if self._thread is None:
            self._start_thread()
        return self.buffer.offer(call)

    def flush(self, timeout: float | None) -> bool:
        if self._thread is not None and threading.current_thread() is self._thread:
            return False  # called from on_error inside the consumer: waiting would deadlock
        return self.buffer.flush(timeout)

    def shutdown(self, timeout: float | None) -> bool:
        """Send what is queued, then stop. After `timeout`, abandon retries and drop the rest."""
        self.buffer.close()
        thread = self._thread
        if thread is None:  # never used, or sync mode
            with self._lock:
                self._delivery.close()
            return True
        if threading.current_thread() is thread:
            return False
        thread.join(timeout)
        if thread.is_alive():
            self._stop.set()
            return False
        return True

    def stop_accepting(self) -> None:
        """Accept nothing more; the thread sends what is queued, then exits (client collected)."""
        self.buffer.close()

    def stats(self) -> Stats:
        return self.buffer.stats()

    def _deliver_in_caller(self, call: Captured) -> Drop | None:
        drop = self.buffer.admit_direct()
        if drop is None:
            with self._lock:
                self._delivery.deliver([call])
        return drop

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="northstar-consumer", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        buffer, delivery = self.buffer, self._delivery
        try:
            while (calls := buffer.take(self._flush_interval)) is not None:
                try:
                    if calls:
                        delivery.deliver(calls)
                except Exception:
                    logger.exception("northstar consumer failed to deliver a batch")
        finally:
            delivery.close()
