"""Dashboard sessions: random tokens held by the server, with idle and absolute expiry.

A session token is `secrets.token_urlsafe(32)` (256 bits), new at every sign-in; the server
keeps only its SHA-256, so a memory or log dump does not hold a usable cookie. A token is
valid until the first of: `idle_seconds` without a request (default 1 hour), `max_seconds`
after sign-in (default 12 hours), sign-out, or the end of the process (sessions live in the
process's memory: a restart signs everyone out). At most `max_sessions` live at once; a new
one past that ends the least recently used. Not thread-safe: use from the event loop only.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["SessionStore", "DEFAULT_IDLE_SECONDS", "DEFAULT_MAX_SECONDS"]

DEFAULT_IDLE_SECONDS = 3600.0
DEFAULT_MAX_SECONDS = 12 * 3600.0


@dataclass
class _Session:
    started: float
    seen: float


class SessionStore:
    """Live sessions by the digest of their token."""

    def __init__(
        self,
        *,
        idle_seconds: float = DEFAULT_IDLE_SECONDS,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_sessions: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < idle_seconds <= max_seconds:
            raise ValueError("session expiry: need 0 < idle_seconds <= max_seconds")
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[bytes, _Session] = OrderedDict()

    def start(self) -> str:
        """A new session's token (the cookie value); never returned again by anything."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        self._sessions[_digest(token)] = _Session(started=now, seen=now)
        while len(self._sessions) > self._max_sessions:
            self._sessions.popitem(last=False)
        return token

    def touch(self, token: str) -> bool:
        """True when `token` is a live session, which then counts as used now; an expired one is ended."""
        digest = _digest(token)
        session = self._sessions.get(digest)
        if session is None:
            return False
        now = self._clock()
        if now - session.seen >= self.idle_seconds or now - session.started >= self.max_seconds:
            del self._sessions[digest]
            return False
        session.seen = now
        self._sessions.move_to_end(digest)
        return True

    def end(self, token: str) -> None:
        """End the session of `token`, if it is one."""
        self._sessions.pop(_digest(token), None)

    def __len__(self) -> int:
        return len(self._sessions)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
