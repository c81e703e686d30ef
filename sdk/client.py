"""The public `Client`: captures app calls cheaply and hands them to delivery.

Guarantees: no public method raises into the app or blocks it (except `flush`/`shutdown`,
which wait by design, and `sync_mode`, which sends in the caller); memory stays bounded by
`max_queue_size`; every message is counted exactly once as sent, dropped or pending.
"""

from __future__ import annotations

import atexit
import functools
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .batching import ENVELOPE_BYTES
from .buffer import Buffer
from .consumer import Consumer
from .counters import DropReason, Stats
from .definition_source import Bootstrap, DefinitionSource
from .delivery import Delivery
from .errors import NorthstarError, OnError, logger, report
from .experiments import Assignment, unknown
from .exposures import ExposureCache
from .messages import Captured, json_safe, snapshot
from .request_context import current as current_request
from .spool import Spool, spool_supported
from .transport import HttpTransport, RecordingTransport, Transport
from .wire import (
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_EVENT_BYTES,
    EXPOSURE_EVENT,
    SURVEY_EVENT,
    exposure_properties,
    exposure_sender,
    survey_properties,
)
from .wire import MessageKind as Kind

DEFAULT_HOST = "http://127.0.0.1:8080"

FLUSH_TIMEOUT = 5.0
"""Default seconds `flush()` and `shutdown()` wait."""
EXIT_TIMEOUT = 2.0
"""Seconds interpreter exit waits for every client together (collector down or not)."""

_now = time.time
_new_call = tuple.__new__  # builds a Captured without NamedTuple's Python-level __new__

# Per kind: the label's parameter name, whether it is required, and whether it is an id
# (converted with str() like user ids) rather than a name that must already be a string.
_LABELS: dict[Kind, tuple[str, bool, bool]] = {
    "track": ("event", True, False),
    "identify": ("", False, False),
    "alias": ("previous_id", True, True),
    "group": ("group_id", True, True),
    "page": ("name", False, False),
    "screen": ("name", False, False),
}


_SUBMIT_DROPS: dict[DropReason, str] = {
    "queue_full": "queue is full (collector down or slow); dropping new messages until it drains",
    "shutdown": "client is shut down; dropping further messages",
}


