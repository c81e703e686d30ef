"""The web request being handled in this thread or task, as the SDK's web middleware set it."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = ["RequestContext", "current_request"]


@dataclass(frozen=True)
class RequestContext:
    """What analytics calls made while handling one request inherit.

    `context` is Segment's context (``page``, ``userAgent``, ``ip``): messages merge it under
    their own. `anonymous_id` comes from the first-party cookie, or is new (then `is_new`).
    """

    anonymous_id: str
    context: dict[str, Any]
    is_new: bool


_current: ContextVar[RequestContext | None] = ContextVar("northstar_request", default=None)
current = _current.get


def current_request() -> RequestContext | None:
    """The request being handled here (thread or asyncio task), or None outside a request."""
    return _current.get()
