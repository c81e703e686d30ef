"""A client's per-process delivery machinery: the bounded buffer and the consumer thread that
drains it, or, in sync mode, delivery in the calling thread; with a disk spool, a spooler
thread writing the buffer to disk and a sender thread sending from there."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

from .batching import ENVELOPE_BYTES
from .buffer import Buffer, Drop
from .counters import Stats
from .delivery import Delivery
from .errors import logger
from .messages import Captured
from .spool import Spool

DeliveryFactory = Callable[[Buffer, threading.Event], Delivery]

SPOOL_INTERVAL = 0.05
"""With a spool, queued messages are written to it at least this often (seconds)."""
ORPHAN_SCAN_SECONDS = 30.0
"""How often the sender looks for spool files left by dead processes (and at its start)."""


class Consumer:
    """Owns the buffer and the thread(s) that send its batches, started on first use.

    After a fork, `reset_after_fork` gives the child a fresh empty buffer, counters,
    connection and spool file of its own; the parent keeps (and sends) what it had queued.
    """

    def __init__(
        self,
        make_delivery: DeliveryFactory,
        *,
        max_queue_size: int,
        batch_size: int,
        max_batch_bytes: int,
        flush_interval: float,
        sync: bool,
        make_spool: Callable[[], Spool] | None = None,
    ) -> None:
        self._make_delivery = make_delivery
        self._max_queue_size = max_queue_size
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._flush_interval = flush_interval
        self._sync = sync
        self._make_spool = make_spool
        self._spool: Spool | None = None
        self.reset_after_fork()

    def reset_after_fork(self) -> None:
        """(Re)create every per-process resource; the thread starts on the next submit."""
        if self._spool is not None:
            self._spool.forget_after_fork()
        self.buffer = Buffer(self._max_queue_size, self._batch_size)
        self._stop = threading.Event()
        self._delivery = self._make_delivery(self.buffer, self._stop)
        self._spool = self._make_spool() if self._make_spool is not None else None
        self._spool_opened = threading.Event()  # set once the spooler opened the spool, or failed to
        self._spooling = True  # False when the spool could not be opened: no sender thread
        self._spooler_done = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()  # guards the lazy thread start; in sync mode, the transport

    def submit(self, call: Captured) -> Drop | None:
        """Hand `call` over for delivery; None if accepted, else why it was dropped."""
        if self._sync:
            return self._deliver_in_caller(call)
        if not self._threads:
            self._start_threads()
        return self.buffer.offer(call)

    def flush(self, timeout: float | None) -> bool:
        if threading.current_thread() in self._threads:
            return False  # called from on_error inside the consumer: waiting would deadlock
        return self.buffer.flush(timeout, None if self._spool is None else self._spool.notify)

    def shutdown(self, timeout: float | None) -> bool:
        """Send what is queued, then stop. After `timeout`, abandon retries and drop the rest
        (with a spool, the rest stays in it for the next process)."""
        self.buffer.close()
        threads = self._threads
        if not threads:  # never used, or sync mode
            with self._lock:
                self._delivery.close()
            return True
        if threading.current_thread() in threads:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
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

    def _start_threads(self) -> None:
        with self._lock:
            if self._threads:
                return
            spool = self._spool
            if spool is None:
                targets: list[tuple[Callable[[], None], str]] = [(self._run, "northstar-consumer")]
            else:  # the spooler first: the sender joins it when stopping
                targets = [(functools.partial(self._run_spooler, spool), "northstar-spooler"),
                           (functools.partial(self._run_sender, spool), "northstar-sender")]
            threads = [threading.Thread(target=run, name=name, daemon=True) for run, name in targets]
            for thread in threads:
                thread.start()
            self._threads = threads

    def _run(self) -> None:
        """Deliver batches, encoding the next one while the collector answers the last."""
        buffer, delivery = self.buffer, self._delivery
        try:
            while True:
                calls = buffer.take_ready() if delivery.awaiting_answer else buffer.take(self._flush_interval)
                try:
                    if calls:
                        delivery.begin(delivery.encode(calls))  # encodes while the last answer is due
                    else:
                        delivery.complete()
                except Exception:
                    logger.exception("northstar consumer failed to deliver a batch")
                if calls is None and not delivery.awaiting_answer:
                    break
        finally:
            delivery.close()

    def _run_spooler(self, spool: Spool) -> None:
        """Move the buffer to the spool every `SPOOL_INTERVAL`, or send directly if it cannot open."""
        try:
            spool.open()
        except Exception as error:
            logger.error("northstar: cannot use spool_dir %s (%r); sending without a spool", spool.directory, error)
            self._spooling = False
            self._spool_opened.set()
            self._run()
            return
        self._spool_opened.set()
        buffer, delivery = self.buffer, self._delivery
        full_reported = False
        try:
            while (calls := buffer.take(SPOOL_INTERVAL)) is not None:
                try:
                    if calls:
                        encoded = delivery.encode(calls)
                        written = _append(spool, encoded)
                        buffer.count_spooled(written)
                        if written < len(encoded):
                            left = encoded[written:]
                            detail = f"spool holds {spool.unresolved_bytes} bytes unsent (spool_max_bytes={spool.max_bytes})"
                            delivery.drop("spool_full", detail, len(left), () if full_reported else left,
                                          report=not full_reported)
                        full_reported = written < len(encoded)
                except Exception:
                    logger.exception("northstar spooler failed to write a batch")
                spool.notify()
        finally:
            self._spooler_done.set()
            spool.notify()

    def _run_sender(self, spool: Spool) -> None:
        """Send the spool's records in order (orphans first), checkpointing each resolved batch."""
        self._spool_opened.wait()
        buffer, delivery, stop = self.buffer, self._delivery, self._stop
        if not self._spooling:
            return
        try:
            buffer.recover(spool.claim_orphans())
            next_scan = time.monotonic() + ORPHAN_SCAN_SECONDS
            partial_since: float | None = None
            while not stop.is_set():
                done = self._spooler_done.is_set()
                waiting = spool.waiting()
                if waiting == 0:
                    delivery.complete()
                    if done:
                        break
                    partial_since = None
                    spool.wait(self._flush_interval)
                    continue
                if waiting < self._batch_size and not done and not buffer.flush_waiting():
                    now = time.monotonic()
                    partial_since = now if partial_since is None else partial_since
                    if now - partial_since < self._flush_interval:
                        delivery.complete()
                        spool.wait(partial_since + self._flush_interval - now)
                        continue
                partial_since = None
                chunk = spool.read(self._batch_size, self._max_batch_bytes - ENVELOPE_BYTES)  # while an answer is due
                if chunk is None:  # what is left awaits an answer
                    delivery.complete()
                    continue
                if chunk.damaged:
                    delivery.complete()  # checkpoints stay in order
                    delivery.drop("spool_damaged", f"{chunk.damaged} damaged record(s) in {chunk.file.path}",
                                  chunk.damaged, settled=functools.partial(spool.checkpoint, chunk, 0))
                if chunk.messages:
                    delivery.begin(chunk.messages, functools.partial(spool.checkpoint, chunk))
                if time.monotonic() >= next_scan:
                    buffer.recover(spool.claim_orphans())
                    next_scan = time.monotonic() + ORPHAN_SCAN_SECONDS
        except Exception:
            logger.exception("northstar sender failed; what is spooled is sent by the next process")
        finally:
            if self._threads:
                self._threads[0].join(5.0)  # the spooler: it only writes to disk
            buffer.abandon_in_flight("shutdown")
            delivery.close()
            spool.close()


def _append(spool: Spool, encoded: list[bytes]) -> int:
    try:
        return spool.append(encoded)
    except OSError as error:  # disk full, I/O error: counted as spool_full by the caller
        logger.error("northstar: cannot write the spool: %r", error)
        return 0
