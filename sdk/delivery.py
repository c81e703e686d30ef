"""Turning captured calls into sent or dropped messages: encode, size-check, batch, post with
retries, then count and report the outcome of every message exactly once."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .batching import batch_body, split_batches
from .buffer import Buffer
from .counters import DropReason
from .errors import NorthstarError, OnError, logger, report
from .messages import Captured, encode_call, encode_context, new_message_ids, now_iso
from .retry import Backoff, RetryBudget, verdict
from .transport import Response, Transport

Settled = Callable[[int], None]
"""``settled(n)``: the first n messages given to `Delivery.send` are resolved for good."""

RETRY_LOG_SECONDS = 30.0
"""Retries during an outage are logged once when it starts, then at most this often."""


class Delivery:
    """Delivers batches for one sender thread at a time (the consumer, or a sync-mode caller).

    Drops are reported (`on_error`) before they are counted, so once `flush()` returns the
    app's hook has seen them. A batch keeps its encoded bytes, hence its messageIds, across
    retries. All batches share one `RetryBudget` of `max_retry_seconds` per outage, so a full
    queue with the collector down resolves in about that time, not once per batch. Retries
    wait on `stop`, so a shutdown interrupts them; they never hold the buffer's lock, so the
    app keeps enqueueing (and, once the queue is full, dropping with a count) during an outage.
    """

    def __init__(
        self,
        buffer: Buffer,
        transport: Transport,
        stop: threading.Event,
        *,
        default_context: Mapping[str, Any],
        batch_size: int,
        max_batch_bytes: int,
        max_event_bytes: int,
        max_retry_seconds: float,
        on_error: OnError | None,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._buffer = buffer
        self._transport = transport
        self._stop = stop
        self._default_context = default_context
        self._context_json = encode_context(default_context)
        self._batch_size = batch_size
        self._max_batch_bytes = max_batch_bytes
        self._max_event_bytes = max_event_bytes
        self._budget = RetryBudget(max_retry_seconds)
        self._retry_logged = float("-inf")
        # A batch `begin` sent, its answer not yet read: (batch, settled, messages before it).
        self._awaiting: tuple[list[bytes], Settled | None, int] | None = None
        self._on_error = on_error
        self._backoff = backoff

    def deliver(self, calls: Sequence[Captured]) -> None:
        """Send `calls` (taken from the buffer) and resolve every one of them in the buffer."""
        if self._stop.is_set():
            self.drop("shutdown", "client shut down before sending", len(calls))
            return
        self.send(self.encode(calls))

    @property
    def awaiting_answer(self) -> bool:
        """Whether the last batch `begin` sent waits for its answer (call `complete`)."""
        return self._awaiting is not None

    def begin(self, encoded: Sequence[bytes], settled: Settled | None = None) -> None:
        """`send`, overlapped with the network: resolve the batch the previous `begin` left
        waiting for its answer (the caller prepared `encoded` meanwhile), then send these and
        leave the last batch's answer pending until the next `begin` or `complete`. While an
        outage is open everything is sent synchronously, so retries stay in order."""
        self.complete()
        if self._stop.is_set():
            self.drop("shutdown", "client shut down before sending", len(encoded))
            return
        batches = split_batches(encoded, self._batch_size, self._max_batch_bytes)
        if not batches or self._budget.in_outage:
            self._drain(batches[::-1], settled)
            return
        last = batches.pop()
        self._drain(batches[::-1], settled)
        self._begin_post(last, settled, len(encoded) - len(last))

    def complete(self) -> None:
        """Wait for the answer to the batch `begin` left pending, and resolve it (with retries)."""
        if self._awaiting is None:
            return
        (batch, settled, done), self._awaiting = self._awaiting, None
        try:
            response = self._transport.finish()
        except Exception as error:  # a transport must not end delivery: treat as no answer
            response = Response(None, detail=repr(error))
        settle = None if settled is None else functools.partial(settled, done + len(batch))
        self._drain(self._send(batch, settle, response)[::-1], settled, done)

    def encode(self, calls: Sequence[Captured]) -> list[bytes]:
        """The wire JSON of each call, in order; unserialisable or too large ones are dropped.

        Touches only the (thread-safe) buffer, so a spooler thread may encode while the sender
        thread sends.
        """
        encoded: list[bytes] = []
        default_context, context_json, max_bytes = self._default_context, self._context_json, self._max_event_bytes
        for call, message_id in zip(calls, new_message_ids(len(calls))):
            try:
                data = encode_call(call, default_context, context_json, message_id)
            except Exception as error:  # e.g. a value whose __str__ raises or recurses forever
                self.drop("invalid", f"{call.kind} could not be serialised: {error!r}", 1)
                continue
            if len(data) > max_bytes:
                detail = f"{call.kind} is {len(data)} bytes serialised (max_event_bytes={max_bytes})"
                self.drop("too_large", detail, 1, [data])
                continue
            encoded.append(data)
        return encoded

    def send(self, encoded: Sequence[bytes], settled: Settled | None = None) -> None:
        """Post encoded messages in batches, in order, and resolve every one as sent or dropped.

        A batch the collector answers 413 is sent again as two halves; only a message too
        large on its own is dropped (``too_large``). Before messages are resolved for good
        (not when abandoned at shutdown), ``settled(n)`` says the first n are, so a spool can
        checkpoint them before a `flush()` waiting for them returns.
        """
        self._drain(split_batches(encoded, self._batch_size, self._max_batch_bytes)[::-1], settled)

    def _drain(self, stack: list[list[bytes]], settled: Settled | None = None, done: int = 0) -> None:
        """Send the batches of `stack` (the oldest last; `done` messages before them are
        resolved), the halves of a 413'd one first."""
        while stack:
            batch = stack.pop()
            halves = self._send(batch, None if settled is None else functools.partial(settled, done + len(batch)))
            stack.extend(reversed(halves))
            done += 0 if halves else len(batch)

    def close(self) -> None:
        self._transport.close()

    def _send(
        self, batch: list[bytes], settled: Callable[[], None] | None, response: Response | None = None
    ) -> list[list[bytes]]:
        """Resolve `batch` (`response`: the answer to its first attempt, if already sent), or
        return the halves to send instead (after a 413)."""
        budget = self._budget
        if response is None and not budget.may_attempt():
            detail = f"collector unreachable for over {budget.seconds:g} s; not retried until it answers"
            self.drop("retry_exhausted", detail, len(batch), batch, settled=settled)
            return []
        attempt = 0
        while True:
            if response is None:
                if self._stop.is_set():
                    break
                response = self._post(batch)
            outcome = verdict(response.status)
            if outcome != "retry":
                self._outage_over(budget.answered())
            if outcome == "delivered":
                self._settle(batch, response, settled)
                return []
            if outcome == "too_large" and len(batch) > 1:
                middle = len(batch) // 2
                return [batch[:middle], batch[middle:]]
            if outcome != "retry":
                reason: DropReason = "too_large" if outcome == "too_large" else "rejected"
                detail = f"collector answered {response.status}: {response.detail}"
                self.drop(reason, detail, len(batch), batch, status=response.status, settled=settled)
                return []
            budget.failed()
            delay = self._backoff.delay(attempt, response.retry_after)
            if not budget.allows_wait(delay):
                detail = f"gave up after {attempt + 1} attempt(s); last: {response.status or response.detail}"
                self.drop("retry_exhausted", detail, len(batch), batch, status=response.status, settled=settled)
                return []
            self._log_retry(response)
            if self._stop.wait(delay):
                break
            attempt += 1
            response = None
            self._buffer.count_retry()
        self.drop("shutdown", "client shut down while retrying", len(batch), batch)
        return []

    def _log_retry(self, response: Response) -> None:
        """One WARNING when an outage starts, then at most one per `RETRY_LOG_SECONDS`."""
        now = time.monotonic()
        if now - self._retry_logged < RETRY_LOG_SECONDS:
            return
        self._retry_logged = now
        logger.warning("northstar: collector unreachable or overloaded (%s); retrying for up to %g s, "
                       "%d message(s) waiting", response.status or response.detail or "no answer",
                       self._budget.seconds, self._buffer.stats().pending)

    def _outage_over(self, lasted: float | None) -> None:
        if lasted is not None:
            self._retry_logged = float("-inf")
            logger.warning("northstar: collector answers again after %.1f s", lasted)

    def _post(self, batch: list[bytes]) -> Response:
        try:
            return self._transport.post(batch_body(batch, now_iso()))
        except Exception as error:  # a transport must not end delivery: treat as no answer
            return Response(None, detail=repr(error))

    def _begin_post(self, batch: list[bytes], settled: Settled | None, done: int) -> None:
        try:
            self._transport.begin(batch_body(batch, now_iso()))
        except Exception:  # `finish` then answers for it
            pass
        self._awaiting = (batch, settled, done)

    def _settle(self, batch: list[bytes], response: Response, settled: Callable[[], None] | None) -> None:
        reasons = {index: reason for index, reason in response.rejected if 0 <= index < len(batch)}
        if reasons:
            detail = "; ".join(f"#{index}: {reason}" for index, reason in sorted(reasons.items()))
            rejected = [batch[index] for index in sorted(reasons)]
            detail = f"collector rejected {len(reasons)} message(s): {detail}"
            self._report("rejected", detail, rejected, response.status)
        if settled is not None:
            settled()
        self._buffer.resolve(sent=len(batch) - len(reasons), dropped={"rejected": len(reasons)}, batches=1)

    def drop(
        self,
        reason: DropReason,
        detail: str,
        count: int,
        messages: Sequence[bytes | dict[str, Any]] = (),
        *,
        status: int | None = None,
        report: bool = True,
        settled: Callable[[], None] | None = None,
    ) -> None:
        """Count `count` in-flight messages dropped; report them first unless `report` is False."""
        if report:
            self._report(reason, detail, messages, status)
        if settled is not None:
            settled()
        self._buffer.resolve(dropped={reason: count})

    def _report(
        self, reason: DropReason, detail: str, messages: Sequence[bytes | dict[str, Any]], status: int | None
    ) -> None:
        wire = [json.loads(m) if isinstance(m, bytes) else m for m in messages] if self._on_error else []
        report(self._on_error, NorthstarError(reason, detail, status=status), wire)
