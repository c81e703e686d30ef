"""How the SDK tells the app that it dropped messages: logging plus the `on_error` hook."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from .counters import DropReason

logger = logging.getLogger("northstar")

OnError = Callable[["NorthstarError", list[dict[str, Any]]], None]
"""``on_error(error, messages)``: segment-compatible; `messages` are the wire dicts concerned
(empty when they were never built, e.g. for ``queue_full``)."""


class NorthstarError(Exception):
    """Why messages were dropped. Passed to `on_error`; never raised into the app."""

    def __init__(self, reason: DropReason, detail: str, *, status: int | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status


def report(on_error: OnError | None, error: NorthstarError, messages: Sequence[dict[str, Any]] = ()) -> None:
    """Log the drop and call the app's hook; a failing hook is logged, never propagated."""
    logger.warning("northstar dropped messages: %s", error)
    if on_error is None:
        return
    try:
        on_error(error, list(messages))
    except Exception:
        logger.exception("northstar on_error hook raised")