class Client:
    """Sends Segment-shaped analytics messages to a Northstar collector in background batches.

    Thread-safe and fork-safe. Public methods return True when the message was accepted for
    delivery and False when it was dropped (reported via `on_error` and the `northstar`
    logger, and counted in `stats()`). Raises ValueError only for invalid configuration.

    `write_key` is public (it may ship in browser apps) and only sends events. `sdk_key`, the
    server-side SDK key, is needed for local experiment evaluation: it authenticates the
    background fetch of definitions (targeting rules, overrides, payloads). Without it nothing
    is fetched and `get_variant` gives the default variant (one WARNING says so).

    `spool_dir` (opt-in, POSIX) keeps queued messages in a file of this process until the
    collector acknowledged them, so a crash loses only what the background spooler had not
    written yet (`stats().spooled` counts what it wrote); the next client on the directory
    sends the rest first (`sdk.spool`). `spool_max_bytes` bounds the unsent bytes on disk.
    """

    def __init__(
        self,
        write_key: str,
        host: str = DEFAULT_HOST,
        *,
        sdk_key: str | None = None,
        max_queue_size: int = 10_000,
        batch_size: int = 100,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        flush_interval: float = 0.5,
        gzip: bool = True,
        timeout: float = 10,
        max_retry_seconds: float = 60,
        sync_mode: bool = False,
        send: bool = True,
        disabled: bool = False,
        on_error: OnError | None = None,
        default_context: Mapping[str, Any] | None = None,
        bootstrap: Bootstrap | None = None,
        definitions_refresh_interval: float = 30.0,
        exposure_cache_size: int = 100_000,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        _check_config(write_key, send and not disabled, max_queue_size, batch_size, max_batch_bytes,
                      max_event_bytes, flush_interval, timeout, max_retry_seconds)
        self.recorded: list[dict[str, Any]] = []
        """With ``send=False``: every message as it would have been sent, in order."""
        self._disabled = disabled
        self._opted_out = False
        self._on_error = on_error
        make_transport: Callable[[], Transport]
        if send:
            make_transport = functools.partial(HttpTransport, host, write_key, gzip=gzip, timeout=timeout)
        else:
            make_transport = functools.partial(RecordingTransport, self.recorded)
        make_delivery = functools.partial(
            _make_delivery,
            make_transport,
            default_context=json_safe(dict(default_context or {})),
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            max_event_bytes=max_event_bytes,
            max_retry_seconds=max_retry_seconds,
            on_error=on_error,
        )
        if spool_dir is not None:
            _check_spool(sync_mode or not send, spool_max_bytes, max_event_bytes)
        self._consumer = Consumer(
            make_delivery,
            max_queue_size=max_queue_size,
            batch_size=batch_size,
            max_batch_bytes=max_batch_bytes,
            flush_interval=flush_interval,
            sync=sync_mode or not send,
            make_spool=None if spool_dir is None else functools.partial(Spool, spool_dir, spool_max_bytes),
        )
        self._definitions = DefinitionSource(
            host, sdk_key, refresh_interval=definitions_refresh_interval, timeout=timeout,
            bootstrap=bootstrap, fetch=send and not disabled,
        )
        self._exposures = ExposureCache(exposure_cache_size)
        _clients.add(self)
        weakref.finalize(self, self._consumer.stop_accepting).atexit = False
        weakref.finalize(self, self._definitions.stop).atexit = False

    def track(
        self,
        user_id: str | None = None,
        event: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record that `user_id` (or `anonymous_id`) did `event`."""
        return self._capture("track", user_id, anonymous_id, event, properties, context, timestamp,
                             message_id, integrations)

    def survey_response(
        self,
        user_id: str | None,
        survey: str,
        *,
        score: float | None = None,
        answer: str | None = None,
        question: str | None = None,
        anonymous_id: str | None = None,
        timestamp: datetime | None = None,
        properties: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record `user_id`'s answer to `survey`: a `Survey Responded` track event (never raises).

        Its properties are `survey`, and `score` (NPS 0-10, or the survey's CSAT/rating scale),
        `answer` (free text) and `question` when given, beside any extra `properties`.
        """
        try:
            body = {**(properties or {}), **survey_properties(survey, score, answer, question)}
        except Exception as error:  # a caller's odd mapping must not raise out of the SDK
            report(self._on_error, NorthstarError("invalid", f"survey_response properties: {error}"))
            return False
        return self._capture("track", user_id, anonymous_id, SURVEY_EVENT, body, None, timestamp, None, None)

    def identify(
        self,
        user_id: str | None = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Attach `traits` to a user."""
        return self._capture("identify", user_id, anonymous_id, None, traits, context, timestamp,
                             message_id, integrations)

    def alias(
        self,
        previous_id: str,
        user_id: str,
        *,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Declare `previous_id` (e.g. an anonymous id) and `user_id` the same person."""
        return self._capture("alias", user_id, None, previous_id, None, context, timestamp,
                             message_id, integrations)

    def group(
        self,
        user_id: str | None = None,
        group_id: str | None = None,
        traits: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Put a user in a group (account, team, company) with the group's `traits`."""
        return self._capture("group", user_id, anonymous_id, group_id, traits, context, timestamp,
                             message_id, integrations)

    def page(
        self,
        user_id: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record a web page view."""
        return self._capture("page", user_id, anonymous_id, name, properties, context, timestamp,
                             message_id, integrations)

    def screen(
        self,
        user_id: str | None = None,
        name: str | None = None,
        properties: Mapping[str, Any] | None = None,
        *,
        anonymous_id: str | None = None,
        context: Mapping[str, Any] | None = None,
        timestamp: datetime | None = None,
        message_id: str | None = None,
        integrations: Mapping[str, Any] | None = None,
    ) -> bool:
        """Record a mobile/desktop screen view."""
        return self._capture("screen", user_id, anonymous_id, name, properties, context, timestamp,
                             message_id, integrations)

    def get_variant(
        self,
        experiment_key: str,
        unit_id: Any,
        attributes: Mapping[str, Any] | None = None,
        *,
        default: str | None = None,
        log_exposure: bool = True,
        anonymous_id: Any = None,
    ) -> Assignment:
        """The unit's variant, evaluated locally from the latest definitions; never raises or waits.

        An experiment not known (yet: the first fetch runs in the background unless a
        `bootstrap` was given) or not evaluable gives `default`; a stopped, untargeted or
        uncovered unit gets the control with `in_experiment` False. The first time this
        process sees a unit in a variant it tracks `Experiment Viewed` (`experiment_id`,
        `variation_id`; a group unit's also `group_type` and `group_id`), unless
        `log_exposure` is False. `anonymous_id` is the visitor's device id: experiments with
        ``bucket_by: "anonymous_id"`` hash it (so the variant survives login; `unit_id` may then
        be None before login), and exposures carry it so the visitor's ids join one person.
        """
        try:
            experiment = self._definitions.get(experiment_key)
            if experiment is None:
                return unknown(experiment_key, default)
            if type(unit_id) is not str:
                unit_id = _as_id(unit_id)
            if anonymous_id is not None and type(anonymous_id) is not str:
                anonymous_id = _as_id(anonymous_id)
            assignment = experiment.evaluate(unit_id, attributes, anonymous_id)
            if (log_exposure and assignment.in_experiment and self._exposures.first(
                    (experiment_key, experiment.salt, unit_id, anonymous_id, assignment.variant))):
                properties = exposure_properties(experiment_key, assignment.variant, experiment.unit, unit_id or "")
                user_id, sent_anonymous_id = exposure_sender(experiment.unit, unit_id or "", anonymous_id)
                self.track(user_id, EXPOSURE_EVENT, properties, anonymous_id=sent_anonymous_id)
            return assignment
        except Exception as error:  # e.g. attributes that are not a mapping
            logger.warning("northstar could not evaluate experiment %r: %r", experiment_key, error)
            return unknown(experiment_key, default, "error")

    def wait_for_definitions(self, timeout: float | None = None) -> bool:
        """Block until experiment definitions arrived from the collector (for scripts and tests).

        Returns False after `timeout` seconds, or at once when the client does not fetch
        (``send=False`` or ``disabled``); `get_variant` keeps working from what it has.
        """
        try:
            return self._definitions.wait(timeout)
        except Exception:
            logger.exception("northstar wait_for_definitions failed")
            return False

    def flush(self, timeout: float | None = FLUSH_TIMEOUT) -> bool:
        """Block until every message submitted before the call is sent or dropped.

        Returns False if `timeout` seconds (None: no limit) passed first; the messages stay
        pending. With the collector down, pending messages resolve (as ``retry_exhausted``)
        within the one shared retry budget, `max_retry_seconds`.
        """
        try:
            return self._consumer.flush(timeout)
        except Exception:
            logger.exception("northstar flush failed")
            return False

    def shutdown(self, timeout: float | None = FLUSH_TIMEOUT) -> bool:
        """Flush, then stop the consumer thread; later calls are dropped ("shutdown").

        Returns within `timeout` seconds (None: no limit): after it, retries are abandoned
        and what is still pending is dropped ("shutdown"). Returns whether everything was
        resolved in time.
        """
        self._definitions.stop()
        try:
            return self._consumer.shutdown(timeout)
        except Exception:
            logger.exception("northstar shutdown failed")
            return False

    def close(self, timeout: float = EXIT_TIMEOUT) -> bool:
        """`shutdown` within `timeout` seconds (what interpreter exit does, for all clients together)."""
        return self.shutdown(timeout=timeout)

    def opt_out(self) -> None:
        """Stop capturing (the user declined tracking): until `opt_in`, every call (exposures
        included) returns False and nothing is queued, sent or counted, as for a disabled client.
        Messages queued before are still delivered; variants are still evaluated. Never raises."""
        self._opted_out = True

    def opt_in(self) -> None:
        """Capture again after `opt_out`. Never raises."""
        self._opted_out = False

    @property
    def opted_out(self) -> bool:
        """True between `opt_out` and `opt_in`."""
        return self._opted_out

    def stats(self) -> Stats:
        """Exact counters of this client in this process (a forked child starts from zero)."""
        return self._consumer.stats()

    def _capture(
        self,
        kind: Kind,
        user_id: Any,
        anonymous_id: Any,
        label: Any,
        body: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
        timestamp: datetime | None,
        message_id: str | None,
        integrations: Mapping[str, Any] | None,
    ) -> bool:
        if self._disabled or self._opted_out:
            return False
        try:
            request = current_request()
            if request is not None:  # inside a request the SDK's web middleware handles
                if anonymous_id is None:
                    anonymous_id = request.anonymous_id
                context = request.context if context is None else {**request.context, **context}
            if type(user_id) is not str or not user_id:
                user_id = _as_id(user_id)
            if anonymous_id is not None:
                anonymous_id = _as_id(anonymous_id)
            problem = None
            if user_id is None or type(label) is not str or timestamp is not None or message_id is not None:
                label_name, required, is_id = _LABELS[kind]  # the uncommon calls: check everything
                if is_id:
                    label = _as_id(label)
                problem = _problem(kind, user_id, anonymous_id, label, label_name, required, timestamp,
                                   message_id)
            elif not label:
                problem = f"{kind} {_LABELS[kind][0]} must be a non-empty string"
            if problem is None:
                call = _new_call(Captured, (
                    kind, user_id, anonymous_id, label,
                    None if body is None else snapshot(body),
                    None if context is None else snapshot(context),
                    _now() if timestamp is None else timestamp,
                    message_id,
                    None if integrations is None else snapshot(integrations),
                ))
        except Exception as error:  # e.g. a value whose __str__ raises, a cyclic dict
            problem = f"{kind} arguments could not be captured: {error!r}"
        if problem is not None:
            self._consumer.buffer.reject("invalid")
            report(self._on_error, NorthstarError("invalid", problem))
            return False
        try:
            drop = self._consumer.submit(call)
        except Exception:
            logger.exception("northstar could not submit a %s call", kind)
            return False
        if drop is None:
            return True
        if drop.report:
            report(self._on_error, NorthstarError(drop.reason, _SUBMIT_DROPS[drop.reason]))
        return False


def _as_id(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    return None if value is None else str(value) or None


def _problem(
    kind: Kind,
    user_id: str | None,
    anonymous_id: str | None,
    label: Any,
    label_name: str,
    required: bool,
    timestamp: datetime | None,
    message_id: str | None,
) -> str | None:
    """Why a call cannot be sent, or None."""
    if user_id is None and anonymous_id is None:
        return f"{kind} requires user_id" + ("" if kind == "alias" else " or anonymous_id")
    if label is None:
        if required:
            return f"{kind} requires {label_name}"
    elif type(label) is not str or not label:
        return f"{kind} {label_name} must be a non-empty string, got {label!r}"
    if timestamp is not None and not isinstance(timestamp, datetime):
        return f"timestamp must be a datetime, got {type(timestamp).__name__}"
    if message_id is not None and (type(message_id) is not str or not message_id):
        return f"message_id must be a non-empty string, got {message_id!r}"
    return None


def _make_delivery(
    make_transport: Callable[[], Transport], buffer: Buffer, stop: threading.Event, **options: Any
) -> Delivery:
    return Delivery(buffer, make_transport(), stop, **options)


def _check_config(
    write_key: str,
    needs_key: bool,
    max_queue_size: int,
    batch_size: int,
    max_batch_bytes: int,
    max_event_bytes: int,
    flush_interval: float,
    timeout: float,
    max_retry_seconds: float,
) -> None:
    if needs_key and (not isinstance(write_key, str) or not write_key):
        raise ValueError("write_key must be a non-empty string")
    if min(max_queue_size, batch_size, max_event_bytes) < 1:
        raise ValueError("max_queue_size, batch_size and max_event_bytes must be positive")
    if max_event_bytes + ENVELOPE_BYTES > max_batch_bytes:
        raise ValueError(f"max_batch_bytes must be at least max_event_bytes + {ENVELOPE_BYTES}")
    if flush_interval <= 0 or timeout <= 0 or max_retry_seconds < 0:
        raise ValueError("flush_interval and timeout must be positive, max_retry_seconds not negative")


def _check_spool(sync: bool, spool_max_bytes: int, max_event_bytes: int) -> None:
    if sync:
        raise ValueError("spool_dir needs the background sender (not sync_mode, not send=False)")
    if not spool_supported():
        raise ValueError("spool_dir needs a POSIX system (fcntl.flock)")
    if spool_max_bytes < max_event_bytes:
        raise ValueError("spool_max_bytes must be at least max_event_bytes")


_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _shutdown_all() -> None:
    """At interpreter exit: every client together gets `EXIT_TIMEOUT` seconds."""
    deadline = time.monotonic() + EXIT_TIMEOUT
    for client in list(_clients):
        client.close(max(0.0, deadline - time.monotonic()))


def _reset_all_after_fork() -> None:
    for client in list(_clients):
        client._consumer.reset_after_fork()
        client._definitions.reset_after_fork()


atexit.register(_shutdown_all)
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_reset_all_after_fork)
