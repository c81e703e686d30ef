"""What decoding a client's JSON with msgspec raises when the JSON cannot be read."""

from __future__ import annotations

import msgspec

__all__ = ["UNREADABLE_JSON"]

UNREADABLE_JSON: tuple[type[Exception], ...] = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""Malformed or mistyped (DecodeError), not UTF-8, or nested deeper than msgspec follows
(RecursionError, past ~1000 levels): each a 400 for the client, never a 500."""
